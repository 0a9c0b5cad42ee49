//! Service Ping's own health on `/-/metrics`, so an operator is alerted when the weekly ping stops
//! arriving as they are for anything else: whether it is on, when a payload last reached the
//! collector, the attempts by outcome, and the cost of the latest payload.
//!
//! Every figure is read from the database when Prometheus scrapes (one query each for the
//! submissions, the latest payload and the settings row): the history is the truth, it
//! survives restarts, and a process that only serves pages still reports the weekly job's work.

use std::sync::atomic::{AtomicU64, Ordering};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use service_ping_web::metrics::unix_seconds;

use crate::config::Locks;
use crate::db::Db;

type FloatGauge = Gauge<f64, AtomicU64>;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

/// The figures, registered once and refreshed on each scrape.
#[derive(Clone, Default)]
pub struct HealthFigures {
    database_up: Gauge,
    enabled: Gauge,
    last_success: FloatGauge,
    attempts: Family<OutcomeLabels, Counter>,
    failure_streak: Gauge,
    generation_seconds: FloatGauge,
    payload_bytes: Gauge,
    metrics_failed: Gauge,
    metrics_total: Gauge,
}

impl HealthFigures {
    pub fn register(&self, registry: &mut Registry) {
        let prefixed = registry.sub_registry_with_prefix("service_ping");
        prefixed.register(
            "database_up",
            "1 when the figures below were read from the database at this scrape; 0 when it did not answer (they keep their last values)",
            self.database_up.clone(),
        );
        prefixed.register(
            "enabled",
            "1 when Service Ping is on (stored choice or configuration lock), 0 when off",
            self.enabled.clone(),
        );
        prefixed.register(
            "last_success_timestamp_seconds",
            "When a payload last reached the collector (Unix time); 0 when none has",
            self.last_success.clone(),
        );
        prefixed.register(
            "submission_attempts",
            "Finished attempts to send a payload to the collector, by outcome (sent or failed)",
            self.attempts.clone(),
        );
        prefixed.register(
            "failures_since_success",
            "Failed attempts to send since the last one that reached the collector",
            self.failure_streak.clone(),
        );
        prefixed.register(
            "generation_seconds",
            "How long the latest payload took to generate",
            self.generation_seconds.clone(),
        );
        prefixed.register(
            "payload_bytes",
            "Size of the latest payload, byte for byte as it is sent",
            self.payload_bytes.clone(),
        );
        prefixed.register(
            "payload_failed_metrics",
            "Metrics of the latest payload that failed and were sent as their error sentinel",
            self.metrics_failed.clone(),
        );
        prefixed.register(
            "payload_metrics",
            "Metrics in the latest payload",
            self.metrics_total.clone(),
        );
    }

    /// Reads the figures from the database; when it does not answer, says so in `database_up`
    /// and keeps the last figures, so the scrape still carries the request figures.
    pub async fn refresh(&self, db: &Db, locks: &Locks) -> Result<(), sqlx::Error> {
        let read = self.read(db, locks).await;
        self.database_up.set(i64::from(read.is_ok()));
        read
    }

    async fn read(&self, db: &Db, locks: &Locks) -> Result<(), sqlx::Error> {
        let choices = crate::settings::db::stored_choices(db).await?;
        self.enabled
            .set(i64::from(choices.service_ping(locks).enabled));
        let attempts = super::db::delivery_record(db).await?;
        self.last_success
            .set(unix_seconds(attempts.last_sent_at.as_deref()));
        set_counter(&self.attempts, "sent", attempts.sent);
        set_counter(&self.attempts, "failed", attempts.failed);
        self.failure_streak.set(attempts.failures_since_success);
        if let Some(latest) = super::db::latest(db).await? {
            self.generation_seconds
                .set(latest.generation_ms as f64 / 1000.0);
            self.payload_bytes.set(latest.size_bytes);
            self.metrics_failed.set(latest.metrics_failed);
            self.metrics_total.set(latest.metrics_total);
        }
        Ok(())
    }
}

/// A counter that mirrors a count kept in the database: it only falls if history is deleted,
/// which Prometheus reads as a counter reset.
fn set_counter(family: &Family<OutcomeLabels, Counter>, outcome: &'static str, count: i64) {
    let count = u64::try_from(count).unwrap_or(0);
    family
        .get_or_create(&OutcomeLabels { outcome })
        .inner()
        .store(count, Ordering::Relaxed);
}
