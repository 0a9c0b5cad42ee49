//! The collector's routes: the ping endpoints instances send to, the pages, the OpenAPI document.

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{get, post};
use tower_http::trace::TraceLayer;

use crate::state::CollectorState;
use crate::{api, openapi, pages};

/// The collector's routes.
pub fn router(state: CollectorState) -> Router {
    let body_limit = state.limits.max_body_bytes;
    let routes = Router::new()
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
        .layer(axum::middleware::from_fn(
            service_ping_web::refuse_cross_site_writes,
        ))
        // The multipart upload carries a little more than the file itself.
        .layer(DefaultBodyLimit::max(body_limit + 64 * 1024))
        .with_state(state);
    service_ping_web::with_security_headers(routes).layer(TraceLayer::new_for_http())
}

async fn health(axum::extract::State(state): axum::extract::State<CollectorState>) -> StatusCode {
    match service_ping_database::ping(&state.db).await {
        Ok(()) => StatusCode::OK,
        Err(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}
