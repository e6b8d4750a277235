//! What every request passes through before the router, in one service: the `Host` check,
//! the body cap, the request timeout, and JSON bodies for the errors these and the router's
//! own layers answer. One hand-written service rather than a stack of axum middleware:
//! `from_fn`, `map_response` and `Router::layer` box the service and its future once per
//! layer and request, and tower-http's timeout starts a timer for every request; here a
//! request answered at its first poll (a cached `/api/stats`) allocates nothing and arms no
//! timer.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::Limited;
use tokio::time::Sleep;

use crate::error::ApiError;
use crate::host::{self, AllowedHosts};
use crate::{MAX_BODY_BYTES, is_json};

/// The router behind the checks.
#[derive(Clone)]
pub struct Guard<S> {
    inner: S,
    hosts: AllowedHosts,
    timeout: Duration,
}

impl<S> Guard<S> {
    pub fn new(inner: S, hosts: AllowedHosts, timeout: Duration) -> Guard<S> {
        Guard {
            inner,
            hosts,
            timeout,
        }
    }
}

impl<S, B> tower_service::Service<axum::http::Request<B>> for Guard<S>
where
    S: tower_service::Service<Request, Response = Response, Error = Infallible>,
    B: http_body::Body<Data = axum::body::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Guarded<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: axum::http::Request<B>) -> Self::Future {
        // First of all: nothing is read for a name that is not served.
        if let Err(error) = self.hosts.check(request.headers(), request.version()) {
            return Guarded::answered(host::refused(error));
        }
        // A declared length over the cap is refused before anything is read; a chunked body
        // is cut off where it is read (the extractor answers 413). A body already at its end
        // (a GET) has nothing to cut.
        let declared = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
            return Guarded::answered(too_large());
        }
        let request = request.map(|body| {
            if body.is_end_stream() {
                Body::new(body)
            } else {
                Body::new(Limited::new(body, MAX_BODY_BYTES))
            }
        });
        Guarded {
            state: State::Running {
                inner: self.inner.call(request),
                timeout: self.timeout,
                timer: None,
            },
        }
    }
}

pin_project_lite::pin_project! {
    /// A request's answer: the router's, in JSON when it is an error, or a 408 once the
    /// timeout passes.
    pub struct Guarded<F> {
        #[pin]
        state: State<F>,
    }
}

pin_project_lite::pin_project! {
    #[project = StateProj]
    enum State<F> {
        Answered { response: Option<Response> },
        Running {
            #[pin]
            inner: F,
            timeout: Duration,
            // Armed only when the router's answer is not ready at its first poll, which
            // comes straight after the call: most are.
            timer: Option<Pin<Box<Sleep>>>,
        },
    }
}

impl<F> Guarded<F> {
    fn answered(response: Response) -> Guarded<F> {
        Guarded {
            state: State::Answered {
                response: Some(response),
            },
        }
    }
}

impl<F: Future<Output = Result<Response, Infallible>>> Future for Guarded<F> {
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Answered { response } => {
                Poll::Ready(Ok(response.take().unwrap_or_else(timed_out)))
            }
            StateProj::Running {
                inner,
                timeout,
                timer,
            } => {
                if let Poll::Ready(answer) = inner.poll(cx) {
                    return Poll::Ready(answer.map(json_error_bodies));
                }
                let timer = timer.get_or_insert_with(|| Box::pin(tokio::time::sleep(*timeout)));
                ready!(timer.as_mut().poll(cx));
                Poll::Ready(Ok(timed_out()))
            }
        }
    }
}

/// A request (its body included) cannot keep its connection busy for ever.
fn timed_out() -> Response {
    ApiError::new(StatusCode::REQUEST_TIMEOUT, "request not completed in time").into_response()
}

fn too_large() -> Response {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("request body over {} KiB", MAX_BODY_BYTES / 1024),
    )
    .into_response()
}

/// The router's own answers (a body cut off at the cap, the docs' file server) come in plain
/// text or with no body; the API answers in JSON.
pub(crate) fn json_error_bodies(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => too_large(),
        StatusCode::REQUEST_TIMEOUT => timed_out(),
        StatusCode::NOT_FOUND if !is_json(&response) => {
            ApiError::not_found("no such endpoint; see /openapi.json").into_response()
        }
        status if !is_json(&response) => {
            ApiError::new(status, status.canonical_reason().unwrap_or("error")).into_response()
        }
        _ => response,
    }
}
