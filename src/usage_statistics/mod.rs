//! The Usage statistics page (`/admin/application_settings/metrics_and_profiling`): whether
//! Service Ping is on, and the exact payload it sends: preview, hash, download, and generating a
//! new one with live progress.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::settings::{AuditEntry, Toggle};

#[cfg(feature = "ssr")]
pub mod download;
pub mod json_tree;
pub mod view;

/// A stored payload as the dashboard lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayloadSummary {
    pub id: i64,
    pub recorded_at: String,
    pub sha256: String,
    pub size_bytes: i64,
    pub metrics_total: i64,
    pub metrics_failed: i64,
    pub generation_ms: i64,
    /// `schedule`, `manual`, `cli` or `preview`.
    pub trigger: String,
    /// Username of the administrator who asked for it, if one did.
    pub triggered_by: Option<String>,
    pub sent_at: Option<String>,
    /// The collector's id for it, once sent.
    pub usage_data_id: Option<i64>,
    /// How the newest attempt to send it ended: `sending`, `sent` or `failed`.
    pub submission_status: Option<String>,
    pub submission_attempts: i64,
}

impl PayloadSummary {
    /// Where the exact stored bytes can be downloaded.
    pub fn download_path(&self) -> String {
        download_path(self.id)
    }
}

/// The download address of stored payload `id`.
pub fn download_path(id: i64) -> String {
    format!("/admin/service_ping/payloads/{id}/download")
}

/// A stored payload with its exact text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayloadPreview {
    pub summary: PayloadSummary,
    /// The stored bytes, which are UTF-8 JSON.
    pub text: String,
}

/// What the Usage statistics page shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageStatistics {
    pub service_ping: Toggle,
    pub include_optional_data: Toggle,
    pub registration_features: RegistrationFeatures,
    pub preview: Option<PayloadPreview>,
    pub schedule: ScheduleInfo,
    /// Where payloads are sent, if a collector is configured.
    pub collector_url: Option<String>,
    /// The newest changes to these settings.
    pub audit: Vec<AuditEntry>,
}

/// The "Enable Registration Features" control: offered to an `EE Free` instance, usable only
/// while Service Ping is on; a paid license includes the features instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistrationFeatures {
    /// On only while Service Ping is on too.
    pub toggle: Toggle,
    /// Why the switch cannot be used now.
    pub disabled_reason: Option<String>,
    /// The plan of a license in force, which includes the features.
    pub licensed_plan: Option<String>,
}

/// The weekly submission as the dashboard describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleInfo {
    /// `Tuesday 14:07 UTC`.
    pub weekly_slot: String,
    /// When the job sends next; `None` while Service Ping is off.
    pub next_run: Option<String>,
    /// `idle`, `sending`, `retrying`, `sent`, `gave_up` or `skipped`.
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    /// When a payload last reached the collector, whoever sent it.
    pub last_success: Option<String>,
    /// Failed attempts (weekly or Send now) since then, and the newest one's error.
    pub failures_since_success: i64,
    pub last_failure: Option<String>,
}

/// The answer of "Test connection": whether the collector's health endpoint answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionTest {
    pub reachable: bool,
    /// `Reachable: HTTP 200 in 12 ms`, or why not; also what the audit log records.
    pub summary: String,
}

/// Progress of the payload generation (and send) started from the dashboard.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenerationStatus {
    pub running: bool,
    /// "Send now": generated, now sending.
    pub sending: bool,
    /// This run sends its payload (else it is a preview).
    pub sends: bool,
    pub done: usize,
    pub total: usize,
    /// The payload the last generation stored.
    pub payload_id: Option<i64>,
    /// Why the last generation failed.
    pub error: Option<String>,
}

#[cfg(feature = "ssr")]
impl From<crate::service_ping::db::RawUsageData> for PayloadSummary {
    fn from(row: crate::service_ping::db::RawUsageData) -> Self {
        PayloadSummary {
            id: row.id,
            recorded_at: row.recorded_at,
            sha256: row.sha256,
            size_bytes: row.size_bytes,
            metrics_total: row.metrics_total,
            metrics_failed: row.metrics_failed,
            generation_ms: row.generation_ms,
            trigger: row.trigger,
            triggered_by: row.triggered_by,
            sent_at: row.sent_at,
            usage_data_id: row.usage_data_id,
            submission_status: row.submission_status,
            submission_attempts: row.submission_attempts,
        }
    }
}

