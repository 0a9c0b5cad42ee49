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

use axum::http::StatusCode;
use serde_json::{Value, json};

mod support;

use support::ingest::{client, median, realistic_payload, round, start_collector};
use support::{backends, env_number};

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
    let client = client();
    println!(
        "payload {} bytes; {count} pings per round, {rounds} rounds each, alternating with the bare handler",
        template.len()
    );
    let mut summary = Vec::new();
    for backend in backends("INGEST_BACKEND") {
        for &concurrency in &concurrencies {
            let dir = tempfile::tempdir().unwrap();
            let (collector, db) = start_collector(backend, dir.path(), |_| {}).await;
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
