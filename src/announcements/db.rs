//! SQL for banners, emails to all users and the outbox.

use crate::db::{Db, execute, execute_in, on_conn, on_pool};
use chrono::{DateTime, Utc};

use super::{Announcement, OutboxMessage, SentEmail};
use crate::settings::db::{self as audit, Actor};
use service_ping_protocol::time::format_timestamp;

const ANNOUNCEMENT_COLUMNS: &str =
    "id, message, theme, starts_at, ends_at, (starts_at <= $1 AND ends_at > $1) AS active";

/// Banners showing at `now`, oldest first.
pub async fn active(db: &Db, now: DateTime<Utc>) -> Result<Vec<Announcement>, sqlx::Error> {
    on_pool!(db, |p| sqlx::query_as(&format!(
        "SELECT {ANNOUNCEMENT_COLUMNS} FROM broadcast_messages \
         WHERE starts_at <= $1 AND ends_at > $1 ORDER BY id"
    ))
    .bind(format_timestamp(now))
    .fetch_all(p)
    .await)
}

/// Every banner, newest first.
pub async fn all(db: &Db, now: DateTime<Utc>) -> Result<Vec<Announcement>, sqlx::Error> {
    on_pool!(db, |p| sqlx::query_as(&format!(
        "SELECT {ANNOUNCEMENT_COLUMNS} FROM broadcast_messages ORDER BY id DESC LIMIT 100"
    ))
    .bind(format_timestamp(now))
    .fetch_all(p)
    .await)
}

