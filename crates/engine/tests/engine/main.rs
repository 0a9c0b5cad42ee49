//! The metric engine against fixture rows with exact expected numbers: every instrumentation
//! class, the time-frame boundaries, sentinels for broken metrics; rollups, fused scans and one
//! query per metric agreeing, and rollups following every kind of write.

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Value, json};
use service_ping_database::{Backend, Db, on_pool};
use service_ping_engine::evaluate::evaluate;
use service_ping_engine::rollup::Plan;
use service_ping_engine::{Dictionary, Facts, MetricOutcome, Strategy};
use sqlx::migrate::Migrator;

/// The tables metrics may read: the platform's, as the dashboard passes them
/// (`service_ping::platform::TABLES`).
const PLATFORM_TABLES: &[&str] = &[
    "users",
    "namespaces",
    "projects",
    "members",
    "milestones",
    "labels",
    "boards",
    "issues",
    "merge_requests",
    "notes",
    "ci_pipelines",
    "ci_builds",
    "environments",
    "deployments",
    "releases",
    "snippets",
    "keys",
    "web_hooks",
    "events",
];

/// Every fixture is read as if the payload were recorded at this moment: the 7-day window is
/// the days 2026-11-16 to 2026-11-22 and the 28-day one the days 2026-10-26 to 2026-11-22.
fn recorded_at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap()
}

fn facts() -> Facts {
    Facts {
        uuid: "11111111-2222-4333-8444-555555555555".into(),
        hostname: "devops.example.test".into(),
        version: "0.1.0".into(),
        installation_type: "test".into(),
        edition: "EE Free".into(),
        database_adapter: "sqlite".into(),
        database_version: "3".into(),
        database_flavor: None,
        pg_system_id: None,
        operating_system: "debian-12".into(),
        service_ping_enabled: true,
        include_optional_data: true,
        collected_data_categories: vec!["standard".into(), "operational".into()],
        license: None,
        topology: serde_json::Value::Null,
        geo_enabled: false,
        geo_node_usage: serde_json::json!([]),
    }
}

/// A dictionary made of `(file name, yaml)` pairs, with the fields every test repeats filled in.
fn dictionary(metrics: &[(&str, &str)]) -> Dictionary {
    let dir = tempfile::tempdir().unwrap();
    for (name, body) in metrics {
        let text = format!(
            "description: test metric\nproduct_group: test\nstatus: active\ndata_source: database\n\
             data_category: operational\ntier: [free]\nmilestone: \"1.0\"\n{body}"
        );
        std::fs::write(dir.path().join(format!("{name}.yml")), text).unwrap();
    }
    Dictionary::load(dir.path()).unwrap_or_else(|e| panic!("{e}"))
}

async fn evaluate_with(
    db: &Db,
    dictionary: &Dictionary,
    strategy: Strategy<'_>,
) -> Vec<MetricOutcome> {
    let definitions: Vec<_> = dictionary.definitions.iter().collect();
    evaluate(
        db,
        &definitions,
        &facts(),
        recorded_at(),
        strategy,
        &|_, _| {},
    )
    .await
}

fn values(outcomes: &[MetricOutcome]) -> Vec<(String, Value)> {
    let mut values: Vec<_> = outcomes
        .iter()
        .map(|o| (o.key_path.clone(), o.value.clone()))
        .collect();
    values.sort_by(|a, b| a.0.cmp(&b.0));
    values
}

/// Evaluates `dictionary` from rollups, after checking that fused scans and one query per
/// metric give exactly the same values.
async fn run(db: &Db, dictionary: &Dictionary) -> Vec<MetricOutcome> {
    let plan = Plan::new(&dictionary.definitions);
    let rolled = evaluate_with(db, dictionary, Strategy::Rollup(&plan)).await;
    for strategy in [Strategy::Fused, Strategy::PerMetric] {
        let other = evaluate_with(db, dictionary, strategy).await;
        assert_eq!(
            values(&rolled),
            values(&other),
            "rollups against {strategy:?}"
        );
    }
    rolled
}

