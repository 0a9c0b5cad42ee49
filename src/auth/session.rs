//! The session (tower-sessions, stored in the database) and the guards built on it.
//!
//! A session is bound to an account, to the account's *session epoch* and to the time of
//! sign-in. Changing the password moves the epoch on, which ends every other session of the
//! account at its next request; a session older than `server.session_lifetime_days` ends however
//! active it has been (the cookie's own expiry is the idle limit).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use service_ping_web::client::ClientAddress;
use tower_sessions::Session;

use super::Account;
use super::db::{self, AccountRecord};
use crate::error::AppError;
use crate::state::AppState;

/// Session key holding the [`Binding`].
const SIGNED_IN: &str = "signed_in";

/// What a signed-in session holds.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct Binding {
    account_id: i64,
    epoch: i64,
    signed_in_at: DateTime<Utc>,
}

impl From<AccountRecord> for Account {
    fn from(record: AccountRecord) -> Self {
        Account {
            id: record.id,
            username: record.username,
            name: record.name,
            email: record.email,
            is_admin: record.is_admin,
        }
    }
}

impl Binding {
    /// Whether this sign-in still holds for `account`: active, no password change since, and
    /// younger than `lifetime`.
    fn is_current_for(
        &self,
        account: &AccountRecord,
        lifetime: chrono::Duration,
        now: DateTime<Utc>,
    ) -> bool {
        account.is_active()
            && account.id == self.account_id
            && account.session_epoch == self.epoch
            && now - self.signed_in_at < lifetime
    }
}

fn session_error(error: tower_sessions::session::Error) -> AppError {
    AppError::Internal(anyhow::anyhow!("session store: {error}"))
}

/// The request's session, inside a server function.
pub async fn extract() -> Result<Session, AppError> {
    leptos_axum::extract::<Session>()
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("session layer missing: {e}")))
}

/// The client's address (behind the configured proxies), for throttling; `unknown` when the
/// server was not started with connection info (router tests).
pub async fn client_address() -> String {
    leptos_axum::extract::<axum::Extension<ClientAddress>>()
        .await
        .map(|axum::Extension(address)| address.key())
        .unwrap_or_else(|_| "unknown".into())
}

/// Binds the session to `account` under a fresh id, so a session id planted before sign-in is
/// worthless after it (and the id a password was changed under is not the one used after).
pub async fn start(session: &Session, account: &AccountRecord) -> Result<(), AppError> {
    session.cycle_id().await.map_err(session_error)?;
    let binding = Binding {
        account_id: account.id,
        epoch: account.session_epoch,
        signed_in_at: Utc::now(),
    };
    session
        .insert(SIGNED_IN, binding)
        .await
        .map_err(session_error)
}

pub async fn end(session: &Session) -> Result<(), AppError> {
    session.flush().await.map_err(session_error)
}

/// The active account bound to `session`, if any. A session from before the account's last
/// password change, or older than the absolute lifetime, is ended here.
pub async fn account_in(
    session: &Session,
    state: &AppState,
) -> Result<Option<AccountRecord>, AppError> {
    let Some(binding) = session
        .get::<Binding>(SIGNED_IN)
        .await
        .map_err(session_error)?
    else {
        return Ok(None);
    };
    let lifetime = chrono::Duration::days(i64::from(state.settings.server.session_lifetime_days));
    let account = db::find_by_id(&state.db, binding.account_id)
        .await?
        .filter(|account| binding.is_current_for(account, lifetime, Utc::now()));
    if account.is_none() {
        end(session).await?;
    }
    Ok(account)
}

/// The account the admin-page guard (`server::security`) verified at the start of this request,
/// kept in the request's extensions: a page's server functions, run while it renders, use it
/// instead of each reading the account again.
#[derive(Debug, Clone)]
pub struct VerifiedAccount(pub AccountRecord);

fn verified_in_this_request() -> Option<AccountRecord> {
    let request = leptos::prelude::use_context::<axum::http::request::Parts>()?;
    let VerifiedAccount(account) = request.extensions.get::<VerifiedAccount>()?;
    Some(account.clone())
}

/// The signed-in account, or 401.
pub async fn require_account() -> Result<AccountRecord, AppError> {
    if let Some(account) = verified_in_this_request() {
        return Ok(account);
    }
    let state = crate::state::app_state()?;
    let session = extract().await?;
    account_in(&session, &state)
        .await?
        .ok_or(AppError::Unauthorized)
}

/// The signed-in administrator, or 401 (no session) / 403 (not an administrator). Every admin
/// server function starts with this: hiding a button is not access control.
pub async fn require_admin() -> Result<AccountRecord, AppError> {
    ensure_admin(require_account().await?)
}

/// The same guard for plain axum handlers, which have the session and state as extractors.
pub async fn require_admin_in(
    session: &Session,
    state: &AppState,
) -> Result<AccountRecord, AppError> {
    ensure_admin(
        account_in(session, state)
            .await?
            .ok_or(AppError::Unauthorized)?,
    )
}

fn ensure_admin(account: AccountRecord) -> Result<AccountRecord, AppError> {
    if !account.is_admin {
        return Err(AppError::Forbidden(
            "You need administrator access for this.".into(),
        ));
    }
    Ok(account)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(epoch: i64, state: &str) -> AccountRecord {
        AccountRecord {
            id: 1,
            username: "root".into(),
            email: "admin@example.com".into(),
            name: "Administrator".into(),
            password_hash: String::new(),
            is_admin: true,
            state: state.into(),
            session_epoch: epoch,
        }
    }

    #[test]
    fn a_sign_in_ends_at_its_lifetime_at_a_password_change_or_when_the_account_is_blocked() {
        let signed_in_at: DateTime<Utc> = "2026-12-01T10:00:00Z".parse().unwrap();
        let binding = Binding {
            account_id: 1,
            epoch: 3,
            signed_in_at,
        };
        let day = chrono::Duration::days(1);
        let lifetime = chrono::Duration::days(30);
        assert!(binding.is_current_for(&account(3, "active"), lifetime, signed_in_at + day));
        assert!(!binding.is_current_for(&account(3, "active"), lifetime, signed_in_at + lifetime));
        assert!(!binding.is_current_for(&account(4, "active"), lifetime, signed_in_at + day));
        assert!(!binding.is_current_for(&account(3, "blocked"), lifetime, signed_in_at + day));
    }
}
