//! The HTML shell and the routes of the dashboard.

use leptos::prelude::*;
use leptos_meta::{MetaTags, Title, provide_meta_context};
use leptos_router::components::{ParentRoute, Redirect, Route, Router, Routes};
use leptos_router::{SsrMode, path};

use crate::access_tokens::view::AccessTokensPage;
use crate::announcements::view::AnnouncementsPage;
use crate::auth::view::SignInPage;
use crate::devops_adoption::view::DevopsAdoptionPage;
use crate::devops_score::view::DevOpsScorePage;
use crate::layout::AdminLayout;
use crate::license::view::LicensePage;
use crate::maintenance::view::MaintenanceModePage;
use crate::metric_dictionary::view::MetricDictionaryPage;
use crate::overview::view::OverviewPage;
use crate::password_rules::view::{ChangePasswordPage, PasswordRulesPage};
use crate::payload_history::view::{PayloadDetailPage, PayloadDiffPage, PayloadHistoryPage};
use crate::usage_statistics::view::UsageStatisticsPage;
use crate::usage_trends::view::UsageTrendsPage;
use crate::user_permissions::view::UserPermissionsPage;

/// The document around the app, rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    set_page_content_security_policy();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light"/>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                // The bundle's stylesheet, by the same content-hashed name as its script.
                <link rel="stylesheet" href=format!("/pkg/{}.css", options.output_name)/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// Sets the page's Content-Security-Policy during server rendering. Scripts must carry the
/// per-response nonce that Leptos puts on its hydration and streaming scripts; the wasm module
/// needs `'wasm-unsafe-eval'` to compile. No inline styles, no foreign origins, no framing.
#[cfg(feature = "ssr")]
fn set_page_content_security_policy() {
    use axum::http::{HeaderValue, header};
    let Some(response) = use_context::<leptos_axum::ResponseOptions>() else {
        return;
    };
    let nonce = leptos::nonce::use_nonce()
        .map(|n| n.to_string())
        .unwrap_or_default();
    let policy = format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; style-src 'self'; \
         img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'none'"
    );
    if let Ok(value) = HeaderValue::from_str(&policy) {
        response.insert_header(header::CONTENT_SECURITY_POLICY, value);
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Title text="Service Ping"/>
        <Router>
            <Routes fallback=NotFound>
                // The server answers `/` with a redirect before any of this runs (routes.rs);
                // this keeps client-side navigation to `/` working.
                <Route path=path!("/") view=|| view! { <Redirect path="/admin"/> }/>
                // Every page is rendered whole before it is sent (not streamed out of order, which
                // needs the bundle to put each part in place): it reads, and its forms post,
                // before the bundle has loaded or where it never does. The data behind a page is
                // a few local queries, so waiting for them delays the first byte little.
                <Route path=path!("/users/sign_in") view=SignInPage ssr=SsrMode::Async/>
                <ParentRoute path=path!("/admin") view=AdminLayout ssr=SsrMode::Async>
                    <Route path=path!("") view=OverviewPage/>
                    <Route path=path!("application_settings/metrics_and_profiling") view=UsageStatisticsPage/>
                    <Route path=path!("service_ping/metrics") view=MetricDictionaryPage/>
                    <Route path=path!("service_ping/history") view=PayloadHistoryPage/>
                    <Route path=path!("service_ping/history/diff") view=PayloadDiffPage/>
                    <Route path=path!("service_ping/history/:id") view=PayloadDetailPage/>
                    <Route path=path!("access_tokens") view=AccessTokensPage/>
                    <Route path=path!("dev_ops_reports") view=DevOpsScorePage/>
                    <Route path=path!("usage_trends") view=UsageTrendsPage/>
                    <Route path=path!("license") view=LicensePage/>
                    <Route path=path!("broadcast_messages") view=AnnouncementsPage/>
                    <Route path=path!("maintenance_mode") view=MaintenanceModePage/>
                    <Route path=path!("password_rules") view=PasswordRulesPage/>
                    <Route path=path!("password") view=ChangePasswordPage/>
                    <Route path=path!("user_permissions") view=UserPermissionsPage/>
                    <Route path=path!("devops_adoption") view=DevopsAdoptionPage/>
                    <Route path=path!("geo/sites") view=crate::geo::view::GeoSitesPage/>
                </ParentRoute>
            </Routes>
        </Router>
    }
}

#[component]
fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(axum::http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Not found · Service Ping"/>
        <div class="sign-in-page">
            <section class="sign-in-card">
                <h1>"Page not found"</h1>
                <p class="muted">"There is nothing at this address."</p>
                <a class="button button-primary" href="/admin">"Go to the admin area"</a>
            </section>
        </div>
    }
}
