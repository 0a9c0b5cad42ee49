//! The databases both roles run on: SQLite (embedded, in the data directory: the default) and
//! PostgreSQL (`database.url = "postgres://…"`: a real installation's database, and a collector
//! with many concurrent writers).
//!
//! A query is written once, in SQL both backends accept (`$1` parameters, `ON CONFLICT`,
//! `RETURNING`, timestamps as ISO-8601 UTC text that orders as it reads), and run on either by
//! [`on_pool!`] or [`on_conn!`], which compile the same expression once per backend: each
//! backend's own driver, types and rows, no lowest-common-denominator layer in between (sqlx's
//! `Any` driver cannot read SQLite `BOOLEAN` columns, nor PostgreSQL `numeric`). Where the
//! backends should work differently (the write lock, percentiles, concurrent writers), the code
//! matches on [`Db`] and says why.
//!
//! Each role applies its own migrations, one directory per backend, on start.
#![forbid(unsafe_code)]

use std::path::Path;

use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};
use sqlx::migrate::Migrator;

pub mod backup;
mod postgres;
pub mod sqlite;
#[cfg(feature = "testing")]
pub mod testing;

pub use sqlite::{begin_write, retrying_busy};

/// The product's version, as every crate of the workspace has it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The git commit this binary was built from (`build.rs`), or `unknown` outside a checkout.
pub const COMMIT: &str = env!("SERVICE_PING_COMMIT");

/// Which database a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The backend of `url` (`sqlite:` or `postgres:`/`postgresql:`), or a clear refusal that
    /// does not repeat the URL (it may hold a password).
    pub fn of_url(url: &SecretString) -> anyhow::Result<Self> {
        let url = url.expose_secret();
        let scheme = url.split_once(':').map_or("", |(scheme, _)| scheme);
        match scheme {
            "sqlite" => Ok(Backend::Sqlite),
            "postgres" | "postgresql" => Ok(Backend::Postgres),
            _ => anyhow::bail!(
                "database.url must start with sqlite: or postgres:// (the value is not shown: it may hold a password)"
            ),
        }
    }

    /// `sqlite` or `postgresql`: the payload's `database.adapter`, and a backup's backend.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgresql",
        }
    }
}

/// A pool on either backend. Cloning shares the pool.
#[derive(Debug, Clone)]
pub enum Db {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

/// One connection of either backend, borrowed (from a transaction, most often).
pub enum Conn<'a> {
    Sqlite(&'a mut sqlx::SqliteConnection),
    Postgres(&'a mut sqlx::PgConnection),
}

impl Conn<'_> {
    pub fn backend(&self) -> Backend {
        match self {
            Conn::Sqlite(_) => Backend::Sqlite,
            Conn::Postgres(_) => Backend::Postgres,
        }
    }

    /// The same connection, borrowed again for one statement.
    pub fn reborrow(&mut self) -> Conn<'_> {
        match self {
            Conn::Sqlite(c) => Conn::Sqlite(c),
            Conn::Postgres(c) => Conn::Postgres(c),
        }
    }
}

impl<'a> From<&'a mut sqlx::SqliteConnection> for Conn<'a> {
    fn from(conn: &'a mut sqlx::SqliteConnection) -> Self {
        Conn::Sqlite(conn)
    }
}

impl<'a> From<&'a mut sqlx::PgConnection> for Conn<'a> {
    fn from(conn: &'a mut sqlx::PgConnection) -> Self {
        Conn::Postgres(conn)
    }
}

/// A transaction on either backend; dropped without [`Transaction::commit`], it rolls back.
pub enum Transaction {
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

impl Transaction {
    pub fn conn(&mut self) -> Conn<'_> {
        match self {
            Transaction::Sqlite(tx) => Conn::Sqlite(tx),
            Transaction::Postgres(tx) => Conn::Postgres(tx),
        }
    }

