//! Password complexity rules (a paid feature): a minimum length, character classes, and refusal
//! of commonly breached passwords, applied wherever a password is set through the product (the
//! dashboard's password change and `service-ping admin create --password-stdin`). Without the
//! feature every password still needs [`BASIC_MINIMUM_LENGTH`] characters.
//!
//! "Breached" means the whole password (ignoring case) is in zxcvbn's list of the 30 000 most
//! common passwords from public breaches, shipped inside the `zxcvbn` crate: no network needed.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

pub mod view;

/// The longest minimum an administrator may require.
pub const MAX_MINIMUM_LENGTH: u32 = 128;

/// What a new password must satisfy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct PasswordPolicy {
    pub minimum_length: u32,
    pub require_lowercase: bool,
    pub require_uppercase: bool,
    pub require_number: bool,
    pub require_symbol: bool,
    pub reject_breached: bool,
}

impl PasswordPolicy {
    /// The rule without the paid feature: length only.
    pub fn basic() -> Self {
        PasswordPolicy {
            minimum_length: BASIC_MINIMUM_LENGTH,
            require_lowercase: false,
            require_uppercase: false,
            require_number: false,
            require_symbol: false,
            reject_breached: false,
        }
    }

    /// The rules in words, for forms.
    pub fn describe(&self) -> Vec<String> {
        let mut rules = vec![format!("at least {} characters", self.minimum_length)];
        let classes = [
            (self.require_lowercase, "a lowercase letter"),
            (self.require_uppercase, "an uppercase letter"),
            (self.require_number, "a number"),
            (self.require_symbol, "a symbol"),
        ];
        rules.extend(
            classes
                .iter()
                .filter(|(on, _)| *on)
                .map(|(_, what)| (*what).to_string()),
        );
        if self.reject_breached {
            rules.push("not a commonly breached password".into());
        }
        rules
    }
}

/// The minimum length of every password, with or without the feature.
pub const BASIC_MINIMUM_LENGTH: u32 = 12;

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
    let state = crate::server::app_state()?;
    entitlement::require(&state, Feature::PasswordComplexity).await?;
    Ok(PasswordRules {
        configured: server::configured(&state.db)
            .await
            .map_err(crate::error::AppError::from)?,
        in_force: server::in_force(&state).await?,
    })
}

#[server(endpoint = "update_password_rules")]
pub async fn update_password_rules(policy: PasswordPolicy) -> Result<PasswordRules, ApiError> {
    use crate::error::AppError;
    use crate::licensing::{Feature, entitlement};
    let account = crate::auth::session::require_admin().await?;
    let state = crate::server::app_state()?;
    entitlement::require(&state, Feature::PasswordComplexity).await?;
    crate::maintenance::require_writable(&state).await?;
    if !(BASIC_MINIMUM_LENGTH..=MAX_MINIMUM_LENGTH).contains(&policy.minimum_length) {
        return Err(AppError::Validation(format!(
            "The minimum length must be between {BASIC_MINIMUM_LENGTH} and {MAX_MINIMUM_LENGTH}."
        ))
        .into());
    }
    server::store(&state.db, &policy, &account).await?;
    Ok(PasswordRules {
        configured: policy,
        in_force: server::in_force(&state).await?,
    })
}

/// The rules a new password must meet now, for the password form (any signed-in account).
#[server(endpoint = "password_policy_in_force")]
pub async fn get_password_policy() -> Result<PasswordPolicy, ApiError> {
    crate::auth::session::require_account().await?;
    let state = crate::server::app_state()?;
    Ok(server::in_force(&state).await?)
}