fn value_of<'a>(outcomes: &'a [MetricOutcome], key_path: &str) -> &'a Value {
    &outcomes
        .iter()
        .find(|o| o.key_path == key_path)
        .unwrap_or_else(|| panic!("no outcome for {key_path}"))
        .value
}

async fn exec(db: &Db, sql: &str) {
    on_pool!(db, |pool| sqlx::raw_sql(sql)
        .execute(pool)
        .await
        .map(|_| ()))
    .unwrap();
}

async fn text(db: &Db, sql: &str) -> String {
    on_pool!(db, |pool| sqlx::query_scalar(sql).fetch_one(pool).await).unwrap()
}

async fn count(db: &Db, sql: &str) -> i64 {
    on_pool!(db, |pool| sqlx::query_scalar(sql).fetch_one(pool).await).unwrap()
}

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("../../migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("../../migrations/postgres");

/// A fresh database of `backend` with the instance's migrations applied.
async fn database(backend: Backend) -> (Db, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let db = service_ping_database::testing::migrated_database(
        backend,
        dir.path(),
        "engine.sqlite3",
        &SQLITE_MIGRATIONS,
        &POSTGRES_MIGRATIONS,
    )
    .await;
    (db, dir)
}

/// Runs each named test (an `async fn(Db)`) once on SQLite and once on PostgreSQL, each on a
/// fresh database: `name::sqlite`, `name::postgres`.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn sqlite() {
                    let (db, _dir) = super::database(super::Backend::Sqlite).await;
                    super::$name(db).await
                }
                #[tokio::test]
                async fn postgres() {
                    let (db, _dir) = super::database(super::Backend::Postgres).await;
                    super::$name(db).await
                }
            }
        )*
    };
}

on_both_backends!(
    counts_respect_the_window_edges_exactly,
    rollups_follow_inserts_updates_deletes_and_moves_between_days,
    a_fold_drops_what_a_rebuild_read_and_recomputes_what_it_may_have_read,
    a_rollup_is_rebuilt_when_its_measures_change_or_its_triggers_go_missing,
    values_a_rollup_cannot_hold_are_counted_by_scanning_instead,
    sums_averages_estimates_and_reviewed_queries_are_exact_on_small_data,
    system_metrics_report_the_facts,
    a_broken_metric_gets_its_sentinel_and_the_rest_of_its_scan_is_intact,
    the_repository_dictionary_matches_the_database_schema,
    a_dictionary_naming_a_missing_column_is_refused_with_file_and_field,
    a_metric_may_not_read_the_products_own_tables,
);

