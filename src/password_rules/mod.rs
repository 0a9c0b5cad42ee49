//! Password complexity rules (a paid feature): a minimum length, character classes, and refusal
//! of commonly breached passwords, applied wherever a password is set through the product (the
//! dashboard's password change and `service-ping admin create --password-stdin`). Without the
//! feature every password still needs [`BASIC_MINIMUM_LENGTH`] characters.
//! The rules themselves and their check are `auth::password_policy`.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

pub mod view;

#[cfg(feature = "ssr")]
pub use crate::auth::password_policy::check;
pub use crate::auth::password_policy::{BASIC_MINIMUM_LENGTH, MAX_MINIMUM_LENGTH, PasswordPolicy};

/// The Password rules page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordRules {
    /// The rules an administrator configured.
    pub configured: PasswordPolicy,
    /// The rules applied now.
    pub in_force: PasswordPolicy,
}

#[server(endpoint = "password_rules")]
pub async fn get_password_rules() -> Result<PasswordRules, ApiError> {
    use crate::licensing::{Feature, entitlement};
    crate::auth::session::require_admin().await?;
    let state = crate::state::app_state()?;
    entitlement::require(state.licensing(), Feature::PasswordComplexity).await?;
    Ok(PasswordRules {
        configured: server::configured(&state.db)
            .await
            .map_err(crate::error::AppError::from)?,
        in_force: server::in_force(state.licensing()).await?,
    })
}

#[server(endpoint = "update_password_rules")]
pub async fn update_password_rules(policy: PasswordPolicy) -> Result<PasswordRules, ApiError> {
    use crate::error::AppError;
    use crate::licensing::{Feature, entitlement};
    let account = crate::auth::session::require_admin().await?;
    let state = crate::state::app_state()?;
    entitlement::require(state.licensing(), Feature::PasswordComplexity).await?;
    crate::maintenance::require_writable(state.licensing()).await?;
    if !(BASIC_MINIMUM_LENGTH..=MAX_MINIMUM_LENGTH).contains(&policy.minimum_length) {
        return Err(AppError::Validation(format!(
            "The minimum length must be between {BASIC_MINIMUM_LENGTH} and {MAX_MINIMUM_LENGTH}."
        ))
        .into());
    }
    server::store(&state.db, &policy, &account).await?;
    Ok(PasswordRules {
        configured: policy,
        in_force: server::in_force(state.licensing()).await?,
    })
}

/// The rules a new password must meet now, for the password form (any signed-in account).
#[server(endpoint = "password_policy_in_force")]
pub async fn get_password_policy() -> Result<PasswordPolicy, ApiError> {
    crate::auth::session::require_account().await?;
    let state = crate::state::app_state()?;
    Ok(server::in_force(state.licensing()).await?)
}

/// Changes the signed-in account's password after checking the current one and the rules.
#[server(endpoint = "change_password")]
pub async fn change_password(current: String, new: String) -> Result<(), ApiError> {
    use crate::error::AppError;
    use secrecy::SecretString;
    let account = crate::auth::session::require_account().await?;
    let state = crate::state::app_state()?;
    crate::maintenance::require_writable(state.licensing()).await?;
    crate::auth::sign_in::confirm_password(
        &state.db,
        &state.settings.sign_in,
        &account,
        SecretString::from(current),
        chrono::Utc::now(),
    )
    .await?;
    let policy = server::in_force(state.licensing()).await?;
    check(
        &policy,
        &new,
        &[&account.username, &account.email, &account.name],
    )
    .map_err(AppError::Validation)?;
    let hash = crate::auth::password::hash(SecretString::from(new))
        .await
        .map_err(AppError::from)?;
    let account = server::set_password(&state.db, &account, &hash).await?;
    // This browser stays signed in under a new session id; every other session has ended.
    let session = crate::auth::session::extract().await?;
    crate::auth::session::start(&session, &account).await?;
    tracing::info!(
        account = account.id,
        "password changed; other sessions ended"
    );
    Ok(())
}

