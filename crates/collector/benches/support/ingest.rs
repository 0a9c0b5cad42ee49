//! What the ingest benchmarks share: a GitLab-shaped payload, a collector to send it to, and a
//! round of pings sent over loopback.

use std::net::SocketAddr;
use std::time::Instant;

use axum::http::StatusCode;
use futures::StreamExt;
use serde_json::{Map, Value, json};
use service_ping_collector::CollectorSettings;
use service_ping_database::Backend;

use super::{config_on, env_number};

/// A payload shaped like GitLab's (about 50 KB): the instance fields, then counters in the usual
/// sections, with `UUID_PLACEHOLDER` where each request puts its own uuid.
pub fn realistic_payload() -> String {
    let counters = |prefix: &str, n: usize| -> Map<String, Value> {
        (0..n)
            .map(|i| (format!("{prefix}_{i:04}"), json!(i * 37 % 100_003)))
            .collect()
    };
    let stages = [
        "configure",
        "create",
        "manage",
        "monitor",
        "package",
        "plan",
        "release",
        "secure",
        "verify",
    ];
    let by_stage: Map<String, Value> = stages
        .iter()
        .map(|s| {
            (
                s.to_string(),
                Value::Object(counters(&format!("{s}_users"), 40)),
            )
        })
        .collect();
    let settings: Map<String, Value> = (0..60)
        .map(|i| (format!("setting_{i:02}_enabled"), json!(i % 3 == 0)))
        .collect();
    let document = json!({
        "uuid": "UUID_PLACEHOLDER",
        "hostname": "devops.example.test",
        "version": "17.6.0",
        "installation_type": "omnibus-gitlab",
        "active_user_count": 1234,
        "edition": "EE Free",
        "recorded_at": "2026-11-25T10:00:00.000Z",
        "recording_ce_finished_at": "2026-11-25T10:00:07.000Z",
        "license_trial": false,
        "counts": counters("count_of_things_in_the_instance", 420),
        "counts_weekly": counters("weekly_count", 150),
        "counts_monthly": counters("monthly_count_of_things", 160),
        "usage_activity_by_stage": by_stage.clone(),
        "usage_activity_by_stage_monthly": by_stage,
        "settings": settings,
        "database": { "adapter": "postgresql", "version": "16.4" },
    });
    serde_json::to_string_pretty(&document).unwrap()
}

/// A collector on a fresh database of `backend`, with limits that let the benchmark through.
/// `configure` adjusts the settings further.
pub async fn start_collector(
    backend: Backend,
    dir: &std::path::Path,
    configure: impl FnOnce(&mut CollectorSettings),
) -> (SocketAddr, service_ping_database::Db) {
    let mut settings = CollectorSettings {
        rate_limit_per_hour: 1_000_000,
        rate_limit_per_address_per_hour: 1_000_000,
        max_bytes_per_address_per_hour: 1 << 40,
        ..Default::default()
    };
    configure(&mut settings);
    let config = config_on(backend, dir, settings, env_number("INGEST_POOL", 16) as u32).await;
    let collector = service_ping_collector::Collector::build(&config)
        .await
        .unwrap();
    let address = collector.local_addr();
    let db = collector.state().db.clone();
    tokio::spawn(collector.run_until_stopped(std::future::pending()));
    (address, db)
}

/// The senders' HTTP client: keeps enough connections for every sender.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .pool_max_idle_per_host(256)
        .build()
        .unwrap()
}

/// Sends `count` pings with distinct uuids, `concurrency` at a time; returns pings per second.
pub async fn round(
    client: &reqwest::Client,
    address: SocketAddr,
    template: &str,
    tag: &str,
    count: usize,
    concurrency: usize,
) -> f64 {
    let url = format!("http://{address}/usage_data");
    let started = Instant::now();
    let statuses: Vec<StatusCode> = futures::stream::iter(0..count)
        .map(|i| {
            let body = template.replace("UUID_PLACEHOLDER", &format!("{tag}-{i:08}"));
            let request = client
                .post(&url)
                .header("content-type", "application/json")
                .body(body);
            async move { request.send().await.map(|r| r.status()).unwrap() }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let elapsed = started.elapsed();
    assert!(
        statuses.iter().all(|s| *s == StatusCode::CREATED),
        "every ping must be accepted"
    );
    count as f64 / elapsed.as_secs_f64()
}

pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}
