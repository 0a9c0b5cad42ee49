//! The users-and-permissions report (a paid feature): every membership of every user of the
//! platform, with the user's role in that group or project, as CSV (GitLab's "Export permissions").
//! Columns: username, name, email, state, type (Group/Project), path, access level, last activity.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

#[cfg(feature = "ssr")]
pub mod csv;
pub mod view;

/// Where the report downloads from.
pub const CSV_PATH: &str = "/admin/user_permissions.csv";

/// What the report page shows before downloading.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportSummary {
    pub users: i64,
    pub memberships: i64,
}

#[server(endpoint = "user_permissions_summary")]
pub async fn get_report_summary() -> Result<ReportSummary, ApiError> {
    use crate::licensing::{Feature, entitlement};
    crate::auth::session::require_admin().await?;
    let state = crate::state::app_state()?;
    entitlement::require(state.licensing(), Feature::UserPermissionsExport).await?;
    let (users, memberships): (i64, i64) = crate::db::on_pool!(&state.db, |p| sqlx::query_as(
        "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM members)"
    )
    .fetch_one(p)
    .await)
    .map_err(crate::error::AppError::from)?;
    Ok(ReportSummary { users, memberships })
}

/// GitLab's name of an access level.
pub fn access_level_name(level: i64) -> &'static str {
    match level {
        10 => "Guest",
        20 => "Reporter",
        30 => "Developer",
        40 => "Maintainer",
        50 => "Owner",
        _ => "Unknown",
    }
}

/// The report's CSV download.
#[cfg(feature = "ssr")]
pub fn routes() -> axum::Router<crate::state::AppState> {
    use axum::routing::get;
    axum::Router::new().route(CSV_PATH, get(csv::download))
}
