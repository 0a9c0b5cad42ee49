//! The same dictionary gives the same values on SQLite and on PostgreSQL for the same seeded
//! platform: every metric, from the rollups (built cold, then after a day of writes folded in by
//! the triggers of each backend) and from the naive one-query-per-metric evaluation. Both
//! databases are made here whatever the backend under test; `make test` runs this once.

use chrono::{TimeZone, Utc};
use service_ping::db::{Db, execute};
use service_ping::service_ping::generate::generate;
use service_ping_database::{Backend, testing};
use service_ping_engine::rollup::Plan;
use service_ping_engine::{MetricOutcome, Strategy};

use crate::support::Instance;

/// A migrated database of `backend`, seeded at `scale` (deterministic for a given anchor).
async fn seeded(backend: Backend, scale: u32, dir: &std::path::Path) -> Db {
    let url = testing::fresh_database(backend, dir, "parity.sqlite3").await;
    let db = Db::connect(&url, 4).await.unwrap();
    service_ping::db::migrate(&db).await.unwrap();
    let anchor = Utc.with_ymd_and_hms(2026, 11, 25, 0, 0, 0).unwrap();
    service_ping::platform::seed::seed(&db, scale, anchor.date_naive(), false)
        .await
        .unwrap();
    db
}

/// Every metric's value but the ones that describe the database itself, the clock, or the
/// gathering of the topology (its `duration_s`).
async fn values(db: &Db, strategy: Strategy<'_>) -> Vec<(String, serde_json::Value)> {
    let instance = Instance::new(db).await;
    let recorded_at = Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap();
    let payload = generate(instance.deps(db), recorded_at, strategy, &|_, _| {})
        .await
        .unwrap();
    let mut values: Vec<_> = payload
        .outcomes
        .iter()
        .filter(|o| !describes_the_run(o))
        .map(|o| (o.key_path.clone(), o.value.clone()))
        .collect();
    values.sort_by(|a, b| a.0.cmp(&b.0));
    values
}

fn describes_the_run(outcome: &MetricOutcome) -> bool {
    outcome.key_path.starts_with("database.")
        || ["uuid", "recording_ce_finished_at", "topology"].contains(&outcome.key_path.as_str())
}

/// The same writes on either backend: new issues and pipelines on a day of the windows, an
/// issue closed, one deleted.
async fn a_day_of_writes(db: &Db) {
    for statement in [
        "INSERT INTO issues (id, project_id, author_id, title, state, created_at, updated_at) \
         SELECT id + 1000000, project_id, author_id, title, state, '2026-11-20 12:00:00', '2026-11-20 12:00:00' \
         FROM issues WHERE id % 50 = 0",
        "INSERT INTO ci_pipelines (id, project_id, user_id, status, source, duration, created_at, updated_at) \
         SELECT id + 1000000, project_id, user_id, status, source, duration, '2026-11-21 08:00:00', '2026-11-21 08:00:00' \
         FROM ci_pipelines WHERE id % 40 = 0",
        "UPDATE issues SET state = 'closed', closed_at = '2026-11-22 09:00:00' WHERE id % 77 = 0 AND state = 'opened'",
        "DELETE FROM notes WHERE id % 91 = 0",
    ] {
        execute!(db, sqlx::query(statement)).unwrap();
    }
}

/// SQLite's and PostgreSQL's values at `scale`, every metric, rollups and naive.
async fn same_values_at(scale: u32) {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = seeded(Backend::Sqlite, scale, dir.path()).await;
    let postgres = seeded(Backend::Postgres, scale, dir.path()).await;
    let instance = Instance::new(&sqlite).await;
    let plan = Plan::new(&instance.dictionary.definitions);
    for round in ["cold", "after a day of writes"] {
        if round != "cold" {
            a_day_of_writes(&sqlite).await;
            a_day_of_writes(&postgres).await;
        }
        // A failed rollup would fall back to scanning and still agree: each must succeed.
        for db in [&sqlite, &postgres] {
            let failures = plan.refresh_all(db).await;
            assert!(failures.is_empty(), "scale {scale}, {round}: {failures:?}");
        }
        let on_sqlite = values(&sqlite, Strategy::Rollup(&plan)).await;
        let on_postgres = values(&postgres, Strategy::Rollup(&plan)).await;
        assert!(on_sqlite.len() > 100, "{} metrics", on_sqlite.len());
        let differing: Vec<_> = on_sqlite
            .iter()
            .zip(&on_postgres)
            .filter(|(a, b)| a != b)
            .collect();
        assert!(
            differing.is_empty(),
            "scale {scale}, {round}: {differing:#?}"
        );
        assert_eq!(on_sqlite.len(), on_postgres.len());
        assert_eq!(
            on_postgres,
            values(&postgres, Strategy::PerMetric).await,
            "scale {scale}, {round}: PostgreSQL's rollups against its naive evaluation"
        );
    }
}

#[tokio::test]
async fn both_backends_give_the_same_values_at_scale_1() {
    same_values_at(1).await;
}

#[tokio::test]
async fn both_backends_give_the_same_values_at_scale_10() {
    same_values_at(10).await;
}