/// Checks `password` against `policy`; the error lists every rule it breaks. A password equal
/// to one of `personal` (username, email, name) is refused as breached-grade too.
#[cfg(feature = "ssr")]
mod server {
    use super::PasswordPolicy;
    use crate::auth::db::AccountRecord;
    use crate::db::{Db, execute_in, on_conn, on_pool};
    use crate::error::AppError;
    use crate::state::Licensing;

    pub async fn configured(db: &Db) -> Result<PasswordPolicy, sqlx::Error> {
        on_pool!(db, |p| {
            sqlx::query_as(
            "SELECT password_minimum_length AS minimum_length, password_require_lowercase AS require_lowercase, \
             password_require_uppercase AS require_uppercase, password_require_number AS require_number, \
             password_require_symbol AS require_symbol, password_reject_breached AS reject_breached \
             FROM application_settings WHERE id = 1",
        ).fetch_one(p).await
        })
    }

    /// The configured rules while the feature is open, else the basic rule.
    pub async fn in_force(licensing: Licensing<'_>) -> Result<PasswordPolicy, AppError> {
        Ok(in_force_with(licensing.db, licensing.locks, licensing.vendor_key).await?)
    }

    /// [`in_force`] outside a request (the command line).
    pub async fn in_force_with(
        db: &Db,
        locks: &crate::config::Locks,
        vendor: Option<&ed25519_dalek::VerifyingKey>,
    ) -> Result<PasswordPolicy, sqlx::Error> {
        let entitlement =
            crate::licensing::entitlement::evaluate(db, locks, vendor, chrono::Utc::now()).await?;
        if entitlement.access.is_open() {
            configured(db).await
        } else {
            Ok(PasswordPolicy::basic())
        }
    }

    pub async fn store(
        db: &Db,
        policy: &PasswordPolicy,
        account: &AccountRecord,
    ) -> Result<(), AppError> {
        let at = service_ping_protocol::time::format_timestamp(chrono::Utc::now());
        let mut tx = db.begin_write().await?;
        execute_in!(tx.conn(), sqlx::query(
            "UPDATE application_settings SET password_minimum_length = $1, password_require_lowercase = $2, \
             password_require_uppercase = $3, password_require_number = $4, password_require_symbol = $5, \
             password_reject_breached = $6, updated_at = $7 WHERE id = 1",
        )
        .bind(i64::from(policy.minimum_length))
        .bind(policy.require_lowercase)
        .bind(policy.require_uppercase)
        .bind(policy.require_number)
        .bind(policy.require_symbol)
        .bind(policy.reject_breached)
        .bind(&at))?;
        let who = crate::settings::db::Actor::new(account, &at);
        let rules = policy.describe().join(", ");
        crate::settings::db::record_change(
            &mut tx.conn(),
            &who,
            "Password rules",
            None,
            Some(&rules),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Stores the new hash and moves the session epoch on (ending the account's other
    /// sessions), audit-logged, in one transaction; returns the account as it is now.
    pub async fn set_password(
        db: &Db,
        account: &AccountRecord,
        hash: &str,
    ) -> Result<AccountRecord, AppError> {
        let at = service_ping_protocol::time::format_timestamp(chrono::Utc::now());
        let mut tx = db.begin_write().await?;
        let epoch: i64 = on_conn!(tx.conn(), |c| sqlx::query_scalar(
            "UPDATE accounts SET password_hash = $2, session_epoch = session_epoch + 1, \
             updated_at = $3 WHERE id = $1 RETURNING session_epoch",
        )
        .bind(account.id)
        .bind(hash)
        .bind(&at)
        .fetch_one(c)
        .await)?;
        let who = crate::settings::db::Actor::new(account, &at);
        crate::settings::db::record(
            &mut tx.conn(),
            &who,
            "password_changed",
            "Password",
            None,
            None,
        )
        .await?;
        tx.commit().await?;
        Ok(AccountRecord {
            password_hash: hash.to_string(),
            session_epoch: epoch,
            ..account.clone()
        })
    }
}

#[cfg(feature = "ssr")]
pub use server::{in_force, in_force_with};