/// Adds a banner shown from now for `days` days, audit-logged in the same transaction.
pub async fn create(
    db: &Db,
    message: &str,
    theme: &str,
    days: u32,
    who: &Actor<'_>,
    now: DateTime<Utc>,
) -> Result<i64, sqlx::Error> {
    let ends = now + chrono::Duration::days(i64::from(days));
    let mut tx = db.begin_write().await?;
    let id: i64 = on_conn!(tx.conn(), |c| {
        sqlx::query_scalar(
        "INSERT INTO broadcast_messages (message, theme, starts_at, ends_at, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $3) RETURNING id",
    )
    .bind(message)
    .bind(theme)
    .bind(format_timestamp(now))
    .bind(format_timestamp(ends))
    .bind(who.account_id).fetch_one(c).await
    })?;
    let target = format!("Announcement #{id}");
    audit::record(
        &mut tx.conn(),
        who,
        "announcement_created",
        &target,
        None,
        Some(message),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Removes a banner, audit-logged; false when there is no such banner.
pub async fn delete(db: &Db, id: i64, who: &Actor<'_>) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin_write().await?;
    let message: Option<String> = on_conn!(tx.conn(), |c| sqlx::query_scalar(
        "DELETE FROM broadcast_messages WHERE id = $1 RETURNING message"
    )
    .bind(id)
    .fetch_optional(c)
    .await)?;
    let Some(message) = message else {
        return Ok(false);
    };
    let target = format!("Announcement #{id}");
    audit::record(
        &mut tx.conn(),
        who,
        "announcement_deleted",
        &target,
        Some(&message),
        None,
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// Who an email to all users goes to: active human users of the platform.
const RECIPIENTS: &str = "FROM users WHERE state = 'active' AND user_type = 'human'";

pub async fn recipient_count(db: &Db) -> Result<i64, sqlx::Error> {
    on_pool!(db, |p| sqlx::query_scalar(&format!(
        "SELECT count(*) {RECIPIENTS}"
    ))
    .fetch_one(p)
    .await)
}

/// Records an email, one outbox message per recipient and the audit entry, in one transaction.
pub async fn record_email(
    db: &Db,
    subject: &str,
    body: &str,
    transport: &str,
    who: &Actor<'_>,
) -> Result<(i64, i64), sqlx::Error> {
    let at = who.at;
    let status = if transport == "smtp" {
        "queued"
    } else {
        "kept"
    };
    let mut tx = db.begin_write().await?;
    let recipients: i64 = on_conn!(tx.conn(), |c| sqlx::query_scalar(&format!(
        "SELECT count(*) {RECIPIENTS}"
    ))
    .fetch_one(c)
    .await)?;
    let id: i64 = on_conn!(tx.conn(), |c| {
        sqlx::query_scalar(
        "INSERT INTO admin_emails (subject, body, transport, recipients, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(subject)
    .bind(body)
    .bind(transport)
    .bind(recipients)
    .bind(who.account_id)
    .bind(at).fetch_one(c).await
    })?;
    execute_in!(
        tx.conn(),
        sqlx::query(&format!(
            "INSERT INTO email_outbox (admin_email_id, recipient, status, updated_at) \
         SELECT $1, email, $2, $3 {RECIPIENTS} ORDER BY id"
        ))
        .bind(id)
        .bind(status)
        .bind(at)
    )?;
    let target = format!("Email #{id} to all users");
    let what = format!("{subject} ({recipients} recipients, {transport})");
    audit::record(
        &mut tx.conn(),
        who,
        "email_sent_to_all_users",
        &target,
        None,
        Some(&what),
    )
    .await?;
    tx.commit().await?;
    Ok((id, recipients))
}

/// Emails with messages still waiting for SMTP, oldest first.
pub async fn with_queued_messages(db: &Db) -> Result<Vec<i64>, sqlx::Error> {
    on_pool!(db, |p| {
        sqlx::query_scalar(
        "SELECT DISTINCT admin_email_id FROM email_outbox WHERE status = 'queued' ORDER BY admin_email_id",
    ).fetch_all(p).await
    })
}

/// Messages of `email_id` still waiting for SMTP.
pub async fn queued(db: &Db, email_id: i64) -> Result<Vec<(i64, String)>, sqlx::Error> {
    on_pool!(db, |p| {
        sqlx::query_as(
        "SELECT id, recipient FROM email_outbox WHERE admin_email_id = $1 AND status = 'queued' ORDER BY id",
    )
    .bind(email_id).fetch_all(p).await
    })
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
    execute!(
        db,
        sqlx::query(
            "UPDATE email_outbox SET status = $2, error = $3, updated_at = $4 WHERE id = $1"
        )
        .bind(message_id)
        .bind(status)
        .bind(error)
        .bind(format_timestamp(now))
    )
    .map(|_| ())
}

/// The newest emails with their delivery counts.
pub async fn emails(db: &Db) -> Result<Vec<SentEmail>, sqlx::Error> {
    on_pool!(db, |p| sqlx::query_as(
        "SELECT e.id, e.subject, e.transport, e.recipients, \
                count(o.id) FILTER (WHERE o.status IN ('sent', 'kept')) AS delivered, \
                count(o.id) FILTER (WHERE o.status = 'failed') AS failed, e.created_at \
         FROM admin_emails e LEFT JOIN email_outbox o ON o.admin_email_id = e.id \
         GROUP BY e.id ORDER BY e.id DESC LIMIT 20",
    )
    .fetch_all(p)
    .await)
}

pub async fn outbox(db: &Db, email_id: i64, limit: u32) -> Result<Vec<OutboxMessage>, sqlx::Error> {
    on_pool!(db, |p| sqlx::query_as(
        "SELECT o.id, o.recipient, e.subject, o.status, o.error \
         FROM email_outbox o JOIN admin_emails e ON e.id = o.admin_email_id \
         WHERE o.admin_email_id = $1 ORDER BY o.id LIMIT $2",
    )
    .bind(email_id)
    .bind(i64::from(limit))
    .fetch_all(p)
    .await)
}

/// The subject and body of an email.
pub async fn content(db: &Db, email_id: i64) -> Result<(String, String), sqlx::Error> {
    on_pool!(db, |p| sqlx::query_as(
        "SELECT subject, body FROM admin_emails WHERE id = $1"
    )
    .bind(email_id)
    .fetch_one(p)
    .await)
}