    /// Makes this transaction the only one deciding about each of `keys` until it ends, for a
    /// transaction that reads and then writes on what it read (count, then insert). SQLite's
    /// write transactions already are the only writer; on PostgreSQL each key takes a
    /// transaction-scoped advisory lock, in sorted order so that two transactions never wait on
    /// each other.
    pub async fn serialize_on(&mut self, mut keys: Vec<String>) -> sqlx::Result<()> {
        let Transaction::Postgres(tx) = self else {
            return Ok(());
        };
        keys.sort_unstable();
        keys.dedup();
        for key in keys {
            sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
                .bind(key)
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }

    pub async fn commit(self) -> sqlx::Result<()> {
        match self {
            Transaction::Sqlite(tx) => tx.commit().await,
            Transaction::Postgres(tx) => tx.commit().await,
        }
    }
}

/// Runs `$body` with `$pool` bound to the backend's own pool (`&SqlitePool` or `&PgPool`):
/// the expression is compiled once per backend. Written like a closure, `on_pool!(db, |pool|
/// …)`, so that rustfmt lays it out; it is not one (`.await` works inside).
#[macro_export]
macro_rules! on_pool {
    ($db:expr, |$pool:ident| $body:expr) => {
        match $db {
            $crate::Db::Sqlite($pool) => $body,
            $crate::Db::Postgres($pool) => $body,
        }
    };
}

/// Runs `$body` with `$c` bound to the backend's own connection (`&mut SqliteConnection` or
/// `&mut PgConnection`) of a [`Conn`] (or of a `&mut Conn`, borrowed again: the caller keeps
/// it): `on_conn!(tx.conn(), |c| …)`.
#[macro_export]
macro_rules! on_conn {
    ($conn:expr, |$c:ident| $body:expr) => {
        match ($conn).reborrow() {
            $crate::Conn::Sqlite($c) => $body,
            $crate::Conn::Postgres($c) => $body,
        }
    };
}

/// Executes a query on a [`Db`] and gives the number of rows it affected:
/// `execute!(db, sqlx::query("…").bind(x))?`. The query expression is compiled once per
/// backend, as with [`on_pool!`], and each backend's own result is reduced to the count both
/// have.
#[macro_export]
macro_rules! execute {
    ($db:expr, $query:expr) => {
        match $db {
            $crate::Db::Sqlite(c) => $query.execute(c).await.map(|done| done.rows_affected()),
            $crate::Db::Postgres(c) => $query.execute(c).await.map(|done| done.rows_affected()),
        }
    };
}

/// [`execute!`] on a [`Conn`] (or a `&mut Conn`, borrowed again): `execute_in!(tx.conn(), …)`.
#[macro_export]
macro_rules! execute_in {
    ($conn:expr, $query:expr) => {
        match ($conn).reborrow() {
            $crate::Conn::Sqlite(c) => $query.execute(c).await.map(|done| done.rows_affected()),
            $crate::Conn::Postgres(c) => $query.execute(c).await.map(|done| done.rows_affected()),
        }
    };
}

/// `($1, $2), ($3, $4)…` placeholders for `rows` rows of `columns` values from `$first` on.
pub fn placeholders(rows: usize, columns: usize, first: usize) -> String {
    (0..rows)
        .map(|row| {
            let values: Vec<String> = (0..columns)
                .map(|column| format!("${}", first + row * columns + column))
                .collect();
            format!("({})", values.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

impl Db {
    /// Connects to the database `url` names with `max_connections` at most, or says clearly
    /// which setting is wrong (an unreachable server, refused credentials, a missing database, a
    /// server too old), without writing anything.
    pub async fn connect(url: &SecretString, max_connections: u32) -> anyhow::Result<Self> {
        match Backend::of_url(url)? {
            Backend::Sqlite => sqlite::connect_url(url, max_connections)
                .await
                .map(Db::Sqlite),
            Backend::Postgres => postgres::connect(url, max_connections)
                .await
                .map(Db::Postgres),
        }
    }

    pub fn backend(&self) -> Backend {
        match self {
            Db::Sqlite(_) => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    /// Applies the role's migrations for this backend, after checking that the database is
    /// empty or already this role's: a database holding another product's tables is refused
    /// with nothing written.
    pub async fn migrate(&self, sqlite: &Migrator, postgres: &Migrator) -> anyhow::Result<()> {
        self.refuse_foreign_database().await?;
        let (migrator, applied) = match self {
            Db::Sqlite(pool) => (sqlite, sqlite.run(pool).await),
            Db::Postgres(pool) => (postgres, postgres.run(pool).await),
        };
        match applied {
            Ok(()) => Ok(()),
            // Each migration runs in a transaction of its own: the failed one left nothing.
            Err(sqlx::migrate::MigrateError::ExecuteMigration(error, version)) => {
                let description = migrator
                    .iter()
                    .find(|m| m.version == version)
                    .map_or(String::new(), |m| format!(" ({})", m.description));
                Err(anyhow::anyhow!(
                    "migration {version}{description} failed and was rolled back, leaving the database as the migrations before it left it: {error}"
                ))
            }
            Err(error) => Err(anyhow::Error::new(error).context(
                "applying the database migrations (if a migration \"was previously applied but is missing\", \
                 database.url names another role's or another product's database)",
            )),
        }
    }

    /// The tables of the database's current schema.
    pub(crate) async fn table_names(&self) -> Result<Vec<String>, sqlx::Error> {
        on_pool!(self, |pool| sqlx::query_scalar(match self.backend() {
            Backend::Sqlite =>
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
            Backend::Postgres =>
                "SELECT table_name::text FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
        })
        .fetch_all(pool)
        .await)
    }

    async fn refuse_foreign_database(&self) -> anyhow::Result<()> {
        let tables = self
            .table_names()
            .await
            .context("reading the database's list of tables")?;
        let ours = tables.iter().any(|t| t == "_sqlx_migrations");
        anyhow::ensure!(
            ours || tables.is_empty(),
            "database.url names a database that already holds {} tables of another product (for example {}) and none of Service Ping's migrations; \
             give Service Ping a database of its own",
            tables.len(),
            tables[0]
        );
        Ok(())
    }

    /// A transaction for writing. On SQLite it takes the write lock at once (`BEGIN IMMEDIATE`):
    /// a deferred one that read first could not wait for another writer and would fail at its
    /// first write. PostgreSQL's row locks need nothing of the kind.
    pub async fn begin_write(&self) -> sqlx::Result<Transaction> {
        match self {
            Db::Sqlite(pool) => sqlite::begin_write(pool).await.map(Transaction::Sqlite),
            Db::Postgres(pool) => pool.begin().await.map(Transaction::Postgres),
        }
    }

    /// What the payload's `database` section reports of this server.
    pub async fn facts(&self) -> sqlx::Result<DatabaseFacts> {
        match self {
            Db::Sqlite(pool) => {
                let (adapter, version) = sqlite::adapter_and_version(pool).await?;
                Ok(DatabaseFacts {
                    adapter,
                    version,
                    flavor: None,
                    system_id: None,
                })
            }
            Db::Postgres(pool) => postgres::facts(pool).await,
        }
    }

    /// Cheap round trip used by the health checks.
    pub async fn ping(&self) -> sqlx::Result<()> {
        on_pool!(self, |pool| sqlx::query("SELECT 1")
            .execute(pool)
            .await
            .map(|_| ()))
    }

    pub async fn close(&self) {
        on_pool!(self, |pool| pool.close().await)
    }
}

/// The database facts GitLab's payload reports (`database.adapter`, `.version`, `.flavor`,
/// `.pg_system_id`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseFacts {
    /// `sqlite` or `postgresql`.
    pub adapter: String,
    /// The server's version (`15.10`), without the packager's suffix.
    pub version: String,
    /// The managed service a PostgreSQL server is (`Amazon Aurora PostgreSQL`, …); `None` for a
    /// plain server and for SQLite.
    pub flavor: Option<String>,
    /// PostgreSQL's system identifier (`pg_control_system()`): 64 bits, kept exact end to end.
    pub system_id: Option<i64>,
}

/// Whether `error` says the database is momentarily busy rather than that the write is wrong.
pub(crate) fn is_busy(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            // SQLITE_BUSY (5) and SQLITE_LOCKED (6), with their extended codes; PostgreSQL's
            // serialization failure and deadlock.
            code.parse::<i32>()
                .is_ok_and(|code| matches!(code & 0xff, 5 | 6))
                || matches!(code.as_ref(), "40001" | "40P01")
        }),
        _ => false,
    }
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

#[cfg(test)]
mod tests {
    use super::placeholders;

    #[test]
    fn placeholders_number_their_parameters_row_by_row_from_the_first() {
        assert_eq!(placeholders(2, 3, 1), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(placeholders(2, 1, 7), "($7), ($8)");
    }
}
