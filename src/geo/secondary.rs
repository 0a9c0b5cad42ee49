//! A secondary site's two jobs: the weekly usage collection from its own Prometheus, and the
//! status it sends the primary every `geo.status_interval_seconds`.
//!
//! Decisions: the usage job looks every minute and collects when there is no row yet, the latest
//! is a week old, or the latest misses a figure (Prometheus was down); its 24-hour lease, never
//! given back, makes that at most once a day whatever the number of processes. A failed query
//! leaves its figure null (GitLab's nil) and is logged; the row is still kept and sent.

use std::time::Duration;

use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;
use tokio_util::sync::CancellationToken;

use super::db;
use super::wire::{STATUS_PATH, SecondaryUsage, SiteStatus, UsageFigures};
use crate::config::{GeoSettings, PrometheusSettings};
use crate::db::Db;
use crate::prometheus::Prometheus;

/// GitLab's queries, over the Gitaly RPCs that serve fetches and pushes (SSH and HTTP).
pub const GIT_FETCH_QUERY: &str = r#"round(sum(increase(grpc_server_handled_total{grpc_method=~"SSHUploadPack|PostUploadPack"}[7d])))"#;
pub const GIT_PUSH_QUERY: &str = r#"round(sum(increase(grpc_server_handled_total{grpc_method=~"SSHReceivePack|PostReceivePack"}[7d])))"#;

const USAGE_LEASE: &str = "geo_secondary_usage";
const USAGE_LEASE_HOURS: i64 = 24;
const USAGE_EVERY_DAYS: i64 = 7;
const TICK: Duration = Duration::from_secs(60);

/// Reads the week's figures; a query that fails or finds nothing gives null.
pub async fn collect_usage(settings: &PrometheusSettings) -> UsageFigures {
    let Some(prometheus) = Prometheus::new(settings) else {
        tracing::warn!("Geo usage: prometheus.url is not set; the weekly figures are null");
        return UsageFigures::default();
    };
    UsageFigures {
        git_fetch_event_count_weekly: figure(
            &prometheus,
            "git_fetch_event_count_weekly",
            GIT_FETCH_QUERY,
        )
        .await,
        git_push_event_count_weekly: figure(
            &prometheus,
            "git_push_event_count_weekly",
            GIT_PUSH_QUERY,
        )
        .await,
    }
}

async fn figure(prometheus: &Prometheus, key: &str, promql: &str) -> Option<u64> {
    match prometheus.query(promql).await {
        Ok(samples) => samples
            .first()
            .map(|s| s.value)
            .filter(|v| v.is_finite() && *v >= 0.0)
            .map(|v| v.round() as u64),
        Err(failure) => {
            tracing::warn!(key, failure, "Geo usage: the Prometheus query failed");
            None
        }
    }
}

/// Whether the usage job should collect at `now`.
async fn usage_is_due(db: &Db, now: DateTime<Utc>) -> Result<bool, sqlx::Error> {
    let Some(latest) = db::latest_usage(db).await? else {
        return Ok(true);
    };
    let collected = crate::db::parse_stamp(&latest.collected_at)?;
    Ok(!latest.figures().is_complete()
        || now.signed_duration_since(collected) >= chrono::Duration::days(USAGE_EVERY_DAYS))
}

/// One look at the clock: collects and stores the week's usage when it is due and the lease is
/// ours; whether it did.
pub async fn collect_if_due(
    db: &Db,
    prometheus: &PrometheusSettings,
    owner: &str,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    if !usage_is_due(db, now).await? {
        return Ok(false);
    }
    let until = now + chrono::Duration::hours(USAGE_LEASE_HOURS);
    if !db::take_lease(db, USAGE_LEASE, owner, until, now).await? {
        return Ok(false);
    }
    let figures = collect_usage(prometheus).await;
    db::insert_usage(db, &figures, Utc::now()).await?;
    tracing::info!(
        git_fetch_event_count_weekly = ?figures.git_fetch_event_count_weekly,
        git_push_event_count_weekly = ?figures.git_push_event_count_weekly,
        "Geo usage collected"
    );
    Ok(true)
}