/// Users 1-4, one group and project, and issues placed exactly on and around the window edges.
async fn fixture(db: &Db) {
    exec(
        db,
        "INSERT INTO users (id, username, name, email, state, user_type, last_activity_on, created_at, updated_at) VALUES
           (1, 'a', 'A', 'a@x.test', 'active', 'human', '2026-11-20', '2025-01-01 00:00:00', '2025-01-01 00:00:00'),
           (2, 'b', 'B', 'b@x.test', 'active', 'human', '2026-11-24', '2025-01-01 00:00:00', '2025-01-01 00:00:00'),
           (3, 'c', 'C', 'c@x.test', 'blocked', 'human', NULL, '2025-01-01 00:00:00', '2025-01-01 00:00:00'),
           (4, 'd', 'D', 'd@x.test', 'active', 'bot', '2026-11-20', '2025-01-01 00:00:00', '2025-01-01 00:00:00');
         INSERT INTO namespaces (id, name, path, type, visibility, created_at, updated_at)
           VALUES (1, 'G', 'g', 'Group', 'private', '2025-01-01 00:00:00', '2025-01-01 00:00:00');
         INSERT INTO projects (id, namespace_id, creator_id, name, visibility, created_at, updated_at)
           VALUES (1, 1, 1, 'p', 'private', '2025-01-01 00:00:00', '2025-01-01 00:00:00');
         INSERT INTO issues (id, project_id, author_id, title, state, closed_at, created_at, updated_at) VALUES
           (1, 1, 1, 'before 28d', 'opened', NULL,                  '2026-10-25 23:59:59', '2026-10-25 23:59:59'),
           (2, 1, 1, 'starts 28d', 'closed', '2026-11-20 09:00:00', '2026-10-26 00:00:00', '2026-10-26 00:00:00'),
           (3, 1, 2, 'before 7d',  'opened', NULL,                  '2026-11-15 23:59:59', '2026-11-15 23:59:59'),
           (4, 1, 2, 'starts 7d',  'closed', '2026-11-24 09:00:00', '2026-11-16 00:00:00', '2026-11-16 00:00:00'),
           (5, 1, 3, 'ends 7d',    'opened', NULL,                  '2026-11-22 23:59:59', '2026-11-22 23:59:59'),
           (6, 1, 1, 'after 7d',   'opened', NULL,                  '2026-11-23 00:00:00', '2026-11-23 00:00:00');
         INSERT INTO ci_pipelines (id, project_id, user_id, status, source, duration, created_at, updated_at) VALUES
           (1, 1, 1, 'success', 'push', 100, '2026-11-20 10:00:00', '2026-11-20 10:00:00'),
           (2, 1, 2, 'failed', 'push', 50, '2026-11-20 10:00:00', '2026-11-20 10:00:00'),
           (3, 1, NULL, 'success', 'schedule', 30, '2026-01-01 10:00:00', '2026-01-01 10:00:00'),
           (4, 1, 2, 'running', 'web', NULL, '2026-11-21 10:00:00', '2026-11-21 10:00:00');",
    )
    .await;
}

const ISSUE_COUNTS: &[(&str, &str)] = &[
    (
        "all",
        "key_path: counts.issues\nvalue_type: number\ntime_frame: all\ninstrumentation_class: CountMetric\noptions:\n  table: issues\n",
    ),
    (
        "weekly",
        "key_path: counts_weekly.issues\nvalue_type: number\ntime_frame: 7d\ninstrumentation_class: CountMetric\noptions:\n  table: issues\n",
    ),
    (
        "monthly",
        "key_path: counts_monthly.issues\nvalue_type: number\ntime_frame: 28d\ninstrumentation_class: CountMetric\noptions:\n  table: issues\n",
    ),
    (
        "opened",
        "key_path: counts.opened_issues\nvalue_type: number\ntime_frame: all\ninstrumentation_class: CountMetric\noptions:\n  table: issues\n  filter:\n    state: opened\n",
    ),
    (
        "closed_monthly",
        "key_path: counts_monthly.closed_issues\nvalue_type: number\ntime_frame: 28d\ninstrumentation_class: CountMetric\noptions:\n  table: issues\n  time_column: closed_at\n  filter:\n    closed_at: {null: false}\n",
    ),
    (
        "authors",
        "key_path: stage.plan.issues\nvalue_type: number\ntime_frame: all\ninstrumentation_class: DistinctCountMetric\noptions:\n  table: issues\n  column: author_id\n",
    ),
    (
        "authors_weekly",
        "key_path: stage_weekly.plan.issues\nvalue_type: number\ntime_frame: 7d\ninstrumentation_class: DistinctCountMetric\noptions:\n  table: issues\n  column: author_id\n",
    ),
];

async fn counts_respect_the_window_edges_exactly(db: Db) {
    fixture(&db).await;
    let outcomes = run(&db, &dictionary(ISSUE_COUNTS)).await;
    assert_eq!(value_of(&outcomes, "counts.issues"), &json!(6));
    // 16 Nov 00:00:00 and 22 Nov 23:59:59 are in; one second either side is out.
    assert_eq!(value_of(&outcomes, "counts_weekly.issues"), &json!(2));
    // The 28-day window adds 26 Oct 00:00:00 and 15 Nov 23:59:59, not 25 Oct 23:59:59.
    assert_eq!(value_of(&outcomes, "counts_monthly.issues"), &json!(4));
    assert_eq!(value_of(&outcomes, "counts.opened_issues"), &json!(4));
    // Closed on 20 Nov (in) and 24 Nov (after the window's end on 23 Nov).
    assert_eq!(
        value_of(&outcomes, "counts_monthly.closed_issues"),
        &json!(1)
    );
    assert_eq!(value_of(&outcomes, "stage.plan.issues"), &json!(3));
    // Authors 2 (issue 4) and 3 (issue 5).
    assert_eq!(value_of(&outcomes, "stage_weekly.plan.issues"), &json!(2));
    assert!(outcomes.iter().all(|o| o.error.is_none()));
}

