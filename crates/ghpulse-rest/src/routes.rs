//! The endpoints, a module per resource (the live stream in one of its own), and the checks of query values they share.

pub(crate) mod activity;
pub(crate) mod events;
pub(crate) mod repos;
pub(crate) mod stats;
pub(crate) mod status;
pub(crate) mod stream;

use axum::http::StatusCode;
use ghpulse_core::{MAX_OFFSET_MINUTES, Snapshot, StoreError};

use crate::error::ApiError;

/// Runs a store read off the executor; a failing store is the server's trouble, not the
/// client's.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?
        .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))
}

pub(crate) fn offset_minutes(offset: Option<u64>, required: bool) -> Result<Option<u64>, ApiError> {
    match offset {
        None if required => Err(ApiError::bad_request("offset (minutes) is required")),
        Some(m) if !(1..=MAX_OFFSET_MINUTES).contains(&m) => Err(ApiError::bad_request(format!(
            "offset must be from 1 to {MAX_OFFSET_MINUTES} minutes"
        ))),
        other => Ok(other),
    }
}

pub(crate) fn action_name(action: Option<&str>) -> Result<Option<&str>, ApiError> {
    match action {
        Some(a) if a.is_empty() || a.len() > 100 => Err(ApiError::bad_request(
            "action must be a name of 1 to 100 characters, e.g. opened",
        )),
        other => Ok(other),
    }
}

/// A `limit` on the repositories listed: 1..=max_repositories.
pub(crate) fn repo_limit(
    limit: Option<u64>,
    snapshot: &Snapshot,
) -> Result<Option<usize>, ApiError> {
    let max = snapshot.max_repositories as u64;
    match limit {
        Some(n) if !(1..=max).contains(&n) => Err(ApiError::bad_request(format!(
            "limit must be from 1 to {max}"
        ))),
        other => Ok(other.map(|n| n as usize)),
    }
}