/// The usage job, until `stop`.
pub async fn run_usage_job(
    db: Db,
    prometheus: PrometheusSettings,
    owner: String,
    stop: CancellationToken,
) {
    let mut every = tokio::time::interval(TICK);
    loop {
        tokio::select! {
            _ = every.tick() => {}
            () = stop.cancelled() => return,
        }
        if let Err(error) = collect_if_due(&db, &prometheus, &owner, Utc::now()).await {
            tracing::warn!(%error, "Geo usage collection failed; trying again in a minute");
        }
    }
}

/// This site's status at `now`. A database that does not answer makes the site unhealthy.
pub async fn current_status(db: &Db, name: &str, now: DateTime<Utc>) -> SiteStatus {
    let read = async {
        let last_event_at = db::last_event_at(db).await?;
        let usage = db::latest_usage(db).await?.map(|record| SecondaryUsage {
            payload: record.figures(),
            collected_at: record.collected_at,
        });
        Ok::<_, sqlx::Error>((last_event_at, usage))
    };
    let (healthy, health, last_event_at, usage) = match read.await {
        Ok((last_event_at, usage)) => (true, "Healthy".to_string(), last_event_at, usage),
        Err(error) => {
            tracing::warn!(%error, "Geo status: the database did not answer");
            (false, "Database unavailable".to_string(), None, None)
        }
    };
    SiteStatus {
        name: name.to_string(),
        healthy,
        health,
        version: crate::instance::VERSION.to_string(),
        last_event_at,
        reported_at: service_ping_protocol::time::format_timestamp(now),
        usage,
    }
}

/// Sends this site's status to the primary, signed; the primary's refusal reason when it refuses.
pub async fn send_status(http: &reqwest::Client, geo: &GeoSettings, db: &Db) -> Result<(), String> {
    let (Some(name), Some(primary), Some(secret)) = (&geo.name, &geo.primary_url, &geo.secret)
    else {
        return Err("geo.name, geo.primary_url and geo.secret are required".into());
    };
    let now = Utc::now();
    let status = current_status(db, name, now).await;
    let body = serde_json::to_vec(&status).expect("a status serializes");
    let token = super::token::sign(secret.expose_secret().as_bytes(), name, &body, now);
    let url = primary.join(STATUS_PATH).map_err(|e| e.to_string())?;
    let response = http
        .post(url)
        .bearer_auth(token)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await
        .map_err(|error| format!("the primary did not answer: {}", without_url(&error)))?;
    if response.status().is_success() {
        return Ok(());
    }
    let code = response.status();
    let reason = response
        .json::<serde_json::Value>()
        .await
        .ok()
        .and_then(|v| v["reason"].as_str().map(str::to_string))
        .unwrap_or_default();
    Err(format!("the primary answered {code}: {reason}"))
}

/// reqwest's error without the URL (kept short for the page; the URL is configuration).
fn without_url(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "timed out".into()
    } else if error.is_connect() {
        "connection refused or unreachable".into()
    } else {
        "request failed".into()
    }
}

/// The status reporter, until `stop`: a status at start, then every interval.
pub async fn run_status_reporter(db: Db, geo: GeoSettings, stop: CancellationToken) {
    let http = match reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(http) => http,
        Err(error) => {
            tracing::error!(%error, "Geo status: no HTTP client; no status will be sent");
            return;
        }
    };
    let mut every =
        tokio::time::interval(Duration::from_secs(u64::from(geo.status_interval_seconds)));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = every.tick() => {}
            () = stop.cancelled() => return,
        }
        let outcome = send_status(&http, &geo, &db).await;
        if let Err(reason) = &outcome {
            tracing::warn!(%reason, "Geo status was not accepted by the primary");
        }
        if let Err(error) = db::record_report(&db, Utc::now(), outcome.err().as_deref()).await {
            tracing::warn!(%error, "recording the Geo status report failed");
        }
    }
}
