//! `POST /oauth/token`: the client-credentials login.
//!
//! HTTP Basic `client_id:client_secret` (or the same as form fields) and
//! the form `grant_type=client_credentials`; answers `access_token`,
//! `token_type` and `expires_in`. Errors carry both the OAuth fields
//! (`error`, `error_description`) and the Genesys error body.

use crate::auth::DEFAULT_TOKEN_SECONDS;
use crate::error::{correlation_id, ApiError};
use crate::model::Subject;
use crate::server::{lock, App};
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{json, Value};
use std::time::Instant;

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let mut body = ApiError::new(status, error, description).body(&correlation_id());
    body["error"] = json!(error);
    body["description"] = json!(description);
    body["error_description"] = json!(description);
    (status, axum::Json(body)).into_response()
}

/// Handles a login request.
pub async fn token(app: &App, req: Request) -> Result<Response, ApiError> {
    if req.method() != axum::http::Method::POST {
        return Ok(oauth_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_request",
            "Use POST to request a token",
        ));
    }
    let basic = req
        .headers()
        .get("authorization")
        .and_then(|h| h.to_str().ok())
        .and_then(|h| {
            h.strip_prefix("Basic ")
                .or_else(|| h.strip_prefix("basic "))
        })
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| {
            s.split_once(':')
                .map(|(a, b)| (a.to_string(), b.to_string()))
        });
    let bytes = axum::body::to_bytes(req.into_body(), 1024 * 1024)
        .await
        .map_err(|_| ApiError::bad_request("Unable to read the request body"))?;
    let form: Vec<(String, String)> = form_urlencoded::parse(&bytes)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let grant = field("grant_type").unwrap_or_default();
    if grant != "client_credentials" {
        return Ok(oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            &format!("Unsupported grant_type \"{grant}\": gcsim logs in with client_credentials"),
        ));
    }
    let (id, secret) = match basic {
        Some(pair) => pair,
        None => match (field("client_id"), field("client_secret")) {
            (Some(a), Some(b)) => (a, b),
            _ => {
                return Ok(oauth_error(
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    "Client authentication is required (HTTP Basic client_id:client_secret)",
                ))
            }
        },
    };
    let mut org = lock(&app.org);
    let Some(client) = org.clients.get(&id) else {
        return Ok(oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client not found",
        ));
    };
    if client.secret != secret {
        return Ok(oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "invalid client credentials",
        ));
    }
    if client.state() != "active" {
        return Ok(oauth_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            &format!("client is {}", client.state()),
        ));
    }
    let grant_type = client
        .doc
        .get("authorizedGrantType")
        .and_then(Value::as_str)
        .unwrap_or("CLIENT-CREDENTIALS");
    if grant_type != "CLIENT-CREDENTIALS" {
        return Ok(oauth_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            &format!("client is a {grant_type} client, not CLIENT-CREDENTIALS"),
        ));
    }
    let seconds = client
        .doc
        .get("accessTokenValiditySeconds")
        .and_then(Value::as_u64)
        .unwrap_or(DEFAULT_TOKEN_SECONDS);
    let (token, expires_in) = org.issue_token(
        Subject::Client(id.clone()),
        Some(id),
        seconds,
        Instant::now(),
    );
    Ok((
        StatusCode::OK,
        axum::Json(json!({
            "access_token": token,
            "token_type": "bearer",
            "expires_in": expires_in,
        })),
    )
        .into_response())
}
