//! The Maintenance mode page.

use leptos::prelude::*;
use leptos_meta::Title;

use super::{MAX_MESSAGE_CHARS, MaintenanceMode, get_maintenance_mode, update_maintenance_mode};
use crate::components::{ErrorNotice, PageHeader, loaded};
use crate::licensing::Feature;
use crate::licensing::view::PaidFeature;

/// Resources are created here, at the page's top, never inside a `Suspend` (the gate's): one
/// created there is made again when it resumes, and hydration then finds other ids.
#[component]
pub fn MaintenanceModePage() -> impl IntoView {
    let mode = Resource::new(|| (), |_| get_maintenance_mode());
    view! {
        <Title text="Maintenance mode · Admin · Service Ping"/>
        <PageHeader title="Maintenance mode" subtitle=Feature::MaintenanceMode.summary()/>
        <PaidFeature feature=Feature::MaintenanceMode>
            {loaded(mode, |mode| view! { <MaintenanceForm mode/> })}
        </PaidFeature>
    }
}

#[component]
fn MaintenanceForm(mode: MaintenanceMode) -> impl IntoView {
    let (enabled, set_enabled) = signal(mode.enabled);
    let (message, set_message) = signal(mode.message.unwrap_or_default());
    let save = Action::new(|(enabled, message): &(bool, String)| {
        update_maintenance_mode(*enabled, message.clone())
    });
    let in_force = move || match save.value().get() {
        Some(Ok(saved)) => saved.in_force,
        _ => mode.in_force,
    };
    view! {
        <section class="card" aria-labelledby="maintenance-heading">
            <div class="card-header">
                <h2 id="maintenance-heading">"Read-only instance"</h2>
                {move || if in_force() {
                    view! { <span class="badge badge-warning" data-testid="maintenance-state">"On"</span> }
                } else {
                    view! { <span class="badge badge-muted" data-testid="maintenance-state">"Off"</span> }
                }}
            </div>
            <form class="form-stack" on:submit=move |ev: leptos::ev::SubmitEvent| {
                ev.prevent_default();
                save.dispatch((enabled.get_untracked(), message.get_untracked()));
            }>
                <label class="switch">
                    <input type="checkbox" role="switch" data-testid="maintenance-enabled"
                        prop:checked=enabled on:change=move |ev| set_enabled.set(event_target_checked(&ev))/>
                    <span class="setting-label">"Enable maintenance mode"</span>
                </label>
                <p class="muted">"Until you turn it off, writes are refused with a message: Send now, new previews, new access tokens, licenses, announcements, emails, password rules and password changes. Signing in, the Service Ping settings and revoking tokens still work; the weekly ping keeps running."</p>
                <label for="maintenance-message">"Banner message (optional)"</label>
                <textarea id="maintenance-message" rows="2" maxlength=MAX_MESSAGE_CHARS.to_string()
                    data-testid="maintenance-message"
                    prop:value=message on:input=move |ev| set_message.set(event_target_value(&ev))></textarea>
                <div>
                    <button type="submit" class="button button-primary" data-testid="maintenance-save"
                        disabled=move || save.pending().get()>"Save"</button>
                </div>
            </form>
            {move || match save.value().get() {
                Some(Err(error)) => Some(view! { <ErrorNotice error/> }.into_any()),
                Some(Ok(_)) => Some(view! { <p class="flash flash-notice" role="status">"Saved."</p> }.into_any()),
                None => None,
            }}
        </section>
    }
}
