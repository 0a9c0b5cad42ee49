//! The collector's routes: the ping endpoints instances send to, the pages, the OpenAPI document,
//! and `/-/metrics`.

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use service_ping_web::client::{ClientAddress, with_client_address};
use service_ping_web::metrics::{METRICS_PATH, Monitoring};
use tower_http::trace::TraceLayer;

use crate::monitoring::ping_endpoint;
use crate::state::CollectorState;
use crate::{api, openapi, pages};

/// The collector's routes.
pub fn router(state: CollectorState) -> Router {
    let body_limit = state.limits.max_body_bytes;
    let metrics_route = if state.metrics.monitoring.enabled() {
        Router::new().route(METRICS_PATH, get(scrape))
    } else {
        Router::new()
    };
    let routes = Router::new()
        .merge(metrics_route)
        .route("/", get(pages::index))
        .route("/collector.css", get(pages::stylesheet))
        .route("/-/health", get(health))
        .route(
            "/openapi.json",
            get(|| async { axum::Json(openapi::document()) }),
        )
        .route("/usage_data", post(api::receive_usage_data))
        .route(
            "/usage_data/new",
            get(pages::upload_page).post(pages::receive_upload),
        )
        .route(
            "/usage_ping_metadata",
            post(api::receive_metadata).layer(DefaultBodyLimit::max(api::MAX_DOCUMENT_BYTES)),
        )
        .route(
            "/usage_ping_errors",
            post(api::receive_error).layer(DefaultBodyLimit::max(api::MAX_DOCUMENT_BYTES)),
        )
        .fallback(api::not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            admit_address,
        ))
        .layer(axum::middleware::from_fn(
            service_ping_web::refuse_cross_site_writes,
        ))
        // Outside the refusals above, so that a ping they refuse is counted too.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            count_pings,
        ))
        // The multipart upload carries a little more than the file itself.
        .layer(DefaultBodyLimit::max(body_limit + 64 * 1024));
    let metrics = state.metrics.monitoring.clone();
    let routes = with_client_address(routes, state.trusted_proxies.clone()).with_state(state);
    metrics.record_requests(
        service_ping_web::with_security_headers(routes).layer(TraceLayer::new_for_http()),
    )
}

/// Counts every write against its client address before its body is read (429 over the limit).
async fn admit_address(
    State(state): State<CollectorState>,
    Extension(address): Extension<ClientAddress>,
    request: Request,
    next: Next,
) -> Response {
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    match state.admit_address(address) {
        Ok(()) => next.run(request).await,
        Err(refusal) => refusal.into_response(),
    }
}

async fn health(State(state): State<CollectorState>) -> StatusCode {
    match state.db.ping().await {
        Ok(()) => StatusCode::OK,
        Err(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// Counts each document posted to a ping endpoint by how it was answered.
async fn count_pings(
    State(state): State<CollectorState>,
    request: Request,
    next: Next,
) -> Response {
    let endpoint = ping_endpoint(request.method(), request.extensions().get::<MatchedPath>());
    let response = next.run(request).await;
    if let Some(endpoint) = endpoint {
        state.metrics.count_ping(endpoint, response.status());
    }
    response
}

/// `GET /-/metrics`, for the addresses or the token `[monitoring]` names.
async fn scrape(
    State(state): State<CollectorState>,
    Extension(address): Extension<ClientAddress>,
    headers: HeaderMap,
) -> Response {
    if !state.metrics.monitoring.admits(address.0, &headers) {
        return Monitoring::refusal();
    }
    state.metrics.render(&state.db).await
}
