//! The session (tower-sessions, stored in the database) and the guards built on it.
//!
//! A session is bound to an account, to the account's *session epoch* and to the time of
//! sign-in. Changing the password moves the epoch on, which ends every other session of the
//! account at its next request; a session older than `server.session_lifetime_days` ends however
//! active it has been. The idle limit (`server.session_idle_minutes`) is the stored session's and
//! the cookie's expiry, which tower-sessions moves on only when it saves the session: a request
//! renews the binding once half the idle limit has passed since the last renewal, so an active
//! person stays signed in at the cost of one write per half idle window.

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
    /// When a request last renewed the session's idle expiry (absent in sessions from before
    /// renewals: the sign-in's time then).
    #[serde(default)]
    renewed_at: Option<DateTime<Utc>>,
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

    /// This binding renewed at `now`, when half of `idle` has passed since it was last renewed.
    fn renewed(self, idle: chrono::Duration, now: DateTime<Utc>) -> Option<Binding> {
        let since = now - self.renewed_at.unwrap_or(self.signed_in_at);
        (since >= idle / 2).then_some(Binding {
            renewed_at: Some(now),
            ..self
        })
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
        renewed_at: None,
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
    let server = &state.settings.server;
    let lifetime = chrono::Duration::days(i64::from(server.session_lifetime_days));
    let now = Utc::now();
    let account = db::find_by_id(&state.db, binding.account_id)
        .await?
        .filter(|account| binding.is_current_for(account, lifetime, now));
    if account.is_none() {
        end(session).await?;
        return Ok(None);
    }
    let idle = chrono::Duration::minutes(i64::from(server.session_idle_minutes));
    if let Some(renewed) = binding.renewed(idle, now) {
        // Changed data makes the session layer save it with a new expiry and cookie.
        session
            .insert(SIGNED_IN, renewed)
            .await
            .map_err(session_error)?;
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

    /// Account 1 signed in at epoch 3, never renewed.
    fn signed_in() -> Binding {
        Binding {
            account_id: 1,
            epoch: 3,
            signed_in_at: "2026-12-01T10:00:00Z".parse().unwrap(),
            renewed_at: None,
        }
    }

    #[test]
    fn a_sign_in_ends_at_its_lifetime_at_a_password_change_or_when_the_account_is_blocked() {
        let binding = signed_in();
        let signed_in_at = binding.signed_in_at;
        let day = chrono::Duration::days(1);
        let lifetime = chrono::Duration::days(30);
        assert!(binding.is_current_for(&account(3, "active"), lifetime, signed_in_at + day));
        assert!(!binding.is_current_for(&account(3, "active"), lifetime, signed_in_at + lifetime));
        assert!(!binding.is_current_for(&account(4, "active"), lifetime, signed_in_at + day));
        assert!(!binding.is_current_for(&account(3, "blocked"), lifetime, signed_in_at + day));
    }

    #[test]
    fn a_session_is_renewed_once_half_its_idle_limit_has_passed() {
        let binding = signed_in();
        let signed_in_at = binding.signed_in_at;
        let idle = chrono::Duration::days(7);
        let hour = chrono::Duration::hours(1);
        assert!(binding.renewed(idle, signed_in_at + hour).is_none());
        let at = signed_in_at + idle / 2;
        let renewed = binding
            .renewed(idle, at)
            .expect("renewed at half the idle limit");
        assert_eq!(renewed.renewed_at, Some(at));
        assert_eq!(
            renewed.signed_in_at, signed_in_at,
            "the absolute lifetime still counts from sign-in"
        );
        assert!(renewed.renewed(idle, at + hour).is_none());
        assert!(renewed.renewed(idle, at + idle / 2).is_some());
    }
}
