//! `GET /admin/service_ping/payloads/{id}/download`: the exact stored bytes of a payload, as a
//! file named `service_ping_<uuid>_<recorded_at>.json` (colons in the time become `-`, which
//! every file system accepts).

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use tower_sessions::Session;

use crate::auth::session::require_admin_in;
use crate::error::AppError;
use crate::state::AppState;

#[tracing::instrument(skip_all, fields(id), err)]
pub async fn download_payload(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    require_admin_in(&session, &state).await?;
    let row = crate::service_ping::db::find(&state.db, id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("There is no stored payload {id}.")))?;
    let bytes = crate::service_ping::db::payload_bytes(&state.db, id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("There is no stored payload {id}.")))?;
    let filename = file_name(&state.identity.uuid.to_string(), &row.recorded_at);
    Ok((
        [
            (header::CONTENT_TYPE, "application/json".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        bytes,
    )
        .into_response())
}

fn file_name(uuid: &str, recorded_at: &str) -> String {
    format!("service_ping_{uuid}_{}.json", recorded_at.replace(':', "-"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_file_is_named_after_the_instance_and_the_recording_time() {
        assert_eq!(
            super::file_name("6b1c", "2026-11-25T10:15:00.123Z"),
            "service_ping_6b1c_2026-11-25T10-15-00.123Z.json"
        );
    }
}
