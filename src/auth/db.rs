//! SQL for accounts and failed sign-in attempts.

use crate::db::{Db, execute, on_conn, on_pool, parse_stamp, stamp};
use chrono::{DateTime, Utc};

/// An account as stored, hash included. Never sent to a client: see [`super::Account`].
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AccountRecord {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub name: String,
    pub password_hash: String,
    pub is_admin: bool,
    pub state: String,
    /// Moves on at every password change; a session signed in under another epoch is over.
    pub session_epoch: i64,
}

impl AccountRecord {
    pub fn is_active(&self) -> bool {
        self.state == "active"
    }
}

/// What it takes to create an account.
pub struct NewAccount<'a> {
    pub username: &'a str,
    pub email: &'a str,
    pub name: &'a str,
    pub password_hash: &'a str,
    pub is_admin: bool,
}

const ACCOUNT_COLUMNS: &str =
    "id, username, email, name, password_hash, is_admin, state, session_epoch";

#[tracing::instrument(skip_all, err)]
pub async fn find_by_login(db: &Db, login: &str) -> Result<Option<AccountRecord>, sqlx::Error> {
    on_pool!(db, |p| {
        sqlx::query_as(&format!(
        "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE lower(username) = lower($1) OR lower(email) = lower($1)"
    ))
    .bind(login).fetch_optional(p).await
    })
}

#[tracing::instrument(skip_all, err)]
pub async fn find_by_id(db: &Db, id: i64) -> Result<Option<AccountRecord>, sqlx::Error> {
    on_pool!(db, |p| sqlx::query_as(&format!(
        "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(p)
    .await)
}

#[tracing::instrument(skip_all, err)]
pub async fn any_admin_exists(db: &Db) -> Result<bool, sqlx::Error> {
    on_pool!(db, |p| sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM accounts WHERE is_admin)"
    )
    .fetch_one(p)
    .await)
}

/// Inserts an account; a taken username or email comes back as `Ok(None)`.
#[tracing::instrument(skip_all, err)]
pub async fn insert(
    db: &Db,
    account: NewAccount<'_>,
    now: DateTime<Utc>,
) -> Result<Option<i64>, sqlx::Error> {
    let inserted = on_pool!(db, |p| {
        sqlx::query_scalar(
        "INSERT INTO accounts (username, email, name, password_hash, is_admin, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT DO NOTHING RETURNING id",
    )
    .bind(account.username)
    .bind(account.email)
    .bind(account.name)
    .bind(account.password_hash)
    .bind(account.is_admin)
    .bind(stamp(now)).fetch_optional(p).await
    })?;
    Ok(inserted)
}

#[tracing::instrument(skip_all, err)]
pub async fn record_sign_in(db: &Db, id: i64, now: DateTime<Utc>) -> Result<(), sqlx::Error> {
    execute!(
        db,
        sqlx::query("UPDATE accounts SET last_sign_in_at = $2, updated_at = $2 WHERE id = $1")
            .bind(id)
            .bind(stamp(now))
    )
    .map(|_| ())
}

/// What reserving a sign-in attempt found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reservation {
    /// The attempt is counted as a failure (rows `ids`) until it succeeds.
    Reserved(Vec<i64>),
    /// A subject is at its limit; its oldest failure in the window frees a place.
    Throttled { oldest: Option<DateTime<Utc>> },
}

/// Counts an attempt against every `(subject, limit)` before its password is checked (the oldest
/// failure decides when the window frees up), in one write transaction: parallel attempts take their turn, so no more than a subject's limit of
/// passwords are ever checked within the window. Nothing is recorded when a subject is over its
/// limit.
#[tracing::instrument(skip_all, err)]
pub async fn reserve_attempt(
    db: &Db,
    subjects: &[(&str, u32)],
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Reservation, sqlx::Error> {
    let mut tx = db.begin_write().await?;
    tx.serialize_on(
        subjects
            .iter()
            .map(|(subject, _)| format!("sign_in_failures:{subject}"))
            .collect(),
    )
    .await?;
    for (subject, limit) in subjects {
        let (failures, oldest): (i64, Option<String>) = on_conn!(tx.conn(), |c| {
            sqlx::query_as(
            "SELECT COUNT(*), MIN(failed_at) FROM sign_in_failures WHERE subject = $1 AND failed_at > $2",
        )
        .bind(subject)
        .bind(stamp(since)).fetch_one(c).await
        })?;
        if failures >= i64::from(*limit) {
            let oldest = oldest.as_deref().map(parse_stamp).transpose()?;
            return Ok(Reservation::Throttled { oldest });
        }
    }
    let mut ids = Vec::with_capacity(subjects.len());
    for (subject, _) in subjects {
        let id: i64 = on_conn!(tx.conn(), |c| sqlx::query_scalar(
            "INSERT INTO sign_in_failures (subject, failed_at) VALUES ($1, $2) RETURNING id",
        )
        .bind(subject)
        .bind(stamp(now))
        .fetch_one(c)
        .await)?;
        ids.push(id);
    }
    tx.commit().await?;
    Ok(Reservation::Reserved(ids))
}

/// Takes back the failures an attempt reserved, once it succeeded.
#[tracing::instrument(skip_all, err)]
pub async fn release_attempt(db: &Db, ids: &[i64]) -> Result<(), sqlx::Error> {
    for id in ids {
        execute!(
            db,
            sqlx::query("DELETE FROM sign_in_failures WHERE id = $1").bind(id)
        )?;
    }
    Ok(())
}

/// Forgets an account's failures after a successful sign-in, and every failure older than
/// the window, so the table stays small.
#[tracing::instrument(skip_all, err)]
pub async fn clear_failures(
    db: &Db,
    subject: &str,
    older_than: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    execute!(
        db,
        sqlx::query("DELETE FROM sign_in_failures WHERE subject = $1 OR failed_at <= $2")
            .bind(subject)
            .bind(stamp(older_than))
    )
    .map(|_| ())
}
