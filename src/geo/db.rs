//! Geo's tables: a secondary's usage rows, job leases and latest report; the primary's latest
//! status per site. Moments are stored as `format_timestamp` text, which sorts as time does.

use chrono::{DateTime, Utc};
use service_ping_protocol::time::format_timestamp;

use super::wire::{SiteStatus, UsageFigures};
use crate::db::{Db, execute, on_pool};

/// A usage row as stored: GitLab's `payload` JSON and when it was collected.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UsageRecord {
    pub payload: String,
    pub collected_at: String,
}

impl UsageRecord {
    /// The figures; a row that does not read as them (edited by hand) reports nothing.
    pub fn figures(&self) -> UsageFigures {
        serde_json::from_str(&self.payload).unwrap_or_default()
    }
}

pub async fn insert_usage(
    db: &Db,
    figures: &UsageFigures,
    collected_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let payload = serde_json::to_string(figures).expect("usage figures serialize");
    execute!(
        db,
        sqlx::query("INSERT INTO geo_secondary_usage (payload, collected_at) VALUES ($1, $2)")
            .bind(payload)
            .bind(format_timestamp(collected_at))
    )
    .map(|_| ())
}

pub async fn latest_usage(db: &Db) -> Result<Option<UsageRecord>, sqlx::Error> {
    on_pool!(db, |p| {
        sqlx::query_as(
        "SELECT payload, collected_at FROM geo_secondary_usage ORDER BY collected_at DESC, id DESC LIMIT 1",
    )
    .fetch_optional(p)
    .await
    })
}

/// Takes the lease on job `name` for `owner` until `until`, unless another owner holds one
/// that has not expired at `now`. A lease is not given back: it also paces the job.
pub async fn take_lease(
    db: &Db,
    name: &str,
    owner: &str,
    until: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let taken = execute!(
        db,
        sqlx::query(
            "INSERT INTO job_leases (name, owner, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at \
             WHERE job_leases.expires_at <= $4",
        )
        .bind(name)
        .bind(owner)
        .bind(format_timestamp(until))
        .bind(format_timestamp(now))
    )?;
    Ok(taken == 1)
}

/// The newest event on this site's platform, if any.
pub async fn last_event_at(db: &Db) -> Result<Option<String>, sqlx::Error> {
    on_pool!(db, |p| sqlx::query_scalar(
        "SELECT MAX(created_at) FROM events"
    )
    .fetch_one(p)
    .await)
}

/// Keeps `status` as the site's latest unless a status reported at the same time or later is
/// already kept; whether it was kept.
pub async fn store_status(
    db: &Db,
    status: &SiteStatus,
    received_at: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let usage = status.usage.as_ref();
    let figures = usage.map(|u| &u.payload);
    let count = |value: Option<u64>| value.and_then(|v| i64::try_from(v).ok());
    let stored = execute!(
        db,
        sqlx::query(
            "INSERT INTO geo_site_statuses (site_name, healthy, health, version, last_event_at, \
             git_fetch_event_count_weekly, git_push_event_count_weekly, usage_collected_at, \
             reported_at, received_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (site_name) DO UPDATE SET healthy = excluded.healthy, \
             health = excluded.health, version = excluded.version, \
             last_event_at = excluded.last_event_at, \
             git_fetch_event_count_weekly = excluded.git_fetch_event_count_weekly, \
             git_push_event_count_weekly = excluded.git_push_event_count_weekly, \
             usage_collected_at = excluded.usage_collected_at, \
             reported_at = excluded.reported_at, received_at = excluded.received_at \
             WHERE geo_site_statuses.reported_at < excluded.reported_at",
        )
        .bind(&status.name)
        .bind(status.healthy)
        .bind(&status.health)
        .bind(&status.version)
        .bind(&status.last_event_at)
        .bind(count(figures.and_then(|f| f.git_fetch_event_count_weekly)))
        .bind(count(figures.and_then(|f| f.git_push_event_count_weekly)))
        .bind(usage.map(|u| u.collected_at.clone()))
        .bind(&status.reported_at)
        .bind(format_timestamp(received_at))
    )?;
    Ok(stored == 1)
}

/// A site's latest status as the primary keeps it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StatusRecord {
    pub site_name: String,
    pub healthy: bool,
    pub health: String,
    pub version: String,
    pub last_event_at: Option<String>,
    pub git_fetch_event_count_weekly: Option<i64>,
    pub git_push_event_count_weekly: Option<i64>,
    pub usage_collected_at: Option<String>,
    pub received_at: String,
}

pub async fn statuses(db: &Db) -> Result<Vec<StatusRecord>, sqlx::Error> {
    on_pool!(db, |p| sqlx::query_as(
        "SELECT site_name, healthy, health, version, last_event_at, git_fetch_event_count_weekly, \
         git_push_event_count_weekly, usage_collected_at, received_at FROM geo_site_statuses",
    )
    .fetch_all(p)
    .await)
}

/// Records an attempt to send the status, and when it succeeded (an error keeps the last success).
pub async fn record_report(
    db: &Db,
    attempted_at: DateTime<Utc>,
    error: Option<&str>,
) -> Result<(), sqlx::Error> {
    let at = format_timestamp(attempted_at);
    let succeeded = error.is_none().then(|| at.clone());
    execute!(
        db,
        sqlx::query(
            "INSERT INTO geo_status_reports (id, attempted_at, succeeded_at, error) \
             VALUES (1, $1, $2, $3) ON CONFLICT (id) DO UPDATE SET \
             attempted_at = excluded.attempted_at, \
             succeeded_at = COALESCE(excluded.succeeded_at, geo_status_reports.succeeded_at), \
             error = excluded.error",
        )
        .bind(at)
        .bind(succeeded)
        .bind(error)
    )
    .map(|_| ())
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReportRecord {
    pub attempted_at: String,
    pub succeeded_at: Option<String>,
    pub error: Option<String>,
}

pub async fn last_report(db: &Db) -> Result<Option<ReportRecord>, sqlx::Error> {
    on_pool!(db, |p| sqlx::query_as(
        "SELECT attempted_at, succeeded_at, error FROM geo_status_reports WHERE id = 1",
    )
    .fetch_optional(p)
    .await)
}
