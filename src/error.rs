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
                server_side::set_error_status(axum::http::StatusCode::UNPROCESSABLE_ENTITY);
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
            set_error_status(error.status());
            api
        }
    }

    /// Sets the status of the response being made, but for a form posted without JavaScript
    /// to a server function: that one is answered with a redirect back to the form's page,
    /// carrying the error in the address, and a browser follows a redirect only with a 3xx.
    pub(super) fn set_error_status(status: StatusCode) {
        use leptos::prelude::use_context;
        if use_context::<axum::http::request::Parts>()
            .is_some_and(|request| is_plain_form_post(&request))
        {
            return;
        }
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            response.set_status(status);
        }
    }

    /// A browser's own form post to a server function (it asks for HTML back), as opposed to
    /// the bundle's call (JSON) or a page being rendered.
    fn is_plain_form_post(request: &axum::http::request::Parts) -> bool {
        request.uri.path().starts_with("/api/")
            && request
                .headers
                .get(axum::http::header::ACCEPT)
                .and_then(|accept| accept.to_str().ok())
                .is_some_and(|accept| accept.contains("text/html"))
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

    #[cfg(test)]
    mod tests {
        use super::is_plain_form_post;

        fn request(path: &str, accept: &str) -> axum::http::request::Parts {
            let request = axum::http::Request::post(path)
                .header(axum::http::header::ACCEPT, accept)
                .body(())
                .unwrap();
            request.into_parts().0
        }

        #[test]
        fn only_a_browser_form_post_to_a_server_function_is_answered_with_a_redirect() {
            let html = "text/html,application/xhtml+xml,*/*;q=0.8";
            assert!(is_plain_form_post(&request("/api/update_setting", html)));
            assert!(!is_plain_form_post(&request(
                "/api/update_setting",
                "application/json"
            )));
            assert!(!is_plain_form_post(&request("/admin/license", html)));
        }
    }
}
