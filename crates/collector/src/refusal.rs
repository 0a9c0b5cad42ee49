//! A refused request: a 4xx status and `{"reason": ...}`, never a stored row.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use service_ping_protocol::ingest::Rejection;

/// A refused request: a 4xx status and `{"reason": ...}`.
#[derive(Debug)]
pub struct Refusal {
    pub status: StatusCode,
    pub reason: String,
    pub retry_after_secs: Option<u64>,
}

impl Refusal {
    pub fn new(status: StatusCode, reason: impl Into<String>) -> Self {
        Self {
            status,
            reason: reason.into(),
            retry_after_secs: None,
        }
    }

    pub(crate) fn internal(error: impl std::fmt::Display) -> Self {
        tracing::error!(%error, "collector: storing failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the collector could not store the request; try again later",
        )
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(json!({ "reason": self.reason }))).into_response();
        if let Some(secs) = self.retry_after_secs {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

impl From<Rejection> for Refusal {
    fn from(rejection: Rejection) -> Self {
        let status = match rejection {
            Rejection::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Rejection::Empty
            | Rejection::Malformed(_)
            | Rejection::NotAnObject
            | Rejection::TooDeep { .. }
            | Rejection::DuplicateKey { .. } => StatusCode::BAD_REQUEST,
            Rejection::Missing { .. } | Rejection::WrongType { .. } | Rejection::Invalid { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
        };
        Refusal::new(status, rejection.to_string())
    }
}
