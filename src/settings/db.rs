//! SQL for `application_settings`.

use super::Toggle;
use crate::server::config::Locks;
use crate::server::db::Db;

/// Whether Service Ping is on, as the rest of the product must treat it.
#[tracing::instrument(skip_all, err)]
pub async fn service_ping(db: &Db, locks: &Locks) -> Result<Toggle, sqlx::Error> {
    let stored: bool =
        sqlx::query_scalar("SELECT service_ping_enabled FROM application_settings WHERE id = 1")
            .fetch_one(db)
            .await?;
    Ok(Toggle::resolve(stored, locks.service_ping_enabled.as_ref()))
}

/// Whether metrics of the `optional` category go into payloads.
#[tracing::instrument(skip_all, err)]
pub async fn include_optional_data(db: &Db, locks: &Locks) -> Result<Toggle, sqlx::Error> {
    let stored: bool =
        sqlx::query_scalar("SELECT include_optional_data FROM application_settings WHERE id = 1")
            .fetch_one(db)
            .await?;
    Ok(Toggle::resolve(
        stored,
        locks.include_optional_data.as_ref(),
    ))
}
