//! Section 3a's questions across the watched repositories: the most active, more than N of a
//! type, and the label KPIs.

use axum::Json;
use axum::extract::State;
use chrono::Utc;
use ghpulse_core::{LabelsReport, RepoActivity, RepoTypeCount, ResponseTimesReport};
use serde::Deserialize;
use utoipa::IntoParams;

use super::{blocking, offset_minutes, repo_limit};
use crate::error::{ApiError, ApiQuery, ErrorBody};
use crate::state::{ApiState, watched};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ActiveParams {
    /// Minutes back from now, 1..=43200.
    #[param(minimum = 1, maximum = 43200)]
    offset: Option<u64>,
    /// Keep the first N, 1..=max_repositories.
    #[param(minimum = 1)]
    limit: Option<u64>,
}

/// The watched repositories ranked by their events created in the last `offset` minutes, most
/// first, ties in config order.
#[utoipa::path(get, path = "/api/repos/active", params(ActiveParams), responses(
    (status = 200, body = Vec<RepoActivity>),
    (status = 400, body = ErrorBody, description = "offset missing or out of range, limit out of range"),
))]
pub async fn active(
    State(state): State<ApiState>,
    ApiQuery(p): ApiQuery<ActiveParams>,
) -> Result<Json<Vec<RepoActivity>>, ApiError> {
    let offset = offset_minutes(p.offset, true)?.unwrap_or(1);
    let query = state.query();
    let limit = repo_limit(p.limit, query.snapshot())?;
    let ranked = blocking(move || query.most_active(Utc::now(), offset, limit)).await?;
    Ok(Json(ranked))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WithEventsParams {
    /// The event type, e.g. PushEvent (required).
    #[serde(rename = "type")]
    #[param(rename = "type")]
    event_type: Option<String>,
    /// Listed when the count is more than this; default 1.
    #[param(minimum = 0)]
    more_than: Option<u64>,
    /// Count the events created in the last this many minutes (1..=43200) instead of the window.
    #[param(minimum = 1, maximum = 43200)]
    offset: Option<u64>,
}

/// The watched repositories, in config order, with more than `more_than` events of `type` in
/// their window (or in the last `offset` minutes).
#[utoipa::path(get, path = "/api/repos/with-events", params(WithEventsParams), responses(
    (status = 200, body = Vec<RepoTypeCount>),
    (status = 400, body = ErrorBody, description = "type missing, offset out of range"),
))]
pub async fn with_events(
    State(state): State<ApiState>,
    ApiQuery(p): ApiQuery<WithEventsParams>,
) -> Result<Json<Vec<RepoTypeCount>>, ApiError> {
    let Some(event_type) = p.event_type.filter(|t| !t.is_empty() && t.len() <= 100) else {
        return Err(ApiError::bad_request(
            "type (an event type of 1 to 100 characters, e.g. PushEvent) is required",
        ));
    };
    let offset = offset_minutes(p.offset, false)?;
    let more_than = p.more_than.unwrap_or(1);
    let query = state.query();
    let found =
        blocking(move || query.with_events(Utc::now(), &event_type, more_than, offset)).await?;
    Ok(Json(found))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LabelsParams {
    /// Only this watched repository, `owner/name`.
    repo: Option<String>,
}

/// Issue and pull-request label KPIs: the share of the items named in each window that carry a
/// label of each `[labels]` group.
#[utoipa::path(get, path = "/api/labels", params(LabelsParams), responses(
    (status = 200, body = LabelsReport),
    (status = 400, body = ErrorBody, description = "malformed repo"),
    (status = 404, body = ErrorBody, description = "repo not watched"),
))]
pub async fn labels(
    State(state): State<ApiState>,
    ApiQuery(p): ApiQuery<LabelsParams>,
) -> Result<Json<LabelsReport>, ApiError> {
    let query = state.query();
    let repo = p.repo.map(|r| watched(query.snapshot(), &r)).transpose()?;
    let report = blocking(move || query.labels(Utc::now(), repo.as_ref())).await?;
    Ok(Json(report))
}

/// Response times (SPEC section 3b): for the issues and pull requests opened in each window,
/// how long they waited for a first answer from someone other than their author and bots,
/// how many still wait, and how long they took to close.
#[utoipa::path(get, path = "/api/response-times", params(LabelsParams), responses(
    (status = 200, body = ResponseTimesReport),
    (status = 400, body = ErrorBody, description = "malformed repo"),
    (status = 404, body = ErrorBody, description = "repo not watched"),
))]
pub async fn response_times(
    State(state): State<ApiState>,
    ApiQuery(p): ApiQuery<LabelsParams>,
) -> Result<Json<ResponseTimesReport>, ApiError> {
    let query = state.query();
    let repo = p.repo.map(|r| watched(query.snapshot(), &r)).transpose()?;
    let report = blocking(move || query.response_times(Utc::now(), repo.as_ref())).await?;
    Ok(Json(report))
}
