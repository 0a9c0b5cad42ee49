//! The Maintenance mode page.

use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_meta::Title;

use super::{
    MAX_MESSAGE_CHARS, MaintenanceMode, UpdateMaintenanceMode, get_maintenance_mode,
    update_maintenance_mode,
};
use crate::components::{ErrorNotice, FormRefusal, PageHeader, loaded};
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

/// With JavaScript, the switch and Save post what the form shows. Before the bundle has loaded
/// (or without JavaScript) the form posts itself: its buttons carry `enabled` (the switch has no
/// name, so a post always says which state it asks for, and a body without `enabled` stays
/// refused as malformed), and the server sends the browser back here.
#[component]
fn MaintenanceForm(mode: MaintenanceMode) -> impl IntoView {
    let current = mode.enabled;
    let (enabled, set_enabled) = signal(mode.enabled);
    let stored_message = mode.message.unwrap_or_default();
    let (message, set_message) = signal(stored_message.clone());
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
            <FormRefusal path={<UpdateMaintenanceMode as ServerFn>::PATH}/>
            <form class="form-stack" method="post" action=UpdateMaintenanceMode::url()
                on:submit=move |ev: leptos::ev::SubmitEvent| {
                    ev.prevent_default();
                    save.dispatch((enabled.get_untracked(), message.get_untracked()));
                }>
                <label class="switch">
                    <input type="checkbox" role="switch" data-testid="maintenance-enabled"
                        checked=current prop:checked=enabled on:change=move |ev| set_enabled.set(event_target_checked(&ev))/>
                    <span class="setting-label">"Enable maintenance mode"</span>
                </label>
                <p class="muted">"Until you turn it off, writes are refused with a message: Send now, new previews, new access tokens, licenses, announcements, emails, password rules and password changes. Signing in, the Service Ping settings and revoking tokens still work; the weekly ping keeps running."</p>
                <label for="maintenance-message">"Banner message (optional)"</label>
                <textarea id="maintenance-message" name="message" rows="2" maxlength=MAX_MESSAGE_CHARS.to_string()
                    data-testid="maintenance-message"
                    prop:value=message on:input=move |ev| set_message.set(event_target_value(&ev))>{stored_message}</textarea>
                <div class="button-row">
                    <button type="submit" class="button button-primary once-hydrated" data-testid="maintenance-save"
                        disabled=move || save.pending().get()>"Save"</button>
                    <button type="submit" class="button button-primary until-hydrated" name="enabled"
                        value=(!current).to_string() data-testid="maintenance-toggle">
                        {if current { "Turn off" } else { "Turn on" }}
                    </button>
                    <button type="submit" class="button button-secondary until-hydrated" name="enabled"
                        value=current.to_string() data-testid="maintenance-save-message">
                        "Save message"
                    </button>
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
