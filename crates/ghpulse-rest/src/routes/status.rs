//! `GET /health` and `GET /api/rate-limit`: is the fetcher running, and what budget is left.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use ghpulse_core::RequestCounters;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorBody};
use crate::state::ApiState;

#[derive(Serialize, Deserialize, ToSchema)]
pub struct Health {
    pub status: String,
}

/// Liveness: ok while the fetcher runs.
#[utoipa::path(get, path = "/health", responses(
    (status = 200, body = Health),
    (status = 503, body = ErrorBody, description = "the fetcher is not running"),
))]
pub async fn health(State(state): State<ApiState>) -> Result<Json<Health>, ApiError> {
    if state.engine.fetcher_running() {
        Ok(Json(Health {
            status: "ok".into(),
        }))
    } else {
        Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the fetcher is not running",
        ))
    }
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct RateLimitBody {
    pub authenticated: bool,
    /// Whether an answer from GitHub has carried the figures; until then the four below are
    /// null.
    pub known: bool,
    pub limit: Option<u32>,
    pub remaining: Option<u32>,
    pub used: Option<u32>,
    pub reset_at: Option<DateTime<Utc>>,
    pub requests: RequestCounters,
}

/// GitHub's rate-limit figures as last reported (null before its first answer), and
/// ghpulse's requests by outcome.
#[utoipa::path(get, path = "/api/rate-limit", responses((status = 200, body = RateLimitBody)))]
pub async fn rate_limit(State(state): State<ApiState>) -> Json<RateLimitBody> {
    let s = state.snapshot();
    let rl = s.rate_limit.at(Utc::now());
    let known = !rl.assumed;
    Json(RateLimitBody {
        authenticated: s.authenticated,
        known,
        limit: known.then_some(rl.limit),
        remaining: known.then_some(rl.remaining),
        used: known.then_some(rl.used),
        reset_at: known.then_some(rl.reset_at),
        requests: s.requests,
    })
}
