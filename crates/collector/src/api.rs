//! The collector's JSON endpoints, as GitLab's Versions application answers them:
//! `POST /usage_data`, `POST /usage_ping_metadata` and `POST /usage_ping_errors`.

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::Utc;
use serde_json::json;

use service_ping_protocol::cohort::CohortReport;
use service_ping_protocol::devops_score;
use service_ping_protocol::documents::{ErrorDocument, MetadataDocument};
use service_ping_protocol::ingest::{self, Rejection};

use service_ping_web::client::ClientAddress;

use crate::db::{self, Source, Stored};
use crate::refusal::Refusal;
use crate::state::CollectorState;

/// The largest metadata or error document accepted: a few hundred bytes per metric, for
/// thousands of metrics. (A ping may be `collector.max_body_bytes`.)
pub const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;

/// The body, or why it could not be read (over `limit`, most likely).
fn read_body(body: Result<Bytes, BytesRejection>, limit: usize) -> Result<Bytes, Refusal> {
    body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Rejection::TooLarge { limit }.into()
        } else {
            Refusal::new(rejection.status(), rejection.body_text())
        }
    })
}

fn require_json(headers: &HeaderMap) -> Result<(), Refusal> {
    if service_ping_web::has_content_type(headers, "application/json") {
        Ok(())
    } else {
        Err(Refusal::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the payload as Content-Type: application/json",
        ))
    }
}

/// The answer to an accepted ping: `conv_index` with GitLab's 30 DevOps Score numbers and
/// `usage_data_id`, exactly as GitLab's collector answers; `sha256`, the hash of the bytes it
/// keeps, so the instance can confirm that what it showed is what was stored; and, when cohorts
/// are on, `cohort`: where the instance stands among organizations of its size (a client that
/// knows only GitLab's reply ignores both).
pub fn accepted(
    status: StatusCode,
    conv_index: serde_json::Value,
    sha256: &str,
    cohort: Option<CohortReport>,
) -> Response {
    let mut reply = json!({ "conv_index": conv_index, "sha256": sha256 });
    if let Some(cohort) = cohort {
        reply["cohort"] = json!(cohort);
    }
    (status, Json(reply)).into_response()
}

/// A ping the collector accepted (or had received before).
pub struct Received {
    /// 201 for a new ping, 200 for an exact resend.
    pub status: StatusCode,
    pub id: i64,
    /// What the reply is computed from.
    pub usage: devops_score::Values,
    pub active_users: i64,
    pub edition: Option<String>,
    /// The hash of the stored bytes (a resend's are the same).
    pub sha256: String,
}

/// Validates, rate-limits and stores a ping; the same path for the API and the upload page.
/// Answers 201 for a new ping and 200 for an exact resend (same id, nothing stored), with the
/// stored id and what the reply reads of the ping (a resend's bytes, hence inputs, are the
/// same).
pub async fn ingest(
    state: &CollectorState,
    body: Bytes,
    source: Source,
    address: ClientAddress,
) -> Result<Received, Refusal> {
    state.admit_bytes(address, body.len())?;
    let ping = ingest::validate(&body, state.limits)?;
    state.admit("usage_data", &ping.uuid, address)?;
    let pending = db::Pending::new(
        db::NewPing::new(ping, body.clone(), source, Utc::now()).map_err(Refusal::internal)?,
    );
    let (usage, active_users) = (pending.usage, pending.active_users);
    let edition = pending.new.ping.edition.clone();
    let sha256 = pending.new.sha256.clone();
    let received = |status, id| Received {
        status,
        id,
        usage,
        active_users,
        edition,
        sha256,
    };
    match state
        .pings
        .store(pending)
        .await
        .map_err(Refusal::internal)?
    {
        Stored::Created(id) => {
            tracing::info!(id, size = body.len(), "collector: ping received");
            Ok(received(StatusCode::CREATED, id))
        }
        Stored::AlreadyReceived(id) => {
            tracing::info!(id, "collector: ping resent; nothing new stored");
            Ok(received(StatusCode::OK, id))
        }
        Stored::Conflict => Err(Refusal::new(
            StatusCode::CONFLICT,
            "a different payload with this uuid and recorded_at was already received",
        )),
        Stored::OverQuota => Err(Refusal {
            retry_after_secs: Some(24 * 3600),
            ..Refusal::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "this instance has had {} MiB of pings stored in the last seven days; no more is stored until older ones age out",
                    state.max_stored_bytes_per_week / (1024 * 1024)
                ),
            )
        }),
    }
}

