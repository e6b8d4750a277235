//! The REST listener: the figures of the published snapshot over HTTP, and watch-list changes
//! through the engine's command channel. Handlers never wait on the fetcher or a redb write.

mod error;
mod events;
pub mod listener;
mod metrics;
mod questions;
mod repos;
mod stats;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use tokio::sync::watch;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use utoipa_scalar::{Scalar, Servable};

use crate::engine::EngineHandle;
use crate::ratelimit::RequestCounters;
use crate::repo::RepoName;
use crate::snapshot::Snapshot;
pub use error::{ApiError, ErrorBody};
pub use listener::Limits;

pub const MAX_BODY_BYTES: usize = 64 * 1024;

#[derive(Clone)]
pub struct ApiState {
    pub engine: EngineHandle,
    pub api_key: Option<Arc<str>>,
}

impl ApiState {
    fn snapshot(&self) -> Arc<Snapshot> {
        self.engine.snapshots.borrow().clone()
    }
}

/// A repository named in a request, as the watch list spells it: 400 when the name is
/// malformed, 404 when it is not watched.
fn watched(snapshot: &Snapshot, input: &str) -> Result<RepoName, ApiError> {
    let name = RepoName::parse(input).map_err(|e| ApiError::bad_request(e.to_string()))?;
    match snapshot.repo(&name) {
        Some(view) => Ok(view.name.clone()),
        None => Err(ApiError::not_found(format!("{name} is not watched"))),
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "ghpulse", description = "GitHub repository activity: per-type statistics of the watched repositories."),
    modifiers(&BearerKey),
    components(schemas(ErrorBody))
)]
struct ApiDoc;

struct BearerKey;

impl Modify for BearerKey {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The router and the OpenAPI document generated from the same handlers; a request taking
/// longer than `request_timeout` is answered 408.
pub fn router(state: ApiState, request_timeout: std::time::Duration) -> Router {
    let (router, api) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(stats::api_stats))
        .routes(routes!(stats::statistics))
        .routes(routes!(repos::list, repos::add))
        .routes(routes!(repos::remove))
        .routes(routes!(questions::events))
        .routes(routes!(questions::active))
        .routes(routes!(questions::with_events))
        .routes(routes!(questions::labels))
        .routes(routes!(events::count))
        .routes(routes!(rate_limit))
        .routes(routes!(metrics::metrics))
        .routes(routes!(health))
        .split_for_parts();
    // A reference page over the same document; Scalar's script comes from its CDN when the
    // page is viewed, so nothing is downloaded at build time.
    let docs = Scalar::with_url("/docs", api.clone()).title("ghpulse REST API");
    // Generated once: the document only changes with the code.
    let api = api
        .to_json()
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    router
        .merge(docs)
        .route(
            "/openapi.json",
            axum::routing::get(move || {
                let api = api.clone();
                async move { ([(header::CONTENT_TYPE, "application/json")], api) }
            }),
        )
        .fallback(|| async { ApiError::not_found("no such endpoint; see /openapi.json") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method not allowed here; see /openapi.json",
            )
        })
        // One body limit, tower-http's: a declared length over it is refused before anything
        // is read, a chunked body is cut off where it is read.
        .layer(DefaultBodyLimit::disable())
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        // A request (its body included) cannot keep its connection busy for ever.
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            request_timeout,
        ))
        .layer(middleware::map_response(json_error_bodies))
        .with_state(state)
}

/// tower-http's layers answer in plain text or with no body; the API answers in JSON.
async fn json_error_bodies(response: Response) -> Response {
    match response.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body over {} KiB", MAX_BODY_BYTES / 1024),
        )
        .into_response(),
        StatusCode::REQUEST_TIMEOUT => {
            ApiError::new(StatusCode::REQUEST_TIMEOUT, "request not completed in time")
                .into_response()
        }
        _ => response,
    }
}

/// Binds `addr` and serves until `shutdown` turns true. The bound address is logged (so a
/// port of 0 can be found).
pub async fn spawn(
    addr: SocketAddr,
    state: ApiState,
    shutdown: watch::Receiver<bool>,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    let limits =
        Limits::from_env().map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    tracing::info!("REST API listening on http://{bound}");
    tracing::debug!(
        "REST API: at most {} connections, timeout {:?}",
        limits.max_connections,
        limits.timeout
    );
    let app = router(state, limits.timeout);
    Ok(tokio::spawn(listener::serve(
        listener, app, limits, shutdown,
    )))
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

#[derive(Serialize, Deserialize, ToSchema)]
pub struct Health {
    pub status: String,
}

/// Liveness: ok while the fetcher runs.
#[utoipa::path(get, path = "/health", responses(
    (status = 200, body = Health),
    (status = 503, body = ErrorBody, description = "the fetcher is not running"),
))]
async fn health(State(state): State<ApiState>) -> Result<Json<Health>, ApiError> {
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
async fn rate_limit(State(state): State<ApiState>) -> Json<RateLimitBody> {
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
