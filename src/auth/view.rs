//! The sign-in page.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use super::SignIn;

/// `/users/sign_in`: username or email, password, and a way back to the page that sent you here.
#[component]
pub fn SignInPage() -> impl IntoView {
    let sign_in = ServerAction::<SignIn>::new();
    let query = use_query_map();
    let redirect_to = move || query.read().get("redirect_to").unwrap_or_default();
    let error = move || {
        sign_in
            .value()
            .get()
            .and_then(Result::err)
            .map(|e| e.to_string())
    };
    let (password_visible, set_password_visible) = signal(false);

    view! {
        <Title text="Sign in · Service Ping"/>
        <div class="sign-in-page">
            <section class="sign-in-card" aria-labelledby="sign-in-heading">
                <div class="brand brand-large">
                    <span class="brand-mark" aria-hidden="true">"SP"</span>
                    <span>"Service Ping"</span>
                </div>
                <h1 id="sign-in-heading">"Sign in"</h1>
                <ActionForm action=sign_in attr:class="form-stack">
                    <input type="hidden" name="redirect_to" prop:value=redirect_to/>
                    <label for="login">"Username or email"</label>
                    <input id="login" name="login" type="text" autocomplete="username" required autofocus/>
                    <label for="password">"Password"</label>
                    <div class="password-field">
                        <input
                            id="password"
                            name="password"
                            type=move || if password_visible.get() { "text" } else { "password" }
                            autocomplete="current-password"
                            required
                        />
                        <button
                            type="button"
                            class="button button-ghost"
                            aria-controls="password"
                            aria-pressed=move || password_visible.get().to_string()
                            on:click=move |_| set_password_visible.update(|v| *v = !*v)
                        >
                            {move || if password_visible.get() { "Hide" } else { "Show" }}
                        </button>
                    </div>
                    {move || error().map(|message| view! { <p class="flash flash-alert" role="alert">{message}</p> })}
                    <button type="submit" class="button button-primary" disabled=move || sign_in.pending().get()>
                        {move || if sign_in.pending().get() { "Signing in…" } else { "Sign in" }}
                    </button>
                </ActionForm>
            </section>
        </div>
    }
}
