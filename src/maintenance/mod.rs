//! Maintenance mode (a paid feature): while it is on, the instance is read-only. Every server
//! function and route that writes starts with [`require_writable`], which refuses with a clear
//! message; a banner tells everyone who signs in. Turning maintenance mode off, signing in and
//! out, and changing the Service Ping settings stay possible, as in GitLab, so an administrator
//! can always get out of it; so does revoking an access token, which only takes access away.
//! Background jobs (the weekly ping, usage trends) keep running.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::licensing::model::Access;

pub mod view;

/// Longest banner message an administrator may set.
pub const MAX_MESSAGE_CHARS: usize = 500;

/// The Maintenance mode page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaintenanceMode {
    /// The administrator's choice.
    pub enabled: bool,
    /// The choice is in effect (the instance is entitled to the feature).
    pub in_force: bool,
    pub message: Option<String>,
    pub access: Access,
}

/// What everyone sees while the instance is read-only.
pub const READ_ONLY: &str = "This instance is in maintenance mode: it is read-only until an administrator turns maintenance mode off.";

#[server(endpoint = "maintenance_mode")]
pub async fn get_maintenance_mode() -> Result<MaintenanceMode, ApiError> {
    use crate::licensing::entitlement;
    use crate::licensing::model::Feature;
    crate::auth::session::require_admin().await?;
    let state = crate::state::app_state()?;
    entitlement::require(state.licensing(), Feature::MaintenanceMode).await?;
    Ok(server::load(state.licensing()).await?)
}

/// Turns maintenance mode on or off with the banner message; audit-logged.
#[server(endpoint = "update_maintenance_mode")]
pub async fn update_maintenance_mode(
    enabled: bool,
    message: String,
) -> Result<MaintenanceMode, ApiError> {
    use crate::licensing::entitlement;
    use crate::licensing::model::Feature;
    let account = crate::auth::session::require_admin().await?;
    let state = crate::state::app_state()?;
    entitlement::require(state.licensing(), Feature::MaintenanceMode).await?;
    let message = server::valid_message(&message)?;
    server::change(&state.db, &account, enabled, message.as_deref()).await?;
    Ok(server::load(state.licensing()).await?)
}

#[cfg(feature = "ssr")]
pub use server::{in_force_message, require_writable};

#[cfg(feature = "ssr")]
mod server {
    use super::{MAX_MESSAGE_CHARS, MaintenanceMode, READ_ONLY};
    use crate::auth::db::AccountRecord;
    use crate::db::{Db, execute_in, on_conn, on_pool};
    use crate::error::AppError;
    use crate::settings::db::{Actor, on_off, record_change};
    use crate::state::Licensing;

    pub async fn load(licensing: Licensing<'_>) -> Result<MaintenanceMode, AppError> {
        let (enabled, message): (bool, Option<String>) = on_pool!(licensing.db, |p| {
            sqlx::query_as(
            "SELECT maintenance_mode, maintenance_mode_message FROM application_settings WHERE id = 1",
        ).fetch_one(p).await
        })?;
        let access = crate::licensing::entitlement::current(licensing, chrono::Utc::now())
            .await?
            .access;
        Ok(MaintenanceMode {
            enabled,
            in_force: enabled && access.is_open(),
            message,
            access,
        })
    }

    /// The banner text while maintenance mode is in force.
    pub async fn in_force_message(licensing: Licensing<'_>) -> Result<Option<String>, AppError> {
        let mode = load(licensing).await?;
        Ok(mode.in_force.then(|| match mode.message {
            Some(message) => format!("{READ_ONLY} {message}"),
            None => READ_ONLY.to_string(),
        }))
    }

    /// The guard of every write: 403 with the reason while maintenance mode is in force.
    pub async fn require_writable(licensing: Licensing<'_>) -> Result<(), AppError> {
        match in_force_message(licensing).await? {
            Some(message) => Err(AppError::Forbidden(message)),
            None => Ok(()),
        }
    }

    pub fn valid_message(message: &str) -> Result<Option<String>, AppError> {
        let message = message.trim();
        if message.chars().count() > MAX_MESSAGE_CHARS {
            return Err(AppError::Validation(format!(
                "The message is longer than {MAX_MESSAGE_CHARS} characters."
            )));
        }
        Ok((!message.is_empty()).then(|| message.to_string()))
    }

    pub async fn change(
        db: &Db,
        account: &AccountRecord,
        enabled: bool,
        message: Option<&str>,
    ) -> Result<(), AppError> {
        let at = service_ping_protocol::time::format_timestamp(chrono::Utc::now());
        let mut tx = db.begin_write().await?;
        let old: bool = on_conn!(tx.conn(), |c| sqlx::query_scalar(
            "SELECT maintenance_mode FROM application_settings WHERE id = 1"
        )
        .fetch_one(c)
        .await)?;
        execute_in!(tx.conn(), sqlx::query(
            "UPDATE application_settings SET maintenance_mode = $1, maintenance_mode_message = $2, updated_at = $3 WHERE id = 1",
        )
        .bind(enabled)
        .bind(message)
        .bind(&at))?;
        if old != enabled {
            let who = Actor::new(account, &at);
            let (old, new) = (Some(on_off(old)), Some(on_off(enabled)));
            record_change(&mut tx.conn(), &who, "Maintenance mode", old, new).await?;
        }
        tx.commit().await?;
        tracing::info!(enabled, account = account.id, "maintenance mode changed");
        Ok(())
    }
}
