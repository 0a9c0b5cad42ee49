//! SQL for `personal_access_tokens`. Only a token's SHA-256 is stored.

use crate::db::{Db, execute, on_conn, on_pool};
use chrono::{DateTime, Utc};

use crate::settings::db::{self as audit, Actor};
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

/// A token to store (its secret only as a digest).
pub struct NewToken<'a> {
    pub name: &'a str,
    pub digest: &'a str,
    pub scopes: &'a str,
    pub expires_at: Option<DateTime<Utc>>,
}

/// Stores a token of `who`, audit-logged in the same transaction.
pub async fn insert(db: &Db, token: &NewToken<'_>, who: &Actor<'_>) -> Result<i64, sqlx::Error> {
    let mut tx = db.begin_write().await?;
    let id: i64 = on_conn!(tx.conn(), |c| {
        sqlx::query_scalar(
        "INSERT INTO personal_access_tokens (account_id, name, token_digest, scopes, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(who.account_id)
    .bind(token.name)
    .bind(token.digest)
    .bind(token.scopes)
    .bind(who.at)
    .bind(token.expires_at.map(format_timestamp)).fetch_one(c).await
    })?;
    let target = format!("Access token #{id} ({})", token.name);
    audit::record(
        &mut tx.conn(),
        who,
        "access_token_created",
        &target,
        None,
        Some(token.scopes),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

pub async fn list_for(db: &Db, account_id: i64) -> Result<Vec<TokenRecord>, sqlx::Error> {
    on_pool!(db, |p| sqlx::query_as(&format!(
        "{SELECT_TOKEN} WHERE account_id = $1 ORDER BY id DESC"
    ))
    .bind(account_id)
    .fetch_all(p)
    .await)
}

pub async fn find_by_digest(db: &Db, digest: &str) -> Result<Option<TokenRecord>, sqlx::Error> {
    on_pool!(db, |p| sqlx::query_as(&format!(
        "{SELECT_TOKEN} WHERE token_digest = $1"
    ))
    .bind(digest)
    .fetch_optional(p)
    .await)
}

/// Revokes `id` if `who` owns it, audit-logged; false when there is no such token of theirs.
pub async fn revoke(db: &Db, id: i64, who: &Actor<'_>) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin_write().await?;
    let name: Option<String> = on_conn!(tx.conn(), |c| sqlx::query_scalar(
        "UPDATE personal_access_tokens SET revoked_at = $3 \
         WHERE id = $1 AND account_id = $2 AND revoked_at IS NULL RETURNING name",
    )
    .bind(id)
    .bind(who.account_id)
    .bind(who.at)
    .fetch_optional(c)
    .await)?;
    let Some(name) = name else {
        return Ok(false);
    };
    let target = format!("Access token #{id} ({name})");
    audit::record(
        &mut tx.conn(),
        who,
        "access_token_revoked",
        &target,
        None,
        None,
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

pub async fn touch(db: &Db, id: i64, now: DateTime<Utc>) -> Result<(), sqlx::Error> {
    execute!(
        db,
        sqlx::query("UPDATE personal_access_tokens SET last_used_at = $2 WHERE id = $1")
            .bind(id)
            .bind(format_timestamp(now))
    )
    .map(|_| ())
}
