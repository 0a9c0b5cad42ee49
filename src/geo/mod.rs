//! Geo sites (`/admin/geo/sites`): a primary and its secondary sites, as GitLab's Geo reports
//! them in Service Ping.
//!
//! A secondary (`geo.role = "secondary"`) never sends Service Ping itself (its configuration
//! locks it off). Once a week, under a 24-hour lease, it reads its Git traffic from its own
//! Prometheus (`git_fetch_event_count_weekly`, `git_push_event_count_weekly`, GitLab's PromQL) and
//! keeps the row; every `geo.status_interval_seconds` it sends the primary its status (health, the
//! newest event in its database, the latest usage row), signed with the shared secret in a token
//! that lives one minute and names the body's SHA-256. The primary keeps each listed secondary's
//! latest status, refuses anything unsigned, stale, altered or from a site it does not list, shows
//! the sites on this page (unhealthy after `geo.unhealthy_after_seconds` without a status), and
//! reports `geo_enabled` and one object per secondary in its payload.

use leptos::prelude::*;

use crate::error::ApiError;

#[cfg(feature = "ssr")]
pub mod db;
#[cfg(feature = "ssr")]
mod html;
#[cfg(feature = "ssr")]
pub mod secondary;
#[cfg(feature = "ssr")]
pub mod status;
#[cfg(feature = "ssr")]
pub mod token;
pub mod view;
#[cfg(feature = "ssr")]
pub mod wire;

/// What the Geo sites page shows of this instance. The page is written on the server
/// ([`get_geo_sites`] answers its markup): the browser bundle carries none of these types.
#[cfg(feature = "ssr")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GeoOverview {
    /// `geo.role` is not set.
    Off,
    Primary {
        sites: Vec<SiteRow>,
        unhealthy_after_seconds: u32,
    },
    Secondary {
        name: String,
        primary_url: String,
        /// The latest weekly usage collected from this site's Prometheus.
        usage: Option<UsageRow>,
        /// How the latest status sent to the primary went.
        last_report: Option<ReportRow>,
    },
}

/// A secondary as the primary sees it.
#[cfg(feature = "ssr")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteRow {
    pub name: String,
    pub url: String,
    /// `None` when healthy; else why not (no status yet, none for a while, or the site's own).
    pub unhealthy_because: Option<String>,
    pub last_status_at: Option<String>,
    pub version: Option<String>,
    pub last_event_at: Option<String>,
    pub usage: Option<UsageRow>,
}

/// A week of Git traffic on a secondary.
#[cfg(feature = "ssr")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageRow {
    pub git_fetch_event_count_weekly: Option<u64>,
    pub git_push_event_count_weekly: Option<u64>,
    pub collected_at: String,
}

/// The latest status a secondary sent (or tried to).
#[cfg(feature = "ssr")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRow {
    pub attempted_at: String,
    pub succeeded_at: Option<String>,
    pub error: Option<String>,
}

/// The Geo sites page's content, as markup written on the server (every text escaped).
#[server(endpoint = "geo_sites")]
pub async fn get_geo_sites() -> Result<String, ApiError> {
    crate::auth::session::require_admin().await?;
    let state = crate::state::app_state()?;
    let now = chrono::Utc::now();
    let overview = status::overview(&state.db, &state.settings.geo, now)
        .await
        .map_err(crate::error::AppError::from)?;
    Ok(html::page(&overview, now))
}

/// The primary's status endpoint.
#[cfg(feature = "ssr")]
pub fn routes() -> axum::Router<crate::state::AppState> {
    axum::Router::new().route(
        wire::STATUS_PATH,
        axum::routing::post(status::receive_status),
    )
}
