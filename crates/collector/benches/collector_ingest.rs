//! Collector ingest over loopback: pings per second that the real collector accepts (validate,
//! hash, rate-limit, store the exact bytes) against a bare axum handler that only parses the same
//! JSON and answers 201, measured side by side in one run, alternating rounds.
//!
//! Each backend gets a fresh collector per concurrency: SQLite, and PostgreSQL when
//! `SERVICE_PING_TEST_POSTGRES_URL` names a server (`bench/collector.sh` starts one). Every ping
//! must be answered 201, and the stored count must equal the pings sent (0 lost, 0 duplicated).
//!
//! `cargo bench -p service-ping-collector --bench collector_ingest` (or `bench/collector.sh`).
//! Environment: `INGEST_REQUESTS` per round (default 1000), `INGEST_CONCURRENCY` (default
//! `8,64`), `INGEST_ROUNDS` (default 3), `INGEST_POOL` (PostgreSQL connections, default 16),
//! `INGEST_BACKEND` (`sqlite` or `postgres`: only that one).
//! Every request goes to 127.0.0.1 only.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use futures::StreamExt;
use serde_json::{Map, Value, json};
use service_ping_database::Backend;

mod support;

use support::{backends, config_on, env_number};

/// A payload shaped like GitLab's (about 50 KB): the instance fields, then counters in the usual
/// sections, with `UUID_PLACEHOLDER` where each request puts its own uuid.
fn realistic_payload() -> String {
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

async fn bare_handler(body: axum::body::Bytes) -> (StatusCode, axum::Json<Value>) {
    let parsed: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(_) => return (StatusCode::BAD_REQUEST, axum::Json(json!({}))),
    };
    std::hint::black_box(&parsed);
    (
        StatusCode::CREATED,
        axum::Json(json!({ "conv_index": { "usage_data_id": 1 } })),
    )
}

async fn start_bare() -> SocketAddr {
    let app = axum::Router::new()
        .route("/usage_data", axum::routing::post(bare_handler))
        .layer(axum::extract::DefaultBodyLimit::max(10 * 1024 * 1024));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    address
}

/// A collector on a fresh database of `backend`, with limits that let the benchmark through.
async fn start_collector(
    backend: Backend,
    dir: &std::path::Path,
) -> (SocketAddr, service_ping_database::Db) {
    let settings = service_ping_collector::CollectorSettings {
        rate_limit_per_hour: 1_000_000,
        rate_limit_per_address_per_hour: 1_000_000,
        max_bytes_per_address_per_hour: 1 << 40,
        ..Default::default()
    };
    let config = config_on(backend, dir, settings, env_number("INGEST_POOL", 16) as u32).await;
    let collector = service_ping_collector::Collector::build(&config)
        .await
        .unwrap();
    let address = collector.local_addr();
    let db = collector.state().db.clone();
    tokio::spawn(collector.run_until_stopped(std::future::pending()));
    (address, db)
}

/// Sends `count` pings with distinct uuids, `concurrency` at a time; returns pings per second.
async fn round(
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

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

#[tokio::main]
async fn main() {
    let count = env_number("INGEST_REQUESTS", 1000);
    let concurrencies: Vec<usize> = std::env::var("INGEST_CONCURRENCY")
        .unwrap_or_else(|_| "8,64".into())
        .split(',')
        .map(|c| {
            c.trim()
                .parse()
                .expect("INGEST_CONCURRENCY: numbers separated by commas")
        })
        .collect();
    let rounds = env_number("INGEST_ROUNDS", 3);
    let template = realistic_payload();
    let bare = start_bare().await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(256)
        .build()
        .unwrap();
    println!(
        "payload {} bytes; {count} pings per round, {rounds} rounds each, alternating with the bare handler",
        template.len()
    );
    let mut summary = Vec::new();
    for backend in backends("INGEST_BACKEND") {
        for &concurrency in &concurrencies {
            let dir = tempfile::tempdir().unwrap();
            let (collector, db) = start_collector(backend, dir.path()).await;
            // Warm both up (connections, pages of the database).
            round(&client, bare, &template, "warm", 50, concurrency).await;
            round(&client, collector, &template, "warm", 50, concurrency).await;
            let (mut ours, mut baseline) = (Vec::new(), Vec::new());
            for r in 0..rounds {
                let b = round(
                    &client,
                    bare,
                    &template,
                    &format!("bare{r}"),
                    count,
                    concurrency,
                )
                .await;
                let o = round(
                    &client,
                    collector,
                    &template,
                    &format!("ours{r}"),
                    count,
                    concurrency,
                )
                .await;
                println!(
                    "{backend:?}, {concurrency} senders, round {r}: bare handler {b:8.0} pings/s   collector {o:8.0} pings/s   ratio {:.2}",
                    o / b
                );
                baseline.push(b);
                ours.push(o);
            }
            let stored = service_ping_collector::db::ping_rows(&db).await.unwrap();
            let sent = (50 + rounds * count) as i64;
            let (b, o) = (median(baseline), median(ours));
            summary.push(format!(
                "{backend:?}, {concurrency:3} senders: bare {b:6.0}/s, collector {o:6.0}/s, ratio {:.2}; sent {sent}, stored {stored}, lost {}, duplicated {}",
                o / b,
                (sent - stored).max(0),
                (stored - sent).max(0),
            ));
            db.close().await;
        }
    }
    println!("\nmedians (target: collector / bare handler >= 0.50, 0 lost, 0 duplicated)");
    for line in summary {
        println!("{line}");
    }
}