async fn rollups_follow_inserts_updates_deletes_and_moves_between_days(db: Db) {
    fixture(&db).await;
    let dictionary = dictionary(ISSUE_COUNTS);
    let first = run(&db, &dictionary).await;
    assert!(first.iter().all(|o| o.scan.as_deref() == Some("issues")));
    exec(
        &db,
        "INSERT INTO issues (id, project_id, author_id, title, state, created_at, updated_at)
           VALUES (7, 1, 4, 'new in 7d', 'opened', '2026-11-18 08:00:00', '2026-11-18 08:00:00');
         UPDATE issues SET created_at = '2026-11-17 10:00:00' WHERE id = 1;
         UPDATE issues SET state = 'closed', closed_at = '2026-11-21 10:00:00' WHERE id = 3;
         UPDATE issues SET state = 'closed' WHERE id = 6;
         DELETE FROM issues WHERE id = 5;",
    )
    .await;
    let logged = count(&db, "SELECT COUNT(*) FROM metric_rollup_log_issues").await;
    let failures = Plan::new(&dictionary.definitions).refresh_all(&db).await;
    assert!(failures.is_empty(), "the fold failed: {failures:?}");
    // One image per inserted or deleted row, two per updated row.
    assert_eq!(logged, 8);
    let outcomes = run(&db, &dictionary).await;
    // Issues 1 (moved in), 4 and 7; issue 5 is gone.
    assert_eq!(value_of(&outcomes, "counts_weekly.issues"), &json!(3));
    assert_eq!(value_of(&outcomes, "counts_monthly.issues"), &json!(5));
    assert_eq!(value_of(&outcomes, "counts.opened_issues"), &json!(2));
    assert_eq!(
        value_of(&outcomes, "counts_monthly.closed_issues"),
        &json!(2)
    );
    // Authors 1 (issue 1), 2 (issue 4) and 4 (issue 7).
    assert_eq!(value_of(&outcomes, "stage_weekly.plan.issues"), &json!(3));
    assert_eq!(value_of(&outcomes, "stage.plan.issues"), &json!(3));
    let left = count(&db, "SELECT COUNT(*) FROM metric_rollup_log_issues").await;
    assert_eq!(left, 0, "the refresh folded in every image");
}

