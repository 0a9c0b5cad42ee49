//! Delivering an email to all users: recorded in the outbox first, then handed to SMTP one
//! message per recipient in the background when SMTP is configured.

use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;

use super::db;
use crate::auth::db::AccountRecord;
use crate::config::EmailSettings;
use crate::db::Db;
use crate::error::AppError;

/// Records the email for every active user and starts delivery; returns the email's id.
pub async fn send_to_all_users(
    db: &Db,
    email: &EmailSettings,
    account: &AccountRecord,
    subject: &str,
    body: &str,
) -> Result<i64, AppError> {
    let smtp = smtp(email).map_err(AppError::Internal)?;
    let transport = if smtp.is_some() { "smtp" } else { "outbox" };
    let at = service_ping_protocol::time::format_timestamp(chrono::Utc::now());
    let who = crate::settings::db::Actor::new(account, &at);
    let (id, recipients) = db::record_email(db, subject, body, transport, &who).await?;
    tracing::info!(
        email = id,
        recipients,
        transport,
        account = account.id,
        "email to all users recorded"
    );
    if let Some(smtp) = smtp {
        spawn_delivery(db.clone(), smtp, id);
    }
    Ok(id)
}

/// Goes on delivering the emails a previous process left queued (it stopped mid-way); returns
/// how many emails that is. Without SMTP configured now they stay queued, and a warning says so.
pub async fn resume_queued(db: &Db, email: &EmailSettings) -> anyhow::Result<usize> {
    let pending = db::with_queued_messages(db).await?;
    if pending.is_empty() {
        return Ok(0);
    }
    let Some(smtp) = smtp(email)? else {
        tracing::warn!(
            emails = pending.len(),
            "emails are queued for SMTP, but no email.smtp_url is configured; they stay queued"
        );
        return Ok(0);
    };
    for &id in &pending {
        tracing::info!(email = id, "resuming delivery of a queued email");
        spawn_delivery(db.clone(), smtp.clone(), id);
    }
    Ok(pending.len())
}

/// An SMTP transport and the `From` address, when SMTP is configured.
type Smtp = (AsyncSmtpTransport<Tokio1Executor>, Mailbox);

fn smtp(email: &EmailSettings) -> anyhow::Result<Option<Smtp>> {
    let Some(url) = &email.smtp_url else {
        return Ok(None);
    };
    let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose_secret())
        .map_err(|e| anyhow::anyhow!("SMTP URL: {e}"))?
        .build();
    let from: Mailbox = email
        .from
        .parse()
        .map_err(|e| anyhow::anyhow!("email.from: {e}"))?;
    Ok(Some((transport, from)))
}

fn spawn_delivery(db: Db, (smtp, from): Smtp, id: i64) {
    tokio::spawn(async move {
        if let Err(error) = deliver(&db, &smtp, &from, id).await {
            tracing::error!(email = id, %error, "email delivery stopped");
        }
    });
}

/// Sends each queued message of `email_id`, recording each outcome.
pub async fn deliver(
    db: &Db,
    smtp: &AsyncSmtpTransport<Tokio1Executor>,
    from: &Mailbox,
    email_id: i64,
) -> Result<(), sqlx::Error> {
    let (subject, body) = db::content(db, email_id).await?;
    let (mut sent, mut failed) = (0usize, 0usize);
    for (message_id, recipient) in db::queued(db, email_id).await? {
        let outcome = send_one(smtp, from, &recipient, &subject, &body).await;
        if outcome.is_ok() {
            sent += 1;
        } else {
            failed += 1;
        }
        db::mark(db, message_id, outcome, chrono::Utc::now()).await?;
    }
    tracing::info!(
        email = email_id,
        sent,
        failed,
        "email delivered through SMTP"
    );
    Ok(())
}

async fn send_one(
    smtp: &AsyncSmtpTransport<Tokio1Executor>,
    from: &Mailbox,
    recipient: &str,
    subject: &str,
    body: &str,
) -> Result<(), String> {
    let to: Mailbox = recipient
        .parse()
        .map_err(|_| "the recipient address is not valid".to_string())?;
    let message = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(subject)
        .body(body.to_string())
        .map_err(|e| format!("building the message: {e}"))?;
    smtp.send(message)
        .await
        .map(|_| ())
        .map_err(|e| format!("SMTP: {e}"))
}
