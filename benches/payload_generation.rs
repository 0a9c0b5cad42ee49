//! Payload generation measured side by side in one process, on a database that
//! `bench/payload.sh` seeded: the lower bound (one plain `COUNT(*)` per table the dictionary
//! reads), our fused generation, and a naive evaluation issuing one query per metric.
//!
//! `cargo bench --features ssr --bench payload_generation -- DATA_DIR`

use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::Utc;
use service_ping::engine::Strategy;
use service_ping::server::config::{Locks, Settings};
use service_ping::server::db;
use service_ping::service_ping::generate::generate;
use service_ping::service_ping::{GenerationDeps, Trigger, TriggerKind, generate_and_store};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // `cargo bench` adds `--bench` to the arguments of a harness-less benchmark.
    let data_dir = std::env::args()
        .skip(1)
        .find(|arg| !arg.starts_with("--"))
        .context("usage: payload_generation DATA_DIR")?;
    let settings = Settings {
        data_dir: data_dir.into(),
        ..Settings::default()
    };
    let db = db::connect_and_migrate(&settings).await?;
    let identity = service_ping::instance::load_or_create(&db, Utc::now()).await?;
    let dictionary =
        service_ping::service_ping::load_dictionary(&settings.service_ping.metrics_dir, &db)
            .await?;
    let locks = Locks::default();
    let deps = GenerationDeps {
        db: &db,
        dictionary: &dictionary,
        identity: &identity,
        instance: &settings.instance,
        locks: &locks,
        vendor_key: None,
    };
    let tables: Vec<&str> = dictionary.tables().into_iter().collect();
    let rows = count_rows(&db, &tables).await?.1;
    println!(
        "platform: {rows} rows in the {} tables the dictionary reads; {} metrics",
        tables.len(),
        dictionary.definitions.len()
    );

    // A first pass brings the database file into the page cache for every contestant.
    count_rows(&db, &tables).await?;
    let (lower_bound, _) = count_rows(&db, &tables).await?;
    let full_reads = read_every_row(&db, &tables).await?;

    // Both evaluations count as of the same moment, so their values must agree exactly.
    let recorded_at = Utc::now();
    let started = Instant::now();
    let trigger = Trigger {
        kind: TriggerKind::Cli,
        account_id: None,
    };
    let ours = generate_and_store(deps, trigger, recorded_at, &|_, _| {}).await?;
    let fused = started.elapsed();
    let peak_after_ours = service_ping::server::commands::peak_memory_mb();

    let started = Instant::now();
    let naive = generate(deps, recorded_at, Strategy::PerMetric, &|_, _| {}).await?;
    let per_metric = started.elapsed();
    let disagreeing = disagreements(&ours.payload.outcomes, &naive.outcomes);

    println!(
        "lower bound (COUNT(*) per table):  {:>9.3} s",
        secs(lower_bound)
    );
    println!(
        "one full read of every row:        {:>9.3} s",
        secs(full_reads)
    );
    println!("ours (fused scans, stored):        {:>9.3} s", secs(fused));
    println!(
        "naive (one query per metric):      {:>9.3} s",
        secs(per_metric)
    );
    println!(
        "ours / lower bound:                {:>9.2}   (target <= 1.5)",
        secs(fused) / secs(lower_bound)
    );
    println!(
        "naive / ours:                      {:>9.2}   (target >= 10)",
        secs(per_metric) / secs(fused)
    );
    println!(
        "peak RSS after our generation:     {:>9.1} MB (target < 200)",
        peak_after_ours.unwrap_or(f64::NAN)
    );
    println!("metrics whose values differ between ours and naive: {disagreeing}");
    Ok(())
}

/// One `COUNT(*)` per table, in turn: how long they took together and how many rows they saw.
async fn count_rows(db: &db::Db, tables: &[&str]) -> anyhow::Result<(Duration, i64)> {
    let started = Instant::now();
    let mut rows = 0;
    for table in tables {
        let count: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(db)
            .await?;
        rows += count;
    }
    Ok((started.elapsed(), rows))
}

/// One read of every row of each table (`COUNT(updated_at)` must look at each row, where
/// SQLite answers a plain `COUNT(*)` from the smallest index's page counts): what any
/// evaluation that looks at the rows at all costs.
async fn read_every_row(db: &db::Db, tables: &[&str]) -> anyhow::Result<Duration> {
    let started = Instant::now();
    for table in tables {
        let _: i64 = sqlx::query_scalar(&format!("SELECT COUNT(updated_at) FROM {table}"))
            .fetch_one(db)
            .await?;
    }
    Ok(started.elapsed())
}

/// Metrics of both runs whose values differ, except the two clock readings.
fn disagreements(
    ours: &[service_ping::engine::MetricOutcome],
    naive: &[service_ping::engine::MetricOutcome],
) -> usize {
    ours.iter()
        .filter(|o| o.key_path != "recorded_at" && o.key_path != "recording_ce_finished_at")
        .filter(|o| {
            naive
                .iter()
                .find(|n| n.key_path == o.key_path)
                .is_none_or(|n| n.value != o.value)
        })
        .count()
}

fn secs(duration: Duration) -> f64 {
    duration.as_secs_f64()
}
