//! The admin layout: sidebar navigation, a header with the signed-in administrator, and the page.

use leptos::prelude::*;
use leptos_router::components::{A, Outlet};
use leptos_router::hooks::use_location;

use crate::auth::{Account, SignOut, admin_account};
use crate::error::ApiError;

/// One entry of the sidebar. An entry is added here when its page exists.
struct NavEntry {
    href: &'static str,
    label: &'static str,
}

const NAVIGATION: &[NavEntry] = &[
    NavEntry {
        href: "/admin",
        label: "Overview",
    },
    NavEntry {
        href: "/admin/application_settings/metrics_and_profiling",
        label: "Usage statistics",
    },
    NavEntry {
        href: "/admin/service_ping/history",
        label: "Payload history",
    },
    NavEntry {
        href: "/admin/dev_ops_reports",
        label: "DevOps Score",
    },
    NavEntry {
        href: "/admin/usage_trends",
        label: "Usage trends",
    },
    NavEntry {
        href: "/admin/service_ping/metrics",
        label: "Metric dictionary",
    },
    NavEntry {
        href: "/admin/geo/sites",
        label: "Geo sites",
    },
    NavEntry {
        href: "/admin/access_tokens",
        label: "Access tokens",
    },
    NavEntry {
        href: "/admin/license",
        label: "License",
    },
];

/// The paid features, under their own heading: Registration Features or a license opens them.
const PAID_FEATURES: [crate::licensing::Feature; 5] = crate::licensing::Feature::ALL;

#[component]
pub fn AdminLayout() -> impl IntoView {
    let account = Resource::new(|| (), |_| admin_account());
    let (menu_open, set_menu_open) = signal(false);
    let location = use_location();
    // Navigating closes the menu on small screens.
    Effect::new(move || {
        location.pathname.track();
        set_menu_open.set(false);
    });
    send_signed_out_visitors_to_sign_in(account);

    view! {
        <div class="admin-layout" class:menu-open=menu_open>
            <aside class="sidebar" id="sidebar" aria-label="Admin navigation">
                <a class="brand" href="/admin">
                    <span class="brand-mark" aria-hidden="true">"SP"</span>
                    <span>"Service Ping"</span>
                </a>
                <p class="sidebar-section">"Admin area"</p>
                <nav>
                    <ul>
                        {NAVIGATION.iter().map(|entry| view! {
                            <li><A href=entry.href exact=true>{entry.label}</A></li>
                        }).collect_view()}
                    </ul>
                    <p class="sidebar-section">"Paid features"</p>
                    <ul>
                        {PAID_FEATURES.iter().map(|feature| view! {
                            <li><A href=feature.path() exact=true>{feature.nav_label()}</A></li>
                        }).collect_view()}
                        <li><A href="/admin/password" exact=true>"Your password"</A></li>
                    </ul>
                </nav>
            </aside>
            <div class="admin-main">
                <header class="topbar">
                    <button
                        type="button"
                        class="button button-ghost menu-toggle"
                        aria-controls="sidebar"
                        aria-expanded=move || menu_open.get().to_string()
                        on:click=move |_| set_menu_open.update(|open| *open = !*open)
                    >
                        "Menu"
                    </button>
                    <Suspense fallback=|| ()>
                        {move || Suspend::new(async move {
                            account.await.ok().map(|account| view! { <SignedInAs account/> })
                        })}
                    </Suspense>
                </header>
                <main class="content" id="content">
                    <crate::announcements::view::BannerStrip/>
                    <ServicePingNotice/>
                    // The page is not built inside this Suspense: a Suspend re-runs when the
                    // account resolves, and would build the page (and fetch its data) twice.
                    // Each page's own server functions refuse a non-administrator with the reason.
                    <Suspense fallback=|| ()>
                        {move || Suspend::new(async move {
                            matches!(account.await, Err(ApiError::Forbidden(_)))
                                .then(|| view! { <h1 class="access-denied">"Access denied"</h1> })
                        })}
                    </Suspense>
                    <Outlet/>
                </main>
            </div>
        </div>
    }
}

/// The one-time notice for the first administrator: Service Ping is on, and how to turn it off.
#[component]
fn ServicePingNotice() -> impl IntoView {
    let notice = Resource::new(|| (), |_| crate::settings::service_ping_notice());
    // A form, so that Dismiss also works before the bundle has loaded (the server then sends
    // the browser back to this page, without the notice).
    let dismiss = ServerAction::<crate::settings::DismissServicePingNotice>::new();
    let dismissed = move || dismiss.value().get().is_some_and(|r| r.is_ok());
    view! {
        <Suspense fallback=|| ()>
            {move || {
                let gone = dismissed();
                Suspend::new(async move {
                let show = notice.await.unwrap_or(false);
                (show && !gone).then(|| view! {
                    <div class="flash flash-notice notice-banner" role="status" data-testid="service-ping-notice">
                        <p>
                            "Service Ping is on: once a week this instance sends a usage payload (counts, never people's data). "
                            "You can read exactly what is sent, or turn it off, in "
                            <a href="/admin/application_settings/metrics_and_profiling">"Usage statistics"</a>"."
                        </p>
                        <ActionForm action=dismiss>
                            <button type="submit" class="button button-secondary" data-testid="dismiss-notice">
                                "Dismiss"
                            </button>
                        </ActionForm>
                    </div>
                })
            })}}
        </Suspense>
    }
}

#[component]
fn SignedInAs(account: Account) -> impl IntoView {
    let sign_out = ServerAction::<SignOut>::new();
    view! {
        <div class="signed-in-as">
            <span class="avatar" aria-hidden="true">{initials(&account.name)}</span>
            <span class="account-name" data-testid="signed-in-as">{account.name.clone()}</span>
            <span class="muted account-username">"@" {account.username.clone()}</span>
            <ActionForm action=sign_out>
                <button type="submit" class="button button-secondary">"Sign out"</button>
            </ActionForm>
        </div>
    }
}

fn initials(name: &str) -> String {
    name.split_whitespace()
        .filter_map(|w| w.chars().next())
        .take(2)
        .collect::<String>()
        .to_uppercase()
}

/// When a session ends while a page is open, the next server call answers 401; send the person
/// to sign in and back here. (A fresh page load is redirected by the server before rendering.)
fn send_signed_out_visitors_to_sign_in(account: Resource<Result<Account, ApiError>>) {
    Effect::new(move || {
        if let Some(Err(ApiError::Unauthorized)) = account.get() {
            #[cfg(feature = "hydrate")]
            {
                let location = leptos::prelude::window().location();
                let here = format!(
                    "{}{}",
                    location.pathname().unwrap_or_default(),
                    location.search().unwrap_or_default()
                );
                let _ = location.set_href(&crate::auth::sign_in_path_returning_to(&here));
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::initials;

    #[test]
    fn initials_take_the_first_letters_of_up_to_two_words() {
        assert_eq!(initials("Ada Lovelace"), "AL");
        assert_eq!(initials("root"), "R");
        assert_eq!(initials("Jean Paul Sartre"), "JP");
    }
}
