//! What every handler holds: the engine's handle and the API key; the guard of changing
//! endpoints; and the one resolver for "a repository named in a request".

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use ghpulse_core::{EngineHandle, Query, RepoName, Snapshot};
use subtle::ConstantTimeEq;

use crate::error::ApiError;

/// Cloned for every request (axum hands each handler its own copy): the handle behind one
/// `Arc`, not its channels, store and strings one by one.
#[derive(Clone)]
pub struct ApiState {
    pub engine: Arc<EngineHandle>,
    pub api_key: Option<Arc<str>>,
}

impl ApiState {
    pub(crate) fn snapshot(&self) -> Arc<Snapshot> {
        self.engine.snapshot()
    }

    pub(crate) fn query(&self) -> Query {
        self.engine.query()
    }
}

/// A repository named in a request, as the watch list spells it: 400 when the name is
/// malformed, 404 when it is not watched.
pub(crate) fn watched(snapshot: &Snapshot, input: &str) -> Result<RepoName, ApiError> {
    let name = RepoName::parse(input).map_err(|e| ApiError::bad_request(e.to_string()))?;
    match snapshot.repo(&name) {
        Some(view) => Ok(view.name.clone()),
        None => Err(ApiError::not_found(format!("{name} is not watched"))),
    }
}

/// Changing endpoints need `Authorization: Bearer KEY` equal to `GHPULSE_API_KEY`.
pub struct ApiKey;

impl FromRequestParts<ApiState> for ApiKey {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        let Some(key) = &state.api_key else {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "changes are disabled: no GHPULSE_API_KEY is configured",
            ));
        };
        let given = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if bool::from(given.as_bytes().ct_eq(key.as_bytes())) {
            Ok(ApiKey)
        } else {
            Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "missing or wrong API key (Authorization: Bearer KEY)",
            ))
        }
    }
}
