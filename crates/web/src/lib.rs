//! The HTTP rules both roles serve by, so the dashboard and the collector cannot drift apart:
//! the headers every response carries, the refusal of cross-site writes, and who the client is
//! behind a reverse proxy ([`client`]). (The page's own
//! Content-Security-Policy, with its per-response script nonce, is set while rendering, by the
//! dashboard.)
#![forbid(unsafe_code)]

pub mod client;
pub mod metrics;

use axum::Json;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
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

/// Whether the request's `Content-Type` is `mime` (parameters such as `charset` aside).
pub fn has_content_type(headers: &HeaderMap, mime: &str) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(mime))
}

/// Refuses (403) a state-changing request, anything but `GET`, `HEAD` and `OPTIONS`, that a
/// browser sent from another site: a login or a setting changed by a page elsewhere riding on
/// the administrator's cookies. `SameSite=Strict` cookies already stop most of it; this does not
/// depend on them. A request with neither header (a command-line client, an instance sending its
/// ping) carries no browser's cookies and passes.
pub async fn refuse_cross_site_writes(request: Request, next: Next) -> Response {
    if is_cross_site_write(request.method(), request.headers()) {
        let reason = serde_json::json!({"reason": "a request from another site may not change anything here"});
        return (StatusCode::FORBIDDEN, Json(reason)).into_response();
    }
    next.run(request).await
}

/// `Sec-Fetch-Site` where the browser sends it (every current one does): only `same-origin` and
/// `none` (typed by the user) pass. Without it, an `Origin` whose host is not the request's
/// `Host` is refused (`null`, from a sandboxed page, included).
fn is_cross_site_write(method: &Method, headers: &HeaderMap) -> bool {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return false;
    }
    let text = |name: &HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = text(&HeaderName::from_static("sec-fetch-site")) {
        return !matches!(site, "same-origin" | "none");
    }
    let Some(origin) = text(&header::ORIGIN) else {
        return false;
    };
    let origin_host = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    match (origin_host, text(&header::HOST)) {
        (Some(origin_host), Some(host)) => !origin_host.eq_ignore_ascii_case(host),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| (HeaderName::from_static(k), HeaderValue::from_static(v)))
            .collect()
    }

    #[test]
    fn a_write_from_another_site_is_refused_and_one_from_this_site_passes() {
        let post = Method::POST;
        let host = ("host", "dash.example:3000");
        for refused in [
            headers(&[host, ("sec-fetch-site", "cross-site")]),
            headers(&[host, ("sec-fetch-site", "same-site")]),
            headers(&[host, ("origin", "https://evil.example")]),
            headers(&[host, ("origin", "null")]),
        ] {
            assert!(is_cross_site_write(&post, &refused), "{refused:?}");
        }
        for allowed in [
            headers(&[host, ("sec-fetch-site", "same-origin")]),
            headers(&[host, ("sec-fetch-site", "none")]),
            headers(&[host, ("origin", "http://dash.example:3000")]),
            headers(&[host]),
        ] {
            assert!(!is_cross_site_write(&post, &allowed), "{allowed:?}");
        }
        let cross = headers(&[host, ("sec-fetch-site", "cross-site")]);
        assert!(
            !is_cross_site_write(&Method::GET, &cross),
            "reading is not changing"
        );
    }
}
