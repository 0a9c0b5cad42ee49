//! One error type, two renderings.
//!
//! [`ApiError`] is what crosses the wire from server functions: it names what the client can act
//! on and hides internals. On the server, [`AppError`] carries the cause; converting it into an
//! `ApiError` logs internal causes and sets the HTTP status of the server-function response.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

/// Error returned by every server function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum ApiError {
    /// No valid session.
    #[error("You need to sign in to continue.")]
    Unauthorized,
    /// Signed in, but not allowed.
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// The input was refused; the message says what to fix.
    #[error("{0}")]
    Validation(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    TooManyRequests(String),
    /// Something failed on the server; details are in the server log, not here.
    #[error("Something went wrong on the server. The details are in the server log.")]
    Internal,
    /// The request never got a proper answer (network, decoding).
    #[error("The server could not be reached: {0}")]
    Transport(String),
}

impl ApiError {
    /// HTTP status code this error is answered with.
    pub fn status_code(&self) -> u16 {
        match self {
            ApiError::Unauthorized => 401,
            ApiError::Forbidden(_) => 403,
            ApiError::NotFound(_) => 404,
            ApiError::Validation(_) => 422,
            ApiError::Conflict(_) => 409,
            ApiError::TooManyRequests(_) => 429,
            ApiError::Internal => 500,
            ApiError::Transport(_) => 502,
        }
    }
}

impl FromServerFnError for ApiError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Args(reason) | ServerFnErrorErr::MissingArg(reason) => {
                // A malformed request is the client's mistake: 422, not the default 500.
                #[cfg(feature = "ssr")]
                if let Some(response) =
                    leptos::prelude::use_context::<leptos_axum::ResponseOptions>()
                {
                    response.set_status(axum::http::StatusCode::UNPROCESSABLE_ENTITY);
                }
                ApiError::Validation(format!("The request was malformed: {reason}"))
            }
            other => ApiError::Transport(other.to_string()),
        }
    }
}

#[cfg(feature = "ssr")]
pub use server_side::AppError;

#[cfg(feature = "ssr")]
mod server_side {
    use super::ApiError;
    use axum::http::StatusCode;
    use axum::response::{IntoResponse, Response};

    /// Error of server-side code. Client-meaningful variants first, then internal ones.
    #[derive(Debug, thiserror::Error)]
    pub enum AppError {
        #[error("authentication required")]
        Unauthorized,
        #[error("{0}")]
        Forbidden(String),
        #[error("{0}")]
        NotFound(String),
        #[error("{0}")]
        Validation(String),
        #[error("{0}")]
        Conflict(String),
        #[error("{0}")]
        TooManyRequests(String),
        #[error("database error")]
        Database(#[from] sqlx::Error),
        #[error(transparent)]
        Internal(#[from] anyhow::Error),
    }

    impl AppError {
        pub fn status(&self) -> StatusCode {
            StatusCode::from_u16(ApiError::from_ref(self).status_code())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
        }
    }

    impl ApiError {
        /// The client-facing mirror of `error`, without side effects.
        fn from_ref(error: &AppError) -> Self {
            match error {
                AppError::Unauthorized => ApiError::Unauthorized,
                AppError::Forbidden(m) => ApiError::Forbidden(m.clone()),
                AppError::NotFound(m) => ApiError::NotFound(m.clone()),
                AppError::Validation(m) => ApiError::Validation(m.clone()),
                AppError::Conflict(m) => ApiError::Conflict(m.clone()),
                AppError::TooManyRequests(m) => ApiError::TooManyRequests(m.clone()),
                AppError::Database(_) | AppError::Internal(_) => ApiError::Internal,
            }
        }
    }

    /// Used by `?` in server functions. It logs internal causes (they never reach the client)
    /// and sets the response status, so a server function answers 401/403/... like any route.
    impl From<AppError> for ApiError {
        fn from(error: AppError) -> Self {
            log_if_internal(&error);
            let api = ApiError::from_ref(&error);
            if let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
                response.set_status(error.status());
            }
            api
        }
    }

    /// Axum routes answer errors as JSON `{"reason": ...}`.
    impl IntoResponse for AppError {
        fn into_response(self) -> Response {
            log_if_internal(&self);
            let reason = ApiError::from_ref(&self).to_string();
            (
                self.status(),
                axum::Json(serde_json::json!({ "reason": reason })),
            )
                .into_response()
        }
    }

    fn log_if_internal(error: &AppError) {
        if matches!(error, AppError::Database(_) | AppError::Internal(_)) {
            tracing::error!(error = ?error, "request failed");
        }
    }
}
