//! The collector's `/-/metrics`: its requests by route (ingest latency is
//! `http_request_duration_seconds{route="/usage_data"}`), every ping received by endpoint and
//! outcome (accepted, or the reason it was refused), and the instances gone silent.

use std::sync::atomic::AtomicU64;

use axum::extract::MatchedPath;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use service_ping_database::{Db, on_pool};
use service_ping_protocol::time::format_timestamp;
use service_ping_web::metrics::{Monitoring, MonitoringSettings, unix_seconds};

/// An instance that pinged before and has not for this long is silent (the fleet dashboards'
/// definition too).
pub const SILENT_AFTER: chrono::Duration = chrono::Duration::weeks(2);

/// The endpoints instances send to, as their routes are matched.
const PING_ROUTES: [&str; 4] = [
    "/usage_data",
    "/usage_data/new",
    "/usage_ping_metadata",
    "/usage_ping_errors",
];

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PingLabels {
    endpoint: &'static str,
    outcome: &'static str,
}

/// The collector's own figures, and its [`Monitoring`].
#[derive(Clone)]
pub struct CollectorMetrics {
    pub monitoring: Monitoring,
    pings: Family<PingLabels, Counter>,
    instances: Gauge,
    silent: Gauge<i64, std::sync::atomic::AtomicI64>,
    newest_ping: Gauge<f64, AtomicU64>,
}

impl CollectorMetrics {
    pub fn new(settings: &MonitoringSettings) -> Self {
        let pings = Family::<PingLabels, Counter>::default();
        let instances = Gauge::default();
        let silent = Gauge::default();
        let newest_ping = Gauge::<f64, AtomicU64>::default();
        let monitoring = Monitoring::new(settings, |registry: &mut Registry| {
            let collector = registry.sub_registry_with_prefix("collector");
            collector.register(
                "pings",
                "Documents received on the ping endpoints, by endpoint and outcome \
                 (accepted, or why it was refused)",
                pings.clone(),
            );
            collector.register(
                "instances",
                "Instances that ever sent a ping",
                instances.clone(),
            );
            collector.register(
                "silent_instances",
                "Instances that pinged before and not in the last two weeks",
                silent.clone(),
            );
            collector.register(
                "last_ping_timestamp_seconds",
                "When the newest ping was received (Unix time); 0 before the first",
                newest_ping.clone(),
            );
        });
        Self {
            monitoring,
            pings,
            instances,
            silent,
            newest_ping,
        }
    }

    async fn refresh(&self, db: &Db) -> Result<(), sqlx::Error> {
        let silent_since = format_timestamp(Utc::now() - SILENT_AFTER);
        let (instances, silent, newest): (i64, i64, Option<String>) = on_pool!(db, |p| {
            sqlx::query_as(
                "SELECT count(*), count(CASE WHEN last_received_at < $1 THEN 1 END), \
                        max(last_received_at) \
                 FROM instances",
            )
            .bind(&silent_since)
            .fetch_one(p)
            .await
        })?;
        self.instances.set(instances);
        self.silent.set(silent);
        self.newest_ping.set(unix_seconds(newest.as_deref()));
        Ok(())
    }
}

/// Why a ping was refused, by its status: a handful of values, so the label stays small.
fn outcome(status: StatusCode) -> &'static str {
    match status {
        s if s.is_success() => "accepted",
        StatusCode::BAD_REQUEST => "malformed",
        StatusCode::PAYLOAD_TOO_LARGE => "too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "invalid",
        StatusCode::CONFLICT => "conflict",
        StatusCode::TOO_MANY_REQUESTS => "rate_limited",
        s if s.is_server_error() => "error",
        _ => "refused",
    }
}

/// The ping endpoint a request is for, if it posts to one.
pub fn ping_endpoint(method: &Method, route: Option<&MatchedPath>) -> Option<&'static str> {
    if method != Method::POST {
        return None;
    }
    let route = route?.as_str();
    PING_ROUTES.iter().find(|known| **known == route).copied()
}

impl CollectorMetrics {
    /// Counts a document posted to `endpoint` by the status it was answered with.
    pub fn count_ping(&self, endpoint: &'static str, status: StatusCode) {
        let outcome = outcome(status);
        self.pings
            .get_or_create(&PingLabels { endpoint, outcome })
            .inc();
    }

    /// Every figure, the fleet's read from `db` now (503 when it cannot be read).
    pub async fn render(&self, db: &Db) -> Response {
        if let Err(error) = self.refresh(db).await {
            tracing::error!(%error, "metrics: reading the fleet's figures from the database");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
        self.monitoring.render()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_refusal_has_a_short_reason() {
        assert_eq!(outcome(StatusCode::CREATED), "accepted");
        assert_eq!(outcome(StatusCode::TOO_MANY_REQUESTS), "rate_limited");
        assert_eq!(outcome(StatusCode::UNPROCESSABLE_ENTITY), "invalid");
        assert_eq!(outcome(StatusCode::SERVICE_UNAVAILABLE), "error");
        assert_eq!(outcome(StatusCode::FORBIDDEN), "refused");
    }
}
