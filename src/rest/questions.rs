//! SPEC section 3a over HTTP: `/api/stats`'s `action`, `by` and `combined`, the most active
//! repositories, more than N of a type, label KPIs, counts by action, and the events list with
//! its filters, raw JSON and `Link` paging.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::ApiState;
use super::error::{ApiError, ApiPath, ApiQuery, ErrorBody};
use super::events::EventCounts;
use super::repos::EventEntry;
use crate::answers::{self, MAX_OFFSET_MINUTES, StatsAsk};
use crate::export::{key_bounds, parse_instant};
use crate::questions::{LabelsReport, RepoActivity, RepoTypeCount};
use crate::repo::RepoName;
use crate::stats::Selection;
use crate::store::StoreError;

/// Runs a store read off the executor; a failing store is the server's trouble, not the
/// client's.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?
        .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))
}

fn offset_minutes(offset: Option<u64>, required: bool) -> Result<Option<u64>, ApiError> {
    match offset {
        None if required => Err(ApiError::bad_request("offset (minutes) is required")),
        Some(m) if !(1..=MAX_OFFSET_MINUTES).contains(&m) => Err(ApiError::bad_request(format!(
            "offset must be from 1 to {MAX_OFFSET_MINUTES} minutes"
        ))),
        other => Ok(other),
    }
}

fn action_name(action: Option<&str>) -> Result<Option<&str>, ApiError> {
    match action {
        Some(a) if a.is_empty() || a.len() > 100 => Err(ApiError::bad_request(
            "action must be a name of 1 to 100 characters, e.g. opened",
        )),
        other => Ok(other),
    }
}

/// `/api/stats` when `action`, `by` or `combined` is given (the plain report is served by
/// `stats::api_stats` as before).
pub fn stats(
    state: &ApiState,
    repo: Option<&str>,
    event_type: Option<&str>,
    limit: Option<u64>,
    action: Option<&str>,
    by: Option<&str>,
    combined: bool,
) -> Result<Response, ApiError> {
    let snapshot = state.snapshot();
    let max = snapshot.max_repositories as u64;
    if let Some(n) = limit
        && !(1..=max).contains(&n)
    {
        return Err(ApiError::bad_request(format!(
            "limit must be from 1 to {max}"
        )));
    }
    let by_action = match by {
        None => false,
        Some("action") => true,
        Some(_) => return Err(ApiError::bad_request("by must be action")),
    };
    let action = action_name(action)?;
    let repo = repo.map(|r| super::watched(&snapshot, r)).transpose()?;
    let ask = StatsAsk {
        repo: repo.as_ref(),
        limit: limit.map(|n| n as usize),
        selection: Selection {
            event_type,
            action,
            by_action,
        },
        combined,
    };
    Ok(Json(answers::stats(&snapshot, Utc::now(), &ask)).into_response())
}

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
    let snapshot = state.snapshot();
    let max = snapshot.max_repositories as u64;
    if let Some(n) = p.limit
        && !(1..=max).contains(&n)
    {
        return Err(ApiError::bad_request(format!(
            "limit must be from 1 to {max}"
        )));
    }
    let store = state.engine.store.clone();
    let limit = p.limit.map(|n| n as usize);
    let ranked =
        blocking(move || answers::most_active(&snapshot, &store, Utc::now(), offset, limit))
            .await?;
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
    let snapshot = state.snapshot();
    let store = state.engine.store.clone();
    let found = blocking(move || {
        answers::with_events(
            &snapshot,
            &store,
            Utc::now(),
            &event_type,
            more_than,
            offset,
        )
    })
    .await?;
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
    let snapshot = state.snapshot();
    let repo = p.repo.map(|r| super::watched(&snapshot, &r)).transpose()?;
    let store = state.engine.store.clone();
    let report =
        blocking(move || answers::labels(&snapshot, &store, Utc::now(), repo.as_ref())).await?;
    Ok(Json(report))
}