/// A rebuild stores the log watermarks its pass was read between (see `rollup::rebuild`). Here
/// the rebuilt rollup is written by hand as if its pass had read two inserts: one logged before
/// the first watermark, one between the two. The fold must neither add the first again nor
/// trust the stored day of the second.
async fn a_fold_drops_what_a_rebuild_read_and_recomputes_what_it_may_have_read(db: Db) {
    fixture(&db).await;
    let dictionary = dictionary(&ISSUE_COUNTS[..3]);
    run(&db, &dictionary).await;
    let watermark = match db {
        Db::Sqlite(_) => {
            "SELECT CAST(seq AS TEXT) FROM sqlite_sequence WHERE name = 'metric_rollup_log_issues'"
        }
        Db::Postgres(_) => "SELECT pg_current_snapshot()::text",
    };
    exec(
        &db,
        "INSERT INTO issues (id, project_id, author_id, title, state, created_at, updated_at)
           VALUES (7, 1, 4, 'read', 'opened', '2026-11-18 08:00:00', '2026-11-18 08:00:00');",
    )
    .await;
    let reflected: String = text(&db, watermark).await;
    exec(
        &db,
        "INSERT INTO issues (id, project_id, author_id, title, state, created_at, updated_at)
           VALUES (8, 1, 4, 'maybe read', 'opened', '2026-11-19 08:00:00', '2026-11-19 08:00:00');",
    )
    .await;
    let ambiguous: String = text(&db, watermark).await;
    // The pass read issue 7; its count of 19 Nov is wrong either way (99), so only a recount
    // of that day gives the right value.
    exec(
        &db,
        "INSERT INTO metric_rollup_days (measure, day, n) VALUES
           ('issues.created_at Rows(*) []', '2026-11-18', 1),
           ('issues.created_at Rows(*) []', '2026-11-19', 99)",
    )
    .await;
    on_pool!(&db, |pool| sqlx::query(
        "UPDATE metric_rollup_tables SET reflected = $1, ambiguous = $2 WHERE table_name = 'issues'"
    )
    .bind(&reflected)
    .bind(&ambiguous)
    .execute(pool)
    .await
    .map(|_| ()))
    .unwrap();
    let failures = Plan::new(&dictionary.definitions).refresh_all(&db).await;
    assert!(failures.is_empty(), "the fold failed: {failures:?}");
    // `run` checks the rollups against both scanning strategies.
    let outcomes = run(&db, &dictionary).await;
    assert_eq!(value_of(&outcomes, "counts_weekly.issues"), &json!(4));
    assert_eq!(value_of(&outcomes, "counts.issues"), &json!(8));
}

async fn a_rollup_is_rebuilt_when_its_measures_change_or_its_triggers_go_missing(db: Db) {
    fixture(&db).await;
    run(&db, &dictionary(&ISSUE_COUNTS[..3])).await;
    // A new measure on the same table: the stored rollup does not hold it yet.
    let outcomes = run(&db, &dictionary(ISSUE_COUNTS)).await;
    assert_eq!(value_of(&outcomes, "stage.plan.issues"), &json!(3));
    // Writes while the triggers are missing leave no mark; the next refresh notices and rebuilds.
    let drop = match db {
        Db::Sqlite(_) => "DROP TRIGGER metric_rollup_issues_insert",
        Db::Postgres(_) => "DROP TRIGGER metric_rollup_issues_insert ON issues",
    };
    exec(&db, drop).await;
    exec(
        &db,
        "INSERT INTO issues (id, project_id, author_id, title, state, created_at, updated_at)
           VALUES (7, 1, 4, 'unmarked', 'opened', '2026-11-18 08:00:00', '2026-11-18 08:00:00');",
    )
    .await;
    let outcomes = run(&db, &dictionary(ISSUE_COUNTS)).await;
    assert_eq!(value_of(&outcomes, "counts_weekly.issues"), &json!(3));
    assert_eq!(value_of(&outcomes, "stage.plan.issues"), &json!(4));
}

async fn values_a_rollup_cannot_hold_are_counted_by_scanning_instead(db: Db) {
    fixture(&db).await;
    exec(&db, "UPDATE ci_pipelines SET duration = -5 WHERE id = 3").await;
    let dictionary = dictionary(&[(
        "durations",
        "key_path: pipelines.distinct_durations\nvalue_type: number\ntime_frame: all\ninstrumentation_class: DistinctCountMetric\noptions:\n  table: ci_pipelines\n  column: duration\n",
    )]);
    let outcomes = run(&db, &dictionary).await;
    assert_eq!(
        value_of(&outcomes, "pipelines.distinct_durations"),
        &json!(3)
    );
    assert!(outcomes.iter().all(|o| o.error.is_none()));
}

