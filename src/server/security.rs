//! Security headers and the guard in front of the admin pages.

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_sessions::Session;

use super::AppState;
use crate::auth::session::account_in;
use crate::auth::sign_in_path_returning_to;

/// Policy for responses that are not pages (JSON, files): nothing may run or frame them.
const API_CONTENT_SECURITY_POLICY: &str = "default-src 'none'; frame-ancestors 'none'";

/// Sets the page's Content-Security-Policy during server rendering. Scripts must carry the
/// per-response nonce that Leptos puts on its hydration and streaming scripts; the wasm module
/// needs `'wasm-unsafe-eval'` to compile. No inline styles, no foreign origins, no framing.
pub fn set_page_content_security_policy() {
    use leptos::prelude::use_context;
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

/// Adds the headers every response carries. The page policy set while rendering wins over the
/// API default.
pub fn with_headers(router: axum::Router) -> axum::Router {
    fn overriding(name: HeaderName, value: &'static str) -> SetResponseHeaderLayer<HeaderValue> {
        SetResponseHeaderLayer::overriding(name, HeaderValue::from_static(value))
    }
    router
        .layer(overriding(header::X_FRAME_OPTIONS, "DENY"))
        .layer(overriding(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(overriding(
            header::REFERRER_POLICY,
            "strict-origin-when-cross-origin",
        ))
        .layer(overriding(
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(API_CONTENT_SECURITY_POLICY),
        ))
}

/// Sends a signed-out visitor of any `/admin` page to sign in, and back afterwards. Runs before
/// the page renders, so nothing of an admin page reaches someone without a session. Whether a
/// signed-in account is an administrator is checked by the page's own server functions.
pub async fn require_session_for_admin_pages(
    State(state): State<AppState>,
    session: Session,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    if path != "/admin" && !path.starts_with("/admin/") {
        return next.run(request).await;
    }
    match account_in(&session, &state.db).await {
        Ok(Some(_)) => next.run(request).await,
        Ok(None) => {
            let here = request
                .uri()
                .path_and_query()
                .map(|pq| pq.as_str())
                .unwrap_or(path);
            Redirect::to(&sign_in_path_returning_to(here)).into_response()
        }
        Err(error) => error.into_response(),
    }
}