#[cfg(feature = "ssr")]
impl From<crate::state::generation::GenerationState> for GenerationStatus {
    fn from(state: crate::state::generation::GenerationState) -> Self {
        let (payload_id, error) = match state.outcome {
            Some(Ok(id)) => (Some(id), None),
            Some(Err(error)) => (None, Some(error)),
            None => (None, None),
        };
        GenerationStatus {
            running: state.running,
            sending: state.sending,
            sends: state.sends,
            done: state.done,
            total: state.total,
            payload_id,
            error,
        }
    }
}

/// The latest stored payload, as bytes and as a summary, or `None` before the first one.
#[cfg(feature = "ssr")]
pub async fn latest_preview(
    db: &crate::db::Db,
) -> Result<Option<PayloadPreview>, crate::error::AppError> {
    match crate::service_ping::db::latest(db).await? {
        Some(row) => Ok(Some(stored_preview(db, row).await?)),
        None => Ok(None),
    }
}

/// The stored bytes of `row`'s payload, with its summary.
#[cfg(feature = "ssr")]
pub async fn stored_preview(
    db: &crate::db::Db,
    row: crate::service_ping::db::RawUsageData,
) -> Result<PayloadPreview, crate::error::AppError> {
    let bytes = crate::service_ping::db::payload_bytes(db, row.id)
        .await?
        .unwrap_or_default();
    let text = String::from_utf8(bytes)
        .map_err(|e| anyhow::anyhow!("stored payload {} is not UTF-8: {e}", row.id))?;
    Ok(PayloadPreview {
        summary: row.into(),
        text,
    })
}

#[server(endpoint = "usage_statistics")]
pub async fn get_usage_statistics() -> Result<UsageStatistics, ApiError> {
    crate::auth::session::require_admin().await?;
    let state = crate::state::app_state()?;
    let db = &state.db;
    let choices = crate::settings::db::stored_choices(db)
        .await
        .map_err(crate::error::AppError::from)?;
    let service_ping = choices.service_ping(&state.locks);
    let include_optional_data = choices.include_optional_data(&state.locks);
    let entitlement =
        crate::licensing::entitlement::current(state.licensing(), chrono::Utc::now()).await?;
    let registration_features = RegistrationFeatures {
        toggle: Toggle {
            enabled: service_ping.enabled && entitlement.inputs.registration_features_enabled,
            locked_reason: None,
        },
        disabled_reason: (!service_ping.enabled)
            .then(|| crate::settings::REGISTRATION_NEEDS_SERVICE_PING.to_string()),
        licensed_plan: match entitlement.inputs.license {
            crate::licensing::LicenseState::InForce(plan) => Some(plan.title().to_string()),
            _ => None,
        },
    };
    Ok(UsageStatistics {
        registration_features,
        schedule: schedule_info(&state, service_ping.enabled).await?,
        service_ping,
        include_optional_data,
        preview: latest_preview(db).await?,
        collector_url: state.collector.base_url().map(|u| u.to_string()),
        audit: crate::settings::db::audit_log(db, 10)
            .await
            .map_err(crate::error::AppError::from)?,
    })
}

#[cfg(feature = "ssr")]
async fn schedule_info(
    state: &crate::state::AppState,
    enabled: bool,
) -> Result<ScheduleInfo, crate::error::AppError> {
    use crate::service_ping::schedule::{WeeklySlot, load_state, next_run};
    let slot = WeeklySlot::for_instance(&state.identity.uuid.to_string());
    let job = load_state(&state.db).await?;
    let delivery = crate::service_ping::db::delivery_record(&state.db).await?;
    let streak = delivery.failures_since_success;
    Ok(ScheduleInfo {
        last_success: delivery.last_sent_at,
        failures_since_success: streak,
        last_failure: delivery.last_failure.filter(|_| streak > 0),
        weekly_slot: slot.describe(),
        next_run: next_run(&job, &slot, enabled, chrono::Utc::now())
            .map(service_ping_protocol::time::format_timestamp),
        status: job.status,
        attempts: job.attempts,
        last_error: job.last_error,
    })
}

