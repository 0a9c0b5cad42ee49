//! Upgrades: a database written by each tagged release (`tests/fixtures/upgrade/vX.Y.Z/`, a
//! backup per backend and the rows it held) opens with today's binary, migrates, and keeps its
//! payload history (every stored byte, by sha256), audit log, tokens and licenses. A migration
//! that fails is rolled back and named.
//!
//! At each release tag, `make upgrade-fixture` runs the ignored `write_upgrade_fixture` on both
//! backends with that release's code; the fixture is committed and stays for good.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use service_ping::db::{Db, ROLE, on_pool};
use service_ping::service_ping::db as raw_usage_data;
use service_ping::service_ping::submit_now;
use service_ping_database::Backend;
use service_ping_database::backup::{self, Target};
use service_ping_database::testing::backend_under_test;
use service_ping_protocol::hash::sha256_hex;

use crate::backup::{Fresh, stored_payloads};

/// What a release's fixture must still hold after the upgrade: for each table, the columns
/// that release had and every row's values as text; and each stored payload's sha256.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Expected {
    version: String,
    tables: BTreeMap<String, Table>,
    payloads: Vec<(i64, String)>,
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Table {
    columns: Vec<String>,
    rows: Vec<Vec<Option<String>>>,
}

/// The tables an administrator keeps for years. (`raw_usage_data.payload` is compared by its
/// sha256 in `payloads`.)
const KEPT: &[&str] = &[
    "accounts",
    "audit_events",
    "licenses",
    "personal_access_tokens",
    "raw_usage_data",
    "service_ping_submissions",
];

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/upgrade")
}

/// The names of `table`'s columns, in order.
async fn columns_of(db: &Db, table: &str) -> Vec<String> {
    on_pool!(db, |pool| sqlx::query_scalar(match db.backend() {
        Backend::Sqlite => "SELECT name FROM pragma_table_info($1) ORDER BY cid",
        Backend::Postgres =>
            "SELECT column_name::text FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
    })
    .bind(table)
    .fetch_all(pool)
    .await)
    .unwrap()
}

/// `columns` of every row of `table` as text, in id order.
async fn rows_of(db: &Db, table: &str, columns: &[String]) -> Vec<Vec<Option<String>>> {
    let cast = |column: &String| match db.backend() {
        Backend::Sqlite => format!("CAST(\"{column}\" AS TEXT)"),
        Backend::Postgres => format!("\"{column}\"::text"),
    };
    let list: Vec<String> = columns.iter().map(cast).collect();
    let json = match db.backend() {
        Backend::Sqlite => format!("json_array({})", list.join(", ")),
        Backend::Postgres => format!("json_build_array({})::text", list.join(", ")),
    };
    let statement = format!("SELECT {json} FROM \"{table}\" ORDER BY 1");
    let rows: Vec<String> = on_pool!(db, |pool| sqlx::query_scalar(&statement)
        .fetch_all(pool)
        .await)
    .unwrap();
    rows.iter()
        .map(|row| serde_json::from_str(row).unwrap())
        .collect()
}

async fn expected_of(db: &Db) -> Expected {
    let mut tables = BTreeMap::new();
    for table in KEPT {
        let columns: Vec<String> = columns_of(db, table)
            .await
            .into_iter()
            .filter(|column| !(*table == "raw_usage_data" && column == "payload"))
            .collect();
        let rows = rows_of(db, table, &columns).await;
        tables.insert(table.to_string(), Table { columns, rows });
    }
    Expected {
        version: service_ping_database::VERSION.to_string(),
        tables,
        payloads: stored_payloads(db)
            .await
            .into_iter()
            .map(|(id, computed, _)| (id, computed))
            .collect(),
    }
}

