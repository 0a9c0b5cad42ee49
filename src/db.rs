//! The instance's database: the shared pool options (`service_ping_database`) at the configured
//! URL, and the instance's embedded migrations (`migrations/`).

use anyhow::Context;

pub use service_ping_database::{SqliteDb as Db, begin_write, retrying_busy};

use crate::config::Settings;

/// Opens (creating if needed) the database and applies the embedded migrations; a migration that
/// fails stops the process.
pub async fn connect_and_migrate(settings: &Settings) -> anyhow::Result<Db> {
    let db = connect(settings).await?;
    migrate(&db).await?;
    Ok(db)
}

/// The dashboard role's queries are written for SQLite so far: a `postgres://` URL is refused
/// here, at start, before anything is written (the collector role runs on either).
pub async fn connect(settings: &Settings) -> anyhow::Result<Db> {
    let url = settings.database_url();
    anyhow::ensure!(
        service_ping_database::Backend::of_url(&url)? == service_ping_database::Backend::Sqlite,
        "database.url names a PostgreSQL server: in this version only the collector role (`service-ping collector`) runs on PostgreSQL; \
         the dashboard and its commands run on SQLite (leave database.url unset, or give an sqlite: URL)"
    );
    service_ping_database::connect_url(&url, settings.database.max_connections).await
}

pub async fn migrate(db: &Db) -> anyhow::Result<()> {
    sqlx::migrate!("./migrations")
        .run(db)
        .await
        .context("applying database migrations")
}
