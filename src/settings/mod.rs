//! Instance-wide settings: what the administrator chose in the dashboard, overridden by what the
//! operator locked in the configuration file or environment.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

#[cfg(feature = "ssr")]
pub mod db;

/// A setting an administrator can turn on and off on the Usage statistics page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Setting {
    ServicePing,
    IncludeOptionalData,
    /// The Registration Features Program: paid features for free while Service Ping is on.
    RegistrationFeatures,
}

impl Setting {
    /// The value a form posts for this setting (its serde name, which the server function reads).
    pub fn form_value(self) -> &'static str {
        match self {
            Setting::ServicePing => "ServicePing",
            Setting::IncludeOptionalData => "IncludeOptionalData",
            Setting::RegistrationFeatures => "RegistrationFeatures",
        }
    }

    /// The name people read, in the audit log too.
    pub fn label(self) -> &'static str {
        match self {
            Setting::ServicePing => "Enable Service Ping",
            Setting::IncludeOptionalData => "Include optional data in Service Ping",
            Setting::RegistrationFeatures => "Enable Registration Features",
        }
    }

    #[cfg(feature = "ssr")]
    fn column(self) -> &'static str {
        match self {
            Setting::ServicePing => "service_ping_enabled",
            Setting::IncludeOptionalData => "include_optional_data",
            Setting::RegistrationFeatures => "registration_features_enabled",
        }
    }

    #[cfg(feature = "ssr")]
    fn lock(self, locks: &crate::config::Locks) -> Option<&crate::config::Lock> {
        match self {
            Setting::ServicePing => locks.service_ping_enabled.as_ref(),
            Setting::IncludeOptionalData => locks.include_optional_data.as_ref(),
            Setting::RegistrationFeatures => None,
        }
    }
}

/// Why "Enable Registration Features" cannot be turned on.
pub const REGISTRATION_NEEDS_SERVICE_PING: &str =
    "Registration Features need Service Ping: turn on Service Ping first.";

/// One change in the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct AuditEntry {
    pub id: i64,
    pub actor: String,
    pub target: String,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
    pub created_at: String,
}

/// Turns `setting` on or off, unless the operator locked it; the change is audit-logged.
#[server(endpoint = "update_setting")]
pub async fn update_setting(setting: Setting, enabled: bool) -> Result<Toggle, ApiError> {
    use crate::error::AppError;
    let account = crate::auth::session::require_admin().await?;
    let state = crate::state::app_state()?;
    if let Some(lock) = setting.lock(&state.locks) {
        return Err(AppError::Forbidden(format!(
            "{} is locked: {}.",
            setting.label(),
            lock.reason
        ))
        .into());
    }
    if setting == Setting::RegistrationFeatures && enabled {
        let service_ping = db::service_ping(&state.db, &state.locks)
            .await
            .map_err(AppError::from)?;
        if !service_ping.enabled {
            return Err(AppError::Forbidden(REGISTRATION_NEEDS_SERVICE_PING.into()).into());
        }
    }
    let old = db::change(
        &state.db,
        setting,
        enabled,
        account.id,
        &account.username,
        chrono::Utc::now(),
    )
    .await
    .map_err(AppError::from)?;
    tracing::info!(
        setting = setting.label(),
        old,
        new = enabled,
        account = account.id,
        "setting changed"
    );
    Ok(Toggle {
        enabled,
        locked_reason: None,
    })
}

/// Whether the signed-in administrator should see the one-time "Service Ping is on" notice.
#[server(endpoint = "service_ping_notice")]
pub async fn service_ping_notice() -> Result<bool, ApiError> {
    use crate::error::AppError;
    let account = crate::auth::session::require_admin().await?;
    let state = crate::state::app_state()?;
    let enabled = db::service_ping(&state.db, &state.locks)
        .await
        .map_err(AppError::from)?
        .enabled;
    Ok(enabled
        && db::shows_service_ping_notice(&state.db, account.id)
            .await
            .map_err(AppError::from)?)
}

#[server(endpoint = "dismiss_service_ping_notice")]
pub async fn dismiss_service_ping_notice() -> Result<(), ApiError> {
    use crate::error::AppError;
    let account = crate::auth::session::require_admin().await?;
    let state = crate::state::app_state()?;
    db::dismiss_service_ping_notice(&state.db, account.id, chrono::Utc::now())
        .await
        .map_err(AppError::from)?;
    Ok(())
}

/// A boolean setting as the dashboard shows it: its value in force and, when the operator fixed
/// it in configuration, why the control is locked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Toggle {
    pub enabled: bool,
    pub locked_reason: Option<String>,
}

#[cfg(feature = "ssr")]
impl Toggle {
    /// The stored choice, unless a lock decides.
    pub fn resolve(stored: bool, lock: Option<&crate::config::Lock>) -> Self {
        match lock {
            Some(lock) => Toggle {
                enabled: lock.value,
                locked_reason: Some(lock.reason.clone()),
            },
            None => Toggle {
                enabled: stored,
                locked_reason: None,
            },
        }
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;
    use crate::config::Lock;

    #[test]
    fn a_setting_posts_under_its_serde_name() {
        for setting in [
            Setting::ServicePing,
            Setting::IncludeOptionalData,
            Setting::RegistrationFeatures,
        ] {
            assert_eq!(
                serde_json::to_value(setting).unwrap(),
                serde_json::Value::from(setting.form_value())
            );
        }
    }

    #[test]
    fn a_lock_overrides_the_stored_choice_and_carries_its_reason() {
        let lock = Lock {
            value: false,
            reason: "DO_NOT_TRACK is set in the environment".into(),
        };
        assert_eq!(
            Toggle::resolve(true, Some(&lock)),
            Toggle {
                enabled: false,
                locked_reason: Some(lock.reason.clone())
            }
        );
        assert_eq!(
            Toggle::resolve(true, None),
            Toggle {
                enabled: true,
                locked_reason: None
            }
        );
    }
}
