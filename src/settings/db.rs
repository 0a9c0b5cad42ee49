//! SQL for `application_settings`.

use super::{AuditEntry, Setting, Toggle};
use crate::config::Locks;
use crate::db::{Conn, Db, execute, execute_in, on_conn, on_pool};
use crate::state::page_reads::read_once;

/// The stored choices behind the dashboard's switches, before the operator's locks apply.
#[derive(Debug, Clone, Copy, sqlx::FromRow)]
pub struct StoredChoices {
    pub service_ping_enabled: bool,
    pub include_optional_data: bool,
    pub registration_features_enabled: bool,
}

impl StoredChoices {
    /// Whether Service Ping is on, as the rest of the product must treat it.
    pub fn service_ping(&self, locks: &Locks) -> Toggle {
        Toggle::resolve(
            self.service_ping_enabled,
            locks.service_ping_enabled.as_ref(),
        )
    }

    /// Whether metrics of the `optional` category go into payloads.
    pub fn include_optional_data(&self, locks: &Locks) -> Toggle {
        Toggle::resolve(
            self.include_optional_data,
            locks.include_optional_data.as_ref(),
        )
    }
}

/// The stored choices, in one read (once per page render: `state::page_reads`).
pub async fn stored_choices(db: &Db) -> Result<StoredChoices, sqlx::Error> {
    read_once(|| async {
        on_pool!(db, |p| sqlx::query_as(
            "SELECT service_ping_enabled, include_optional_data, registration_features_enabled \
             FROM application_settings WHERE id = 1"
        )
        .fetch_one(p)
        .await)
    })
    .await
}

/// Whether Service Ping is on, as the rest of the product must treat it.
#[tracing::instrument(skip_all, err)]
pub async fn service_ping(db: &Db, locks: &Locks) -> Result<Toggle, sqlx::Error> {
    Ok(stored_choices(db).await?.service_ping(locks))
}

/// Stores the administrator's choice for `setting` and writes the audit entry, in one
/// transaction; returns the value it replaced.
#[tracing::instrument(skip(db), err)]
pub async fn change(
    db: &Db,
    setting: Setting,
    value: bool,
    account_id: i64,
    actor: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<bool, sqlx::Error> {
    let column = setting.column();
    let mut tx = db.begin_write().await?;
    let old: bool = on_conn!(tx.conn(), |c| sqlx::query_scalar(&format!(
        "SELECT {column} FROM application_settings WHERE id = 1"
    ))
    .fetch_one(c)
    .await)?;
    if old != value {
        let at = service_ping_protocol::time::format_timestamp(now);
        execute_in!(
            tx.conn(),
            sqlx::query(&format!(
                "UPDATE application_settings SET {column} = $1, updated_at = $2 WHERE id = 1"
            ))
            .bind(value)
            .bind(&at)
        )?;
        let who = Actor {
            account_id,
            name: actor,
            at: &at,
        };
        record_change(
            &mut tx.conn(),
            &who,
            setting.label(),
            Some(on_off(old)),
            Some(on_off(value)),
        )
        .await?;
        if setting == Setting::ServicePing && !value {
            // Registration Features live on Service Ping: they end with it, in the same change.
            turn_off_registration_features(&mut tx.conn(), &who).await?;
        }
    }
    tx.commit().await?;
    Ok(old)
}

async fn turn_off_registration_features(
    tx: &mut Conn<'_>,
    who: &Actor<'_>,
) -> Result<(), sqlx::Error> {
    let changed = execute_in!(tx, sqlx::query(
        "UPDATE application_settings SET registration_features_enabled = FALSE, updated_at = $1 \
         WHERE id = 1 AND registration_features_enabled",
    )
    .bind(who.at))?;
    if changed > 0 {
        let target = Setting::RegistrationFeatures.label();
        record_change(tx, who, target, Some("on"), Some("off")).await?;
    }
    Ok(())
}

/// Who made a change, and when (a stored timestamp), for the audit log.
pub struct Actor<'a> {
    pub account_id: i64,
    pub name: &'a str,
    pub at: &'a str,
}

impl<'a> Actor<'a> {
    /// `account`, acting at `at` (a stored timestamp).
    pub fn new(account: &'a crate::auth::db::AccountRecord, at: &'a str) -> Self {
        Self {
            account_id: account.id,
            name: &account.username,
            at,
        }
    }
}

/// Audit-logs a changed setting (`old → new` of `target`) in the caller's transaction.
pub async fn record_change(
    tx: &mut Conn<'_>,
    who: &Actor<'_>,
    target: &str,
    old: Option<&str>,
    new: Option<&str>,
) -> Result<(), sqlx::Error> {
    record(tx, who, "setting_changed", target, old, new).await
}

/// Writes one audit entry in the caller's transaction. Every change an administrator makes to
/// instance-wide state goes through here.
pub async fn record(
    tx: &mut Conn<'_>,
    who: &Actor<'_>,
    action: &str,
    target: &str,
    old: Option<&str>,
    new: Option<&str>,
) -> Result<(), sqlx::Error> {
    execute_in!(tx, sqlx::query(
        "INSERT INTO audit_events (account_id, actor, action, target, old_value, new_value, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(who.account_id)
    .bind(who.name)
    .bind(action)
    .bind(target)
    .bind(old)
    .bind(new)
    .bind(who.at))
    .map(|_| ())
}

pub fn on_off(value: bool) -> &'static str {
    if value { "on" } else { "off" }
}

/// The newest `limit` audit entries.
#[tracing::instrument(skip(db), err)]
pub async fn audit_log(db: &Db, limit: i64) -> Result<Vec<AuditEntry>, sqlx::Error> {
    on_pool!(db, |p| sqlx::query_as(
        "SELECT id, actor, target, old_value, new_value, created_at FROM audit_events \
         ORDER BY id DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(p)
    .await)
}

/// Whether `account_id` should see the one-time notice: it is the first administrator and has
/// not dismissed it.
pub async fn shows_service_ping_notice(db: &Db, account_id: i64) -> Result<bool, sqlx::Error> {
    on_pool!(db, |p| {
        sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM accounts WHERE id = $1 AND service_ping_notice_dismissed_at IS NULL \
         AND id = (SELECT min(id) FROM accounts WHERE is_admin))",
    )
    .bind(account_id).fetch_one(p).await
    })
}

pub async fn dismiss_service_ping_notice(
    db: &Db,
    account_id: i64,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), sqlx::Error> {
    execute!(
        db,
        sqlx::query("UPDATE accounts SET service_ping_notice_dismissed_at = $2 WHERE id = $1")
            .bind(account_id)
            .bind(service_ping_protocol::time::format_timestamp(now))
    )
    .map(|_| ())
}
