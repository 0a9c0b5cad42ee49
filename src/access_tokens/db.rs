//! SQL for `personal_access_tokens`. Only a token's SHA-256 is stored.

use chrono::{DateTime, Utc};

use crate::db::Db;
use service_ping_protocol::time::format_timestamp;

/// A token as its owner's list shows it (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TokenRecord {
    pub id: i64,
    pub account_id: i64,
    pub name: String,
    pub scopes: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
}

const SELECT_TOKEN: &str = "SELECT id, account_id, name, scopes, created_at, expires_at, \
    last_used_at, revoked_at FROM personal_access_tokens";

pub async fn insert(
    db: &Db,
    account_id: i64,
    name: &str,
    digest: &str,
    scopes: &str,
    expires_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO personal_access_tokens (account_id, name, token_digest, scopes, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(account_id)
    .bind(name)
    .bind(digest)
    .bind(scopes)
    .bind(format_timestamp(now))
    .bind(expires_at.map(format_timestamp))
    .fetch_one(db)
    .await
}

pub async fn list_for(db: &Db, account_id: i64) -> Result<Vec<TokenRecord>, sqlx::Error> {
    sqlx::query_as(&format!(
        "{SELECT_TOKEN} WHERE account_id = $1 ORDER BY id DESC"
    ))
    .bind(account_id)
    .fetch_all(db)
    .await
}

pub async fn find_by_digest(db: &Db, digest: &str) -> Result<Option<TokenRecord>, sqlx::Error> {
    sqlx::query_as(&format!("{SELECT_TOKEN} WHERE token_digest = $1"))
        .bind(digest)
        .fetch_optional(db)
        .await
}

/// Revokes `id` if `account_id` owns it; false when there is no such token of theirs.
pub async fn revoke(
    db: &Db,
    id: i64,
    account_id: i64,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE personal_access_tokens SET revoked_at = $3 \
         WHERE id = $1 AND account_id = $2 AND revoked_at IS NULL",
    )
    .bind(id)
    .bind(account_id)
    .bind(format_timestamp(now))
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn touch(db: &Db, id: i64, now: DateTime<Utc>) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE personal_access_tokens SET last_used_at = $2 WHERE id = $1")
        .bind(id)
        .bind(format_timestamp(now))
        .execute(db)
        .await
        .map(|_| ())
}
