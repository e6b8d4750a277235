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
    pub limit: u32,
    pub remaining: u32,
    pub used: u32,
    pub reset_at: DateTime<Utc>,
    pub requests: RequestCounters,
}

/// GitHub's rate-limit figures as last reported, and ghpulse's requests by outcome.
#[utoipa::path(get, path = "/api/rate-limit", responses((status = 200, body = RateLimitBody)))]
pub async fn rate_limit(State(state): State<ApiState>) -> Json<RateLimitBody> {
    let s = state.snapshot();
    let rl = s.rate_limit.at(Utc::now());
    Json(RateLimitBody {
        authenticated: s.authenticated,
        limit: rl.limit,
        remaining: rl.remaining,
        used: rl.used,
        reset_at: rl.reset_at,
        requests: s.requests,
    })
}
