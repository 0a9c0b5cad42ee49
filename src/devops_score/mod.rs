//! The DevOps Score page (`/admin/dev_ops_reports`): the scores the collector sent back, kept
//! with each submission. The score's math and its `conv_index` format are in
//! `service_ping_protocol::devops_score`, shared with the collector.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use service_ping_protocol::devops_score::Score;

use crate::error::ApiError;
use crate::settings::Toggle;

#[cfg(feature = "ssr")]
pub mod db;
pub mod view;

/// What the DevOps Score page shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DevOpsReport {
    pub service_ping: Toggle,
    /// The newest score and when it came back.
    pub latest: Option<(String, Score)>,
    /// (date, overall) of the scores so far, oldest first.
    pub history: Vec<(String, f64)>,
}

/// How many past scores the page draws.
pub const HISTORY_LENGTH: i64 = 52;

#[server(endpoint = "devops_report")]
pub async fn get_devops_report() -> Result<DevOpsReport, ApiError> {
    use crate::error::AppError;
    crate::auth::session::require_admin().await?;
    let state = crate::state::app_state()?;
    let service_ping = crate::settings::db::service_ping(&state.db, &state.locks)
        .await
        .map_err(AppError::from)?;
    let latest = db::latest(&state.db)
        .await
        .map_err(AppError::from)?
        .and_then(|(index, created_at)| {
            let index: serde_json::Value = serde_json::from_str(&index).ok()?;
            Some((
                created_at,
                service_ping_protocol::devops_score::from_conv_index(&index)?,
            ))
        });
    Ok(DevOpsReport {
        service_ping,
        latest,
        history: db::history(&state.db, HISTORY_LENGTH)
            .await
            .map_err(AppError::from)?,
    })
}
