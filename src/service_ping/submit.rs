//! Sending a stored payload to the collector, as GitLab's SubmitService does: the exact stored
//! bytes to `/usage_data`, a positive `usage_data_id` required back, then the per-metric timings
//! and errors to `/usage_ping_metadata`; on failure a report to `/usage_ping_errors`. Every
//! attempt is recorded.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::Value;
use service_ping_protocol::documents::{
    ErrorDocument, ErrorReport, Metadata, MetadataDocument, MetricTiming,
};
use service_ping_protocol::time::format_timestamp;

use super::db::{self, SubmissionEnd};
use super::generate::{GenerationDeps, Trigger, TriggerKind, generate_and_store};
pub use service_ping_protocol::client::{Accepted, CollectorClient, SendError};

/// Why a submission did not happen or did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error("Service Ping is off{}: nothing was generated or sent", .0.as_ref().map(|r| format!(" ({r})")).unwrap_or_default())]
    Disabled(Option<String>),
    #[error("payload #{payload_id} was stored but not sent: {error}")]
    Send { payload_id: i64, error: SendError },
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for SubmitError {
    fn from(error: sqlx::Error) -> Self {
        SubmitError::Internal(error.into())
    }
}

/// Where a submission is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Generating { done: usize, total: usize },
    Sending,
}

pub type StageProgress<'a> = &'a (dyn Fn(Stage) + Send + Sync);

/// A payload the collector accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct Sent {
    pub payload_id: i64,
    pub accepted: Accepted,
}

/// Sends the stored payload `payload_id`, recording the attempt; then reports its metric timings
/// (or, on failure, the error) to the collector. Reports are best effort: their failure is logged,
/// never turned into a failed submission.
///
/// Whether Service Ping is on is read here, right before the request: a payload generated while
/// it was on does not leave once it is off. Once the collector has accepted the payload, the
/// send is a success whatever happens to the bookkeeping after it: the record is written with
/// retries while the database is busy, and a failure beyond that is logged, not returned (the
/// collector is idempotent on the payload, so even a resend would store nothing twice).
pub async fn send_stored(
    deps: GenerationDeps<'_>,
    client: &CollectorClient,
    payload_id: i64,
    trigger: Trigger,
) -> Result<Sent, SubmitError> {
    let bytes = db::payload_bytes(deps.db, payload_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("payload #{payload_id} does not exist"))?;
    let document: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let sha256 = service_ping_protocol::hash::sha256_hex(&bytes);
    require_enabled(deps).await?;
    let attempt = db::start_submission(
        deps.db,
        payload_id,
        trigger.kind.as_str(),
        trigger.account_id,
        Utc::now(),
    )
    .await?;
    let started = Instant::now();
    let result = client.send_usage_data(bytes).await;
    let elapsed = started.elapsed();
    let end = SubmissionEnd {
        http_status: match &result {
            Ok(accepted) => Some(accepted.http_status),
            Err(error) => error.http_status(),
        },
        duration_ms: elapsed.as_millis() as i64,
        result: result
            .as_ref()
            .map(|a| a.usage_data_id)
            .map_err(ToString::to_string),
        confirmed_sha256: result.as_ref().ok().and_then(|a| a.stored_sha256.clone()),
    };
    let recorded = crate::db::retrying_busy(|| {
        db::finish_submission(deps.db, attempt, payload_id, &end, Utc::now())
    })
    .await;
    match result {
        Ok(accepted) => {
            tracing::info!(
                payload_id,
                usage_data_id = accepted.usage_data_id,
                "Service Ping sent"
            );
            if let Err(error) = recorded {
                tracing::error!(%error, payload_id, "the collector accepted the payload, but recording that failed");
            }
            if let Some(stored) = accepted.stored_sha256.as_deref().filter(|s| *s != sha256) {
                tracing::error!(
                    payload_id,
                    sent_sha256 = %sha256,
                    stored_sha256 = %stored,
                    "the collector says it stored other bytes than the payload this instance sent and showed"
                );
            }
            after_acceptance(deps, client, payload_id, &accepted, &document).await;
            Ok(Sent {
                payload_id,
                accepted,
            })
        }
        Err(error) => {
            recorded?;
            tracing::warn!(%error, payload_id, "sending Service Ping failed");
            let report = error_report(&document, &error, elapsed, Utc::now());
            if let Err(report_error) = client.send_error_report(&report).await {
                tracing::debug!(error = %report_error, "reporting the failure failed too");
            }
            Err(SubmitError::Send { payload_id, error })
        }
    }
}

