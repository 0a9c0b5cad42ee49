//! Payload generation measured side by side in one process, on a copy of the database that
//! `bench/payload.sh` seeded: the lower bound (one plain `COUNT(*)` per table the dictionary
//! reads), ours (rollups), the fused scans of every row, and a naive evaluation issuing one
//! query per metric. Ours cold is set beside one read of every row in the database, and on
//! PostgreSQL beside every column it reads fetched to this process (what the rebuild's scan
//! receives).
//!
//! Ours is measured three ways: cold (no rollups yet: the first payload after installing, or
//! after a dictionary change rebuilds them from every row); right after a day of platform
//! activity, folding the whole day into the rollups itself; and with the rollups kept current
//! by the server's background refresh, as the weekly payload and a preview find them. A "day of
//! activity" copies the rows of one past day of every activity table to today and closes as
//! many old issues as a day opens. It writes to the database: run it on a copy.
//!
//! `cargo bench --features ssr --bench payload_generation -- DATA_DIR`, on the SQLite database
//! in DATA_DIR, or on the PostgreSQL database `SERVICE_PING__DATABASE__URL` names. With
//! `BENCH_VALUES_OUT=FILE` the naive evaluation's values are written there (one `key value` per
//! line), so that `bench/payload.sh` compares the two backends' values.

use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, Utc};
use service_ping::config::{Locks, Settings};
use service_ping::db::{self, Conn, Db, execute, on_pool};
use service_ping::service_ping::generate::{StoredPayload, generate};
use service_ping::service_ping::{GenerationDeps, Trigger, TriggerKind, generate_and_store};
use service_ping_engine::Strategy;
use service_ping_engine::rollup::Plan;

/// The tables a day of activity adds rows to.
const ACTIVITY_TABLES: &[&str] = &[
    "events",
    "notes",
    "ci_pipelines",
    "ci_builds",
    "issues",
    "merge_requests",
    "deployments",
];

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // `RUST_LOG=service_ping_engine=debug` shows what each rollup refresh did, and how long.
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    // `cargo bench` adds `--bench` to the arguments of a harness-less benchmark.
    let data_dir = std::env::args()
        .skip(1)
        .find(|arg| !arg.starts_with("--"))
        .context("usage: payload_generation DATA_DIR")?;
    let mut settings = Settings {
        data_dir: data_dir.into(),
        ..Settings::default()
    };
    settings.database.url = std::env::var("SERVICE_PING__DATABASE__URL")
        .ok()
        .map(Into::into);
    let db = db::connect_and_migrate(&settings).await?;
    println!("backend: {:?}", db.backend());
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
        prometheus: &settings.prometheus,
        geo: &settings.geo,
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
    let full_reads = read_every_row(&db, &tables).await?;
    // Only where the rebuild reads through the pool: sqlx's SQLite driver hands each row over
    // from a worker thread, which is why the SQLite rebuild reads through rusqlite instead.
    let fetched = match db {
        Db::Postgres(_) => Some(fetch_every_read_column(&db, &dictionary).await?),
        Db::Sqlite(_) => None,
    };

    forget_rollups(&db).await?;
    let (cold, _) = timed(ours(deps)).await?;
    let peak_after_cold = service_ping::server::commands::peak_memory_mb();

    let written = a_day_of_activity(&db, 7).await?;
    let (folding_a_day, _) = timed(ours(deps)).await?;

    let written_again = a_day_of_activity(&db, 14).await?;
    let plan = Plan::new(&dictionary.definitions);
    let (background, failures) = timed(async { anyhow::Ok(plan.refresh_all(&db).await) }).await?;
    anyhow::ensure!(failures.is_empty(), "rollups failed: {failures:?}");

    let (lower_bound, _) = count_rows(&db, &tables).await?;
    let (current, stored) = timed(ours(deps)).await?;
    let recorded_at: DateTime<Utc> = stored.payload.recorded_at.parse()?;
    let (fused, scanned) = timed(generate(deps, recorded_at, Strategy::Fused, &|_, _| {})).await?;
    let (per_metric, naive) =
        timed(generate(deps, recorded_at, Strategy::PerMetric, &|_, _| {})).await?;

    println!("a day of activity: {written} rows written, then {written_again} more");
    let line = |label: &str, duration: Duration| println!("{label:<58}{:>9.3} s", secs(duration));
    line("lower bound (COUNT(*) per table):", lower_bound);
    line("one full read of every row:", full_reads);
    if let Some(fetched) = fetched {
        line("every column the dictionary reads, fetched:", fetched);
    }
    line("ours, cold (builds the rollups from every row):", cold);
    line(
        "ours, folding a day of writes into the rollups itself:",
        folding_a_day,
    );
    line(
        "background refresh folding the next day of writes:",
        background,
    );
    line("ours, rollups current (weekly payload, preview):", current);
    line("fused scans of every row (no rollups):", fused);
    line("naive (one query per metric):", per_metric);
    // The targets are checked on what the weekly payload and a preview find (the server keeps
    // the rollups current); a generation folding a whole day itself is shown beside them.
    for (state, ours, targets) in [
        (
            "rollups current",
            current,
            ["target <= 1.5", "target >= 10"],
        ),
        ("folding a day", folding_a_day, ["for comparison"; 2]),
    ] {
        let over_lower_bound = format!("ours ({state}) / lower bound:");
        let naive_over_ours = format!("naive / ours ({state}):");
        println!(
            "{over_lower_bound:<58}{:>9.2}   ({})",
            secs(ours) / secs(lower_bound),
            targets[0]
        );
        println!(
            "{naive_over_ours:<58}{:>9.2}   ({})",
            secs(per_metric) / secs(ours),
            targets[1]
        );
    }
    println!(
        "{:<58}{:>9.2}   (target <= 3)",
        "ours (cold) / one full read:",
        secs(cold) / secs(full_reads)
    );
    if let Some(fetched) = fetched {
        println!(
            "{:<58}{:>9.2}   (for comparison)",
            "ours (cold) / every column it reads, fetched:",
            secs(cold) / secs(fetched)
        );
    }
    for (label, duration) in [
        ("folding a day, background refresh:", background),
        (
            "folding a day, within a payload's generation:",
            folding_a_day,
        ),
    ] {
        println!("{label:<58}{:>9.3} s (target < 0.2)", secs(duration));
    }
    println!(
        "{:<58}{:>9.1} MB (target < 200)",
        "peak RSS after the cold generation:",
        peak_after_cold.unwrap_or(f64::NAN)
    );
    println!(
        "metrics whose values differ from naive: ours {}, fused {}",
        disagreements(&stored.payload.outcomes, &naive.outcomes),
        disagreements(&scanned.outcomes, &naive.outcomes)
    );
    if let Ok(file) = std::env::var("BENCH_VALUES_OUT") {
        // The instance's own identity and its database differ between backends by design.
        let mut lines: Vec<String> = naive
            .outcomes
            .iter()
            .filter(|o| !CLOCK_READINGS.contains(&o.key_path.as_str()))
            .filter(|o| o.key_path != "uuid" && !o.key_path.starts_with("database."))
            .map(|o| format!("{} {}\n", o.key_path, o.value))
            .collect();
        lines.sort();
        std::fs::write(file, lines.concat())?;
    }
    Ok(())
}

