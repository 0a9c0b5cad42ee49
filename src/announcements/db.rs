//! SQL for banners, emails to all users and the outbox.

use chrono::{DateTime, Utc};

use super::{Announcement, OutboxMessage, SentEmail};
use crate::db::Db;
use service_ping_protocol::time::format_timestamp;

const ANNOUNCEMENT_COLUMNS: &str =
    "id, message, theme, starts_at, ends_at, (starts_at <= $1 AND ends_at > $1) AS active";

/// Banners showing at `now`, oldest first.
pub async fn active(db: &Db, now: DateTime<Utc>) -> Result<Vec<Announcement>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {ANNOUNCEMENT_COLUMNS} FROM broadcast_messages \
         WHERE starts_at <= $1 AND ends_at > $1 ORDER BY id"
    ))
    .bind(format_timestamp(now))
    .fetch_all(db)
    .await
}

/// Every banner, newest first.
pub async fn all(db: &Db, now: DateTime<Utc>) -> Result<Vec<Announcement>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {ANNOUNCEMENT_COLUMNS} FROM broadcast_messages ORDER BY id DESC LIMIT 100"
    ))
    .bind(format_timestamp(now))
    .fetch_all(db)
    .await
}

pub async fn create(
    db: &Db,
    message: &str,
    theme: &str,
    days: u32,
    account_id: i64,
    now: DateTime<Utc>,
) -> Result<i64, sqlx::Error> {
    let ends = now + chrono::Duration::days(i64::from(days));
    sqlx::query_scalar(
        "INSERT INTO broadcast_messages (message, theme, starts_at, ends_at, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $3) RETURNING id",
    )
    .bind(message)
    .bind(theme)
    .bind(format_timestamp(now))
    .bind(format_timestamp(ends))
    .bind(account_id)
    .fetch_one(db)
    .await
}

pub async fn delete(db: &Db, id: i64) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query("DELETE FROM broadcast_messages WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?
        .rows_affected()
        > 0)
}

/// Who an email to all users goes to: active human users of the platform.
const RECIPIENTS: &str = "FROM users WHERE state = 'active' AND user_type = 'human'";

pub async fn recipient_count(db: &Db) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(&format!("SELECT count(*) {RECIPIENTS}"))
        .fetch_one(db)
        .await
}

/// Records an email and one outbox message per recipient, in one transaction.
pub async fn record_email(
    db: &Db,
    subject: &str,
    body: &str,
    transport: &str,
    account_id: i64,
    now: DateTime<Utc>,
) -> Result<(i64, i64), sqlx::Error> {
    let at = format_timestamp(now);
    let status = if transport == "smtp" {
        "queued"
    } else {
        "kept"
    };
    let mut tx = crate::db::begin_write(db).await?;
    let recipients: i64 = sqlx::query_scalar(&format!("SELECT count(*) {RECIPIENTS}"))
        .fetch_one(&mut *tx)
        .await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO admin_emails (subject, body, transport, recipients, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(subject)
    .bind(body)
    .bind(transport)
    .bind(recipients)
    .bind(account_id)
    .bind(&at)
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query(&format!(
        "INSERT INTO email_outbox (admin_email_id, recipient, status, updated_at) \
         SELECT $1, email, $2, $3 {RECIPIENTS} ORDER BY id"
    ))
    .bind(id)
    .bind(status)
    .bind(&at)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok((id, recipients))
}

/// Messages of `email_id` still waiting for SMTP.
pub async fn queued(db: &Db, email_id: i64) -> Result<Vec<(i64, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, recipient FROM email_outbox WHERE admin_email_id = $1 AND status = 'queued' ORDER BY id",
    )
    .bind(email_id)
    .fetch_all(db)
    .await
}

pub async fn mark(
    db: &Db,
    message_id: i64,
    outcome: Result<(), String>,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let (status, error) = match outcome {
        Ok(()) => ("sent", None),
        Err(error) => ("failed", Some(error)),
    };
    sqlx::query("UPDATE email_outbox SET status = $2, error = $3, updated_at = $4 WHERE id = $1")
        .bind(message_id)
        .bind(status)
        .bind(error)
        .bind(format_timestamp(now))
        .execute(db)
        .await
        .map(|_| ())
}

/// The newest emails with their delivery counts.
pub async fn emails(db: &Db) -> Result<Vec<SentEmail>, sqlx::Error> {
    sqlx::query_as(
        "SELECT e.id, e.subject, e.transport, e.recipients, \
                count(o.id) FILTER (WHERE o.status IN ('sent', 'kept')) AS delivered, \
                count(o.id) FILTER (WHERE o.status = 'failed') AS failed, e.created_at \
         FROM admin_emails e LEFT JOIN email_outbox o ON o.admin_email_id = e.id \
         GROUP BY e.id ORDER BY e.id DESC LIMIT 20",
    )
    .fetch_all(db)
    .await
}

pub async fn outbox(db: &Db, email_id: i64, limit: u32) -> Result<Vec<OutboxMessage>, sqlx::Error> {
    sqlx::query_as(
        "SELECT o.id, o.recipient, e.subject, o.status, o.error \
         FROM email_outbox o JOIN admin_emails e ON e.id = o.admin_email_id \
         WHERE o.admin_email_id = $1 ORDER BY o.id LIMIT $2",
    )
    .bind(email_id)
    .bind(i64::from(limit))
    .fetch_all(db)
    .await
}

/// The subject and body of an email.
pub async fn content(db: &Db, email_id: i64) -> Result<(String, String), sqlx::Error> {
    sqlx::query_as("SELECT subject, body FROM admin_emails WHERE id = $1")
        .bind(email_id)
        .fetch_one(db)
        .await
}
