//! Personal access tokens (`/admin/access_tokens`) and the API they open:
//! `GET /api/v4/usage_data/service_ping` (scope `read_service_ping`) returns the latest stored
//! payload, and `GET /api/v4/user` (scope `read_user`) says whose token it is. A token is shown
//! once when created; only its SHA-256 is kept.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

#[cfg(feature = "ssr")]
pub mod api;
#[cfg(feature = "ssr")]
pub mod db;
pub mod view;

/// The scopes a token may carry, with what each allows.
pub const SCOPES: &[(&str, &str)] = &[
    (
        "read_service_ping",
        "Read the latest Service Ping payload (GET /api/v4/usage_data/service_ping)",
    ),
    (
        "read_user",
        "Read the token owner's profile (GET /api/v4/user)",
    ),
];

/// Tokens start with this, so a leaked one is easy to recognise (and to scan for).
pub const TOKEN_PREFIX: &str = "spat-";

/// A token as the list shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessToken {
    pub id: i64,
    pub name: String,
    pub scopes: Vec<String>,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
}

/// A token just created: the only time its secret is shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedToken {
    pub token: AccessToken,
    pub secret: String,
}

#[cfg(feature = "ssr")]
impl From<db::TokenRecord> for AccessToken {
    fn from(record: db::TokenRecord) -> Self {
        AccessToken {
            id: record.id,
            name: record.name,
            scopes: record.scopes.split(' ').map(String::from).collect(),
            created_at: record.created_at,
            expires_at: record.expires_at,
            last_used_at: record.last_used_at,
            revoked_at: record.revoked_at,
        }
    }
}

/// The digest a token is stored and looked up by.
#[cfg(feature = "ssr")]
pub fn digest(token: &str) -> String {
    service_ping_protocol::hash::sha256_hex(token.as_bytes())
}

/// Checks a token request; returns the trimmed name and the scopes in canonical order.
pub fn validate_request(
    name: &str,
    scopes: &[String],
    expires_in_days: Option<u32>,
) -> Result<(String, Vec<&'static str>), String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err("Give the token a name of 1 to 100 characters.".into());
    }
    if let Some(unknown) = scopes
        .iter()
        .find(|s| !SCOPES.iter().any(|(known, _)| known == s))
    {
        return Err(format!("Unknown scope `{unknown}`."));
    }
    let chosen: Vec<&'static str> = SCOPES
        .iter()
        .map(|(scope, _)| *scope)
        .filter(|scope| scopes.iter().any(|s| s == scope))
        .collect();
    if chosen.is_empty() {
        return Err("Choose at least one scope.".into());
    }
    if expires_in_days.is_some_and(|d| d == 0 || d > 365) {
        return Err("A token expires after 1 to 365 days (or never).".into());
    }
    Ok((name.to_string(), chosen))
}

#[server(endpoint = "access_tokens")]
pub async fn get_access_tokens() -> Result<Vec<AccessToken>, ApiError> {
    let account = crate::auth::session::require_admin().await?;
    let state = crate::state::app_state()?;
    let tokens = db::list_for(&state.db, account.id)
        .await
        .map_err(crate::error::AppError::from)?;
    Ok(tokens.into_iter().map(Into::into).collect())
}

#[server(endpoint = "create_access_token")]
pub async fn create_access_token(
    name: String,
    #[server(default)] scopes: Vec<String>,
    #[server(default)] expires_in_days: Option<u32>,
) -> Result<CreatedToken, ApiError> {
    use crate::error::AppError;
    use rand::RngCore;
    let account = crate::auth::session::require_admin().await?;
    let state = crate::state::app_state()?;
    crate::maintenance::require_writable(state.licensing()).await?;
    let (name, scopes) =
        validate_request(&name, &scopes, expires_in_days).map_err(AppError::Validation)?;
    let mut random = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut random);
    let secret = format!("{TOKEN_PREFIX}{}", hex::encode(random));
    let now = chrono::Utc::now();
    let expires_at = expires_in_days.map(|d| now + chrono::Duration::days(i64::from(d)));
    let at = service_ping_protocol::time::format_timestamp(now);
    let who = crate::settings::db::Actor::new(&account, &at);
    let new = db::NewToken {
        name: &name,
        digest: &digest(&secret),
        scopes: &scopes.join(" "),
        expires_at,
    };
    let id = db::insert(&state.db, &new, &who)
        .await
        .map_err(AppError::from)?;
    tracing::info!(
        token_id = id,
        account = account.id,
        "personal access token created"
    );
    let token = db::list_for(&state.db, account.id)
        .await
        .map_err(AppError::from)?
        .into_iter()
        .find(|t| t.id == id)
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("token {id} vanished")))?;
    Ok(CreatedToken {
        token: token.into(),
        secret,
    })
}

#[server(endpoint = "revoke_access_token")]
pub async fn revoke_access_token(id: i64) -> Result<(), ApiError> {
    use crate::error::AppError;
    let account = crate::auth::session::require_admin().await?;
    let state = crate::state::app_state()?;
    let at = service_ping_protocol::time::format_timestamp(chrono::Utc::now());
    let who = crate::settings::db::Actor::new(&account, &at);
    if !db::revoke(&state.db, id, &who)
        .await
        .map_err(AppError::from)?
    {
        return Err(AppError::NotFound("You have no active token with that id.".into()).into());
    }
    tracing::info!(
        token_id = id,
        account = account.id,
        "personal access token revoked"
    );
    Ok(())
}

/// The `/api/v4` routes that personal access tokens open.
#[cfg(feature = "ssr")]
pub fn routes() -> axum::Router<crate::state::AppState> {
    use axum::routing::get;
    axum::Router::new()
        .route(
            "/api/v4/usage_data/service_ping",
            get(api::latest_service_ping),
        )
        .route("/api/v4/user", get(api::current_user))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_needs_a_name_a_known_scope_and_a_sane_expiry() {
        let scopes = |s: &[&str]| s.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            validate_request(
                " ci ",
                &scopes(&["read_user", "read_service_ping"]),
                Some(30)
            ),
            Ok(("ci".into(), vec!["read_service_ping", "read_user"]))
        );
        assert!(validate_request("", &scopes(&["read_user"]), None).is_err());
        assert!(validate_request("x", &scopes(&[]), None).is_err());
        assert!(validate_request("x", &scopes(&["api"]), None).is_err());
        assert!(validate_request("x", &scopes(&["read_user"]), Some(0)).is_err());
        assert!(validate_request("x", &scopes(&["read_user"]), Some(366)).is_err());
    }
}
