//! What cohorts add to each ingested ping: the real collector with `collector.cohorts` on against
//! the same collector with it off, over loopback, alternating rounds in one run (these machines
//! are noisy). Both hold the same seeded fleet (`COHORT_FLEET` instances, default 1 000, four
//! weekly pings each), so every reply with cohorts on carries a real comparison; the figures are
//! refreshed as in production (every `leaders_refresh_seconds`, default 300: once per run).
//!
//! `cargo bench -p service-ping-collector --bench cohort_ingest` (or `bench/cohorts.sh`).
//! Environment: `INGEST_REQUESTS` per round (default 1000), `INGEST_CONCURRENCY` (default 8),
//! `INGEST_ROUNDS` (default 9), `INGEST_BACKEND` (`sqlite` or `postgres`: only that one).
//! Every request goes to 127.0.0.1 only.

use std::time::Duration;

mod support;

use support::ingest::{client, median, realistic_payload, round, start_collector};
use support::{backends, env_number};

#[tokio::main]
async fn main() {
    let count = env_number("INGEST_REQUESTS", 1000);
    let concurrency = env_number("INGEST_CONCURRENCY", 8);
    let rounds = env_number("INGEST_ROUNDS", 9);
    let fleet = env_number("COHORT_FLEET", 1000);
    let template = realistic_payload();
    let client = client();
    println!(
        "payload {} bytes; fleet of {fleet}; {count} pings per round, {concurrency} senders, {rounds} rounds, alternating",
        template.len()
    );
    let mut summary = Vec::new();
    for backend in backends("INGEST_BACKEND") {
        let (on_dir, off_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (on, on_db) = start_collector(backend, on_dir.path(), |s| s.cohorts = true).await;
        let (off, off_db) = start_collector(backend, off_dir.path(), |s| s.cohorts = false).await;
        let now = chrono::Utc::now();
        for db in [&on_db, &off_db] {
            service_ping_collector::fleet::seed_fleet(db, fleet, 4, now)
                .await
                .unwrap();
        }
        // Warm both up: connections, pages of the database, and the first refresh.
        round(&client, on, &template, "warm", 50, concurrency).await;
        round(&client, off, &template, "warm", 50, concurrency).await;
        let (mut with, mut without) = (Vec::new(), Vec::new());
        for r in 0..rounds {
            // Which goes first alternates, so neither always runs on a warmer machine.
            let order = if r % 2 == 0 {
                [true, false]
            } else {
                [false, true]
            };
            for cohorts in order {
                let (address, tag) = if cohorts { (on, "on") } else { (off, "off") };
                let rate = round(
                    &client,
                    address,
                    &template,
                    &format!("{tag}{r}"),
                    count,
                    concurrency,
                )
                .await;
                if cohorts {
                    with.push(rate)
                } else {
                    without.push(rate)
                }
            }
            println!(
                "{backend:?} round {r}: cohorts off {:8.0} pings/s   cohorts on {:8.0} pings/s   ratio {:.3}",
                without[r],
                with[r],
                with[r] / without[r]
            );
        }
        // Each round's pair ran back to back, so the median of their ratios is the least
        // disturbed by the machine's drift over the run.
        let ratios = with.iter().zip(&without).map(|(w, wo)| w / wo).collect();
        let (w, wo) = (median(with), median(without));
        summary.push(format!(
            "{backend:?}: cohorts off {wo:6.0}/s, cohorts on {w:6.0}/s (medians); median of the rounds' ratios {:.3}",
            median(ratios)
        ));
        summary.push(comparison_cost(&on_db, now).await);
        on_db.close().await;
        off_db.close().await;
    }
    println!("\ntarget: with cohorts / without >= 0.95");
    for line in summary {
        println!("{line}");
    }
}

/// The work cohorts add to a reply, alone: one comparison of each fleet member with its group
/// (from the same figures a refresh builds), timed over the whole fleet many times.
async fn comparison_cost(
    db: &service_ping_database::Db,
    now: chrono::DateTime<chrono::Utc>,
) -> String {
    use service_ping_protocol::cohort::Cohorts;
    use service_ping_protocol::devops_score;
    let settings = service_ping_collector::CollectorSettings::default();
    let since = now - chrono::Duration::weeks(i64::from(settings.leader_window_weeks));
    let members = service_ping_collector::db::fleet_members(db, since)
        .await
        .unwrap();
    let usage: Vec<_> = members.iter().map(|m| m.usage).collect();
    let leaders = devops_score::leaders(
        &usage,
        &settings.baseline_leaders,
        settings.min_fleet_for_leaders,
    );
    let cohorts = Cohorts::build(&members, &leaders, settings.min_cohort_size, false);
    let started = std::time::Instant::now();
    let mut reports = 0;
    while started.elapsed() < Duration::from_secs(1) {
        for member in &members {
            let overall = devops_score::compute(&member.usage, &leaders).overall;
            std::hint::black_box(cohorts.report(
                member.active_users,
                member.edition.as_deref(),
                &member.usage,
                overall,
            ));
            reports += 1;
        }
    }
    format!(
        "  one reply's comparison alone: {:.1} µs ({reports} comparisons over {} instances)",
        started.elapsed().as_secs_f64() * 1e6 / reports as f64,
        members.len()
    )
}
