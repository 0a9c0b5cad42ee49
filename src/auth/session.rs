//! The session (tower-sessions, stored in the database) and the guards built on it.

use axum::extract::ConnectInfo;
use std::net::SocketAddr;
use tower_sessions::Session;

use super::Account;
use super::db::{self, AccountRecord};
use crate::db::Db;
use crate::error::AppError;

/// Session key holding the signed-in account's id.
const ACCOUNT_ID: &str = "account_id";

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

fn session_error(error: tower_sessions::session::Error) -> AppError {
    AppError::Internal(anyhow::anyhow!("session store: {error}"))
}

/// The request's session, inside a server function.
pub async fn extract() -> Result<Session, AppError> {
    leptos_axum::extract::<Session>()
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("session layer missing: {e}")))
}

/// The peer address of the request, for throttling. Unknown when the server was not started
/// with connection info (router tests).
pub async fn client_address() -> String {
    leptos_axum::extract::<ConnectInfo<SocketAddr>>()
        .await
        .map(|ConnectInfo(addr)| addr.ip().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

/// Binds the session to `account_id` under a fresh id, so a session id planted before sign-in
/// is worthless after it.
pub async fn start(session: &Session, account_id: i64) -> Result<(), AppError> {
    session.cycle_id().await.map_err(session_error)?;
    session
        .insert(ACCOUNT_ID, account_id)
        .await
        .map_err(session_error)
}

pub async fn end(session: &Session) -> Result<(), AppError> {
    session.flush().await.map_err(session_error)
}

/// The active account bound to `session`, if any.
pub async fn account_in(session: &Session, db: &Db) -> Result<Option<AccountRecord>, AppError> {
    let Some(id) = session
        .get::<i64>(ACCOUNT_ID)
        .await
        .map_err(session_error)?
    else {
        return Ok(None);
    };
    Ok(db::find_by_id(db, id)
        .await?
        .filter(AccountRecord::is_active))
}

/// The signed-in account, or 401.
pub async fn require_account() -> Result<AccountRecord, AppError> {
    let state = crate::state::app_state()?;
    let session = extract().await?;
    account_in(&session, &state.db)
        .await?
        .ok_or(AppError::Unauthorized)
}

/// The signed-in administrator, or 401 (no session) / 403 (not an administrator). Every admin
/// server function starts with this: hiding a button is not access control.
pub async fn require_admin() -> Result<AccountRecord, AppError> {
    ensure_admin(require_account().await?)
}

/// The same guard for plain axum handlers, which have the session and state as extractors.
pub async fn require_admin_in(session: &Session, db: &Db) -> Result<AccountRecord, AppError> {
    ensure_admin(
        account_in(session, db)
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
