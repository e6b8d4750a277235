//! `GET /api/stats` and its older name `GET /statistics`.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::Deserialize;
use utoipa::IntoParams;

use axum::Json;
use ghpulse_core::{Selection, StatsAnswer, StatsAsk, StatsQuery, StatsReport};

use super::{action_name, repo_limit};
use crate::error::{ApiError, ApiQuery, ErrorBody};
use crate::state::{ApiState, watched};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatsParams {
    /// Only this watched repository, `owner/name`.
    repo: Option<String>,
    /// List only this event type (the counts of the window still cover every type).
    #[serde(rename = "type")]
    #[param(rename = "type")]
    event_type: Option<String>,
    /// Keep the first N repositories in config order, 1..=max_repositories.
    #[param(minimum = 1)]
    limit: Option<u64>,
    /// Each type's figures over its events with this payload.action only (SPEC section 3a).
    action: Option<String>,
    /// `action`: each type also lists its figures by action.
    by: Option<String>,
    /// true: add a `combined` entry, every watched repository together.
    combined: Option<bool>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LimitParams {
    /// Keep the first N repositories in config order, 1..=max_repositories.
    #[param(minimum = 1)]
    limit: Option<u64>,
}

/// The statistics of SPEC section 3 as of `generated_at`; with `action`, `by` or `combined`,
/// those of section 3a.
#[utoipa::path(get, path = "/api/stats", params(StatsParams), responses(
    (status = 200, body = StatsAnswer),
    (status = 400, body = ErrorBody, description = "malformed repo or limit out of range"),
    (status = 404, body = ErrorBody, description = "repo not watched"),
))]
pub async fn api_stats(
    State(state): State<ApiState>,
    ApiQuery(p): ApiQuery<StatsParams>,
) -> Result<Response, ApiError> {
    if p.action.is_some() || p.by.is_some() || p.combined.is_some() {
        return stats_3a(
            &state,
            p.repo.as_deref(),
            p.event_type.as_deref(),
            p.limit,
            p.action.as_deref(),
            p.by.as_deref(),
            p.combined == Some(true),
        );
    }
    report(&state, p.repo.as_deref(), p.event_type.as_deref(), p.limit).await
}

/// The same body as `/api/stats?limit=N`, for clients of older tools.
#[utoipa::path(get, path = "/statistics", params(LimitParams), responses(
    (status = 200, body = StatsReport),
    (status = 400, body = ErrorBody, description = "limit out of range"),
))]
pub async fn statistics(
    State(state): State<ApiState>,
    ApiQuery(p): ApiQuery<LimitParams>,
) -> Result<Response, ApiError> {
    report(&state, None, None, p.limit).await
}

/// Served from the figures the snapshot computed once (see `Snapshot::stats_cache`); computing
/// them, when needed, runs on a blocking thread so other requests never wait behind it.
async fn report(
    state: &ApiState,
    repo: Option<&str>,
    event_type: Option<&str>,
    limit: Option<u64>,
) -> Result<Response, ApiError> {
    let snapshot = state.snapshot();
    let limit = repo_limit(limit, &snapshot)?;
    let repo = repo.map(|r| watched(&snapshot, r)).transpose()?;
    let query = StatsQuery {
        repo: repo.as_ref(),
        event_type,
        limit,
    };
    let now = Utc::now();
    if snapshot.cached_stats(now).is_none() {
        let snapshot = snapshot.clone();
        tokio::task::spawn_blocking(move || snapshot.stats_cache(now))
            .await
            .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?;
    }
    let body = snapshot.stats_json(now, &query);
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// `/api/stats` when `action`, `by` or `combined` is given (the plain report is served by
/// `report`, from the snapshot's cached figures).
fn stats_3a(
    state: &ApiState,
    repo: Option<&str>,
    event_type: Option<&str>,
    limit: Option<u64>,
    action: Option<&str>,
    by: Option<&str>,
    combined: bool,
) -> Result<Response, ApiError> {
    let query = state.query();
    let limit = repo_limit(limit, query.snapshot())?;
    let by_action = match by {
        None => false,
        Some("action") => true,
        Some(_) => return Err(ApiError::bad_request("by must be action")),
    };
    let action = action_name(action)?;
    let repo = repo.map(|r| watched(query.snapshot(), r)).transpose()?;
    let ask = StatsAsk {
        repo: repo.as_ref(),
        limit,
        selection: Selection {
            event_type,
            action,
            by_action,
        },
        combined,
    };
    Ok(Json(query.stats(Utc::now(), &ask)).into_response())
}
