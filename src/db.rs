//! The instance's database: the shared pool options (`service_ping_database`) at the configured
//! URL, and the instance's embedded migrations (`migrations/`).

use anyhow::Context;

pub use service_ping_database::{Db, begin_write, retrying_busy};

use crate::config::Settings;

/// Opens (creating if needed) the database and applies the embedded migrations; a migration that
/// fails stops the process.
pub async fn connect_and_migrate(settings: &Settings) -> anyhow::Result<Db> {
    let db = connect(settings).await?;
    migrate(&db).await?;
    Ok(db)
}

pub async fn connect(settings: &Settings) -> anyhow::Result<Db> {
    service_ping_database::connect_url(&settings.database_url(), settings.database.max_connections)
        .await
}

pub async fn migrate(db: &Db) -> anyhow::Result<()> {
    sqlx::migrate!("./migrations")
        .run(db)
        .await
        .context("applying database migrations")
}
