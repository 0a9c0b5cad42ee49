//! DevOps Score leader computation over a large fleet: seeds `LEADER_INSTANCES` instances
//! (default 12 500) with `LEADER_WEEKS` weekly pings each (default 8, so 100 000 stored pings)
//! into a fresh collector database, then times the leader computation (latest ping of each
//! instance in the window, 90th percentile per feature) three times, then a whole cohort refresh
//! (leaders and every cohort's distributions) three times. On SQLite, and on
//! PostgreSQL (`percentile_disc` in the database) when `SERVICE_PING_TEST_POSTGRES_URL` names a
//! server (`bench/leaders.sh` starts one); both must give the same leaders.
//!
//! `cargo bench -p service-ping-collector --bench leaders` (or `bench/leaders.sh`).

use std::time::Instant;

mod support;

use support::{backends, config_on, env_number};

#[tokio::main]
async fn main() {
    let instances = env_number("LEADER_INSTANCES", 12_500);
    let weeks = env_number("LEADER_WEEKS", 8);
    let now = chrono::Utc::now();
    let mut results = Vec::new();
    for backend in backends("LEADER_BACKEND") {
        let dir = tempfile::tempdir().unwrap();
        let config = config_on(backend, dir.path(), Default::default(), 8).await;
        let (db, writer) = service_ping_collector::open_database(&config)
            .await
            .unwrap();
        let started = Instant::now();
        let report = service_ping_collector::fleet::seed_fleet(&writer, instances, weeks, now)
            .await
            .unwrap();
        println!(
            "{backend:?}: seeded {} instances, {} pings in {:.1} s",
            report.instances,
            report.pings,
            started.elapsed().as_secs_f64()
        );
        if let service_ping_database::Db::Postgres(pool) = &db {
            // What autovacuum does after a load this size.
            sqlx::query("VACUUM ANALYZE").execute(pool).await.unwrap();
        }
        let state = service_ping_collector::CollectorState::new(db, writer, &config.settings);
        let mut leaders = None;
        for run in 1..=3 {
            let started = Instant::now();
            let computed = state.compute_leaders(now).await.unwrap();
            println!(
                "{backend:?} run {run}: leaders over {} stored pings in {:.3} s: {computed:?}",
                report.pings,
                started.elapsed().as_secs_f64()
            );
            leaders = Some(computed);
        }
        // A cohort refresh: the leaders, then every instance's latest ping read and sorted
        // into its groups (what each reply's comparison is computed against).
        for run in 1..=3 {
            let started = Instant::now();
            let figures = state.compute_figures(now).await.unwrap();
            let groups = figures.cohorts.summaries();
            println!(
                "{backend:?} run {run}: cohort refresh (leaders and {} groups of {} instances) over {} stored pings in {:.3} s",
                groups.len(),
                groups.first().map_or(0, |fleet| fleet.instances),
                report.pings,
                started.elapsed().as_secs_f64()
            );
        }
        results.push(leaders.unwrap());
    }
    println!("target: < 1 s (leaders, and a cohort refresh)");
    if results.len() == 2 {
        println!(
            "SQLite and PostgreSQL leaders {}",
            if results[0] == results[1] {
                "agree"
            } else {
                "DIFFER"
            }
        );
        assert_eq!(
            results[0], results[1],
            "both backends must give the same leaders"
        );
    }
}