/// `/api/events/count` with `action` (the plain count is served by `events::count`).
pub async fn counts_with_action(
    state: &ApiState,
    offset: u64,
    repo: Option<&str>,
    action: &str,
) -> Result<Json<EventCounts>, ApiError> {
    let action = action_name(Some(action))?.unwrap_or_default().to_string();
    let snapshot = state.snapshot();
    let repo: Option<RepoName> = repo.map(|r| super::watched(&snapshot, r)).transpose()?;
    let store = state.engine.store.clone();
    let counts = blocking(move || {
        answers::counts(
            &snapshot,
            &store,
            Utc::now(),
            repo.as_ref(),
            offset,
            Some(&action),
        )
    })
    .await?;
    Ok(Json(EventCounts {
        offset_minutes: offset,
        counts,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsParams {
    /// Only events of this type.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    event_type: Option<String>,
    /// Only events whose payload.action is this (e.g. opened).
    action: Option<String>,
    /// Only events created at or after this: RFC 3339, or an age like 2h.
    since: Option<String>,
    /// Only events created before this: RFC 3339, or an age like 2h.
    until: Option<String>,
    /// true: the events exactly as GitHub served them.
    raw: Option<bool>,
    /// How many, newest first: 1..=1000, default 100. More are linked by `Link: rel="next"`.
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u64>,
    /// Where the next page starts: copy it from the `Link` header.
    cursor: Option<String>,
}

/// The body of the events list: summaries, or with `raw=true` the events as GitHub served them.
#[derive(serde::Serialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum EventsBody {
    Summaries(Vec<EventEntry>),
    Raw(Vec<serde_json::Value>),
}

/// A page position: the (created_at ms, id) of the last event of the previous page.
fn parse_cursor(s: &str) -> Result<(i64, u64), ApiError> {
    s.split_once('_')
        .and_then(|(ms, id)| Some((ms.parse().ok()?, id.parse().ok()?)))
        .ok_or_else(|| ApiError::bad_request("cursor is malformed; copy it from the Link header"))
}

/// A repository's stored events, newest first, filtered; a next page is linked like GitHub's.
#[utoipa::path(get, path = "/api/repos/{owner}/{name}/events",
    params(("owner" = String, Path), ("name" = String, Path), EventsParams),
    responses(
        (status = 200, body = EventsBody, headers(("link" = String, description = "`<URL>; rel=\"next\"` when more events match"))),
        (status = 400, body = ErrorBody, description = "malformed name, limit out of range, bad since/until/cursor"),
        (status = 404, body = ErrorBody, description = "not watched"),
    ))]
pub async fn events(
    State(state): State<ApiState>,
    ApiPath((owner, name)): ApiPath<(String, String)>,
    ApiQuery(p): ApiQuery<EventsParams>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    let repo = super::watched(&state.snapshot(), &format!("{owner}/{name}"))?;
    let limit = p.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request("limit must be from 1 to 1000"));
    }
    let action = action_name(p.action.as_deref())?.map(str::to_string);
    let now = Utc::now();
    let instant = |name: &str, v: &Option<String>| -> Result<Option<DateTime<Utc>>, ApiError> {
        v.as_deref()
            .map(|s| parse_instant(s, now))
            .transpose()
            .map_err(|e| ApiError::bad_request(format!("{name}: {e}")))
    };
    let (since, until) = (instant("since", &p.since)?, instant("until", &p.until)?);
    let (from, mut to) = key_bounds(since, until);
    if let Some(c) = &p.cursor {
        let (ms, id) = parse_cursor(c)?;
        let before = match id.checked_sub(1) {
            Some(id) => (ms, id),
            None => (ms.saturating_sub(1), u64::MAX),
        };
        to = to.min(before);
    }
    let raw = p.raw.unwrap_or(false);
    let event_type = p.event_type;
    let store = state.engine.store.clone();
    let key = repo.key();
    let mut page = blocking(move || {
        let mut page = Vec::new();
        if from <= to {
            store.scan_events(&[key], from, to, true, raw, |_, meta, json| {
                if event_type.as_deref().is_none_or(|t| t == meta.event_type)
                    && action
                        .as_deref()
                        .is_none_or(|a| meta.action.as_deref() == Some(a))
                {
                    page.push((meta, json));
                }
                page.len() as u64 <= limit
            })?;
        }
        Ok(page)
    })
    .await?;
    let more = page.len() as u64 > limit;
    page.truncate(limit as usize);
    let body = if raw {
        let items: Vec<String> = page.iter().filter_map(|(_, j)| j.clone()).collect();
        format!("[{}]", items.join(","))
    } else {
        let entries: Vec<EventEntry> = page
            .iter()
            .map(|(e, _)| EventEntry {
                id: e.id.to_string(),
                event_type: e.event_type.to_string(),
                action: e.action.as_deref().map(str::to_string),
                actor: e.actor.to_string(),
                created_at: e.created_at,
            })
            .collect();
        serde_json::to_string(&entries).map_err(|e| ApiError::bad_request(e.to_string()))?
    };
    let mut response = ([(header::CONTENT_TYPE, "application/json")], body).into_response();
    if more && let Some((last, _)) = page.last() {
        let cursor = format!("{}_{}", last.created_at.timestamp_millis(), last.id);
        // An age (`since=2h`) would move between pages: the link carries the instant.
        let mut fixed = vec![("cursor", cursor)];
        for (name, t) in [("since", since), ("until", until)] {
            if let Some(t) = t {
                fixed.push((name, t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)));
            }
        }
        if let Some(Ok(v)) = next_link(&headers, &uri, &fixed).map(|l| HeaderValue::from_str(&l)) {
            response.headers_mut().insert(header::LINK, v);
        }
    }
    Ok(response)
}

/// `<URL>; rel="next"`: this request's URL with `fixed` parameters (the next page's cursor)
/// set; absolute when the request named a valid host, as GitHub's are.
fn next_link(headers: &HeaderMap, uri: &Uri, fixed: &[(&str, String)]) -> Option<String> {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| h.parse::<axum::http::uri::Authority>().is_ok());
    let base = format!("http://{}", host.unwrap_or("localhost"));
    let Ok(mut url) = reqwest::Url::parse(&base).and_then(|b| b.join(&uri.to_string())) else {
        return None;
    };
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| fixed.iter().all(|(f, _)| k != f))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    url.set_query(None);
    url.query_pairs_mut()
        .extend_pairs(pairs)
        .extend_pairs(fixed.iter().map(|(k, v)| (*k, v.as_str())));
    Some(match host {
        Some(_) => format!("<{url}>; rel=\"next\""),
        None => format!(
            "<{}?{}>; rel=\"next\"",
            url.path(),
            url.query().unwrap_or_default()
        ),
    })
}
