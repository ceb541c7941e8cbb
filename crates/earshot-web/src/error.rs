//! Errors a request can end in, and how the JSON API answers them.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use earshot_store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// A parameter the caller can fix; the message names the parameter and the problem.
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    /// The request clashes with what is stored (a reused key, a repeated text to confirm).
    #[error("{0}")]
    Conflict(String),
    /// Signed in, but the role (or a failed CSRF or origin check) does not allow it.
    #[error("{0}")]
    Forbidden(String),
    /// A server-side failure outside storage and rendering; details stay in the log.
    #[error("{0}")]
    Internal(String),
    /// Well-formed but not acceptable (a correction with an unknown field or label).
    #[error("{0}")]
    Unprocessable(String),
    #[error("storage failed: {0}")]
    Store(StoreError),
    #[error("rendering failed: {0}")]
    Render(#[from] askama::Error),
}

impl From<StoreError> for WebError {
    fn from(error: StoreError) -> Self {
        match error {
            // These two come from what the caller sent, not from a failing server.
            StoreError::Query(message) => {
                WebError::BadRequest(format!("parameter `q`: invalid search query: {message}"))
            }
            StoreError::BadCursor => WebError::BadRequest(
                "parameter `cursor`: not a cursor this server handed out (start from the first page)"
                    .into(),
            ),
            other => WebError::Store(other),
        }
    }
}

impl WebError {
    pub fn status(&self) -> StatusCode {
        match self {
            WebError::BadRequest(_) => StatusCode::BAD_REQUEST,
            WebError::NotFound(_) => StatusCode::NOT_FOUND,
            WebError::Conflict(_) => StatusCode::CONFLICT,
            WebError::Forbidden(_) => StatusCode::FORBIDDEN,
            WebError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            WebError::Store(_) | WebError::Render(_) | WebError::Internal(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    /// What the caller may see: server-side details stay in the log.
    pub fn public_message(&self) -> String {
        match self {
            WebError::BadRequest(m)
            | WebError::NotFound(m)
            | WebError::Forbidden(m)
            | WebError::Unprocessable(m)
            | WebError::Conflict(m) => m.clone(),
            WebError::Store(_) | WebError::Render(_) | WebError::Internal(_) => {
                "internal server error (details are in the server log)".into()
            }
        }
    }

    pub(crate) fn log(&self) {
        if self.status().is_server_error() {
            tracing::error!("request failed: {self}");
        }
    }
}

/// The body of every JSON error answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiErrorBody {
    /// What went wrong, naming the parameter when a parameter is at fault.
    pub error: String,
}

/// A [`WebError`] answered as JSON (the API's error shape).
#[derive(Debug)]
pub struct ApiError(pub WebError);

impl From<WebError> for ApiError {
    fn from(error: WebError) -> Self {
        ApiError(error)
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        ApiError(error.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.0.log();
        let body = ApiErrorBody {
            error: self.0.public_message(),
        };
        (self.0.status(), Json(body)).into_response()
    }
}
