//! The DevOps Score page (`/admin/dev_ops_reports`): the scores the collector sent back, kept
//! with each submission. The score's math and its `conv_index` format are in
//! `service_ping_protocol::devops_score`, shared with the collector.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use service_ping_protocol::cohort::CohortReport;
use service_ping_protocol::devops_score::Score;

use crate::error::ApiError;
use crate::settings::Toggle;

#[cfg(feature = "ssr")]
pub mod advice;
#[cfg(feature = "ssr")]
pub mod db;
pub mod view;

/// What the DevOps Score page shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DevOpsReport {
    pub service_ping: Toggle,
    /// The newest score.
    pub latest: Option<ScoreReport>,
    /// The one before it, for the change since.
    pub previous: Option<ScoreReport>,
    /// (date, overall) of the scores so far, oldest first.
    pub history: Vec<(String, f64)>,
    /// For the weakest features of the newest score, weakest first.
    pub advice: Vec<Advice>,
}

/// One score the collector sent back: GitLab's numbers, and how this instance compares with
/// organizations of its size when the collector said.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreReport {
    pub created_at: String,
    pub score: Score,
    pub cohort: Option<CohortReport>,
}

/// A recommendation for one weak feature (from `advice/devops_score.yml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Advice {
    pub key: String,
    pub title: String,
    /// Low, Moderate or High: which of the feature's recommendations this is.
    pub level: String,
    /// Its percentile among the compared organizations (or score percentage without them).
    pub standing: f64,
    pub purpose: String,
    pub first_step: String,
    /// The page or setting where it starts.
    pub start: String,
    /// What the group's leaders do, and the figures they reach.
    pub leaders: String,
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
    let mut recent = db::recent(&state.db, 2)
        .await
        .map_err(AppError::from)?
        .into_iter()
        .filter_map(score_report);
    let (latest, previous) = (recent.next(), recent.next());
    let advice = latest.as_ref().map_or_else(Vec::new, |latest| {
        advice::for_weakest(&latest.score, latest.cohort.as_ref())
    });
    Ok(DevOpsReport {
        service_ping,
        latest,
        previous,
        history: db::history(&state.db, HISTORY_LENGTH)
            .await
            .map_err(AppError::from)?,
        advice,
    })
}

/// A stored score as the page reads it; none when its `conv_index` lacks GitLab's numbers. A
/// `cohort` that does not read as one is left out (and logged), the score kept.
#[cfg(feature = "ssr")]
fn score_report(stored: db::StoredScore) -> Option<ScoreReport> {
    let index: serde_json::Value = serde_json::from_str(&stored.conv_index).ok()?;
    let score = service_ping_protocol::devops_score::from_conv_index(&index)?;
    let cohort = stored.cohort.and_then(|cohort| {
        serde_json::from_str(&cohort)
            .inspect_err(|error| {
                tracing::warn!(%error, "the collector's cohort comparison does not read as one; left out");
            })
            .ok()
    });
    Some(ScoreReport {
        created_at: stored.created_at,
        score,
        cohort,
    })
}
