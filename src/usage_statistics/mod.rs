//! The Usage statistics page (`/admin/application_settings/metrics_and_profiling`): whether
//! Service Ping is on, and the exact payload it sends: preview, hash, download, and generating a
//! new one with live progress.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::settings::Toggle;

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
    pub preview: Option<PayloadPreview>,
}

/// Progress of the payload generation started from the dashboard.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenerationStatus {
    pub running: bool,
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
        }
    }
}

#[cfg(feature = "ssr")]
impl From<crate::service_ping::tracker::GenerationState> for GenerationStatus {
    fn from(state: crate::service_ping::tracker::GenerationState) -> Self {
        let (payload_id, error) = match state.outcome {
            Some(Ok(id)) => (Some(id), None),
            Some(Err(error)) => (None, Some(error)),
            None => (None, None),
        };
        GenerationStatus {
            running: state.running,
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
    db: &crate::server::db::Db,
) -> Result<Option<PayloadPreview>, crate::error::AppError> {
    let Some(row) = crate::service_ping::db::latest(db).await? else {
        return Ok(None);
    };
    let bytes = crate::service_ping::db::payload_bytes(db, row.id)
        .await?
        .unwrap_or_default();
    let text = String::from_utf8(bytes)
        .map_err(|e| anyhow::anyhow!("stored payload {} is not UTF-8: {e}", row.id))?;
    Ok(Some(PayloadPreview {
        summary: row.into(),
        text,
    }))
}

#[server(endpoint = "usage_statistics")]
pub async fn get_usage_statistics() -> Result<UsageStatistics, ApiError> {
    crate::auth::session::require_admin().await?;
    let state = crate::server::app_state()?;
    let service_ping = crate::settings::db::service_ping(&state.db, &state.locks)
        .await
        .map_err(crate::error::AppError::from)?;
    Ok(UsageStatistics {
        service_ping,
        preview: latest_preview(&state.db).await?,
    })
}

/// Starts generating a new payload in the background (one at a time) and answers at once with
/// its progress; [`get_generation_status`] follows it. Works whether or not Service Ping is on:
/// a preview is never sent by itself.
#[server(endpoint = "generate_preview")]
pub async fn generate_preview() -> Result<GenerationStatus, ApiError> {
    use crate::service_ping::{Trigger, TriggerKind};
    let account = crate::auth::session::require_admin().await?;
    let state = crate::server::app_state()?;
    let now = chrono::Utc::now();
    if let Some(running) = state.generation.try_start(now) {
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
    let state = crate::server::app_state()?;
    Ok(state.generation.snapshot().into())
}
