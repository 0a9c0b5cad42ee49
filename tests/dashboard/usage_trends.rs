//! The daily usage-trends job on a fixed clock over fixture rows: exact daily counts, the year's
//! backfill, reruns that store nothing, and the monthly values the charts draw.

use chrono::{DateTime, NaiveDate, Utc};
use service_ping::db::{Db, execute, on_pool};
use service_ping::usage_trends::job::{BACKFILL_DAYS, run_once};
use service_ping::usage_trends::{Identifier, db as trends_db};

async fn exec(db: &Db, sql: &str) {
    execute!(&db, sqlx::query(sql)).unwrap();
}

/// Three users (one blocked, one bot), a group, two projects, pipelines and events on known days.
async fn fixture(db: &Db) {
    exec(db, "INSERT INTO users (id, username, name, email, state, user_type, created_at, updated_at) VALUES
        (1, 'a', 'A', 'a@x.test', 'active', 'human', '2026-01-10 09:00:00', '2026-01-10 09:00:00'),
        (2, 'b', 'B', 'b@x.test', 'blocked', 'human', '2026-03-05 09:00:00', '2026-03-05 09:00:00'),
        (3, 'bot', 'Bot', 'bot@x.test', 'active', 'bot', '2026-03-20 09:00:00', '2026-03-20 09:00:00')").await;
    exec(
        db,
        "INSERT INTO namespaces (id, name, path, type, visibility, created_at, updated_at) VALUES
        (1, 'G', 'g', 'Group', 'private', '2026-01-10 10:00:00', '2026-01-10 10:00:00'),
        (2, 'a', 'a', 'User', 'private', '2026-01-10 10:00:00', '2026-01-10 10:00:00')",
    )
    .await;
    exec(db, "INSERT INTO projects (id, namespace_id, creator_id, name, visibility, created_at, updated_at) VALUES
        (1, 1, 1, 'p1', 'private', '2026-01-15 10:00:00', '2026-01-15 10:00:00'),
        (2, 1, 1, 'p2', 'private', '2026-03-31 23:59:59', '2026-03-31 23:59:59')").await;
    exec(
        db,
        "INSERT INTO ci_pipelines (id, project_id, status, source, created_at, updated_at) VALUES
        (1, 1, 'success', 'push', '2026-02-01 10:00:00', '2026-02-01 10:00:00'),
        (2, 1, 'failed', 'push', '2026-02-01 11:00:00', '2026-02-01 11:00:00'),
        (3, 1, 'canceled', 'web', '2026-03-02 11:00:00', '2026-03-02 11:00:00'),
        (4, 1, 'skipped', 'push', '2026-03-03 11:00:00', '2026-03-03 11:00:00')",
    )
    .await;
    exec(
        db,
        "INSERT INTO events (id, author_id, action, created_at, updated_at) VALUES
        (1, 1, 'pushed', '2026-03-10 08:00:00', '2026-03-10 08:00:00'),
        (2, 1, 'pushed', '2026-03-10 09:00:00', '2026-03-10 09:00:00'),
        (3, 2, 'commented', '2026-03-12 09:00:00', '2026-03-12 09:00:00'),
        (4, 1, 'pushed', '2026-04-20 09:00:00', '2026-04-20 09:00:00')",
    )
    .await;
}

fn day(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

async fn value(db: &Db, identifier: Identifier, on: &str) -> Option<i64> {
    on_pool!(&db, |p| sqlx::query_scalar(
        "SELECT count FROM usage_trend_measurements WHERE identifier = $1 AND recorded_on = $2",
    )
    .bind(identifier.as_str())
    .bind(on)
    .fetch_optional(p)
    .await)
    .unwrap()
}

const NOW: &str = "2026-05-02T06:00:00Z";

#[tokio::test]
async fn the_first_run_backfills_a_year_with_exact_daily_counts_and_reruns_change_nothing() {
    let (db, _dir) = crate::support::database().await;
    fixture(&db).await;
    let now: DateTime<Utc> = NOW.parse().unwrap();
    let report = run_once(&db, now).await.unwrap();
    let (first, last) = report.days.unwrap();
    assert_eq!(
        last,
        day("2026-05-01"),
        "days are recorded once they are over"
    );
    assert_eq!(first, day("2026-05-02") - chrono::Days::new(BACKFILL_DAYS));
    let days = (last - first).num_days() as u64 + 1;
    assert_eq!(report.inserted, days * Identifier::ALL.len() as u64);

    assert_eq!(value(&db, Identifier::Users, "2026-03-04").await, Some(1));
    assert_eq!(value(&db, Identifier::Users, "2026-03-20").await, Some(3));
    assert_eq!(
        value(&db, Identifier::BillableUsers, "2026-04-01").await,
        Some(1)
    );
    assert_eq!(value(&db, Identifier::Groups, "2026-04-01").await, Some(1));
    assert_eq!(
        value(&db, Identifier::Projects, "2026-03-30").await,
        Some(1)
    );
    assert_eq!(
        value(&db, Identifier::Projects, "2026-03-31").await,
        Some(2),
        "the end of the day counts"
    );
    assert_eq!(
        value(&db, Identifier::Pipelines, "2026-03-03").await,
        Some(4)
    );
    assert_eq!(
        value(&db, Identifier::PipelinesSucceeded, "2026-03-03").await,
        Some(1)
    );
    assert_eq!(
        value(&db, Identifier::PipelinesCanceled, "2026-03-01").await,
        Some(0)
    );
    assert_eq!(
        value(&db, Identifier::DailyActiveUsers, "2026-03-10").await,
        Some(1)
    );
    assert_eq!(
        value(&db, Identifier::DailyActiveUsers, "2026-03-11").await,
        Some(0)
    );
    assert_eq!(
        value(&db, Identifier::WeeklyActiveUsers, "2026-03-16").await,
        Some(2)
    );
    assert_eq!(
        value(&db, Identifier::WeeklyActiveUsers, "2026-03-17").await,
        Some(1)
    );
    assert_eq!(
        value(&db, Identifier::MonthlyActiveUsers, "2026-04-06").await,
        Some(2)
    );
    assert_eq!(
        value(&db, Identifier::MonthlyActiveUsers, "2026-04-07").await,
        Some(1)
    );
    assert_eq!(
        value(&db, Identifier::Users, "2026-05-02").await,
        None,
        "today is not over"
    );

    let again = run_once(&db, now).await.unwrap();
    assert_eq!((again.days, again.inserted), (None, 0));
    // The next day records exactly one more day.
    let tomorrow = run_once(&db, now + chrono::Duration::days(1))
        .await
        .unwrap();
    assert_eq!(tomorrow.days, Some((day("2026-05-02"), day("2026-05-02"))));
    assert_eq!(tomorrow.inserted, Identifier::ALL.len() as u64);
}

#[tokio::test]
async fn a_gap_is_filled_and_nothing_recorded_is_rewritten() {
    let (db, _dir) = crate::support::database().await;
    fixture(&db).await;
    let now: DateTime<Utc> = NOW.parse().unwrap();
    run_once(&db, now).await.unwrap();
    exec(
        &db,
        "DELETE FROM usage_trend_measurements WHERE recorded_on = '2026-04-15'",
    )
    .await;
    exec(&db, "UPDATE usage_trend_measurements SET count = 99 WHERE identifier = 'users' AND recorded_on = '2026-04-16'").await;
    let report = run_once(&db, now).await.unwrap();
    assert_eq!(report.inserted, Identifier::ALL.len() as u64);
    assert_eq!(value(&db, Identifier::Users, "2026-04-15").await, Some(3));
    assert_eq!(
        value(&db, Identifier::Users, "2026-04-16").await,
        Some(99),
        "a recorded day is never rewritten"
    );
}

#[tokio::test]
async fn monthly_values_are_the_last_measurement_of_each_month() {
    let (db, _dir) = crate::support::database().await;
    fixture(&db).await;
    run_once(&db, NOW.parse().unwrap()).await.unwrap();
    let trends = trends_db::trends(&db, day("2026-05-02"), 6).await.unwrap();
    assert_eq!(
        trends.months,
        vec![
            "2025-12", "2026-01", "2026-02", "2026-03", "2026-04", "2026-05"
        ]
    );
    let series = |identifier: Identifier| {
        trends
            .series
            .iter()
            .find(|s| s.identifier == identifier)
            .unwrap()
            .points
            .clone()
    };
    let months = |points: &[(&str, i64)]| {
        points
            .iter()
            .map(|(m, c)| (m.to_string(), *c))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        series(Identifier::Projects),
        months(&[
            ("2025-12", 0),
            ("2026-01", 1),
            ("2026-02", 1),
            ("2026-03", 2),
            ("2026-04", 2),
            ("2026-05", 2)
        ])
    );
    assert_eq!(
        series(Identifier::Pipelines),
        months(&[
            ("2025-12", 0),
            ("2026-01", 0),
            ("2026-02", 2),
            ("2026-03", 4),
            ("2026-04", 4),
            ("2026-05", 4)
        ])
    );
    assert_eq!(
        series(Identifier::MonthlyActiveUsers),
        months(&[
            ("2025-12", 0),
            ("2026-01", 0),
            ("2026-02", 0),
            ("2026-03", 2),
            ("2026-04", 1),
            ("2026-05", 1)
        ])
    );
    let users = trends
        .totals
        .iter()
        .find(|(i, _, _)| *i == Identifier::Users)
        .unwrap();
    assert_eq!((users.1.as_str(), users.2), ("2026-05-01", 3));
}

#[tokio::test]
async fn the_trends_and_their_csv_are_for_administrators_and_check_the_range() {
    let app = crate::support::spawn_app().await;
    let csv = |path: &str| app.client.get(app.url(path)).send();
    assert_eq!(
        app.call("usage_trends", &[("months", "12")]).await.status(),
        401
    );
    let signed_out = csv("/admin/usage_trends/charts/0.csv?months=12")
        .await
        .unwrap();
    assert!(signed_out.status().is_redirection());
    app.sign_in_as_root().await;
    assert_eq!(
        app.call("usage_trends", &[("months", "7")]).await.status(),
        422
    );
    assert_eq!(
        csv("/admin/usage_trends/charts/9.csv?months=12")
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        csv("/admin/usage_trends/charts/0.csv?months=7")
            .await
            .unwrap()
            .status(),
        422
    );
    let ok = csv("/admin/usage_trends/charts/0.csv?months=3")
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let text = ok.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "month,projects,groups");
    assert_eq!(lines.len(), 4, "a header and one line per month");
    app.stop().await.unwrap();
}
