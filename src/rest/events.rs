//! `GET /api/events/count`: events created in the last N minutes, by type.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::ApiState;
use super::error::{ApiError, ApiQuery, ErrorBody};

/// At most the 30 days GitHub keeps.
const MAX_OFFSET_MINUTES: u64 = 30 * 24 * 60;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CountParams {
    /// Minutes back from now, 1..=43200.
    #[param(minimum = 1, maximum = 43200)]
    offset: Option<u64>,
    /// Only this watched repository; all watched repositories when absent.
    repo: Option<String>,
    /// Only events whose payload.action is this (e.g. opened).
    action: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EventCounts {
    pub offset_minutes: u64,
    pub counts: BTreeMap<String, u64>,
}

/// Stored events created in the last `offset` minutes, counted by type.
#[utoipa::path(get, path = "/api/events/count", params(CountParams), responses(
    (status = 200, body = EventCounts),
    (status = 400, body = ErrorBody, description = "offset missing or out of range, malformed repo"),
    (status = 404, body = ErrorBody, description = "repo not watched"),
))]
pub async fn count(
    State(state): State<ApiState>,
    ApiQuery(p): ApiQuery<CountParams>,
) -> Result<Json<EventCounts>, ApiError> {
    let offset = p
        .offset
        .ok_or_else(|| ApiError::bad_request("offset (minutes) is required"))?;
    if !(1..=MAX_OFFSET_MINUTES).contains(&offset) {
        return Err(ApiError::bad_request(format!(
            "offset must be from 1 to {MAX_OFFSET_MINUTES} minutes"
        )));
    }
    if let Some(action) = &p.action {
        return super::questions::counts_with_action(&state, offset, p.repo.as_deref(), action)
            .await;
    }
    let snapshot = state.snapshot();
    let keys: Vec<String> = match p.repo {
        Some(r) => vec![super::watched(&snapshot, &r)?.key()],
        None => snapshot.repos.iter().map(|v| v.name.key()).collect(),
    };
    let since = Utc::now() - TimeDelta::minutes(offset as i64);
    let store = state.engine.store.clone();
    let counts = tokio::task::spawn_blocking(move || {
        let mut total: BTreeMap<String, u64> = BTreeMap::new();
        for key in keys {
            for (ty, n) in store.count_after(&key, since)? {
                *total.entry(ty).or_default() += n;
            }
        }
        Ok::<_, crate::store::StoreError>(total)
    })
    .await
    .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?
    .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?;
    Ok(Json(EventCounts {
        offset_minutes: offset,
        counts,
    }))
}
