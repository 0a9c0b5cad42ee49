//! The database pool. SQLite by default, in the data directory; every query function in the
//! crate takes this pool (or a transaction) explicitly.

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};
use sqlx::ConnectOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use super::config::Settings;

/// The pool every data-access function takes. An alias, so that moving to another backend
/// changes this line and the SQL, not the callers.
pub type Db = sqlx::SqlitePool;

/// A transaction holding SQLite's write lock from its start (`BEGIN IMMEDIATE`), for every
/// transaction that writes. A deferred one that reads first cannot wait for another writer: if
/// anyone wrote since its read began, SQLite refuses its first write at once ("database is
/// locked"), and background jobs (the rollup refresh, the weekly send) write at any moment.
pub async fn begin_write(db: &Db) -> sqlx::Result<sqlx::Transaction<'static, sqlx::Sqlite>> {
    db.begin_with("BEGIN IMMEDIATE").await
}

/// Opens (creating if needed) the database and applies the embedded migrations; a migration that
/// fails stops the process.
pub async fn connect_and_migrate(settings: &Settings) -> anyhow::Result<Db> {
    let db = connect(settings).await?;
    migrate(&db).await?;
    Ok(db)
}

pub async fn connect(settings: &Settings) -> anyhow::Result<Db> {
    connect_url(&settings.database_url(), settings.database.max_connections).await
}

/// Opens the SQLite database at `url` with the settings every pool of ours uses.
pub async fn connect_url(url: &SecretString, max_connections: u32) -> anyhow::Result<Db> {
    let options = SqliteConnectOptions::from_str(url.expose_secret())
        .context("invalid database.url")?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(10))
        // Seeding and payload scans are long by design; sqlx would log each one's full SQL
        // as a warning. Slow statements are still there at debug level.
        .log_slow_statements(log::LevelFilter::Debug, Duration::from_secs(1));
    SqlitePoolOptions::new()
        .max_connections(max_connections)
        .connect_with(options)
        .await
        .context("opening the database")
}

pub async fn migrate(db: &Db) -> anyhow::Result<()> {
    sqlx::migrate!("./migrations")
        .run(db)
        .await
        .context("applying database migrations")
}

/// The collector role's migrations, kept apart: its database is a different one.
pub async fn migrate_collector(db: &Db) -> anyhow::Result<()> {
    sqlx::migrate!("./migrations/collector")
        .run(db)
        .await
        .context("applying the collector's database migrations")
}

/// Adapter name and server version, as the payload's `database` section reports them.
pub async fn adapter_and_version(db: &Db) -> Result<(String, String), sqlx::Error> {
    let version: String = sqlx::query_scalar("SELECT sqlite_version()")
        .fetch_one(db)
        .await?;
    Ok(("sqlite".to_string(), version))
}

/// Cheap round trip used by the health check.
pub async fn ping(db: &Db) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT 1").execute(db).await.map(|_| ())
}
