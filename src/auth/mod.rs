//! Signing in and out, the signed-in account, and the server-side guards every other area
//! starts with ([`session::require_admin`]).

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

pub mod view;

#[cfg(feature = "ssr")]
pub mod db;
#[cfg(feature = "ssr")]
pub mod password;
pub mod password_policy;
#[cfg(feature = "ssr")]
pub mod session;
#[cfg(feature = "ssr")]
pub mod sign_in;

/// The signed-in account as the dashboard sees it. Deliberately has no password hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub id: i64,
    pub username: String,
    pub name: String,
    pub email: String,
    pub is_admin: bool,
}

/// Where to go after signing in when no (acceptable) target was given.
pub const DEFAULT_LANDING: &str = "/admin";

/// Only local paths are followed after sign-in, so the sign-in link cannot be used to send a
/// person to another site (`//evil.example`, `/\evil.example`, `https://...` are all refused).
pub fn safe_redirect_target(requested: Option<&str>) -> String {
    match requested {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.starts_with("/\\")
                && path.is_ascii()
                && !path.chars().any(|c| c.is_ascii_control()) =>
        {
            path.to_string()
        }
        _ => DEFAULT_LANDING.to_string(),
    }
}

/// The sign-in page's address that brings a person back to `path` afterwards.
pub fn sign_in_path_returning_to(path: &str) -> String {
    let encoded: String = path
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect();
    format!("/users/sign_in?redirect_to={encoded}")
}

/// Signs in with a username or email and a password; on success the session id is cycled and
/// the browser is sent to `redirect_to` (a local path) or the admin overview.
#[server(endpoint = "sign_in")]
pub async fn sign_in(
    login: String,
    password: String,
    redirect_to: Option<String>,
) -> Result<(), ApiError> {
    use chrono::Utc;
    use secrecy::SecretString;

    let state = crate::state::app_state()?;
    let session = session::extract().await?;
    let address = session::client_address().await;
    let account = sign_in::authenticate(
        &state.db,
        &state.settings.sign_in,
        &login,
        SecretString::from(password),
        &address,
        Utc::now(),
    )
    .await?;
    session::start(&session, &account).await?;
    tracing::info!(account_id = account.id, "signed in");
    leptos_axum::redirect(&safe_redirect_target(redirect_to.as_deref()));
    Ok(())
}

/// Ends the session and returns to the sign-in page.
#[server(endpoint = "sign_out")]
pub async fn sign_out() -> Result<(), ApiError> {
    let session = session::extract().await?;
    session::end(&session).await?;
    leptos_axum::redirect("/users/sign_in");
    Ok(())
}

/// The signed-in administrator, for the dashboard header. 401 without a session, 403 for an
/// account that is not an administrator.
#[server(endpoint = "admin_account")]
pub async fn admin_account() -> Result<Account, ApiError> {
    Ok(session::require_admin().await?.into())
}
