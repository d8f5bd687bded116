//! Errors in the Genesys shape.
//!
//! Every error gcsim answers carries the Platform API error body
//! (`message`, `code`, `status`, `messageParams`, `contextId`, `details`,
//! `errors`); `contextId` is the request's `inin-correlation-id`, read from a
//! task-local set by the request middleware.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

tokio::task_local! {
    /// The correlation id of the request being served on this task.
    pub static CORRELATION_ID: String;
}

/// The correlation id of the current request, or a fresh one outside a request.
pub fn correlation_id() -> String {
    CORRELATION_ID
        .try_with(Clone::clone)
        .unwrap_or_else(|_| uuid::Uuid::new_v4().to_string())
}

/// An error answer of the simulated Platform API (boxed: errors are rare
/// and results stay small).
#[derive(Debug, Clone)]
pub struct ApiError(Box<ErrorInner>);

/// The parts of an [`ApiError`].
#[derive(Debug, Clone)]
pub struct ErrorInner {
    /// HTTP status.
    pub status: StatusCode,
    /// Genesys error code, e.g. `bad.request`.
    pub code: String,
    /// Human-readable message.
    pub message: String,
    /// `messageParams`: values substituted in the message.
    pub params: Map<String, Value>,
    /// `Retry-After` seconds, for 429.
    pub retry_after: Option<u64>,
}

/// Result of an API operation.
pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    /// An error with a status, code and message.
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        ApiError(Box::new(ErrorInner {
            status,
            code: code.to_string(),
            message: message.into(),
            params: Map::new(),
            retry_after: None,
        }))
    }

    /// The parts of the error.
    pub fn inner(&self) -> &ErrorInner {
        &self.0
    }

    /// 400 `bad.request`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad.request", message)
    }

    /// 400 `invalid.value` for a field.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid.value", message).param("field", field)
    }

    /// 404 `not.found` for an entity kind and id.
    pub fn not_found(what: &str, id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not.found",
            format!("{what} not found: {id}"),
        )
        .param("id", id)
    }

    /// 404 for a path that gcsim does not serve.
    pub fn no_route(method: &str, path: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not.found",
            format!("The requested resource was not found: {method} {path}"),
        )
    }

    /// 401 for a missing bearer token.
    pub fn no_token() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "authentication.required",
            "No authentication bearer token specified in authorization header.",
        )
    }

    /// 401 for an unknown, revoked or expired token.
    pub fn bad_token() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "bad.credentials",
            "Invalid login credentials.",
        )
    }

    /// 403 naming the permissions of which the caller holds none.
    pub fn missing_permissions(perms: &[&str]) -> Self {
        let list = format!("[{}]", perms.join(", "));
        Self::new(
            StatusCode::FORBIDDEN,
            "missing.any.permissions",
            format!(
                "Unable to perform the requested action. You must have at least one of the \
                 following permissions assigned: {list}"
            ),
        )
        .param("permissions", list.as_str())
    }

    /// 409 for a stale `version`.
    pub fn stale_version() -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "general.conflict",
            "The version number of the modified resource must match the version number in the database.",
        )
    }

    /// 400 for a stale `version` of a directory object (groups, users): the
    /// real directory service answers these with 400, not 409.
    pub fn stale_directory_version(sent: i64, current: i64) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "bad.request",
            format!(
                "The version supplied ({sent}) does not match the current version ({current})."
            ),
        )
    }

    /// 429 with `Retry-After`.
    pub fn rate_limited(retry_after: u64) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too.many.requests.retry.after",
            format!(
                "Rate limit exceeded the maximum. Retry the request in [{retry_after}] seconds"
            ),
        );
        e.0.retry_after = Some(retry_after);
        e
    }

    /// Adds a `messageParams` entry.
    pub fn param(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.0.params.insert(key.to_string(), value.into());
        self
    }

    /// The Genesys error body, with `contextId` set to `context_id`.
    pub fn body(&self, context_id: &str) -> Value {
        let e = &self.0;
        json!({
            "message": e.message,
            "code": e.code,
            "status": e.status.as_u16(),
            "messageParams": e.params,
            "contextId": context_id,
            "details": [],
            "errors": [],
        })
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.0.status.as_u16(),
            self.0.code,
            self.0.message
        )
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = self.body(&correlation_id());
        let mut resp = (self.0.status, axum::Json(body)).into_response();
        if let Some(secs) = self.0.retry_after {
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                resp.headers_mut().insert("retry-after", v);
            }
        }
        resp
    }
}
