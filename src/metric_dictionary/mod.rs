//! The metric dictionary page (`/admin/service_ping/metrics`): every metric definition with what
//! it means, and what it gave and cost in the latest payload.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

pub mod view;

/// One metric as the dictionary page lists it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetricRow {
    pub key_path: String,
    pub description: String,
    pub product_group: String,
    pub data_category: String,
    pub time_frame: String,
    pub status: String,
    pub instrumentation_class: String,
    /// The file that defines it, relative to the dictionary folder.
    pub file: String,
    /// Its value in the latest payload (JSON text); `None` when it was not in it.
    pub last_value: Option<String>,
    pub last_error: Option<String>,
    /// What computing it cost in the latest payload, in microseconds.
    pub last_duration_us: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetricDictionary {
    pub metrics: Vec<MetricRow>,
    /// `recorded_at` of the payload the last values come from.
    pub latest_recorded_at: Option<String>,
}

#[server(endpoint = "metric_dictionary")]
pub async fn get_metric_dictionary() -> Result<MetricDictionary, ApiError> {
    use std::collections::HashMap;
    crate::auth::session::require_admin().await?;
    let state = crate::state::app_state()?;
    let latest = crate::service_ping::db::latest(&state.db)
        .await
        .map_err(crate::error::AppError::from)?;
    let results = match &latest {
        Some(payload) => crate::service_ping::db::metric_results(&state.db, payload.id)
            .await
            .map_err(crate::error::AppError::from)?,
        None => Vec::new(),
    };
    let mut results: HashMap<String, _> = results
        .into_iter()
        .map(|r| (r.key_path.clone(), r))
        .collect();
    let metrics = state
        .dictionary
        .definitions
        .iter()
        .map(|definition| {
            let result = results.remove(&definition.key_path);
            MetricRow {
                key_path: definition.key_path.clone(),
                description: definition.description.clone(),
                product_group: definition.product_group.clone(),
                data_category: definition.data_category.as_str().to_string(),
                time_frame: definition.time_frame.as_str().to_string(),
                status: definition.status.as_str().to_string(),
                instrumentation_class: definition.instrumentation_class.clone(),
                file: definition.file.display().to_string(),
                last_value: result.as_ref().map(|r| r.value.clone()),
                last_error: result.as_ref().and_then(|r| r.error.clone()),
                last_duration_us: result.map(|r| r.duration_us),
            }
        })
        .collect();
    Ok(MetricDictionary {
        metrics,
        latest_recorded_at: latest.map(|p| p.recorded_at),
    })
}