/// "Test connection": a `GET` of the collector's `/-/health`, which carries nothing about this
/// instance, recorded in the audit log with its outcome. Refused while Service Ping is off: off
/// means no request goes to the collector, a test included.
#[server(endpoint = "test_collector_connection")]
pub async fn test_collector_connection() -> Result<ConnectionTest, ApiError> {
    use crate::error::AppError;
    let account = crate::auth::session::require_admin().await?;
    let state = crate::state::app_state()?;
    let service_ping = crate::settings::db::service_ping(&state.db, &state.locks)
        .await
        .map_err(AppError::from)?;
    if !service_ping.enabled {
        return Err(AppError::Conflict(
            "Service Ping is off, so no request goes to the collector: turn it on to test the connection."
                .into(),
        )
        .into());
    }
    let test = match state.collector.check_health().await {
        Ok((status, took)) => ConnectionTest {
            reachable: true,
            summary: format!("Reachable: HTTP {status} in {} ms", took.as_millis()),
        },
        Err(error) => ConnectionTest {
            reachable: false,
            summary: format!("Not reachable: {error}"),
        },
    };
    let at = service_ping_protocol::time::format_timestamp(chrono::Utc::now());
    let who = crate::settings::db::Actor::new(&account, &at);
    let mut tx = state.db.begin_write().await.map_err(AppError::from)?;
    crate::settings::db::record(
        &mut tx.conn(),
        &who,
        "connection_tested",
        CONNECTION_TEST,
        None,
        Some(&test.summary),
    )
    .await
    .map_err(AppError::from)?;
    tx.commit().await.map_err(AppError::from)?;
    tracing::info!(
        reachable = test.reachable,
        account = account.id,
        "collector connection tested"
    );
    Ok(test)
}

/// The audit log's name for a connection test.
pub const CONNECTION_TEST: &str = "Collector connection test";

/// Starts generating a new payload in the background (one at a time) and answers at once with
/// its progress; [`get_generation_status`] follows it. Works whether or not Service Ping is on:
/// a preview is never sent by itself.
#[server(endpoint = "generate_preview")]
pub async fn generate_preview() -> Result<GenerationStatus, ApiError> {
    use crate::service_ping::{Trigger, TriggerKind};
    let account = crate::auth::session::require_admin().await?;
    let state = crate::state::app_state()?;
    crate::maintenance::require_writable(state.licensing()).await?;
    let now = chrono::Utc::now();
    if let Some(running) = state.generation.try_start(now, false) {
        let task_state = state.clone();
        tokio::spawn(async move {
            let progress = |done: usize, total: usize| running.progress(done, total);
            let trigger = Trigger {
                kind: TriggerKind::Preview,
                account_id: Some(account.id),
            };
            let result = crate::service_ping::generate_and_store(
                task_state.generation_deps(),
                trigger,
                now,
                &progress,
            )
            .await;
            running.finish(result.map(|stored| stored.id).map_err(|error| {
                tracing::error!(error = format!("{error:#}"), "payload generation failed");
                format!("{error:#}")
            }));
        });
    }
    Ok(state.generation.snapshot().into())
}

#[server(endpoint = "generation_status")]
pub async fn get_generation_status() -> Result<GenerationStatus, ApiError> {
    crate::auth::session::require_admin().await?;
    let state = crate::state::app_state()?;
    Ok(state.generation.snapshot().into())
}

/// "Send now": generates a payload and sends it to the collector in the background, the same
/// code path as `service-ping submit`; answers at once, and [`get_generation_status`] follows it.
/// Refused while Service Ping is off.
#[server(endpoint = "send_now")]
pub async fn send_now() -> Result<GenerationStatus, ApiError> {
    use crate::error::AppError;
    use crate::service_ping::submit::{Stage, submit_now};
    use crate::service_ping::{SubmitError, Trigger, TriggerKind};
    let account = crate::auth::session::require_admin().await?;
    let state = crate::state::app_state()?;
    crate::maintenance::require_writable(state.licensing()).await?;
    let service_ping = crate::settings::db::service_ping(&state.db, &state.locks)
        .await
        .map_err(AppError::from)?;
    if !service_ping.enabled {
        return Err(AppError::Conflict(
            "Service Ping is off: turn it on to send the payload.".into(),
        )
        .into());
    }
    if let Some(running) = state.generation.try_start(chrono::Utc::now(), true) {
        let task_state = state.clone();
        tokio::spawn(async move {
            let progress = |stage: Stage| match stage {
                Stage::Generating { done, total } => running.progress(done, total),
                Stage::Sending => running.sending(),
            };
            let trigger = Trigger {
                kind: TriggerKind::Manual,
                account_id: Some(account.id),
            };
            let result = submit_now(
                task_state.generation_deps(),
                &task_state.collector,
                trigger,
                &progress,
            )
            .await;
            running.finish(match result {
                Ok(sent) => Ok(sent.payload_id),
                Err(SubmitError::Internal(error)) => {
                    tracing::error!(error = format!("{error:#}"), "Send now failed");
                    Err(format!("{error:#}"))
                }
                Err(error) => Err(error.to_string()),
            });
        });
    }
    Ok(state.generation.snapshot().into())
}

/// The payload download, a plain route so the browser saves the exact bytes.
#[cfg(feature = "ssr")]
pub fn routes() -> axum::Router<crate::state::AppState> {
    use axum::routing::get;
    axum::Router::new().route(
        "/admin/service_ping/payloads/{id}/download",
        get(download::download_payload),
    )
}
