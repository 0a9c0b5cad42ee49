//! DevOps Score leader computation over a large fleet: seeds `LEADER_INSTANCES` instances
//! (default 12 500) with `LEADER_WEEKS` weekly pings each (default 8, so 100 000 stored pings)
//! into a fresh collector database, then times the leader computation (latest ping of each
//! instance in the window, 90th percentile per feature) three times.
//!
//! `cargo bench --bench leaders --features ssr` (or `bench/leaders.sh`).

use std::time::Instant;

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let instances = env_number("LEADER_INSTANCES", 12_500);
    let weeks = env_number("LEADER_WEEKS", 8);
    let dir = tempfile::tempdir().unwrap();
    let config = service_ping_collector::CollectorConfig {
        data_dir: dir.path().to_owned(),
        database_url: None,
        listen: "127.0.0.1:0".parse().unwrap(),
        max_connections: 8,
        settings: service_ping_collector::CollectorSettings::default(),
    };
    let (db, writer) = service_ping_collector::open_database(&config)
        .await
        .unwrap();
    let now = chrono::Utc::now();
    let started = Instant::now();
    let report = service_ping_collector::fleet::seed_fleet(&writer, instances, weeks, now)
        .await
        .unwrap();
    println!(
        "seeded {} instances, {} pings in {:.1} s",
        report.instances,
        report.pings,
        started.elapsed().as_secs_f64()
    );
    let state = service_ping_collector::CollectorState::new(db, writer, &config.settings);
    for run in 1..=3 {
        let started = Instant::now();
        let leaders = state.compute_leaders(now).await.unwrap();
        println!(
            "run {run}: leaders over {} stored pings in {:.3} s: {leaders:?}",
            report.pings,
            started.elapsed().as_secs_f64()
        );
    }
    println!("target: < 5 s");
}
