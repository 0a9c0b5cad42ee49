//! The instance's database: SQLite (the embedded default) or PostgreSQL (`database.url =
//! "postgres://…"`, a real installation's), at the configured URL, with the instance's embedded
//! migrations (`migrations/sqlite/`, `migrations/postgres/`, the same versions on both).

use service_ping_database::backup::Role;
pub use service_ping_database::{Conn, Db, execute, execute_in, on_conn, on_pool, retrying_busy};
use sqlx::migrate::Migrator;

use crate::config::Settings;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

/// What the instance's backups are of.
pub static ROLE: Role = Role {
    name: "instance",
    sqlite: &SQLITE_MIGRATIONS,
    postgres: &POSTGRES_MIGRATIONS,
};

/// Opens (creating an SQLite file if needed) the database and applies the embedded migrations;
/// a migration that fails stops the process.
pub async fn connect_and_migrate(settings: &Settings) -> anyhow::Result<Db> {
    let db = connect(settings).await?;
    migrate(&db).await?;
    Ok(db)
}

/// Connects, or says clearly which setting is wrong, having written nothing.
pub async fn connect(settings: &Settings) -> anyhow::Result<Db> {
    Db::connect(&settings.database_url(), settings.database.max_connections).await
}

pub async fn migrate(db: &Db) -> anyhow::Result<()> {
    db.migrate(&SQLITE_MIGRATIONS, &POSTGRES_MIGRATIONS).await
}

/// A moment as the instance's tables store it: text (RFC 3339, UTC) on both backends, in the
/// form SQLite's driver always wrote, so rows written before PostgreSQL was supported compare
/// and sort with new ones.
pub fn stamp(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false)
}

/// A stored moment (see [`stamp`]) read back.
pub fn parse_stamp(text: &str) -> Result<chrono::DateTime<chrono::Utc>, sqlx::Error> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|at| at.to_utc())
        .map_err(|error| sqlx::Error::Decode(Box::new(error)))
}

/// A fresh, migrated database of the backend under test (`SERVICE_PING_TEST_BACKEND`), with the
/// directory that holds it when it is SQLite.
#[cfg(test)]
pub(crate) async fn test_database() -> (Db, tempfile::TempDir) {
    use service_ping_database::testing;
    let dir = tempfile::tempdir().unwrap();
    let db = testing::migrated_database(
        testing::backend_under_test(),
        dir.path(),
        "test.sqlite3",
        &SQLITE_MIGRATIONS,
        &POSTGRES_MIGRATIONS,
    )
    .await;
    (db, dir)
}