async fn sums_averages_estimates_and_reviewed_queries_are_exact_on_small_data(db: Db) {
    fixture(&db).await;
    let dictionary = dictionary(&[
        (
            "sum",
            "key_path: pipelines.duration\nvalue_type: number\ntime_frame: all\ninstrumentation_class: SumMetric\noptions:\n  table: ci_pipelines\n  column: duration\n",
        ),
        (
            "sum_weekly",
            "key_path: pipelines_weekly.duration\nvalue_type: number\ntime_frame: 7d\ninstrumentation_class: SumMetric\noptions:\n  table: ci_pipelines\n  column: duration\n",
        ),
        (
            "average",
            "key_path: pipelines.average_duration\nvalue_type: number\ntime_frame: all\ninstrumentation_class: AverageMetric\noptions:\n  table: ci_pipelines\n  column: duration\n  filter:\n    duration: {null: false}\n",
        ),
        (
            "empty_sum",
            "key_path: pipelines.canceled_duration\nvalue_type: number\ntime_frame: all\ninstrumentation_class: SumMetric\noptions:\n  table: ci_pipelines\n  column: duration\n  filter:\n    status: canceled\n",
        ),
        (
            "estimate",
            "key_path: pipelines.users\nvalue_type: number\ntime_frame: all\ninstrumentation_class: EstimateDistinctMetric\noptions:\n  table: ci_pipelines\n  column: user_id\n",
        ),
        (
            "statuses",
            "key_path: pipelines.finished\nvalue_type: number\ntime_frame: all\ninstrumentation_class: CountMetric\noptions:\n  table: ci_pipelines\n  filter:\n    status: [success, failed]\n    duration: {gte: 50}\n",
        ),
        (
            "active_users",
            "key_path: users.active_monthly\nvalue_type: number\ntime_frame: 28d\ninstrumentation_class: SqlMetric\noptions:\n  query: users_active_in_window\n",
        ),
        (
            "humans",
            "key_path: users.active_humans\nvalue_type: number\ntime_frame: all\ninstrumentation_class: CountMetric\noptions:\n  table: users\n  filter:\n    state: active\n    user_type: human\n",
        ),
    ]);
    let outcomes = run(&db, &dictionary).await;
    assert_eq!(value_of(&outcomes, "pipelines.duration"), &json!(180));
    assert_eq!(
        value_of(&outcomes, "pipelines_weekly.duration"),
        &json!(150)
    );
    assert_eq!(
        value_of(&outcomes, "pipelines.average_duration"),
        &json!(60.0)
    );
    assert_eq!(
        value_of(&outcomes, "pipelines.canceled_duration"),
        &json!(0)
    );
    // Users 1 and 2; the NULL of the scheduled pipeline is not a user.
    assert_eq!(value_of(&outcomes, "pipelines.users"), &json!(2));
    assert_eq!(value_of(&outcomes, "pipelines.finished"), &json!(2));
    // User 2's last activity (24 Nov) is after the window; user 4 is a bot, user 3 blocked.
    assert_eq!(value_of(&outcomes, "users.active_monthly"), &json!(1));
    assert_eq!(value_of(&outcomes, "users.active_humans"), &json!(2));
}

async fn system_metrics_report_the_facts(db: Db) {
    let dictionary = dictionary(&[
        (
            "uuid",
            "key_path: uuid\nvalue_type: string\ntime_frame: none\ninstrumentation_class: UuidMetric\n",
        ),
        (
            "recorded",
            "key_path: recorded_at\nvalue_type: string\ntime_frame: none\ninstrumentation_class: RecordedAtMetric\n",
        ),
        (
            "categories",
            "key_path: settings.collected_data_categories\nvalue_type: object\ntime_frame: none\ninstrumentation_class: CollectedDataCategoriesMetric\n",
        ),
        (
            "license",
            "key_path: license_md5\nvalue_type: string\ntime_frame: none\ninstrumentation_class: LicenseMetric\noptions:\n  field: md5\n",
        ),
        (
            "pg",
            "key_path: database.pg_system_id\nvalue_type: number\ntime_frame: none\ninstrumentation_class: PgSystemIdMetric\n",
        ),
    ]);
    let outcomes = run(&db, &dictionary).await;
    assert_eq!(
        value_of(&outcomes, "uuid"),
        &json!("11111111-2222-4333-8444-555555555555")
    );
    assert_eq!(
        value_of(&outcomes, "recorded_at"),
        &json!("2026-11-25T12:00:00.000Z")
    );
    assert_eq!(
        value_of(&outcomes, "settings.collected_data_categories"),
        &json!(["standard", "operational"])
    );
    assert_eq!(value_of(&outcomes, "license_md5"), &Value::Null);
    assert_eq!(value_of(&outcomes, "database.pg_system_id"), &Value::Null);
}

