//! The identity of this installation: its random `uuid` (created on first start and kept
//! forever), the product version and database. Read once at start-up and shared.

use crate::db::{Db, execute, on_pool};
use chrono::{DateTime, Utc};
use service_ping_database::DatabaseFacts;
use uuid::Uuid;

/// Product version as the payload's `version` reports it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

#[derive(Debug, Clone)]
pub struct InstanceIdentity {
    pub uuid: Uuid,
    pub created_at: DateTime<Utc>,
    pub version: &'static str,
    pub database: DatabaseFacts,
}

/// Loads the identity, creating the uuid on the very first start. Safe against two processes
/// starting at once: the insert is a no-op when a row exists, and both then read the same row.
#[tracing::instrument(skip_all, err)]
pub async fn load_or_create(db: &Db, now: DateTime<Utc>) -> Result<InstanceIdentity, sqlx::Error> {
    execute!(db, sqlx::query("INSERT INTO instance_identity (id, uuid, created_at) VALUES (1, $1, $2) ON CONFLICT (id) DO NOTHING")
        .bind(Uuid::new_v4().to_string())
        .bind(crate::db::stamp(now)))?;
    let (uuid, created_at): (String, String) = on_pool!(db, |p| sqlx::query_as(
        "SELECT uuid, created_at FROM instance_identity WHERE id = 1"
    )
    .fetch_one(p)
    .await)?;
    let uuid = Uuid::parse_str(&uuid).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    let created_at = crate::db::parse_stamp(&created_at)?;
    Ok(InstanceIdentity {
        uuid,
        created_at,
        version: VERSION,
        database: db.facts().await?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_uuid_is_created_once_and_kept() {
        let (db, _dir) = crate::db::test_database().await;
        let first = load_or_create(&db, Utc::now()).await.unwrap();
        let second = load_or_create(&db, Utc::now()).await.unwrap();
        assert_eq!(first.uuid, second.uuid);
        assert_eq!(first.created_at, second.created_at);
        match &db {
            Db::Sqlite(_) => {
                assert_eq!(first.database.adapter, "sqlite");
                assert!(first.database.version.starts_with('3'));
                assert_eq!(first.database.system_id, None);
            }
            Db::Postgres(pool) => {
                assert_eq!(first.database.adapter, "postgresql");
                assert!(
                    first.database.version.starts_with("1"),
                    "{:?}",
                    first.database
                );
                // Exact: compared as text, the way the server writes all 64 bits.
                let id: String =
                    sqlx::query_scalar("SELECT system_identifier::text FROM pg_control_system()")
                        .fetch_one(pool)
                        .await
                        .unwrap();
                assert_eq!(first.database.system_id.map(|id| id.to_string()), Some(id));
                assert_eq!(first.database.flavor, None);
            }
        }
    }
}
