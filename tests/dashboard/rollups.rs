//! The demo platform's reseed and the engine's rollups: a reseed leaves no trigger and no
//! rollup row behind it (so its rows do not each leave a log row), and the next generation
//! rebuilds them from the rows.

use chrono::{TimeZone, Utc};
use service_ping::db::{Db, on_pool};
use service_ping::service_ping::generate::generate;
use service_ping_engine::Strategy;
use service_ping_engine::rollup::Plan;

use crate::support::Instance;

/// The rollup triggers and rollup rows in the database.
async fn rollup_traces(db: &Db) -> (i64, i64) {
    let triggers = match db {
        Db::Sqlite(_) => {
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' AND name GLOB 'metric_rollup_*'"
        }
        Db::Postgres(_) => {
            "SELECT COUNT(*) FROM pg_trigger WHERE starts_with(tgname::text, 'metric_rollup_')"
        }
    };
    let sql = format!("SELECT ({triggers}), (SELECT COUNT(*) FROM metric_rollup_days)");
    on_pool!(db, |p| sqlx::query_as(&sql).fetch_one(p).await).unwrap()
}

/// `counts.issues` of a payload generated from the rollups.
async fn issue_count(db: &Db, instance: &Instance) -> i64 {
    let plan = Plan::new(&instance.dictionary.definitions);
    let recorded_at = Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap();
    let payload = generate(
        instance.deps(db),
        recorded_at,
        Strategy::Rollup(&plan),
        &|_, _| {},
    )
    .await
    .unwrap();
    payload
        .outcomes
        .iter()
        .find(|o| o.key_path == "counts.issues")
        .and_then(|o| o.value.as_i64())
        .unwrap()
}

#[tokio::test]
async fn a_reseed_drops_the_rollups_and_the_next_evaluation_rebuilds_them() {
    let (db, _dir) = crate::support::database().await;
    let anchor = Utc
        .with_ymd_and_hms(2026, 11, 25, 0, 0, 0)
        .unwrap()
        .date_naive();
    service_ping::platform::seed::seed(&db, 1, anchor, false)
        .await
        .unwrap();
    let instance = Instance::new(&db).await;
    issue_count(&db, &instance).await;
    assert_ne!(
        rollup_traces(&db).await,
        (0, 0),
        "the generation built rollups"
    );
    service_ping::platform::seed::seed(&db, 1, anchor, true)
        .await
        .unwrap();
    assert_eq!(
        rollup_traces(&db).await,
        (0, 0),
        "no trigger fired for the seeded rows"
    );
    assert!(issue_count(&db, &instance).await > 100);
}
