//! A repository's stored events (`GET /api/repos/{owner}/{name}/events`: filters, raw JSON,
//! `Link` paging) and the counts of recent events by type (`GET /api/events/count`).

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Uri, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use ghpulse_core::{EventEntry, EventsAsk, RepoName, key_bounds, parse_instant};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{action_name, blocking, offset_minutes};
use crate::error::{ApiError, ApiPath, ApiQuery, ErrorBody};
use crate::state::{ApiState, watched};

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

/// The body of the events list: entries (each with its feed line and web page), or with
/// `raw=true` the events as GitHub served them.
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
pub async fn list(
    State(state): State<ApiState>,
    ApiPath((owner, name)): ApiPath<(String, String)>,
    ApiQuery(p): ApiQuery<EventsParams>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    let repo = watched(&state.snapshot(), &format!("{owner}/{name}"))?;
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
    let query = state.query();
    let ask = EventsAsk {
        repo: repo.clone(),
        event_type,
        action,
        from,
        to,
        // Entries are built from the JSON too (their feed line and page).
        raw: true,
        limit,
    };
    let mut page = blocking(move || query.events(&ask)).await?;
    let more = page.len() as u64 > limit;
    page.truncate(limit as usize);
    let body = if raw {
        let items: Vec<String> = page.iter().filter_map(|(_, j)| j.clone()).collect();
        format!("[{}]", items.join(","))
    } else {
        let web = state.engine.web_origin();
        let entries: Vec<EventEntry> = page
            .iter()
            .filter_map(|(e, json)| Some(EventEntry::new(&repo, e, json.as_deref()?, web)))
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
    let Ok(mut url) = url::Url::parse(&base).and_then(|b| b.join(&uri.to_string())) else {
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
    let offset = offset_minutes(p.offset, true)?.unwrap_or(1);
    let action = action_name(p.action.as_deref())?.map(str::to_string);
    let query = state.query();
    let repo: Option<RepoName> = p.repo.map(|r| watched(query.snapshot(), &r)).transpose()?;
    let counts =
        blocking(move || query.counts(Utc::now(), repo.as_ref(), offset, action.as_deref()))
            .await?;
    Ok(Json(EventCounts {
        offset_minutes: offset,
        counts,
    }))
}
