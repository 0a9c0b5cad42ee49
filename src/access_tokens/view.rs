//! The access tokens page: create a token (shown once), list and revoke them.

use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_meta::Title;

use super::{
    AccessToken, CreatedToken, RevokeAccessToken, SCOPES, create_access_token, get_access_tokens,
    revoke_access_token,
};
use crate::components::time::Time;
use crate::components::{ErrorNotice, FormRefusal, PageHeader, RowActionForm, loaded};

#[component]
pub fn AccessTokensPage() -> impl IntoView {
    let (reloads, set_reloads) = signal(0u32);
    let tokens = Resource::new(move || reloads.get(), |_| get_access_tokens());
    let reload = Callback::new(move |()| set_reloads.update(|n| *n += 1));
    view! {
        <Title text="Access tokens · Admin · Service Ping"/>
        <PageHeader
            title="Access tokens"
            subtitle="Personal access tokens for the API, e.g. to fetch the latest Service Ping payload from a script."
        />
        <NewTokenForm on_created=reload/>
        <section class="card" aria-labelledby="tokens-heading">
            <h2 id="tokens-heading">"Your tokens"</h2>
            {loaded(tokens, move |tokens| if tokens.is_empty() {
                view! { <p class="empty-state">"You have no access tokens."</p> }.into_any()
            } else {
                view! { <TokenTable tokens on_revoked=reload/> }.into_any()
            })}
        </section>
    }
}

#[derive(Clone)]
struct NewToken {
    name: String,
    scopes: Vec<String>,
    expires_in_days: Option<u32>,
}

/// Creating a token needs JavaScript: its secret is shown once, in the reply, and a plain form
/// post is answered with a redirect that would lose it (keeping the secret anywhere on the
/// server until the next page, even briefly, would undo storing only its digest).
#[component]
fn NewTokenForm(on_created: Callback<()>) -> impl IntoView {
    let (name, set_name) = signal(String::new());
    let (expiry, set_expiry) = signal("30".to_string());
    let chosen = RwSignal::new(vec!["read_service_ping".to_string()]);
    let create = Action::new(|request: &NewToken| {
        let request = request.clone();
        create_access_token(request.name, request.scopes, request.expires_in_days)
    });
    Effect::new(move || {
        if let Some(Ok(_)) = create.value().get() {
            set_name.set(String::new());
            on_created.run(());
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        create.dispatch(NewToken {
            name: name.get_untracked(),
            scopes: chosen.get_untracked(),
            expires_in_days: expiry.get_untracked().parse().ok(),
        });
    };
    view! {
        <section class="card" aria-labelledby="new-token-heading">
            <h2 id="new-token-heading">"Add a token"</h2>
            <form class="form-stack token-form" on:submit=submit>
                <label for="token-name">"Name"</label>
                <input id="token-name" type="text" data-testid="token-name" maxlength="100" required
                    prop:value=name on:input=move |ev| set_name.set(event_target_value(&ev))/>
                <label for="token-expiry">"Expires"</label>
                <select id="token-expiry" data-testid="token-expiry" on:change=move |ev| set_expiry.set(event_target_value(&ev))>
                    <option value="7">"In 7 days"</option>
                    <option value="30" selected>"In 30 days"</option>
                    <option value="365">"In a year"</option>
                    <option value="never">"Never"</option>
                </select>
                <fieldset>
                    <legend>"Scopes"</legend>
                    {SCOPES.iter().map(|(scope, help)| {
                        let scope = scope.to_string();
                        let checked = { let scope = scope.clone(); move || chosen.with(|c| c.contains(&scope)) };
                        let toggle = {
                            let scope = scope.clone();
                            move |ev| {
                                let on = event_target_checked(&ev);
                                chosen.update(|c| {
                                    c.retain(|s| s != &scope);
                                    if on { c.push(scope.clone()); }
                                });
                            }
                        };
                        view! {
                            <label class="checkbox">
                                <input type="checkbox" data-testid=format!("scope-{scope}") prop:checked=checked on:change=toggle/>
                                <code>{scope.clone()}</code>" — "{*help}
                            </label>
                        }
                    }).collect_view()}
                </fieldset>
                <p class="muted until-hydrated">"Creating a token needs JavaScript: its secret is shown once, on this page."</p>
                <button type="submit" class="button button-primary" data-testid="create-token" disabled=move || create.pending().get()>
                    "Create token"
                </button>
            </form>
            {move || create.value().get().map(|result| match result {
                Ok(created) => view! { <CreatedTokenNotice created/> }.into_any(),
                Err(error) => view! { <ErrorNotice error/> }.into_any(),
            })}
        </section>
    }
}

#[component]
fn CreatedTokenNotice(created: CreatedToken) -> impl IntoView {
    view! {
        <div class="flash flash-notice" role="status">
            <p>"Token “"{created.token.name}"” created. Copy it now: it is not shown again."</p>
            <p><code class="hash" data-testid="new-token-secret">{created.secret}</code></p>
        </div>
    }
}

/// Revoke posts itself before the bundle has loaded (or without JavaScript); the server sends the
/// browser back here.
#[component]
fn TokenTable(tokens: Vec<AccessToken>, on_revoked: Callback<()>) -> impl IntoView {
    let revoke = Action::new(|id: &i64| revoke_access_token(*id));
    Effect::new(move || {
        if let Some(Ok(())) = revoke.value().get() {
            on_revoked.run(());
        }
    });
    view! {
        <FormRefusal path={<RevokeAccessToken as ServerFn>::PATH}/>
        {move || match revoke.value().get() {
            Some(Err(error)) => Some(view! { <ErrorNotice error/> }),
            _ => None,
        }}
        <div class="table-scroll">
            <table class="data-table" data-testid="token-table">
                <thead><tr>
                    <th>"Name"</th><th>"Scopes"</th><th>"Created"</th><th>"Expires"</th><th>"Last used"</th><th>"State"</th><th></th>
                </tr></thead>
                <tbody>
                    {tokens.into_iter().map(|token| {
                        let id = token.id;
                        let active = token.revoked_at.is_none();
                        view! {
                            <tr data-testid="token-row">
                                <td>{token.name}</td>
                                <td><code>{token.scopes.join(" ")}</code></td>
                                <td><Time at=token.created_at/></td>
                                <td><Time at=token.expires_at.unwrap_or_else(|| "Never".into())/></td>
                                <td><Time at=token.last_used_at.unwrap_or_else(|| "Never".into())/></td>
                                <td>{match token.revoked_at {
                                    None => "Active".into_any(),
                                    Some(at) => view! { "Revoked "<Time at/> }.into_any(),
                                }}</td>
                                <td>
                                    {active.then(|| view! {
                                        <RowActionForm url=RevokeAccessToken::url() id action=revoke>
                                            <button type="submit" class="button button-ghost" data-testid="revoke-token">"Revoke"</button>
                                        </RowActionForm>
                                    })}
                                </td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}