/// Writes this release's fixture for the backend under test: an instance with a license, an
/// access token, two payloads sent to a collector and the audit log of it all.
#[tokio::test]
#[ignore = "writes this release's upgrade fixture; `make upgrade-fixture` runs it at a release tag"]
async fn write_upgrade_fixture() {
    let collector = crate::support::spawn_collector(|_| {}).await;
    let vendor = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let app = crate::support::spawn_app_with(|settings, _| {
        settings.licensing.public_key = Some(service_ping_protocol::license::encode_key(
            &vendor.verifying_key().to_bytes(),
        ));
    })
    .await;
    app.sign_in_as_root().await;
    let token = app
        .call(
            "create_access_token",
            &[
                ("name", "monitoring"),
                ("scopes[0]", "read_service_ping"),
                ("expires_in_days", "365"),
            ],
        )
        .await;
    assert!(
        token.status().is_success(),
        "{}",
        token.text().await.unwrap()
    );
    let license = crate::registration_features::license_from(&vendor, "2026-01-01", "2036-01-01");
    let uploaded = app.call("upload_license", &[("text", &license)]).await;
    assert!(
        uploaded.status().is_success(),
        "{}",
        uploaded.text().await.unwrap()
    );
    let db = app.db().await;
    let instance = crate::support::Instance::new(&db).await;
    let client = service_ping::service_ping::submit::CollectorClient::new(
        Some(collector.url("/").parse().unwrap()),
        std::time::Duration::from_secs(10),
    )
    .unwrap();
    for _ in 0..2 {
        submit_now(instance.deps(&db), &client, crate::support::CLI, &|_| {})
            .await
            .unwrap();
    }
    let expected = expected_of(&db).await;
    let dir = fixtures().join(format!("v{}", expected.version));
    std::fs::create_dir_all(&dir).unwrap();
    let backend = db.backend().name();
    let url = crate::support::settings(app.data_dir.path()).database_url();
    let target = Target {
        url: &url,
        data_dir: app.data_dir.path(),
    };
    let file = dir.join(format!("instance-{backend}.tar.zst"));
    let _ = std::fs::remove_file(&file);
    backup::backup(&db, &target, &ROLE, &file, false)
        .await
        .unwrap();
    let text = serde_json::to_string_pretty(&expected).unwrap();
    std::fs::write(dir.join(format!("expected-{backend}.json")), text + "\n").unwrap();
}

#[tokio::test]
async fn every_release_upgrades_keeping_its_history_bytes_audit_log_tokens_and_licenses() {
    let backend = backend_under_test().name();
    let mut upgraded = Vec::new();
    for release in std::fs::read_dir(fixtures()).unwrap() {
        let dir = release.unwrap().path();
        let file = dir.join(format!("instance-{backend}.tar.zst"));
        let text = std::fs::read_to_string(dir.join(format!("expected-{backend}.json"))).unwrap();
        let expected: Expected = serde_json::from_str(&text).unwrap();

        let fresh = Fresh::new().await;
        backup::restore(&file, &fresh.target(), &ROLE, false)
            .await
            .unwrap_or_else(|error| panic!("{}: {error:#}", dir.display()));
        let db = fresh.db().await;
        for (name, table) in &expected.tables {
            assert_eq!(
                &rows_of(&db, name, &table.columns).await,
                &table.rows,
                "{}: {name}",
                expected.version
            );
        }
        let payloads: Vec<(i64, String)> = stored_payloads(&db)
            .await
            .into_iter()
            .map(|(id, computed, recorded)| {
                assert_eq!(computed, recorded, "{}: payload {id}", expected.version);
                (id, computed)
            })
            .collect();
        assert_eq!(
            payloads, expected.payloads,
            "{}: stored bytes",
            expected.version
        );
        // Today's code reads the old history as its own.
        let history = raw_usage_data::list(&db, 100).await.unwrap();
        assert_eq!(history.len(), expected.payloads.len());
        for (id, sha256) in &expected.payloads {
            let bytes = raw_usage_data::payload_bytes(&db, *id)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(&sha256_hex(&bytes), sha256);
        }
        upgraded.push(expected.version);
    }
    assert!(
        !upgraded.is_empty(),
        "no fixture in {}",
        fixtures().display()
    );
}

/// A copy of the instance's migrations with one more at the end that creates a table and then
/// fails.
async fn migrations_with_a_broken_one(backend: Backend, dir: &Path) -> sqlx::migrate::Migrator {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!(
        "migrations/{}",
        match backend {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    ));
    for entry in std::fs::read_dir(source).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
    }
    std::fs::write(
        dir.join("29991231000000_broken_upgrade.sql"),
        "CREATE TABLE half_done (id INTEGER);\nINSERT INTO no_such_table VALUES (1);\n",
    )
    .unwrap();
    sqlx::migrate::Migrator::new(dir.to_owned()).await.unwrap()
}

#[tokio::test]
async fn a_failing_migration_is_named_and_leaves_the_database_as_it_was() {
    let (db, _dir) = crate::support::database().await;
    let before = service_ping_database::testing::every_row(&db).await;
    let migrations = tempfile::tempdir().unwrap();
    let broken = migrations_with_a_broken_one(db.backend(), migrations.path()).await;
    let error = db.migrate(&broken, &broken).await.unwrap_err();
    let message = format!("{error:#}");
    assert!(
        message.contains("migration 29991231000000 (broken upgrade) failed and was rolled back"),
        "{message}"
    );
    assert!(message.contains("no_such_table"), "says why: {message}");
    assert_eq!(
        service_ping_database::testing::every_row(&db).await,
        before,
        "no table added (half_done)"
    );
    let recorded: i64 = on_pool!(&db, |pool| sqlx::query_scalar(
        "SELECT COUNT(*) FROM _sqlx_migrations WHERE version = 29991231000000"
    )
    .fetch_one(pool)
    .await)
    .unwrap();
    assert_eq!(
        recorded, 0,
        "the failed migration is not recorded as applied"
    );
}
