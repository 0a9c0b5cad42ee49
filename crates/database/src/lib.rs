//! The database pool both roles use. SQLite by default, in the data directory; every query
//! function of every crate takes this pool (or a transaction) explicitly. Each role applies its
//! own migrations (`migrate!` reads them from the crate that owns them).
#![forbid(unsafe_code)]

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};
use sqlx::ConnectOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

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
            Err(error) if is_busy(&error) => {
                tracing::warn!(%error, "the database is busy; writing again shortly");
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
            done => return done,
        }
    }
    write().await
}

/// Whether `error` says the database is momentarily busy rather than that the write is wrong.
fn is_busy(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) => true,
        // SQLITE_BUSY (5) and SQLITE_LOCKED (6), with their extended codes.
        sqlx::Error::Database(db) => db
            .code()
            .and_then(|code| code.parse::<i32>().ok())
            .is_some_and(|code| matches!(code & 0xff, 5 | 6)),
        _ => false,
    }
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

/// Adapter name and server version, as the payload's `database` section reports them.
pub async fn adapter_and_version(db: &Db) -> Result<(String, String), sqlx::Error> {
    let version: String = sqlx::query_scalar("SELECT sqlite_version()")
        .fetch_one(db)
        .await?;
    Ok(("sqlite".to_string(), version))
}

/// Cheap round trip used by the health checks.
pub async fn ping(db: &Db) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT 1").execute(db).await.map(|_| ())
}

/// Creates the data directory (databases, generated secrets) readable by its owner only, and
/// narrows an existing one that others could read or enter to 0700, with a warning.
pub fn prepare_data_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating the data directory {}", dir.display()))?;
    let mode = std::fs::metadata(dir)
        .with_context(|| format!("reading the data directory {}", dir.display()))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        tracing::warn!(
            dir = %dir.display(),
            mode = format!("{:o}", mode & 0o777),
            "the data directory was open to other users; its mode is now 0700"
        );
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("making the data directory {} private", dir.display()))?;
    }
    Ok(())
}
