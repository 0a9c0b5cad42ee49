//! The demo platform's reseed and the engine's rollups: a reseed leaves no trigger and no
//! rollup row behind it (so its rows do not each leave a mark), and the next evaluation
//! rebuilds them from the rows.

use chrono::{TimeZone, Utc};
use service_ping::db::Db;
use service_ping_engine::evaluate::evaluate;
use service_ping_engine::rollup::Plan;
use service_ping_engine::{Dictionary, Facts, Strategy};

/// The rollup triggers and rollup rows in the database.
async fn rollup_traces(db: &Db) -> (i64, i64) {
    sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' AND name GLOB 'metric_rollup_*'),
                (SELECT COUNT(*) FROM metric_rollup_days)",
    )
    .fetch_one(db)
    .await
    .unwrap()
}

fn issue_count_dictionary() -> (tempfile::TempDir, Dictionary) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("issues.yml"),
        "key_path: counts.issues\ndescription: test metric\nproduct_group: test\nvalue_type: number\n\
         status: active\ntime_frame: all\ndata_source: database\ndata_category: operational\n\
         instrumentation_class: CountMetric\noptions:\n  table: issues\ntier: [free]\nmilestone: \"1.0\"\n",
    )
    .unwrap();
    let dictionary = Dictionary::load(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    (dir, dictionary)
}

async fn issue_count(db: &Db, dictionary: &Dictionary) -> i64 {
    let facts = Facts {
        uuid: "11111111-2222-4333-8444-555555555555".into(),
        hostname: "devops.example.test".into(),
        version: "0.1.0".into(),
        installation_type: "test".into(),
        edition: "EE Free".into(),
        database_adapter: "sqlite".into(),
        database_version: "3".into(),
        operating_system: "debian-12".into(),
        service_ping_enabled: true,
        include_optional_data: true,
        collected_data_categories: vec!["standard".into(), "operational".into()],
        license: None,
    };
    let plan = Plan::new(&dictionary.definitions);
    let definitions: Vec<_> = dictionary.definitions.iter().collect();
    let recorded_at = Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap();
    let outcomes = evaluate(
        db,
        &definitions,
        &facts,
        recorded_at,
        Strategy::Rollup(&plan),
        &|_, _| {},
    )
    .await;
    outcomes[0].value.as_i64().unwrap()
}

#[sqlx::test]
async fn a_reseed_drops_the_rollups_and_the_next_evaluation_rebuilds_them(db: Db) {
    let anchor = Utc
        .with_ymd_and_hms(2026, 11, 25, 0, 0, 0)
        .unwrap()
        .date_naive();
    service_ping::platform::seed::seed(&db, 1, anchor, false)
        .await
        .unwrap();
    let (_dir, dictionary) = issue_count_dictionary();
    issue_count(&db, &dictionary).await;
    assert_ne!(
        rollup_traces(&db).await,
        (0, 0),
        "the evaluation built rollups"
    );
    service_ping::platform::seed::seed(&db, 1, anchor, true)
        .await
        .unwrap();
    assert_eq!(
        rollup_traces(&db).await,
        (0, 0),
        "no trigger fired for the seeded rows"
    );
    assert!(issue_count(&db, &dictionary).await > 100);
}
