//! The watch list: list, add, remove (through the engine, like the dashboard's keys). A
//! repository's stored events are listed by `events::list`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use ghpulse_core::{EditError, RepoView};

use crate::error::{ApiError, ApiJson, ApiPath, ErrorBody};
use crate::state::{ApiKey, ApiState, watched};

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RepoEntry {
    pub repo: String,
    /// pending, ok, not_found, token_rejected, backoff or rate_limited.
    pub status: String,
    pub events_stored: u64,
    pub last_polled_at: Option<DateTime<Utc>>,
    pub next_poll_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

impl From<&RepoView> for RepoEntry {
    fn from(v: &RepoView) -> Self {
        RepoEntry {
            repo: v.name.to_string(),
            status: v.state.status.as_str().to_string(),
            events_stored: v.state.events_stored,
            last_polled_at: v.state.last_polled_at,
            next_poll_at: v.state.next_poll_at,
            last_error: v.state.last_error.clone(),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AddRepo {
    /// `owner/name`
    pub repo: String,
}

/// Names the header that says the config file is not in force.
pub const CONFIG_ERROR_HEADER: &str = "x-config-error";

/// The watched repositories with their polling state.
#[utoipa::path(get, path = "/api/repos", responses((status = 200, body = Vec<RepoEntry>, headers(
    ("x-config-error" = String, description = "Present when the config file, as it is now, is \
        invalid: why (file, line, key). The list is then the last valid config's, which stays in \
        force until the file is fixed. Characters a header cannot carry are shown as `?`."),
))))]
pub async fn list(State(state): State<ApiState>) -> impl IntoResponse {
    let snapshot = state.snapshot();
    let mut headers = HeaderMap::new();
    if let Some(value) = snapshot
        .config_error
        .as_deref()
        .and_then(|e| HeaderValue::from_str(&header_safe(e)).ok())
    {
        headers.insert(CONFIG_ERROR_HEADER, value);
    }
    let repos: Vec<RepoEntry> = snapshot.repos.iter().map(RepoEntry::from).collect();
    (headers, Json(repos))
}

/// A header value holds visible ASCII and spaces only.
fn header_safe(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            ' ' | '!'..='~' => c,
            '\n' | '\t' => ' ',
            _ => '?',
        })
        .collect()
}

fn edit_error(e: EditError) -> ApiError {
    let status = match &e {
        EditError::InvalidName(_) => StatusCode::BAD_REQUEST,
        EditError::Duplicate(_) => StatusCode::CONFLICT,
        EditError::OverLimit(_) => StatusCode::UNPROCESSABLE_ENTITY,
        EditError::NotWatched(_) => StatusCode::NOT_FOUND,
        // The config file itself is broken or unwritable: nothing the request could fix.
        EditError::Config(_) | EditError::Io { .. } => StatusCode::CONFLICT,
        EditError::Stopped => StatusCode::SERVICE_UNAVAILABLE,
    };
    ApiError::new(status, e.to_string())
}

/// Watch a repository: the config file is edited in place and polling starts at once.
#[utoipa::path(post, path = "/api/repos", request_body = AddRepo, security(("api_key" = [])), responses(
    (status = 201, body = RepoEntry),
    (status = 400, body = ErrorBody, description = "malformed body or repository name"),
    (status = 401, body = ErrorBody, description = "missing or wrong API key"),
    (status = 403, body = ErrorBody, description = "no API key configured"),
    (status = 409, body = ErrorBody, description = "already watched"),
    (status = 413, body = ErrorBody, description = "body over 64 KiB"),
    (status = 422, body = ErrorBody, description = "max_repositories reached"),
))]
pub async fn add(
    State(state): State<ApiState>,
    _key: ApiKey,
    ApiJson(body): ApiJson<AddRepo>,
) -> Result<(StatusCode, Json<RepoEntry>), ApiError> {
    let name = state.engine.add(body.repo).await.map_err(edit_error)?;
    let snapshot = state.snapshot();
    let entry = snapshot
        .repo(&name)
        .map(RepoEntry::from)
        .unwrap_or_else(|| RepoEntry {
            repo: name.to_string(),
            status: "pending".into(),
            events_stored: 0,
            last_polled_at: None,
            next_poll_at: None,
            last_error: None,
        });
    Ok((StatusCode::CREATED, Json(entry)))
}

/// Stop watching a repository (its stored events are kept until retention prunes them).
#[utoipa::path(delete, path = "/api/repos/{owner}/{name}", security(("api_key" = [])),
    params(("owner" = String, Path), ("name" = String, Path)),
    responses(
        (status = 204, description = "removed"),
        (status = 400, body = ErrorBody, description = "malformed name"),
        (status = 401, body = ErrorBody, description = "missing or wrong API key"),
        (status = 403, body = ErrorBody, description = "no API key configured"),
        (status = 404, body = ErrorBody, description = "not watched"),
    ))]
pub async fn remove(
    State(state): State<ApiState>,
    _key: ApiKey,
    ApiPath((owner, name)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let repo = watched(&state.snapshot(), &format!("{owner}/{name}"))?;
    state
        .engine
        .remove(repo.to_string())
        .await
        .map_err(edit_error)?;
    Ok(StatusCode::NO_CONTENT)
}
