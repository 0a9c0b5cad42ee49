//! The collector at fleet scale: seeds `FLEET_INSTANCES` instances (default 20 000) with
//! `FLEET_WEEKS` weekly pings each (default 52: 1 040 000 stored pings) into a fresh database of
//! each backend (SQLite, and PostgreSQL when `SERVICE_PING_TEST_POSTGRES_URL` names a server:
//! `bench/fleet.sh` starts one), then times what the collector's pages and the scoring ask of it
//! (median of `FLEET_RUNS`, default 5): the whole `/` page over HTTP, the leaders computed
//! afresh, the most recently seen instances, the counts. On PostgreSQL it prints each query's
//! plan and fails if one reads `usage_data` from end to end.
//!
//! `cargo bench -p service-ping-collector --bench fleet` (or `bench/fleet.sh`).

use std::time::{Duration, Instant};

use service_ping_database::Db;

mod support;

use support::{backends, config_on, env_number};

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// Runs `work` `runs` times; the median time.
async fn timed<F, Fut, T>(runs: usize, mut work: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: Future<Output = T>,
{
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        std::hint::black_box(work().await);
        times.push(started.elapsed());
    }
    median(times)
}

/// The plans of the queries the page and the scoring run (as `db` writes them); an error if one
/// reads the pings from end to end.
async fn check_plans(pool: &sqlx::PgPool) -> Result<(), String> {
    let since = "2000-01-01T00:00:00.000Z";
    let queries = [
        (
            "latest instances",
            "SELECT uuid, hostname, last_received_at, issues FROM instances \
             ORDER BY last_received_at DESC LIMIT 50"
                .to_string(),
        ),
        (
            "leaders",
            format!(
                "SELECT count(*), percentile_disc(0.9) WITHIN GROUP (ORDER BY issues) \
                 FROM instances WHERE last_received_at >= '{since}'"
            ),
        ),
        (
            "recent pings",
            "SELECT id, uuid FROM usage_data ORDER BY id DESC LIMIT 100".to_string(),
        ),
        (
            "counts",
            "SELECT (SELECT SUM(pings) FROM instances), (SELECT count(*) FROM usage_ping_metadata)"
                .to_string(),
        ),
    ];
    let mut scans = Vec::new();
    for (name, sql) in queries {
        let plan: Vec<String> = sqlx::query_scalar(&format!("EXPLAIN {sql}"))
            .fetch_all(pool)
            .await
            .map_err(|e| e.to_string())?;
        println!("  plan of {name}:");
        for line in &plan {
            println!("    {line}");
            if line.contains("Seq Scan on usage_data") {
                scans.push(format!("{name}: {}", line.trim()));
            }
        }
    }
    if scans.is_empty() {
        Ok(())
    } else {
        Err(format!("full scans of a big table: {scans:?}"))
    }
}

#[tokio::main]
async fn main() {
    let instances = env_number("FLEET_INSTANCES", 20_000);
    let weeks = env_number("FLEET_WEEKS", 52);
    let runs = env_number("FLEET_RUNS", 5);
    let now = chrono::Utc::now();
    let client = reqwest::Client::new();
    let mut summary = Vec::new();
    for backend in backends("FLEET_BACKEND") {
        let dir = tempfile::tempdir().unwrap();
        let settings = service_ping_collector::CollectorSettings {
            leaders_refresh_seconds: 0,
            ..Default::default()
        };
        let config = config_on(backend, dir.path(), settings, 8).await;
        let collector = service_ping_collector::Collector::build(&config)
            .await
            .unwrap();
        let state = collector.state().clone();
        let address = collector.local_addr();
        let started = Instant::now();
        let report =
            service_ping_collector::fleet::seed_fleet(&state.writer, instances, weeks, now)
                .await
                .unwrap();
        let seeding = started.elapsed();
        if let Db::Postgres(pool) = &state.db {
            // What autovacuum does after a load this size (the seeding updates each instance's row
            // once per ping, 52 times in a row, where a real fleet does it once a week).
            sqlx::query("VACUUM ANALYZE").execute(pool).await.unwrap();
        }
        tokio::spawn(collector.run_until_stopped(std::future::pending()));
        let page_url = format!("http://{address}/");
        let page = timed(runs, || async {
            let response = client.get(&page_url).send().await.unwrap();
            assert!(response.status().is_success());
            response.text().await.unwrap().len()
        })
        .await;
        let leaders = timed(runs, || state.compute_leaders(now)).await;
        let latest = timed(runs, || {
            service_ping_collector::db::latest_instances(&state.db, 50)
        })
        .await;
        let counts = timed(runs, || service_ping_collector::db::counts(&state.db)).await;
        let line = format!(
            "{backend:?}: {} instances x {weeks} weeks = {} pings seeded in {:.0} s; median of {runs}: \
             page / {:.1} ms, leaders {:.1} ms, latest 50 instances {:.1} ms, counts {:.1} ms",
            report.instances,
            report.pings,
            seeding.as_secs_f64(),
            page.as_secs_f64() * 1e3,
            leaders.as_secs_f64() * 1e3,
            latest.as_secs_f64() * 1e3,
            counts.as_secs_f64() * 1e3,
        );
        println!("{line}");
        summary.push(line);
        if let Db::Postgres(pool) = &state.db {
            check_plans(pool).await.unwrap();
        }
    }
    println!("\nsummary (target: every page under 300 ms server time)");
    for line in summary {
        println!("{line}");
    }
}
