//! For tests that run on both backends: a fresh, empty database for each test.

use std::path::Path;

use secrecy::{ExposeSecret, SecretString};

use crate::Backend;

/// The variable that names the test PostgreSQL server (`scripts/postgres-server.sh run` sets it).
pub const POSTGRES_URL_VARIABLE: &str = "SERVICE_PING_TEST_POSTGRES_URL";

/// A URL of a new, empty database of `backend`: an SQLite file `name` in `dir`, or a database
/// created on the test PostgreSQL server. A PostgreSQL test without the server fails and says how
/// to run it: it is not skipped.
pub async fn fresh_database(backend: Backend, dir: &Path, name: &str) -> SecretString {
    match backend {
        Backend::Sqlite => {
            SecretString::from(format!("sqlite://{}?mode=rwc", dir.join(name).display()))
        }
        Backend::Postgres => {
            let admin = std::env::var(POSTGRES_URL_VARIABLE).unwrap_or_else(|_| {
                panic!(
                    "{POSTGRES_URL_VARIABLE} is not set: run the tests under `scripts/postgres-server.sh run cargo test …` (make test does)"
                )
            });
            let database = format!("test_{}", uuid_like());
            let pool = sqlx::PgPool::connect(&admin)
                .await
                .expect("the test PostgreSQL server");
            sqlx::query(&format!("CREATE DATABASE {database}"))
                .execute(&pool)
                .await
                .expect("creating a test database");
            pool.close().await;
            let mut url = url::Url::parse(&admin).expect("a postgres:// URL");
            url.set_path(&database);
            SecretString::from(url.to_string())
        }
    }
}

/// A new database of `backend` (see [`fresh_database`]) with a role's migrations applied.
pub async fn migrated_database(
    backend: Backend,
    dir: &Path,
    name: &str,
    sqlite: &sqlx::migrate::Migrator,
    postgres: &sqlx::migrate::Migrator,
) -> crate::Db {
    let url = fresh_database(backend, dir, name).await;
    let db = crate::Db::connect(&url, 4)
        .await
        .expect("connecting to a fresh test database");
    db.migrate(sqlite, postgres)
        .await
        .expect("migrating a fresh test database");
    db
}

/// The admin URL, exposed for tests that need to connect as the superuser (to break things).
pub fn postgres_admin_url() -> Option<SecretString> {
    std::env::var(POSTGRES_URL_VARIABLE)
        .ok()
        .map(SecretString::from)
}

fn uuid_like() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{}_{}_{}",
        std::process::id(),
        nanos,
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )
}

/// Whether a URL's secret parts stay out of `text`.
pub fn keeps_secret(url: &SecretString, text: &str) -> bool {
    url::Url::parse(url.expose_secret())
        .ok()
        .and_then(|u| u.password().map(|p| !text.contains(p)))
        .unwrap_or(true)
}

/// The variable that picks the backend of the suites that run once per backend
/// (`postgres` or `sqlite`, the default): `make test` runs them under both.
pub const BACKEND_VARIABLE: &str = "SERVICE_PING_TEST_BACKEND";

/// The backend the current test run is for (see [`BACKEND_VARIABLE`]).
pub fn backend_under_test() -> Backend {
    match std::env::var(BACKEND_VARIABLE).as_deref() {
        Ok("postgres") => Backend::Postgres,
        Ok("sqlite") | Err(_) => Backend::Sqlite,
        Ok(other) => panic!("{BACKEND_VARIABLE}={other}: expected postgres or sqlite"),
    }
}

/// Every table of `db`'s current schema and its rows, each row one text (every column, in
/// order, as the database writes it: blobs in hex), sorted: two databases hold the same data when
/// these are equal. `_sqlx_migrations` is left out (it records when each migration ran).
pub async fn every_row(db: &crate::Db) -> std::collections::BTreeMap<String, Vec<String>> {
    let mut tables = std::collections::BTreeMap::new();
    for table in table_names(db).await {
        let rows: Vec<String> = match db {
            crate::Db::Sqlite(pool) => {
                let columns: Vec<String> = sqlx::query_scalar(
                    "SELECT 'quote(' || quote(name) || ')' FROM pragma_table_info(?) ORDER BY cid",
                )
                .bind(&table)
                .fetch_all(pool)
                .await
                .unwrap();
                let row = columns.join(" || ',' || ");
                sqlx::query_scalar(&format!("SELECT {row} FROM \"{table}\""))
                    .fetch_all(pool)
                    .await
                    .unwrap()
            }
            crate::Db::Postgres(pool) => {
                sqlx::query_scalar(&format!("SELECT t::text FROM \"{table}\" AS t"))
                    .fetch_all(pool)
                    .await
                    .unwrap()
            }
        };
        let mut rows = rows;
        rows.sort();
        tables.insert(table, rows);
    }
    tables
}

async fn table_names(db: &crate::Db) -> Vec<String> {
    db.table_names()
        .await
        .unwrap()
        .into_iter()
        .filter(|name| name != "_sqlx_migrations")
        .collect()
}
