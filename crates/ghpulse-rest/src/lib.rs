//! The REST listener: the figures of the published snapshot over HTTP, and watch-list changes
//! through the engine's handle. Handlers never wait on the fetcher or a redb write.

mod docs;
mod error;
mod guard;
mod host;
mod listener;
mod metrics;
mod parse_errors;
mod routes;
mod state;

use std::net::SocketAddr;

use axum::extract::DefaultBodyLimit;
use axum::http::{StatusCode, header};
use axum::response::Response;
use tokio::sync::watch;
use tower_layer::Layer;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use routes::{activity, events, repos, stats, status, stream};

pub use error::{ApiError, ErrorBody};
pub use guard::Guard;
pub use host::AllowedHosts;
pub use listener::{ConnectionHandle, Limits};
pub use state::ApiState;

pub const MAX_BODY_BYTES: usize = 64 * 1024;

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

/// What the listener answers before any handler runs, on every path: 421 for a `Host` it does
/// not serve, 400 for a malformed one.
struct ListenerAnswers;

impl Modify for ListenerAnswers {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
        let error = |description: &str| -> RefOr<utoipa::openapi::Response> {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ErrorBody")))
                        .build(),
                )
                .build()
                .into()
        };
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                let responses = &mut operation.responses.responses;
                responses
                    .entry("400".into())
                    .or_insert_with(|| error("malformed request or Host header"));
                responses.insert(
                    "421".into(),
                    error(
                        "the Host header names neither localhost, the listen address nor a \
                         name of [server] allowed_hosts (a guard against DNS rebinding)",
                    ),
                );
            }
        }
    }
}

/// The router and the OpenAPI document generated from the same handlers, behind the checks of
/// [`Guard`]: a request taking longer than `request_timeout` is answered 408, one for a name
/// not in `hosts` 421, a body over [`MAX_BODY_BYTES`] 413.
pub fn router(
    state: ApiState,
    request_timeout: std::time::Duration,
    hosts: AllowedHosts,
) -> Guard<
    impl tower_service::Service<
        axum::extract::Request,
        Response = Response,
        Error = std::convert::Infallible,
        Future: Send,
    > + Clone
    + Send
    + Sync
    + 'static,
> {
    let (router, mut api) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(stats::api_stats))
        .routes(routes!(stats::statistics))
        .routes(routes!(repos::list, repos::add))
        .routes(routes!(repos::remove))
        .routes(routes!(events::list))
        .routes(routes!(activity::active))
        .routes(routes!(activity::with_events))
        .routes(routes!(activity::labels))
        .routes(routes!(activity::response_times))
        .routes(routes!(events::count))
        .routes(routes!(stream::stream))
        .routes(routes!(status::rate_limit))
        .routes(routes!(metrics::metrics))
        .routes(routes!(status::health))
        .split_for_parts();
    ListenerAnswers.modify(&mut api);
    let docs = docs::router();
    // Generated once: the document only changes with the code.
    let api = bytes::Bytes::from(
        api.to_json()
            .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}")),
    );
    let router = router
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
        .with_state(state);
    // One body limit, the guard's: axum's own default limit would only repeat it.
    Guard::new(
        DefaultBodyLimit::disable().layer(router),
        hosts,
        request_timeout,
    )
}

pub(crate) fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"))
}

/// Binds `addr` and serves until `shutdown` turns true, to `localhost`, `addr` and
/// `allowed_hosts` (see [`AllowedHosts`]). The bound address is logged (so a port of 0 can be
/// found).
pub async fn spawn(
    addr: SocketAddr,
    state: ApiState,
    allowed_hosts: &[String],
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
    let hosts = AllowedHosts::new(bound.ip(), allowed_hosts);
    Ok(tokio::spawn(serve(
        listener, state, limits, hosts, shutdown,
    )))
}

/// Serves the API on a bound listener until `shutdown` turns true (tests bind port 0).
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: ApiState,
    limits: Limits,
    hosts: AllowedHosts,
    shutdown: watch::Receiver<bool>,
) {
    let app = router(state, limits.timeout, hosts);
    listener::serve(listener, app, limits, shutdown).await
}
