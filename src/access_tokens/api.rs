//! The token-authenticated API. A token comes in the `PRIVATE-TOKEN` header (as GitLab's API
//! takes it) or as `Authorization: Bearer`. 401 when it is missing, unknown, revoked or expired;
//! 403 when it lacks the scope or its owner may not read it.

use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;

use super::db::{self, TokenRecord};
use crate::error::AppError;
use crate::state::AppState;

fn presented_token(headers: &HeaderMap) -> Option<&str> {
    if let Some(token) = headers.get("private-token").and_then(|v| v.to_str().ok()) {
        return Some(token.trim());
    }
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

/// Whether a token with this stored expiry has expired at `now`. An expiry that cannot be read
/// counts as expired: a token is refused rather than trusted forever.
fn is_expired(expires_at: Option<&str>, now: chrono::DateTime<Utc>) -> bool {
    expires_at.is_some_and(|text| match chrono::DateTime::parse_from_rfc3339(text) {
        Ok(at) => at <= now,
        Err(_) => true,
    })
}

/// The token's record and its owner, when the token is valid and carries `scope`.
async fn authorize(
    state: &AppState,
    headers: &HeaderMap,
    scope: &str,
) -> Result<(TokenRecord, crate::auth::db::AccountRecord), AppError> {
    let token = presented_token(headers).ok_or(AppError::Unauthorized)?;
    let record = db::find_by_digest(&state.db, &super::digest(token))
        .await?
        .ok_or(AppError::Unauthorized)?;
    let now = Utc::now();
    if record.revoked_at.is_some() || is_expired(record.expires_at.as_deref(), now) {
        return Err(AppError::Unauthorized);
    }
    let owner = crate::auth::db::find_by_id(&state.db, record.account_id)
        .await?
        .filter(|a| a.is_active())
        .ok_or(AppError::Unauthorized)?;
    if !record.scopes.split(' ').any(|s| s == scope) {
        return Err(AppError::Forbidden(format!(
            "This token does not have the `{scope}` scope."
        )));
    }
    db::touch(&state.db, record.id, now).await?;
    Ok((record, owner))
}

/// `GET /api/v4/usage_data/service_ping`: the latest stored payload, exactly its bytes.
pub async fn latest_service_ping(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let (_, owner) = authorize(&state, &headers, "read_service_ping").await?;
    if !owner.is_admin {
        return Err(AppError::Forbidden(
            "Only administrators can read the Service Ping payload.".into(),
        ));
    }
    let latest = crate::service_ping::db::latest(&state.db)
        .await?
        .ok_or_else(|| AppError::NotFound("No payload has been generated yet.".into()))?;
    let bytes = crate::service_ping::db::payload_bytes(&state.db, latest.id)
        .await?
        .unwrap_or_default();
    Ok((
        [
            (header::CONTENT_TYPE, "application/json".to_string()),
            (
                header::HeaderName::from_static("x-payload-sha256"),
                latest.sha256,
            ),
        ],
        bytes,
    )
        .into_response())
}

/// `GET /api/v4/user`: whose token this is.
pub async fn current_user(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let (_, owner) = authorize(&state, &headers, "read_user").await?;
    Ok(axum::Json(serde_json::json!({
        "id": owner.id,
        "username": owner.username,
        "name": owner.name,
        "is_admin": owner.is_admin,
    }))
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::is_expired;
    use chrono::{TimeZone, Utc};

    #[test]
    fn an_unreadable_expiry_counts_as_expired() {
        let now = Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0).unwrap();
        assert!(!is_expired(None, now));
        assert!(!is_expired(Some("2026-12-01T00:00:00.000Z"), now));
        assert!(is_expired(Some("2026-11-30T12:00:00.000Z"), now));
        assert!(is_expired(Some("next tuesday"), now));
        assert!(is_expired(Some(""), now));
    }
}
