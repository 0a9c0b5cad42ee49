//! The License page.

use leptos::prelude::*;
use leptos_meta::Title;

use super::{
    LicenseDetails, LicenseOverview, get_license_overview, remove_license, upload_license,
};
use crate::components::time::Time;
use crate::components::{ErrorNotice, Fact, PageHeader, loaded};
use crate::licensing::model::Access;
use crate::licensing::view::granted_by;

#[component]
pub fn LicensePage() -> impl IntoView {
    let (reloads, set_reloads) = signal(0u32);
    let overview = Resource::new(move || reloads.get(), |_| get_license_overview());
    let reload = Callback::new(move |()| set_reloads.update(|n| *n += 1));
    view! {
        <Title text="License · Admin · Service Ping"/>
        <PageHeader
            title="License"
            subtitle="The edition in force and the installed license. A Premium or Ultimate license includes the paid features without sharing usage data."
        />
        {loaded(overview, move |overview| view! { <LicenseCards overview on_change=reload/> })}
    }
}

#[component]
fn LicenseCards(overview: LicenseOverview, on_change: Callback<()>) -> impl IntoView {
    let remove = Action::new(|()| remove_license());
    Effect::new(move || {
        if let Some(Ok(_)) = remove.value().get() {
            on_change.run(());
        }
    });
    let has_license = overview.license.is_some();
    view! {
        <section class="card" aria-labelledby="edition-heading">
            <div class="card-header">
                <h2 id="edition-heading">"Edition"</h2>
                <span class="badge badge-info" data-testid="edition">{overview.edition.clone()}</span>
            </div>
            <p data-testid="paid-features-access">{match &overview.access {
                Access::Locked(reason) => format!("Paid features are locked. {reason}"),
                open => granted_by(open),
            }}</p>
        </section>
        <section class="card" aria-labelledby="license-heading">
            <div class="card-header">
                <h2 id="license-heading">"Installed license"</h2>
                {has_license.then(|| view! {
                    <button type="button" class="button button-danger" data-testid="remove-license"
                        disabled=move || remove.pending().get()
                        on:click=move |_| { remove.dispatch(()); }>
                        "Remove license"
                    </button>
                })}
            </div>
            {match overview.license {
                Some(license) => view! { <LicenseFacts license active_users=overview.active_users/> }.into_any(),
                None => view! { <p class="empty-state" data-testid="no-license">"No license is installed: this instance is EE Free."</p> }.into_any(),
            }}
            {move || match remove.value().get() {
                Some(Err(error)) => Some(view! { <ErrorNotice error/> }),
                _ => None,
            }}
        </section>
        <UploadLicense unavailable=overview.upload_unavailable on_change/>
    }
}

#[component]
fn LicenseFacts(license: LicenseDetails, active_users: i64) -> impl IntoView {
    let status_class = if license.in_force {
        "badge badge-success"
    } else {
        "badge badge-warning"
    };
    view! {
        <dl class="facts" data-testid="license-facts">
            <Fact label="Status"><span class=status_class data-testid="license-status">{license.status}</span></Fact>
            <Fact label="Plan"><span data-testid="license-plan">{license.plan}</span>{license.trial.then_some(" (trial)")}</Fact>
            <Fact label="Seats">{format!("{} ({} active users)", license.seats, active_users)}</Fact>
            <Fact label="Licensee">{format!("{} <{}>", license.licensee_name, license.licensee_email)}</Fact>
            <Fact label="Company">{license.licensee_company}</Fact>
            <Fact label="Starts">{license.starts_at}</Fact>
            <Fact label="Expires"><span data-testid="license-expires">{license.expires_at}</span></Fact>
            <Fact label="License id"><code>{license.id}</code></Fact>
            <Fact label="SHA-256"><code class="hash">{license.sha256}</code></Fact>
            <Fact label="Uploaded"><Time at=license.uploaded_at/></Fact>
        </dl>
    }
}

#[component]
fn UploadLicense(unavailable: Option<String>, on_change: Callback<()>) -> impl IntoView {
    let (text, set_text) = signal(String::new());
    let upload = Action::new(|text: &String| upload_license(text.clone()));
    Effect::new(move || {
        if let Some(Ok(_)) = upload.value().get() {
            set_text.set(String::new());
            on_change.run(());
        }
    });
    let disabled = unavailable.is_some();
    view! {
        <section class="card" aria-labelledby="upload-heading">
            <h2 id="upload-heading">"Upload a license"</h2>
            {unavailable.map(|reason| view! { <p class="setting-lock">{reason}</p> })}
            <form class="form-stack" on:submit=move |ev: leptos::ev::SubmitEvent| {
                ev.prevent_default();
                upload.dispatch(text.get_untracked());
            }>
                <label for="license-text">"License key (the contents of the .license file)"</label>
                <textarea id="license-text" rows="5" data-testid="license-text" required
                    disabled=disabled
                    prop:value=text on:input=move |ev| set_text.set(event_target_value(&ev))></textarea>
                <div>
                    <button type="submit" class="button button-primary" data-testid="upload-license"
                        disabled=move || disabled || upload.pending().get()>
                        "Upload license"
                    </button>
                </div>
            </form>
            {move || match upload.value().get() {
                Some(Err(error)) => Some(view! { <ErrorNotice error/> }),
                _ => None,
            }}
        </section>
    }
}
