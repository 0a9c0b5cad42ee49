//! The Password rules page (paid) and the page where a person changes their password.

use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_meta::Title;

use super::{
    BASIC_MINIMUM_LENGTH, MAX_MINIMUM_LENGTH, PasswordPolicy, PasswordRules, UpdatePasswordRules,
    change_password, get_password_policy, get_password_rules, update_password_rules,
};
use crate::checkbox;
use crate::components::{ErrorNotice, FormRefusal, PageHeader, loaded};
use crate::licensing::Feature;
use crate::licensing::view::PaidFeature;

#[component]
pub fn PasswordRulesPage() -> impl IntoView {
    let rules = Resource::new(|| (), |_| get_password_rules());
    view! {
        <Title text="Password rules · Admin · Service Ping"/>
        <PageHeader title="Password rules" subtitle=Feature::PasswordComplexity.summary()/>
        <PaidFeature feature=Feature::PasswordComplexity>
            {loaded(rules, |rules| view! { <RulesForm rules/> })}
        </PaidFeature>
    }
}

/// With JavaScript, Save sends the policy on screen. Before the bundle has loaded (or without
/// JavaScript) the form posts itself: every field is named as the server function's argument,
/// each checkbox with its hidden `false` (`crate::checkbox`), and the stored values are in the
/// markup, so a post changes only what the person changed.
#[component]
fn RulesForm(rules: PasswordRules) -> impl IntoView {
    let stored = rules.configured.clone();
    let stored_length = stored.minimum_length.to_string();
    let policy = RwSignal::new(rules.configured);
    let save = Action::new(|policy: &PasswordPolicy| update_password_rules(policy.clone()));
    let checkbox = move |label: &'static str,
                         field: &'static str,
                         get: fn(&PasswordPolicy) -> bool,
                         set: fn(&mut PasswordPolicy, bool)| {
        let name = checkbox::field_name("policy", field);
        view! {
            <label class="checkbox">
                <input type="hidden" name=name.clone() value="false"/>
                <input type="checkbox" name=name value="true" data-testid=field.replace('_', "-")
                    checked=get(&stored)
                    prop:checked=move || policy.with(get)
                    on:change=move |ev| policy.update(|p| set(p, event_target_checked(&ev)))/>
                " "{label}
            </label>
        }
    };
    view! {
        <section class="card" aria-labelledby="rules-heading">
            <h2 id="rules-heading">"Rules for new passwords"</h2>
            <FormRefusal path={<UpdatePasswordRules as ServerFn>::PATH}/>
            <form class="form-stack" method="post" action=UpdatePasswordRules::url()
                on:submit=move |ev: leptos::ev::SubmitEvent| {
                    ev.prevent_default();
                    save.dispatch(policy.get_untracked());
                }>
                <label for="minimum-length">"Minimum length"</label>
                <input id="minimum-length" type="number" name="policy[minimum_length]"
                    data-testid="password-minimum-length"
                    min=BASIC_MINIMUM_LENGTH.to_string() max=MAX_MINIMUM_LENGTH.to_string()
                    value=stored_length
                    prop:value=move || policy.with(|p| p.minimum_length.to_string())
                    on:input=move |ev| {
                        let value = event_target_value(&ev).parse().unwrap_or(0);
                        policy.update(|p| p.minimum_length = value);
                    }/>
                <fieldset>
                    <legend>"Require"</legend>
                    {checkbox("a lowercase letter", "require_lowercase", |p| p.require_lowercase, |p, v| p.require_lowercase = v)}
                    {checkbox("an uppercase letter", "require_uppercase", |p| p.require_uppercase, |p, v| p.require_uppercase = v)}
                    {checkbox("a number", "require_number", |p| p.require_number, |p, v| p.require_number = v)}
                    {checkbox("a symbol", "require_symbol", |p| p.require_symbol, |p, v| p.require_symbol = v)}
                    {checkbox("refuse commonly breached passwords", "reject_breached", |p| p.reject_breached, |p, v| p.reject_breached = v)}
                </fieldset>
                <div><button type="submit" class="button button-primary" data-testid="password-rules-save"
                    disabled=move || save.pending().get()>"Save rules"</button></div>
            </form>
            {move || match save.value().get() {
                Some(Err(error)) => Some(view! { <ErrorNotice error/> }.into_any()),
                Some(Ok(_)) => Some(view! { <p class="flash flash-notice" role="status">"Saved. New passwords must follow these rules."</p> }.into_any()),
                None => None,
            }}
        </section>
    }
}

/// Any signed-in person changes their own password here; the rules in force are listed.
#[component]
pub fn ChangePasswordPage() -> impl IntoView {
    let policy = Resource::new(|| (), |_| get_password_policy());
    let (current, set_current) = signal(String::new());
    let (new, set_new) = signal(String::new());
    let change = Action::new(|(current, new): &(String, String)| {
        change_password(current.clone(), new.clone())
    });
    Effect::new(move || {
        if let Some(Ok(())) = change.value().get() {
            set_current.set(String::new());
            set_new.set(String::new());
        }
    });
    view! {
        <Title text="Your password · Service Ping"/>
        <PageHeader title="Your password"/>
        <section class="card" aria-labelledby="password-heading">
            <h2 id="password-heading">"Change your password"</h2>
            {loaded(policy, |policy| view! {
                <p class="muted">"A new password needs:"</p>
                <ul data-testid="password-rules-in-force">
                    {policy.describe().into_iter().map(|rule| view! { <li>{rule}</li> }).collect_view()}
                </ul>
            })}
            <form class="form-stack" on:submit=move |ev: leptos::ev::SubmitEvent| {
                ev.prevent_default();
                change.dispatch((current.get_untracked(), new.get_untracked()));
            }>
                <label for="current-password">"Current password"</label>
                <input id="current-password" type="password" autocomplete="current-password" required data-testid="current-password"
                    prop:value=current on:input=move |ev| set_current.set(event_target_value(&ev))/>
                <label for="new-password">"New password"</label>
                <input id="new-password" type="password" autocomplete="new-password" required data-testid="new-password"
                    prop:value=new on:input=move |ev| set_new.set(event_target_value(&ev))/>
                <div><button type="submit" class="button button-primary" data-testid="change-password"
                    disabled=move || change.pending().get()>"Change password"</button></div>
            </form>
            {move || match change.value().get() {
                Some(Err(error)) => Some(view! { <ErrorNotice error/> }.into_any()),
                Some(Ok(())) => Some(view! { <p class="flash flash-notice" role="status" data-testid="password-changed">"Your password was changed."</p> }.into_any()),
                None => None,
            }}
        </section>
    }
}
