//! The identity of this installation: its random `uuid` (created on first start and kept
//! forever), the product version and database. Read once at start-up and shared.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::db::Db;

/// Product version as the payload's `version` reports it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DatabaseInfo {
    pub adapter: String,
    pub version: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct InstanceIdentity {
    pub uuid: Uuid,
    pub created_at: DateTime<Utc>,
    pub version: &'static str,
    pub database: DatabaseInfo,
}

/// Loads the identity, creating the uuid on the very first start. Safe against two processes
/// starting at once: the insert is a no-op when a row exists, and both then read the same row.
#[tracing::instrument(skip_all, err)]
pub async fn load_or_create(db: &Db, now: DateTime<Utc>) -> Result<InstanceIdentity, sqlx::Error> {
    sqlx::query("INSERT INTO instance_identity (id, uuid, created_at) VALUES (1, $1, $2) ON CONFLICT (id) DO NOTHING")
        .bind(Uuid::new_v4().to_string())
        .bind(now)
        .execute(db)
        .await?;
    let (uuid, created_at): (String, DateTime<Utc>) =
        sqlx::query_as("SELECT uuid, created_at FROM instance_identity WHERE id = 1")
            .fetch_one(db)
            .await?;
    let uuid = Uuid::parse_str(&uuid).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    let (adapter, version) = service_ping_database::adapter_and_version(db).await?;
    Ok(InstanceIdentity {
        uuid,
        created_at,
        version: VERSION,
        database: DatabaseInfo { adapter, version },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[sqlx::test]
    async fn the_uuid_is_created_once_and_kept(db: Db) {
        let first = load_or_create(&db, Utc::now()).await.unwrap();
        let second = load_or_create(&db, Utc::now()).await.unwrap();
        assert_eq!(first.uuid, second.uuid);
        assert_eq!(first.created_at, second.created_at);
        assert_eq!(first.database.adapter, "sqlite");
        assert!(first.database.version.starts_with('3'));
    }
}