/// Changes the signed-in account's password after checking the current one and the rules.
#[server(endpoint = "change_password")]
pub async fn change_password(current: String, new: String) -> Result<(), ApiError> {
    use crate::error::AppError;
    use secrecy::SecretString;
    let account = crate::auth::session::require_account().await?;
    let state = crate::server::app_state()?;
    crate::maintenance::require_writable(&state).await?;
    let stored = Some(account.password_hash.clone());
    if !crate::auth::password::verify(SecretString::from(current), stored)
        .await
        .map_err(AppError::from)?
    {
        return Err(AppError::Validation("The current password is not correct.".into()).into());
    }
    let policy = server::in_force(&state).await?;
    check(
        &policy,
        &new,
        &[&account.username, &account.email, &account.name],
    )
    .map_err(AppError::Validation)?;
    let hash = crate::auth::password::hash(SecretString::from(new))
        .await
        .map_err(AppError::from)?;
    server::set_password(&state.db, account.id, &hash).await?;
    tracing::info!(account = account.id, "password changed");
    Ok(())
}

/// Checks `password` against `policy`; the error lists every rule it breaks. A password equal
/// to one of `personal` (username, email, name) is refused as breached-grade too.
#[cfg(feature = "ssr")]
pub fn check(policy: &PasswordPolicy, password: &str, personal: &[&str]) -> Result<(), String> {
    let mut broken = Vec::new();
    if password.chars().count() < policy.minimum_length as usize {
        broken.push(format!("at least {} characters", policy.minimum_length));
    }
    type Class = (bool, fn(char) -> bool, &'static str);
    let classes: [Class; 4] = [
        (
            policy.require_lowercase,
            |c| c.is_lowercase(),
            "a lowercase letter",
        ),
        (
            policy.require_uppercase,
            |c| c.is_uppercase(),
            "an uppercase letter",
        ),
        (policy.require_number, |c| c.is_numeric(), "a number"),
        (
            policy.require_symbol,
            |c| !c.is_alphanumeric() && !c.is_whitespace(),
            "a symbol",
        ),
    ];
    for (required, present, what) in classes {
        if required && !password.chars().any(present) {
            broken.push(what.to_string());
        }
    }
    if policy.reject_breached && is_breached(password, personal) {
        broken.push("not a commonly breached or personal password".into());
    }
    match broken.as_slice() {
        [] => Ok(()),
        _ => Err(format!("The password must have {}.", broken.join(", "))),
    }
}

/// Whether the whole password is a common breached password or one of the person's own details.
#[cfg(feature = "ssr")]
fn is_breached(password: &str, personal: &[&str]) -> bool {
    use zxcvbn::matching::patterns::MatchPattern;
    let lowered = password.to_lowercase();
    if personal.iter().any(|p| p.to_lowercase() == lowered) {
        return true;
    }
    let entropy = zxcvbn::zxcvbn(&lowered, &[]);
    // zxcvbn does not export its dictionary type, only its Debug name.
    match entropy.sequence() {
        [only] => matches!(
            &only.pattern,
            MatchPattern::Dictionary(d)
                if format!("{:?}", d.dictionary_name) == "Passwords" && !d.reversed
        ),
        _ => false,
    }
}

#[cfg(feature = "ssr")]
mod server {
    use super::PasswordPolicy;
    use crate::auth::db::AccountRecord;
    use crate::error::AppError;
    use crate::server::AppState;
    use crate::server::db::Db;

    pub async fn configured(db: &Db) -> Result<PasswordPolicy, sqlx::Error> {
        sqlx::query_as(
            "SELECT password_minimum_length AS minimum_length, password_require_lowercase AS require_lowercase, \
             password_require_uppercase AS require_uppercase, password_require_number AS require_number, \
             password_require_symbol AS require_symbol, password_reject_breached AS reject_breached \
             FROM application_settings WHERE id = 1",
        )
        .fetch_one(db)
        .await
    }

    /// The configured rules while the feature is open, else the basic rule.
    pub async fn in_force(state: &AppState) -> Result<PasswordPolicy, AppError> {
        let vendor = state.settings.licensing.vendor_key();
        Ok(in_force_with(&state.db, &state.locks, vendor.as_ref()).await?)
    }

    /// [`in_force`] outside a request (the command line).
    pub async fn in_force_with(
        db: &Db,
        locks: &crate::server::config::Locks,
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
        let at = crate::engine::evaluate::format_timestamp(chrono::Utc::now());
        let mut tx = crate::server::db::begin_write(db).await?;
        sqlx::query(
            "UPDATE application_settings SET password_minimum_length = $1, password_require_lowercase = $2, \
             password_require_uppercase = $3, password_require_number = $4, password_require_symbol = $5, \
             password_reject_breached = $6, updated_at = $7 WHERE id = 1",
        )
        .bind(policy.minimum_length)
        .bind(policy.require_lowercase)
        .bind(policy.require_uppercase)
        .bind(policy.require_number)
        .bind(policy.require_symbol)
        .bind(policy.reject_breached)
        .bind(&at)
        .execute(&mut *tx)
        .await?;
        let who = crate::settings::db::Actor {
            account_id: account.id,
            name: &account.username,
            at: &at,
        };
        let rules = policy.describe().join(", ");
        crate::settings::db::record_change(&mut tx, &who, "Password rules", None, Some(&rules))
            .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn set_password(db: &Db, account_id: i64, hash: &str) -> Result<(), AppError> {
        let at = crate::engine::evaluate::format_timestamp(chrono::Utc::now());
        sqlx::query("UPDATE accounts SET password_hash = $2, updated_at = $3 WHERE id = $1")
            .bind(account_id)
            .bind(hash)
            .bind(at)
            .execute(db)
            .await?;
        Ok(())
    }
}

#[cfg(feature = "ssr")]
pub use server::{in_force, in_force_with};

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;

    fn strict() -> PasswordPolicy {
        PasswordPolicy {
            minimum_length: 14,
            require_lowercase: true,
            require_uppercase: true,
            require_number: true,
            require_symbol: true,
            reject_breached: true,
        }
    }

    #[test]
    fn a_password_meeting_every_rule_passes() {
        assert_eq!(check(&strict(), "Tangerine-Kite-42x", &[]), Ok(()));
    }

    #[test]
    fn every_broken_rule_is_named() {
        let error = check(&strict(), "short", &[]).unwrap_err();
        assert_eq!(
            error,
            "The password must have at least 14 characters, an uppercase letter, a number, a symbol."
        );
        let error = check(&strict(), "ALLUPPERCASE-1234", &[]).unwrap_err();
        assert_eq!(error, "The password must have a lowercase letter.");
    }

    #[test]
    fn common_breached_passwords_are_refused_whatever_their_case() {
        let policy = PasswordPolicy {
            minimum_length: 8,
            ..PasswordPolicy::basic()
        };
        let breached = PasswordPolicy {
            reject_breached: true,
            ..policy.clone()
        };
        for common in ["password", "Password", "qwertyuiop", "iloveyou", "football"] {
            assert_eq!(check(&policy, common, &[]), Ok(()), "{common}");
            assert!(check(&breached, common, &[]).is_err(), "{common}");
        }
        assert_eq!(check(&breached, "violet-harbour-sextant", &[]), Ok(()));
    }

    #[test]
    fn the_persons_own_details_are_refused() {
        let policy = PasswordPolicy {
            reject_breached: true,
            ..PasswordPolicy::basic()
        };
        assert!(
            check(
                &policy,
                "Ada.Lovelace@example.com",
                &["ada.lovelace@example.com"]
            )
            .is_err()
        );
    }

    #[test]
    fn the_basic_rule_is_length_only() {
        assert_eq!(check(&PasswordPolicy::basic(), "aaaaaaaaaaaa", &[]), Ok(()));
        assert_eq!(
            check(&PasswordPolicy::basic(), "aaaaaaaaaaa", &[]).unwrap_err(),
            "The password must have at least 12 characters."
        );
    }
}
