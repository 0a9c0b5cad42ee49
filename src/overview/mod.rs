//! The admin overview (`/admin`): the facts that identify this instance and the state of
//! Service Ping at a glance.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::settings::Toggle;
use crate::usage_statistics::PayloadSummary;

pub mod view;

/// What the overview page shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceOverview {
    pub uuid: String,
    pub version: String,
    pub edition: String,
    pub database_adapter: String,
    pub database_version: String,
    pub instance_created_at: String,
    pub service_ping: Toggle,
    pub latest_payload: Option<PayloadSummary>,
}

#[server(endpoint = "instance_overview")]
pub async fn get_instance_overview() -> Result<InstanceOverview, ApiError> {
    crate::auth::session::require_admin().await?;
    let state = crate::state::app_state()?;
    let service_ping = crate::settings::db::service_ping(&state.db, &state.locks)
        .await
        .map_err(crate::error::AppError::from)?;
    let latest_payload = crate::service_ping::db::latest(&state.db)
        .await
        .map_err(crate::error::AppError::from)?
        .map(PayloadSummary::from);
    let edition = crate::licensing::entitlement::current(state.licensing(), chrono::Utc::now())
        .await?
        .edition;
    let identity = &state.identity;
    Ok(InstanceOverview {
        uuid: identity.uuid.to_string(),
        version: identity.version.to_string(),
        edition: edition.as_str().to_string(),
        database_adapter: identity.database.adapter.clone(),
        database_version: identity.database.version.clone(),
        instance_created_at: identity.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
        service_ping,
        latest_payload,
    })
}
