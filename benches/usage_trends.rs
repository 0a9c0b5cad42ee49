//! Usage trends on a seeded platform: the backfill of 365 days (timed once, after clearing the
//! measurements), then the chart page's data query for a year, 20 times (median and slowest).
//!
//! `bench/usage_trends.sh [SCALE]` seeds the platform (default scale 100) and runs this.

use std::time::Instant;

use anyhow::Context;
use chrono::Utc;
use service_ping::config::Settings;
use service_ping::db;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // `cargo bench` adds `--bench` to the arguments of a harness-less benchmark.
    let data_dir = std::env::args()
        .skip(1)
        .find(|arg| !arg.starts_with("--"))
        .context("usage: usage_trends DATA_DIR")?;
    let mut settings = Settings {
        data_dir: data_dir.into(),
        ..Settings::default()
    };
    settings.database.url = std::env::var("SERVICE_PING__DATABASE__URL")
        .ok()
        .map(Into::into);
    let db = db::connect_and_migrate(&settings).await?;
    let rows: i64 = db::on_pool!(&db, |pool| {
        sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM users) + (SELECT count(*) FROM events) + (SELECT count(*) FROM ci_pipelines) \
         + (SELECT count(*) FROM issues) + (SELECT count(*) FROM merge_requests) + (SELECT count(*) FROM projects)",
    )
    .fetch_one(pool)
    .await
    })?;
    println!("platform: {rows} rows in the tables the trends read");
    db::execute!(&db, sqlx::query("DELETE FROM usage_trend_measurements"))?;
    let now = Utc::now();
    let started = Instant::now();
    let report = service_ping::usage_trends::job::run_once(&db, now).await?;
    println!(
        "backfill of {:?}: {} values in {:.2} s",
        report.days,
        report.inserted,
        started.elapsed().as_secs_f64()
    );
    let mut timings = Vec::new();
    for _ in 0..20 {
        let started = Instant::now();
        let trends = service_ping::usage_trends::db::trends(&db, now.date_naive(), 12).await?;
        timings.push(started.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(trends.months.len(), 12);
    }
    timings.sort_by(f64::total_cmp);
    println!(
        "chart data for 12 months: median {:.2} ms, slowest {:.2} ms over 20 runs (target < 50 ms)",
        timings[timings.len() / 2],
        timings[timings.len() - 1]
    );
    Ok(())
}
