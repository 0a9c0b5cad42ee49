//! SQLite: the embedded backend (`make run`, a single machine): WAL, a busy timeout, foreign
//! keys, and write transactions that take the lock at once.

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};
use sqlx::ConnectOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

/// A transaction holding SQLite's write lock from its start (`BEGIN IMMEDIATE`), for every
/// transaction that writes. A deferred one that reads first cannot wait for another writer: if
/// anyone wrote since its read began, SQLite refuses its first write at once ("database is
/// locked"), and background jobs (the rollup refresh, the weekly send) write at any moment.
pub async fn begin_write(
    db: &sqlx::SqlitePool,
) -> sqlx::Result<sqlx::Transaction<'static, sqlx::Sqlite>> {
    db.begin_with("BEGIN IMMEDIATE").await
}

/// Runs a write again, up to four more times with a growing pause (0.1 s to 0.8 s), while the
/// database answers that it is busy or the pool has no connection to give: for bookkeeping that
/// must not be lost to a moment of contention (recording that a ping was accepted). Any other
/// error is returned at once.
pub async fn retrying_busy<T, F, Fut>(mut write: F) -> Result<T, sqlx::Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, sqlx::Error>>,
{
    let mut pause = Duration::from_millis(100);
    for _ in 0..4 {
        match write().await {
            Err(error) if crate::is_busy(&error) => {
                tracing::warn!(%error, "the database is busy; writing again shortly");
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
            done => return done,
        }
    }
    write().await
}

/// Opens the SQLite database at `url` with the settings every pool of ours uses.
pub(crate) async fn connect_url(
    url: &SecretString,
    max_connections: u32,
) -> anyhow::Result<sqlx::SqlitePool> {
    SqlitePoolOptions::new()
        .max_connections(max_connections)
        // sqlx pings a connection before lending it: for a file in this process, a round trip
        // to the connection's thread that can find nothing wrong, and half of a page's thread
        // handoffs under load (`bench/delivery.sh`).
        .test_before_acquire(false)
        .connect_with(options(url)?)
        .await
        .context("opening the database")
}

/// The database file an SQLite URL names.
pub(crate) fn file_of(url: &SecretString) -> anyhow::Result<std::path::PathBuf> {
    Ok(options(url)?.get_filename().to_path_buf())
}

/// The connection settings of every SQLite pool of ours.
pub(crate) fn options(url: &SecretString) -> anyhow::Result<SqliteConnectOptions> {
    Ok(SqliteConnectOptions::from_str(url.expose_secret())
        .context("database.url is not a valid sqlite: URL")?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(10))
        // Seeding and payload scans are long by design; sqlx would log each one's full SQL
        // as a warning. Slow statements are still there at debug level.
        .log_slow_statements(log::LevelFilter::Debug, Duration::from_secs(1)))
}

/// Adapter name and server version, as the payload's `database` section reports them.
pub(crate) async fn adapter_and_version(
    db: &sqlx::SqlitePool,
) -> Result<(String, String), sqlx::Error> {
    let version: String = sqlx::query_scalar("SELECT sqlite_version()")
        .fetch_one(db)
        .await?;
    Ok(("sqlite".to_string(), version))
}
