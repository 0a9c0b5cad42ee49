//! `service-ping collector seed-fleet`: a deterministic fleet of instances with weekly ping
//! histories, so that leaders mean something in the demo, the tests and the benchmark. Sizes run
//! from small teams to large enterprises (active users log-uniform from 3 to 20 000), each with
//! its own habits per feature; pings go through the same validation and storage as real ones.

use chrono::{DateTime, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;

use service_ping_database::Db;
use service_ping_protocol::ingest::{self, IngestLimits};
use service_ping_protocol::time::format_timestamp;

use crate::db::{self, NewPing, Pending, Source};
use crate::writer::MAX_BATCH;

/// Typical monthly usage per active user of each feature (monitoring: fraction of projects),
/// around which instances vary.
const TYPICAL: [f64; 10] = [2.0, 10.0, 0.2, 0.1, 3.0, 15.0, 0.3, 4.0, 0.2, 0.2];

/// What seeding did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FleetReport {
    pub instances: usize,
    pub pings: usize,
}

/// One instance's ping recorded at `at`.
fn ping(
    rng: &mut ChaCha8Rng,
    uuid: &str,
    index: usize,
    users: f64,
    habits: &[f64; 10],
    at: DateTime<Utc>,
) -> serde_json::Value {
    let mut monthly = serde_json::Map::new();
    let keys = [
        "issues",
        "notes",
        "milestones",
        "boards",
        "merge_requests",
        "ci_pipelines",
        "environments",
        "deployments",
    ];
    for (i, key) in keys.iter().enumerate() {
        let weekly_noise = rng.gen_range(0.8..1.2);
        monthly.insert(
            (*key).into(),
            json!((users * habits[i] * weekly_noise).round() as i64),
        );
    }
    monthly.insert(
        "service_desk_issues".into(),
        json!((users * habits[9] * rng.gen_range(0.8..1.2)).round() as i64),
    );
    monthly.insert("active_users".into(), json!(users as i64));
    let projects = (users * rng.gen_range(0.5..2.0)).round().max(1.0);
    let version = ["17.4.2", "17.5.1", "17.6.0"][index % 3];
    let edition = ["EE Free", "EE Free", "EEP", "EEU"][index % 4];
    json!({
        "uuid": uuid,
        "recorded_at": format_timestamp(at),
        "version": version,
        "hostname": format!("gitlab-{index:05}.example.com"),
        "edition": edition,
        "active_user_count": users as i64,
        "counts": {
            "projects": projects as i64,
            "projects_prometheus_active": (projects * habits[8]).round() as i64,
        },
        "counts_monthly": monthly,
    })
}

/// Seeds `instances` instances with `weeks` weekly pings each, the last one a day before `now`.
pub async fn seed_fleet(
    db: &Db,
    instances: usize,
    weeks: usize,
    now: DateTime<Utc>,
) -> anyhow::Result<FleetReport> {
    let mut rng = ChaCha8Rng::seed_from_u64(0x5eed_f1ee7);
    let limits = IngestLimits {
        max_body_bytes: usize::MAX,
        max_depth: 32,
    };
    let mut pings = 0;
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut tx = db.begin_write().await?;
    for index in 0..instances {
        let uuid = uuid::Builder::from_random_bytes(rng.r#gen())
            .into_uuid()
            .to_string();
        let users = (3f64.ln() + rng.gen_range(0.0..1.0) * (20_000f64.ln() - 3f64.ln()))
            .exp()
            .round();
        let mut habits = [0.0; 10];
        for (habit, typical) in habits.iter_mut().zip(TYPICAL) {
            // Some instances never use a feature; the others use it between a tenth and three
            // times as much as usual.
            *habit = if rng.gen_bool(0.15) {
                0.0
            } else {
                typical * rng.gen_range(0.1..3.0)
            };
        }
        habits[8] = habits[8].min(1.0);
        for week in (0..weeks).rev() {
            let at = now - chrono::Duration::days(1 + 7 * week as i64);
            let bytes = serde_json::to_vec(&ping(&mut rng, &uuid, index, users, &habits, at))?;
            let valid = ingest::validate(&bytes, limits)?;
            let new = NewPing::new(valid, bytes.into(), Source::Api, at)?;
            batch.push(Pending::new(new));
            pings += 1;
            if batch.len() == MAX_BATCH {
                db::store_pings_in_transaction(tx.conn(), &batch, u64::MAX).await?;
                batch.clear();
            }
        }
        if index % 1000 == 999 {
            db::store_pings_in_transaction(tx.conn(), &batch, u64::MAX).await?;
            batch.clear();
            tx.commit().await?;
            tx = db.begin_write().await?;
        }
    }
    db::store_pings_in_transaction(tx.conn(), &batch, u64::MAX).await?;
    tx.commit().await?;
    Ok(FleetReport { instances, pings })
}
