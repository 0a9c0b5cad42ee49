//! The dashboard's `/-/metrics`: its requests by route (counted by [`Monitoring`]) and Service
//! Ping's own health ([`HealthFigures`], read from the database on each scrape).

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};
use service_ping_web::client::ClientAddress;
use service_ping_web::metrics::{METRICS_PATH, Monitoring};

use crate::service_ping::health::HealthFigures;
use crate::state::AppState;

/// The figures and who may read them, for the dashboard's router.
pub fn monitoring(state: &AppState) -> (Monitoring, Router<AppState>) {
    let health = HealthFigures::default();
    let monitoring = Monitoring::new(&state.settings.monitoring, |registry| {
        health.register(registry)
    });
    let routes = if monitoring.enabled() {
        let served = monitoring.clone();
        Router::new().route(
            METRICS_PATH,
            get(move |state, address, headers| scrape(state, address, headers, served, health)),
        )
    } else {
        Router::new()
    };
    (monitoring, routes)
}

async fn scrape(
    State(state): State<AppState>,
    Extension(address): Extension<ClientAddress>,
    headers: HeaderMap,
    monitoring: Monitoring,
    health: HealthFigures,
) -> Response {
    if !monitoring.admits(address.0, &headers) {
        return Monitoring::refusal();
    }
    if let Err(error) = health.refresh(&state.db, &state.locks).await {
        tracing::error!(%error, "metrics: reading Service Ping's health from the database");
    }
    monitoring.render()
}