/// What follows an accepted send, all best effort: keeping the DevOps Score the collector
/// answered, and reporting the metric timings.
async fn after_acceptance(
    deps: GenerationDeps<'_>,
    client: &CollectorClient,
    payload_id: i64,
    accepted: &Accepted,
    document: &Value,
) {
    if let Err(error) = store_devops_score(deps, payload_id, accepted).await {
        tracing::warn!(%error, payload_id, "keeping the DevOps Score failed");
    }
    let metadata = match metadata_report(deps, payload_id, document).await {
        Ok(metadata) => metadata,
        Err(error) => {
            tracing::warn!(%error, payload_id, "reading the metric timings failed");
            return;
        }
    };
    if let Err(error) = client.send_metadata(&metadata).await {
        tracing::warn!(%error, payload_id, "sending the metric timings failed");
    }
}

/// Keeps the DevOps Score the collector sent back, when it sent one.
async fn store_devops_score(
    deps: GenerationDeps<'_>,
    payload_id: i64,
    accepted: &Accepted,
) -> Result<(), sqlx::Error> {
    let Some(score) = service_ping_protocol::devops_score::from_conv_index(&accepted.conv_index)
    else {
        return Ok(());
    };
    crate::devops_score::db::insert(
        deps.db,
        payload_id,
        accepted.usage_data_id,
        score.overall,
        &accepted.conv_index,
        accepted.cohort.as_ref(),
        Utc::now(),
    )
    .await
    .map(|_| ())
}

/// The metric timings of payload `payload_id`, for `/usage_ping_metadata`.
async fn metadata_report(
    deps: GenerationDeps<'_>,
    payload_id: i64,
    document: &Value,
) -> Result<MetadataDocument, sqlx::Error> {
    let metrics = db::metric_results(deps.db, payload_id)
        .await?
        .into_iter()
        .map(|m| MetricTiming {
            name: m.key_path,
            time_elapsed: m.duration_us as f64 / 1_000_000.0,
            error: m.error,
        })
        .collect();
    Ok(MetadataDocument {
        metadata: Metadata {
            uuid: text_at(document, "uuid").unwrap_or_default(),
            metrics,
        },
    })
}

/// The report of a failed send, for `/usage_ping_errors`.
fn error_report(
    document: &Value,
    error: &SendError,
    elapsed: Duration,
    now: DateTime<Utc>,
) -> ErrorDocument {
    ErrorDocument {
        error: ErrorReport {
            time: Some(format_timestamp(now)),
            uuid: text_at(document, "uuid").unwrap_or_default(),
            hostname: text_at(document, "hostname"),
            version: text_at(document, "version"),
            message: error.to_string(),
            elapsed: Some(elapsed.as_secs_f64()),
        },
    }
}

/// A top-level text value of the payload document.
fn text_at(document: &Value, key: &str) -> Option<String> {
    document.get(key).and_then(Value::as_str).map(String::from)
}

/// "Send now" and `service-ping submit`: refuses when Service Ping is off; otherwise generates,
/// stores and sends a new payload.
pub async fn submit_now(
    deps: GenerationDeps<'_>,
    client: &CollectorClient,
    trigger: Trigger,
    progress: StageProgress<'_>,
) -> Result<Sent, SubmitError> {
    debug_assert!(trigger.kind != TriggerKind::Preview);
    require_enabled(deps).await?;
    if !client.is_configured() {
        return Err(SubmitError::Internal(anyhow::anyhow!(
            SendError::NotConfigured
        )));
    }
    let generating = |done, total| progress(Stage::Generating { done, total });
    let stored = generate_and_store(deps, trigger, Utc::now(), &generating).await?;
    progress(Stage::Sending);
    send_stored(deps, client, stored.id, trigger).await
}

/// Refuses when Service Ping is off (by the administrator's choice or the operator's lock).
pub async fn require_enabled(deps: GenerationDeps<'_>) -> Result<(), SubmitError> {
    let service_ping = crate::settings::db::service_ping(deps.db, deps.locks).await?;
    if service_ping.enabled {
        Ok(())
    } else {
        Err(SubmitError::Disabled(service_ping.locked_reason))
    }
}