/// `POST /usage_data`.
pub async fn receive_usage_data(
    State(state): State<CollectorState>,
    Extension(address): Extension<ClientAddress>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Refusal> {
    let body = read_body(body, state.limits.max_body_bytes)?;
    require_json(&headers)?;
    let received = ingest(&state, body, Source::Api, address).await?;
    let figures = state.figures().await.map_err(Refusal::internal)?;
    let score = devops_score::compute(&received.usage, &figures.leaders);
    let cohort = state.min_cohort_size().is_some().then(|| {
        figures.cohorts.report(
            received.active_users as f64,
            received.edition.as_deref(),
            &received.usage,
            score.overall,
        )
    });
    Ok(accepted(
        received.status,
        devops_score::conv_index(&score, received.id),
        &received.sha256,
        cohort,
    ))
}

/// Reads a metadata or error document straight into its type (no JSON tree is built, and
/// serde refuses a duplicate or unknown field), or says what is wrong with it.
fn decode<T: serde::de::DeserializeOwned>(
    state: &CollectorState,
    address: ClientAddress,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<T, Refusal> {
    let body = read_body(body, MAX_DOCUMENT_BYTES)?;
    state.admit_bytes(address, body.len())?;
    require_json(headers)?;
    serde_json::from_slice(&body).map_err(|error| {
        let status = if error.is_data() {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::BAD_REQUEST
        };
        Refusal::new(status, error.to_string())
    })
}

fn require_uuid(uuid: &str) -> Result<(), Refusal> {
    if uuid.is_empty() || uuid.len() > 64 {
        return Err(Refusal::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "`uuid` must be 1 to 64 characters",
        ));
    }
    Ok(())
}

/// `POST /usage_ping_metadata`: `{"metadata": {"uuid", "metrics": [{name, time_elapsed, error}]}}`.
pub async fn receive_metadata(
    State(state): State<CollectorState>,
    Extension(address): Extension<ClientAddress>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Refusal> {
    let MetadataDocument { metadata } = decode(&state, address, &headers, body)?;
    require_uuid(&metadata.uuid)?;
    state.admit("usage_ping_metadata", &metadata.uuid, address)?;
    let failed = metadata
        .metrics
        .iter()
        .filter(|m| m.error.is_some())
        .count();
    let metrics = serde_json::to_value(&metadata.metrics).map_err(Refusal::internal)?;
    let id = db::store_metadata(
        &state.writer,
        &metadata.uuid,
        &metrics,
        metadata.metrics.len(),
        failed,
        Utc::now(),
    )
    .await
    .map_err(Refusal::internal)?;
    Ok((StatusCode::CREATED, Json(json!({ "id": id }))).into_response())
}

/// `POST /usage_ping_errors`: `{"error": {time, uuid, hostname, version, message, elapsed}}`.
pub async fn receive_error(
    State(state): State<CollectorState>,
    Extension(address): Extension<ClientAddress>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Refusal> {
    let ErrorDocument { error } = decode(&state, address, &headers, body)?;
    require_uuid(&error.uuid)?;
    state.admit("usage_ping_errors", &error.uuid, address)?;
    let id = db::store_error(&state.writer, &error, Utc::now())
        .await
        .map_err(Refusal::internal)?;
    Ok((StatusCode::CREATED, Json(json!({ "id": id }))).into_response())
}

/// Answers an unknown path with JSON rather than an empty 404.
pub async fn not_found() -> Refusal {
    Refusal::new(StatusCode::NOT_FOUND, "no such endpoint; see /openapi.json")
}
