//! The dashboard's router: the Leptos pages and server functions, each slice's own routes, the
//! health check and `/-/metrics`, and the layers every request passes (session, the admin-page
//! guard, security headers, a trace span keyed on the matched route, the request counters).

use std::sync::Arc;

use super::sessions::Sessions;
use axum::Router;
use axum::body::Body;
use axum::extract::{MatchedPath, State};
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::response::Redirect;
use axum::routing::get;
use leptos::prelude::*;
use leptos_axum::{LeptosRoutes, generate_route_list};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

use service_ping_web::client::{TrustedProxies, with_client_address};

use super::assets::SiteAssets;
use super::security;
use crate::app::{App, shell};
use crate::config::Settings;
use crate::db::Db;
use crate::state::AppState;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "_service_ping_session";

/// The largest request body the dashboard reads. Its server functions and forms carry short
/// text (the largest is a license, at most 16 KiB, or an announcement); it has no uploads. A
/// larger body is refused with 413 before any of it is read when its length is declared, and as
/// soon as it passes the limit when it is not.
pub const MAX_REQUEST_BYTES: usize = 256 * 1024;

/// All routes, with their layers.
pub fn router(state: AppState, session_store: Sessions, assets: Arc<SiteAssets>) -> Router {
    // `/` is answered here with a redirect that works without JavaScript, not by the app.
    let routes: Vec<_> = generate_route_list(App)
        .into_iter()
        .filter(|route| route.path() != "/")
        .collect();
    let leptos_state = state.clone();
    let (monitoring, metrics) = super::monitoring::monitoring(&state);
    let pages = Router::new()
        .route("/-/health", get(health))
        .merge(metrics)
        .route(
            "/pkg/{*file}",
            get(move |request: Request<Body>| assets.clone().serve(request)),
        )
        .route("/", get(|| async { Redirect::to("/admin") }))
        .merge(crate::usage_statistics::routes())
        .merge(crate::access_tokens::routes())
        .merge(crate::user_permissions::routes())
        .merge(crate::usage_trends::routes())
        .merge(crate::geo::routes())
        .leptos_routes_with_context(
            &state,
            routes,
            move || provide_context(leptos_state.clone()),
            {
                let options = state.leptos_options.clone();
                move || shell(options.clone())
            },
        )
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            AppState,
            _,
        >(
            {
                let state = state.clone();
                move || provide_context(state.clone())
            },
            shell,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            security::require_session_for_admin_pages,
        ))
        .layer(session_layer(&state.settings, session_store))
        .layer(axum::middleware::from_fn(
            super::forms::refuse_malformed_forms,
        ))
        .layer(RequestBodyLimitLayer::new(MAX_REQUEST_BYTES))
        .layer(axum::middleware::from_fn(
            service_ping_web::refuse_cross_site_writes,
        ));
    let proxies = TrustedProxies::new(&state.settings.server.trusted_proxies);
    let pages = with_client_address(pages, proxies).with_state(state);
    // Pages and API answers are for one signed-in person: no shared cache keeps them, and a
    // browser asks again each time (the bundle sets its own, immutable, policy).
    let pages = pages.layer(SetResponseHeaderLayer::if_not_present(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, private"),
    ));
    let pages = service_ping_web::with_security_headers(pages).layer(
        TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
            let route = request
                .extensions()
                .get::<MatchedPath>()
                .map(MatchedPath::as_str)
                .unwrap_or("(unmatched)");
            tracing::info_span!("request", method = %request.method(), route)
        }),
    );
    monitoring.record_requests(pages)
}

fn session_layer(settings: &Settings, store: Sessions) -> SessionManagerLayer<Sessions> {
    SessionManagerLayer::new(store)
        .with_name(SESSION_COOKIE)
        .with_http_only(true)
        .with_same_site(SameSite::Strict)
        .with_secure(settings.server.cookies_are_secure())
        .with_expiry(Expiry::OnInactivity(time::Duration::minutes(i64::from(
            settings.server.session_idle_minutes,
        ))))
}

/// `/-/health`: 200 when the database answers, 503 otherwise.
async fn health(State(db): State<Db>) -> (StatusCode, axum::Json<serde_json::Value>) {
    match db.ping().await {
        Ok(()) => (
            StatusCode::OK,
            axum::Json(serde_json::json!({"status": "ok", "database": "ok"})),
        ),
        Err(error) => {
            tracing::error!(%error, "health check: database unavailable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(serde_json::json!({"status": "unavailable", "database": "unavailable"})),
            )
        }
    }
}