async fn timed<T, E: Into<anyhow::Error>>(
    work: impl Future<Output = Result<T, E>>,
) -> anyhow::Result<(Duration, T)> {
    let started = Instant::now();
    let value = work.await.map_err(Into::into)?;
    Ok((started.elapsed(), value))
}

/// Our generation, stored as the product stores it, recorded now.
async fn ours(deps: GenerationDeps<'_>) -> anyhow::Result<StoredPayload> {
    let trigger = Trigger {
        kind: TriggerKind::Cli,
        account_id: None,
    };
    generate_and_store(deps, trigger, Utc::now(), &|_, _| {}).await
}

/// Drops every rollup and its triggers, so that the next generation starts cold.
async fn forget_rollups(db: &Db) -> anyhow::Result<()> {
    on_pool!(db, |pool| {
        let mut connection = pool.acquire().await?;
        service_ping_engine::rollup::forget(Conn::from(&mut *connection)).await
    })?;
    Ok(())
}

/// The metrics that read the clock, or the database's own identity: they differ between runs
/// and backends by design.
const CLOCK_READINGS: &[&str] = &["recorded_at", "recording_ce_finished_at"];

/// Copies the rows of the day `days_back` days ago of every activity table to today (every
/// `*_at` column moved by as many days), and closes as many old open issues (the oldest ids
/// first, so that both backends close the same ones) as that day opened.
async fn a_day_of_activity(db: &Db, days_back: u32) -> anyhow::Result<u64> {
    let today = Utc::now().date_naive();
    let date = |back: u32| {
        (today - chrono::Days::new(back.into()))
            .format("%Y-%m-%d")
            .to_string()
    };
    let (day, next) = (date(days_back), date(days_back - 1));
    let now = Utc::now().format("%Y-%m-%d %H:%M:%S").to_string();
    let mut written = 0;
    for table in ACTIVITY_TABLES {
        let list = match db {
            Db::Sqlite(_) => {
                format!("SELECT name FROM pragma_table_info('{table}') WHERE name <> 'id'")
            }
            Db::Postgres(_) => format!(
                "SELECT column_name::text FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = '{table}' AND column_name <> 'id' \
                 ORDER BY ordinal_position"
            ),
        };
        let columns: Vec<String> =
            on_pool!(db, |pool| sqlx::query_scalar(&list).fetch_all(pool).await)?;
        let moved: Vec<String> = columns
            .iter()
            .map(|column| match (column.ends_with("_at"), db) {
                (false, _) => column.clone(),
                (true, Db::Sqlite(_)) => format!("datetime({column}, '+{days_back} days')"),
                (true, Db::Postgres(_)) => format!(
                    "to_char({column}::timestamp + interval '{days_back} days', 'YYYY-MM-DD HH24:MI:SS')"
                ),
            })
            .collect();
        // New ids above every existing one, as the platform's own sequence would give.
        let copy = format!(
            "INSERT INTO {table} (id, {}) SELECT (SELECT MAX(id) FROM {table}) + ROW_NUMBER() OVER (ORDER BY id), {} \
             FROM {table} WHERE created_at >= $1 AND created_at < $2",
            columns.join(", "),
            moved.join(", ")
        );
        written += execute!(db, sqlx::query(&copy).bind(&day).bind(&next))?;
    }
    written += execute!(db, sqlx::query(
        "UPDATE issues SET state = 'closed', closed_at = $3, updated_at = $3
         WHERE id IN (SELECT id FROM issues WHERE state = 'opened' ORDER BY id
                      LIMIT (SELECT COUNT(*) FROM issues WHERE created_at >= $1 AND created_at < $2))"
    )
    .bind(&day)
    .bind(&next)
    .bind(&now))?;
    Ok(written)
}

