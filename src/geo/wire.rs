//! What a secondary sends the primary, as JSON: its status and its weekly usage row. Unknown
//! fields are refused at every level.

use serde::{Deserialize, Serialize};

/// Where a secondary sends its status (GitLab's `POST /api/v4/geo/status`).
pub const STATUS_PATH: &str = "/api/v4/geo/status";

/// What a secondary reports, as JSON. Unknown fields are refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteStatus {
    /// The site's `geo.name`; must be the name its token is signed for.
    pub name: String,
    pub healthy: bool,
    /// `Healthy`, or what is wrong.
    pub health: String,
    pub version: String,
    /// The newest event in the site's database.
    pub last_event_at: Option<String>,
    /// When the site built this status (RFC 3339); an older one than the kept one is refused.
    pub reported_at: String,
    /// The latest weekly usage row, once there is one.
    pub usage: Option<SecondaryUsage>,
}

/// A usage row: when it was collected and GitLab's payload of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecondaryUsage {
    pub collected_at: String,
    pub payload: UsageFigures,
}

/// The only keys a usage row may hold, numbers or null (as GitLab's `SecondaryUsageData`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageFigures {
    pub git_fetch_event_count_weekly: Option<u64>,
    pub git_push_event_count_weekly: Option<u64>,
}

impl UsageFigures {
    /// Whether every figure was read (a null is a query that failed or found nothing).
    pub fn is_complete(&self) -> bool {
        self.git_fetch_event_count_weekly.is_some() && self.git_push_event_count_weekly.is_some()
    }
}
