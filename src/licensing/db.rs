//! SQL for `licenses` and the Registration Features choice.

use crate::db::{Conn, Db, execute_in, on_conn, on_pool};
use crate::settings::db::{Actor, record};
use crate::state::page_reads::read_once;

/// A license row as stored: the file text and when it was installed.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredLicense {
    pub id: i64,
    pub data: String,
    pub uploaded_at: String,
}

/// The license in use: the newest one not removed (read once per page render:
/// `state::page_reads`).
pub async fn installed(db: &Db) -> Result<Option<StoredLicense>, sqlx::Error> {
    read_once(|| async {
        on_pool!(db, |p| {
            sqlx::query_as(
            "SELECT id, data, uploaded_at FROM licenses WHERE removed_at IS NULL ORDER BY id DESC LIMIT 1",
        ).fetch_optional(p).await
        })
    })
    .await
}

/// Installs `data` (replacing the license in use) and audit-logs it, in one transaction.
pub async fn install(
    db: &Db,
    data: &str,
    license_id: &str,
    description: &str,
    who: Actor<'_>,
) -> Result<(), sqlx::Error> {
    let mut tx = db.begin_write().await?;
    let old = previous_description(&mut tx.conn()).await?;
    execute_in!(
        tx.conn(),
        sqlx::query("UPDATE licenses SET removed_at = $1 WHERE removed_at IS NULL").bind(who.at)
    )?;
    execute_in!(tx.conn(), sqlx::query(
        "INSERT INTO licenses (data, license_id, uploaded_by, uploaded_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(data)
    .bind(license_id)
    .bind(who.account_id)
    .bind(who.at))?;
    audit(&mut tx.conn(), &who, old.as_deref(), Some(description)).await?;
    tx.commit().await
}

/// Removes the license in use; returns whether there was one.
pub async fn remove(db: &Db, who: Actor<'_>) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin_write().await?;
    let old = previous_description(&mut tx.conn()).await?;
    let removed = execute_in!(
        tx.conn(),
        sqlx::query("UPDATE licenses SET removed_at = $1 WHERE removed_at IS NULL").bind(who.at)
    )?;
    if removed > 0 {
        audit(&mut tx.conn(), &who, old.as_deref(), None).await?;
    }
    tx.commit().await?;
    Ok(removed > 0)
}

async fn previous_description(tx: &mut Conn<'_>) -> Result<Option<String>, sqlx::Error> {
    on_conn!(tx, |c| {
        sqlx::query_scalar(
        "SELECT 'license ' || license_id FROM licenses WHERE removed_at IS NULL ORDER BY id DESC LIMIT 1",
    ).fetch_optional(c).await
    })
}

async fn audit(
    tx: &mut Conn<'_>,
    who: &Actor<'_>,
    old: Option<&str>,
    new: Option<&str>,
) -> Result<(), sqlx::Error> {
    let (old, new) = (old.unwrap_or("none"), new.unwrap_or("none"));
    record(tx, who, "license_changed", "License", Some(old), Some(new)).await
}