/// One `COUNT(*)` per table, in turn: how long they took together and how many rows they saw.
async fn count_rows(db: &Db, tables: &[&str]) -> anyhow::Result<(Duration, i64)> {
    let started = Instant::now();
    let mut rows = 0;
    for table in tables {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        let count: i64 = on_pool!(db, |pool| sqlx::query_scalar(&sql).fetch_one(pool).await)?;
        rows += count;
    }
    Ok((started.elapsed(), rows))
}

/// One read of every row of each table (`COUNT(updated_at)` must look at each row, where
/// SQLite answers a plain `COUNT(*)` from the smallest index's page counts): what any
/// evaluation that looks at the rows at all costs.
async fn read_every_row(db: &Db, tables: &[&str]) -> anyhow::Result<Duration> {
    let started = Instant::now();
    for table in tables {
        let sql = format!("SELECT COUNT(updated_at) FROM {table}");
        let _: i64 = on_pool!(db, |pool| sqlx::query_scalar(&sql).fetch_one(pool).await)?;
    }
    Ok(started.elapsed())
}

/// Every row of each table the dictionary reads, with every column its metrics read, fetched
/// to this process one table after another: what leaves the database for a rebuild that does
/// the work itself, before any of that work.
async fn fetch_every_read_column(
    db: &Db,
    dictionary: &service_ping_engine::Dictionary,
) -> anyhow::Result<Duration> {
    use futures::TryStreamExt;
    let mut columns: std::collections::BTreeMap<&str, std::collections::BTreeSet<&str>> =
        Default::default();
    for definition in &dictionary.definitions {
        if let service_ping_engine::instrumentation::Instrumentation::Database(metric) =
            &definition.instrumentation
        {
            let read = columns.entry(metric.table.as_str()).or_default();
            read.extend(metric.columns().into_iter().map(|(_, column)| column));
        }
    }
    let started = Instant::now();
    for (table, read) in &columns {
        let list: Vec<&str> = read.iter().copied().collect();
        let sql = format!("SELECT {} FROM {table}", list.join(", "));
        on_pool!(db, |pool| {
            sqlx::query(&sql)
                .fetch(pool)
                .try_for_each(|_| async { Ok(()) })
                .await
        })?;
    }
    Ok(started.elapsed())
}

/// Metrics of both runs whose values differ, except the two clock readings.
fn disagreements(
    ours: &[service_ping_engine::MetricOutcome],
    naive: &[service_ping_engine::MetricOutcome],
) -> usize {
    ours.iter()
        .filter(|o| !CLOCK_READINGS.contains(&o.key_path.as_str()))
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
