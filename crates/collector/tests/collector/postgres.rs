//! The collector on PostgreSQL: many writers at once, and every way `database.url` can be wrong
//! refused at start with a clear error, nothing written.

use futures::StreamExt;
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use service_ping_collector::{Collector, CollectorConfig, CollectorSettings};
use service_ping_database::Backend;
use service_ping_database::testing::{fresh_database, keeps_secret, postgres_admin_url};

use crate::support::spawn_collector_on;

#[tokio::test]
async fn concurrent_senders_and_racing_resends_store_each_ping_exactly_once() {
    let collector = spawn_collector_on(Backend::Postgres, |settings| {
        settings.rate_limit_per_hour = 1_000_000;
        settings.rate_limit_per_address_per_hour = 1_000_000;
        settings.max_bytes_per_address_per_hour = 1 << 40;
    })
    .await;
    let client = reqwest::Client::new();
    let pings = 150;
    // Every ping twice, the copies in flight together, 64 requests at a time.
    let statuses: Vec<StatusCode> = futures::stream::iter((0..pings * 2).map(|i| {
        let body = super::payload(
            &format!("instance-{:04}", i / 2),
            "2026-11-25T10:00:00.000Z",
        );
        let request = client
            .post(collector.url("/usage_data"))
            .header("content-type", "application/json")
            .body(body);
        async move { request.send().await.unwrap().status() }
    }))
    .buffer_unordered(64)
    .collect()
    .await;
    let created = statuses
        .iter()
        .filter(|s| **s == StatusCode::CREATED)
        .count();
    let resent = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    assert_eq!((created, resent), (pings, pings), "{statuses:?}");
    assert_eq!(
        collector.ping_count().await,
        pings as i64,
        "0 lost, 0 duplicated"
    );
}

async fn build_with(url: SecretString) -> anyhow::Result<Collector> {
    let dir = tempfile::tempdir().unwrap();
    Collector::build(&CollectorConfig {
        data_dir: dir.path().to_owned(),
        database_url: Some(url),
        listen: "127.0.0.1:0".parse().unwrap(),
        max_connections: 2,
        settings: CollectorSettings::default(),
        backup: Default::default(),
        monitoring: Default::default(),
    })
    .await
}

fn admin_url() -> url::Url {
    let admin = postgres_admin_url().expect("the test PostgreSQL server");
    url::Url::parse(admin.expose_secret()).unwrap()
}

/// The error `url` makes at start, checked not to repeat its password.
async fn refusal(url: url::Url) -> String {
    let url = SecretString::from(url.to_string());
    let error = format!(
        "{:#}",
        build_with(url.clone()).await.err().expect("refused")
    );
    assert!(keeps_secret(&url, &error), "the password leaked: {error}");
    assert!(error.contains("database.url"), "names the setting: {error}");
    error
}

#[tokio::test]
async fn an_unreachable_server_wrong_credentials_or_a_missing_database_are_clear_errors() {
    let mut unreachable = admin_url();
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    unreachable
        .set_port(Some(free.local_addr().unwrap().port()))
        .unwrap();
    drop(free);
    let error = refusal(unreachable).await;
    assert!(error.contains("could not be reached"), "{error}");

    let mut wrong_password = admin_url();
    wrong_password
        .set_password(Some("not-the-password"))
        .unwrap();
    let error = refusal(wrong_password).await;
    assert!(
        error.contains("refused the user name or password"),
        "{error}"
    );

    let mut missing = admin_url();
    missing.set_path("no_such_database");
    let error = refusal(missing).await;
    assert!(error.contains("has no such database"), "{error}");
}

#[tokio::test]
async fn a_database_of_another_product_is_refused_and_left_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database(Backend::Postgres, dir.path(), "").await;
    let pool = sqlx::PgPool::connect(url.expose_secret()).await.unwrap();
    sqlx::query("CREATE TABLE projects (id bigint PRIMARY KEY, name text)")
        .execute(&pool)
        .await
        .unwrap();
    let error = format!("{:#}", build_with(url).await.err().expect("refused"));
    assert!(error.contains("another product"), "{error}");
    assert!(error.contains("projects"), "{error}");
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(tables, ["projects"], "nothing written");
}

#[tokio::test]
async fn the_instances_database_is_not_taken_for_the_collectors() {
    // A database where another set of migrations was applied (as the dashboard's would be).
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database(Backend::Postgres, dir.path(), "").await;
    let pool = sqlx::PgPool::connect(url.expose_secret()).await.unwrap();
    sqlx::raw_sql(
        "CREATE TABLE _sqlx_migrations (version BIGINT PRIMARY KEY, description TEXT NOT NULL, \
         installed_on TIMESTAMPTZ NOT NULL DEFAULT now(), success BOOLEAN NOT NULL, \
         checksum BYTEA NOT NULL, execution_time BIGINT NOT NULL); \
         INSERT INTO _sqlx_migrations VALUES (20261125000001, 'instance identity', now(), true, '\\x00', 1);",
    )
    .execute(&pool)
    .await
    .unwrap();
    let error = format!("{:#}", build_with(url).await.err().expect("refused"));
    assert!(error.contains("another role's"), "{error}");
    let tables: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(tables, 1, "no table of the collector's was created");
}