async fn a_broken_metric_gets_its_sentinel_and_the_rest_of_its_scan_is_intact(db: Db) {
    fixture(&db).await;
    // `severity` is not a column of `issues`; the start-up catalog check would refuse this
    // dictionary, so this is what a schema change under a running instance looks like.
    let dictionary = dictionary(&[
        (
            "ok",
            "key_path: counts.issues\nvalue_type: number\ntime_frame: all\ninstrumentation_class: CountMetric\noptions:\n  table: issues\n",
        ),
        (
            "bad",
            "key_path: counts.severe_issues\nvalue_type: number\ntime_frame: all\ninstrumentation_class: CountMetric\noptions:\n  table: issues\n  filter:\n    severity: high\n",
        ),
        (
            "bad_estimate",
            "key_path: counts.estimated_severities\nvalue_type: number\ntime_frame: all\ninstrumentation_class: EstimateDistinctMetric\noptions:\n  table: issues\n  column: severity\n",
        ),
        (
            "weekly",
            "key_path: counts_weekly.issues\nvalue_type: number\ntime_frame: 7d\ninstrumentation_class: CountMetric\noptions:\n  table: issues\n",
        ),
    ]);
    let outcomes = run(&db, &dictionary).await;
    assert_eq!(value_of(&outcomes, "counts.severe_issues"), &json!(-1));
    assert_eq!(
        value_of(&outcomes, "counts.estimated_severities"),
        &json!(-2)
    );
    assert_eq!(value_of(&outcomes, "counts.issues"), &json!(6));
    assert_eq!(value_of(&outcomes, "counts_weekly.issues"), &json!(2));
    let broken = outcomes
        .iter()
        .find(|o| o.key_path == "counts.severe_issues")
        .unwrap();
    assert!(
        broken.error.as_deref().unwrap().contains("severity"),
        "{broken:?}"
    );
    assert_eq!(outcomes.iter().filter(|o| o.error.is_some()).count(), 2);
}

async fn the_repository_dictionary_matches_the_database_schema(db: Db) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../metrics");
    service_ping_engine::catalog::load_checked(&dir, &db, PLATFORM_TABLES)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
}

async fn a_dictionary_naming_a_missing_column_is_refused_with_file_and_field(db: Db) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("typo.yml"),
        "key_path: counts.issues\ndescription: d\nproduct_group: g\nvalue_type: number\nstatus: active\n\
         time_frame: all\ndata_source: database\ndata_category: operational\ninstrumentation_class: CountMetric\n\
         options:\n  table: issues\n  filter:\n    stat: opened\ntier: [free]\nmilestone: \"1.0\"\n",
    )
    .unwrap();
    let error = format!(
        "{:#}",
        service_ping_engine::catalog::load_checked(dir.path(), &db, PLATFORM_TABLES)
            .await
            .unwrap_err()
    );
    assert!(
        error
            .contains("typo.yml: field `options.filter.stat`: table `issues` has no column `stat`"),
        "{error}"
    );
}

async fn a_metric_may_not_read_the_products_own_tables(db: Db) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("tokens.yml"),
        "key_path: counts.tokens\ndescription: d\nproduct_group: g\nvalue_type: number\nstatus: active\n\
         time_frame: all\ndata_source: database\ndata_category: operational\ninstrumentation_class: CountMetric\n\
         options:\n  table: personal_access_tokens\ntier: [free]\nmilestone: \"1.0\"\n",
    )
    .unwrap();
    let error = format!(
        "{:#}",
        service_ping_engine::catalog::load_checked(dir.path(), &db, PLATFORM_TABLES)
            .await
            .unwrap_err()
    );
    assert!(
        error.contains(
            "tokens.yml: field `options.table`: the database has no table `personal_access_tokens` that metrics may read"
        ),
        "{error}"
    );
}
