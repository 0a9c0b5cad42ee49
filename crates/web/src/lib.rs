//! The HTTP rules both roles serve by, so the dashboard and the collector cannot drift apart:
//! the headers every response carries. (The page's own Content-Security-Policy, with its
//! per-response script nonce, is set while rendering, by the dashboard.)
#![forbid(unsafe_code)]

use axum::http::{HeaderName, HeaderValue, header};
use tower_http::set_header::SetResponseHeaderLayer;

/// Policy for responses that are not pages (JSON, files): nothing may run or frame them.
pub const API_CONTENT_SECURITY_POLICY: &str = "default-src 'none'; frame-ancestors 'none'";

/// Adds the headers every response carries. A policy set while rendering a page wins over the
/// API default.
pub fn with_security_headers(router: axum::Router) -> axum::Router {
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
