//! Announcements (a paid feature): an instance-wide banner shown to everyone who signs in, and
//! an email to every active user of the platform, sent through SMTP when `email.smtp_url` is
//! configured and otherwise kept in an outbox that the dashboard lists.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

#[cfg(feature = "ssr")]
pub mod db;
#[cfg(feature = "ssr")]
pub mod mail;
pub mod view;

pub const MAX_MESSAGE_CHARS: usize = 500;
pub const MAX_SUBJECT_CHARS: usize = 200;
pub const MAX_BODY_CHARS: usize = 10_000;
/// How long a banner may be scheduled to show.
pub const MAX_DAYS: u32 = 365;

/// Banner colours.
pub const THEMES: [&str; 3] = ["info", "warning", "success"];

/// One banner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct Announcement {
    pub id: i64,
    pub message: String,
    pub theme: String,
    pub starts_at: String,
    pub ends_at: String,
    pub active: bool,
}

/// One email to all users, with how its messages fared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct SentEmail {
    pub id: i64,
    pub subject: String,
    pub transport: String,
    pub recipients: i64,
    pub delivered: i64,
    pub failed: i64,
    pub created_at: String,
}

/// One message in the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct OutboxMessage {
    pub id: i64,
    pub recipient: String,
    pub subject: String,
    pub status: String,
    pub error: Option<String>,
}

/// The Announcements page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Announcements {
    pub messages: Vec<Announcement>,
    pub emails: Vec<SentEmail>,
    /// "SMTP" or "the outbox".
    pub transport: String,
    pub active_users: i64,
}

/// What the top of every page shows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Banners {
    pub announcements: Vec<Announcement>,
    pub maintenance: Option<String>,
}

/// The banners for the signed-in account (any account): active announcements while the
/// feature is open, and the maintenance notice while it is in force.
#[server(endpoint = "banners")]
pub async fn get_banners() -> Result<Banners, ApiError> {
    crate::auth::session::require_account().await?;
    let state = crate::state::app_state()?;
    if !crate::licensing::entitlement::is_open(state.licensing()).await? {
        return Ok(Banners::default());
    }
    Ok(Banners {
        announcements: db::active(&state.db, chrono::Utc::now())
            .await
            .map_err(crate::error::AppError::from)?,
        maintenance: crate::maintenance::in_force_message(state.licensing()).await?,
    })
}

#[server(endpoint = "announcements")]
pub async fn get_announcements() -> Result<Announcements, ApiError> {
    use crate::error::AppError;
    use crate::licensing::{Feature, entitlement};
    crate::auth::session::require_admin().await?;
    let state = crate::state::app_state()?;
    entitlement::require(state.licensing(), Feature::Announcements).await?;
    let now = chrono::Utc::now();
    Ok(Announcements {
        messages: db::all(&state.db, now).await.map_err(AppError::from)?,
        emails: db::emails(&state.db).await.map_err(AppError::from)?,
        transport: if state.settings.email.smtp_url.is_some() {
            "SMTP"
        } else {
            "the outbox"
        }
        .into(),
        active_users: db::recipient_count(&state.db)
            .await
            .map_err(AppError::from)?,
    })
}

/// Adds a banner shown from now for `days` days.
#[server(endpoint = "create_announcement")]
pub async fn create_announcement(
    message: String,
    theme: String,
    days: u32,
) -> Result<(), ApiError> {
    use crate::error::AppError;
    use crate::licensing::{Feature, entitlement};
    let account = crate::auth::session::require_admin().await?;
    let state = crate::state::app_state()?;
    entitlement::require(state.licensing(), Feature::Announcements).await?;
    crate::maintenance::require_writable(state.licensing()).await?;
    let message = bounded("The message", &message, MAX_MESSAGE_CHARS)?;
    if !THEMES.contains(&theme.as_str()) {
        return Err(AppError::Validation(format!("Unknown theme `{theme}`.")).into());
    }
    if !(1..=MAX_DAYS).contains(&days) {
        return Err(
            AppError::Validation(format!("A banner shows for 1 to {MAX_DAYS} days.")).into(),
        );
    }
    let now = chrono::Utc::now();
    let at = service_ping_protocol::time::format_timestamp(now);
    let who = crate::settings::db::Actor::new(&account, &at);
    db::create(&state.db, &message, &theme, days, &who, now)
        .await
        .map_err(AppError::from)?;
    Ok(())
}

#[server(endpoint = "delete_announcement")]
pub async fn delete_announcement(id: i64) -> Result<(), ApiError> {
    use crate::error::AppError;
    use crate::licensing::{Feature, entitlement};
    let account = crate::auth::session::require_admin().await?;
    let state = crate::state::app_state()?;
    entitlement::require(state.licensing(), Feature::Announcements).await?;
    crate::maintenance::require_writable(state.licensing()).await?;
    let at = service_ping_protocol::time::format_timestamp(chrono::Utc::now());
    let who = crate::settings::db::Actor::new(&account, &at);
    if !db::delete(&state.db, id, &who)
        .await
        .map_err(AppError::from)?
    {
        return Err(AppError::NotFound("No such announcement.".into()).into());
    }
    Ok(())
}

/// Emails every active user; returns the email's id. Delivery through SMTP continues in the
/// background; without SMTP the messages are kept in the outbox.
#[server(endpoint = "email_all_users")]
pub async fn email_all_users(subject: String, body: String) -> Result<i64, ApiError> {
    use crate::licensing::{Feature, entitlement};
    let account = crate::auth::session::require_admin().await?;
    let state = crate::state::app_state()?;
    entitlement::require(state.licensing(), Feature::Announcements).await?;
    crate::maintenance::require_writable(state.licensing()).await?;
    let subject = bounded("The subject", &subject, MAX_SUBJECT_CHARS)?;
    let body = bounded("The message", &body, MAX_BODY_CHARS)?;
    Ok(
        mail::send_to_all_users(&state.db, &state.settings.email, &account, &subject, &body)
            .await?,
    )
}

/// The messages of one email, for the outbox view (at most `limit`).
#[server(endpoint = "outbox")]
pub async fn get_outbox(email_id: i64, limit: u32) -> Result<Vec<OutboxMessage>, ApiError> {
    use crate::licensing::{Feature, entitlement};
    crate::auth::session::require_admin().await?;
    let state = crate::state::app_state()?;
    entitlement::require(state.licensing(), Feature::Announcements).await?;
    Ok(db::outbox(&state.db, email_id, limit.min(500))
        .await
        .map_err(crate::error::AppError::from)?)
}

/// A required text of at most `max` characters, trimmed.
#[cfg(feature = "ssr")]
fn bounded(what: &str, text: &str, max: usize) -> Result<String, crate::error::AppError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(crate::error::AppError::Validation(format!(
            "{what} must not be empty."
        )));
    }
    if text.chars().count() > max {
        return Err(crate::error::AppError::Validation(format!(
            "{what} is longer than {max} characters."
        )));
    }
    Ok(text.to_string())
}
