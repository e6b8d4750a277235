//! The HTTP side: one handler for every request, so that everything received is recorded and
//! checked the same way, whatever its path or method.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use crate::data::Timestamp;
use crate::ratelimit::Bucket;
use crate::timeline::{self, PageRequest, Repo};
use crate::{Failures, Fault, Options, RecordedRequest};

/// Slack granted to a client that polls exactly on the `X-Poll-Interval` boundary.
const POLL_SLACK: Duration = Duration::from_millis(50);

const EVENTS_DOCS: &str = "https://docs.github.com/rest/activity/events#list-repository-events";
const RATE_DOCS: &str =
    "https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting";

pub(crate) struct Shared {
    pub opts: Options,
    pub base_url: String,
    pub poll_interval: AtomicU64,
    pub in_flight: AtomicUsize,
    pub max_concurrent: AtomicUsize,
    pub request_counter: AtomicU64,
    pub world: Mutex<World>,
}

impl Shared {
    /// The state is only touched in short synchronous sections; a panic in one of them must not
    /// turn every later request into a second panic, so poisoning is ignored.
    pub fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Everything the server knows besides its fixed options.
pub(crate) struct World {
    pub repos: HashMap<u64, Repo>,
    /// Lower-cased `owner/name` → repository id, for names that are served directly.
    pub names: HashMap<String, u64>,
    /// Lower-cased old names of renamed repositories: they answer `301`.
    pub moved: HashMap<String, u64>,
    pub renames: Vec<(String, String)>,
    anonymous: Bucket,
    authenticated: Bucket,
    /// (client, repository id) → when page 1 was last served (200/304) and the
    /// `X-Poll-Interval` that answer carried.
    last_poll: HashMap<(String, u64), (Instant, u64)>,
    pub requests: Vec<RecordedRequest>,
    /// Sequence number of each entry of `requests`, to update it when its answer is known.
    request_seqs: Vec<u64>,
    pub violations: Vec<String>,
    log: bool,
    /// Failures of any request to the events endpoint, and how they are drawn.
    failures: Option<(Failures, Draw)>,
    /// `(quoted marker, raw bytes)`: see `FakeGithub::set_splice`.
    pub splices: Vec<(Vec<u8>, Vec<u8>)>,
}

/// Where a [`Failures`] pattern stands.
enum Draw {
    Count(u64),
    Rng(fastrand::Rng),
}

impl World {
    pub fn new(opts: &Options) -> Self {
        World {
            repos: HashMap::new(),
            names: HashMap::new(),
            moved: HashMap::new(),
            renames: Vec::new(),
            anonymous: Bucket::new(opts.unauth_limit),
            authenticated: Bucket::new(opts.auth_limit),
            last_poll: HashMap::new(),
            requests: Vec::new(),
            request_seqs: Vec::new(),
            violations: Vec::new(),
            log: opts.log_to_stderr,
            failures: None,
            splices: Vec::new(),
        }
    }

    pub fn set_failures(&mut self, failures: Option<Failures>) {
        self.failures = failures.map(|f| {
            let draw = match &f {
                Failures::EveryNth(_) => Draw::Count(0),
                Failures::Random { seed, .. } => Draw::Rng(fastrand::Rng::with_seed(*seed)),
            };
            (f, draw)
        });
    }

    /// Whether this request to the events endpoint fails, by the pattern set.
    fn draw_failure(&mut self) -> bool {
        match &mut self.failures {
            None => false,
            Some((Failures::EveryNth(n), Draw::Count(count))) => {
                *count += 1;
                *n > 0 && *count % *n == 0
            }
            Some((Failures::Random { percent, .. }, Draw::Rng(rng))) => rng.u8(..100) < *percent,
            Some(_) => false,
        }
    }

    pub fn violation(&mut self, text: String) {
        if self.log {
            eprintln!("fake-github: VIOLATION {text}");
        }
        self.violations.push(text);
    }

    /// Forgets what was received (requests, violations, poll history), keeping repositories
    /// and rate-limit windows.
    pub fn clear_records(&mut self) {
        self.requests.clear();
        self.request_seqs.clear();
        self.violations.clear();
        self.last_poll.clear();
    }

    /// The id behind a name, whether it is current or an old name of a renamed repository.
    pub fn resolve(&self, full_name: &str) -> Option<u64> {
        let key = full_name.to_ascii_lowercase();
        self.names
            .get(&key)
            .or_else(|| self.moved.get(&key))
            .copied()
    }

    /// Replaces a request's record (a no-op if the records were cleared meanwhile).
    fn update_request(&mut self, seq: u64, record: RecordedRequest) {
        if let Some(i) = self.request_seqs.iter().rposition(|&s| s == seq) {
            self.requests[i] = record;
        }
    }

    /// The repository a route serves directly (old names of renamed repositories excluded).
    fn route_id(&self, route: &Route) -> Option<u64> {
        match route {
            Route::ByName(name) => self.names.get(&name.to_ascii_lowercase()).copied(),
            Route::ById(id) => self.repos.contains_key(id).then_some(*id),
            Route::Other => None,
        }
    }

    /// What [`RecordedRequest::repo`] says for a route: the repository's current name if the
    /// route names a known one (even by an old name), the name as written otherwise.
    fn route_name(&self, route: &Route) -> Option<String> {
        let id = match route {
            Route::ByName(name) => self.resolve(name),
            Route::ById(id) => Some(*id),
            Route::Other => None,
        };
        match (id.and_then(|id| self.repos.get(&id)), route) {
            (Some(repo), _) => Some(repo.full_name.clone()),
            (None, Route::ByName(name)) => Some(name.clone()),
            (None, _) => None,
        }
    }

    fn bucket(&mut self, authenticated: bool) -> &mut Bucket {
        if authenticated {
            &mut self.authenticated
        } else {
            &mut self.anonymous
        }
    }
}

pub(crate) fn router(shared: Arc<Shared>) -> axum::Router {
    axum::Router::new().fallback(handle).with_state(shared)
}

async fn handle(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let arrived = Instant::now();
    let incoming = Incoming::read(&req);
    let route = Route::parse(req.uri().path());
    let flight = InFlight::enter(&shared, &incoming, &route, arrived);

    // A slow repository delays the whole answer, rate-limit accounting included, as a slow
    // GitHub would; the lock is not held while sleeping.
    let delay = {
        let world = shared.world();
        let page = PageRequest::parse(incoming.query.as_deref(), shared.opts.default_per_page).page;
        world
            .route_id(&route)
            .and_then(|id| match world.repos.get(&id)?.fault_on(page) {
                Some(Fault::Slow(d)) => Some(*d),
                _ => None,
            })
    };
    if let Some(d) = delay {
        tokio::time::sleep(d).await;
    }

    let (reply, record) = respond(&shared, &incoming, &route, flight.record.clone());
    if shared.opts.log_to_stderr {
        eprintln!(
            "fake-github: {} {} {} -> {}{}",
            if record.authenticated { "auth" } else { "anon" },
            record.method,
            record.path_and_query,
            record.status,
            if record.counted { "" } else { " (not counted)" },
        );
    }
    flight.finish(record);
    reply.into_response(shared.opts.log_to_stderr)
}

/// Status recorded for a request whose client hung up before the answer (nginx's convention).
pub(crate) const ABANDONED: u16 = 499;

/// One request from arrival to answer. On arrival it is recorded (status 0 until answered, so
/// `requests()` lists requests in arrival order) and checked for concurrency: a second request
/// arriving while another is unanswered is what GitHub asks clients to avoid. Dropping it
/// without [`InFlight::finish`] — the client hung up and the handler was dropped — marks the
/// record [`ABANDONED`] and stops counting it as in flight.
struct InFlight {
    shared: Arc<Shared>,
    seq: u64,
    record: RecordedRequest,
    finished: bool,
}

impl InFlight {
    fn enter(shared: &Arc<Shared>, incoming: &Incoming, route: &Route, arrived: Instant) -> Self {
        let before = shared.in_flight.fetch_add(1, Ordering::SeqCst);
        shared
            .max_concurrent
            .fetch_max(before + 1, Ordering::SeqCst);
        let seq = shared.request_counter.fetch_add(1, Ordering::Relaxed);
        let (authenticated, _, _) = classify(&incoming.credentials, &shared.opts);
        let mut world = shared.world();
        let record = RecordedRequest {
            at: arrived,
            method: incoming.method.clone(),
            path_and_query: incoming.path_and_query.clone(),
            repo: world.route_name(route),
            page: PageRequest::parse(incoming.query.as_deref(), shared.opts.default_per_page).page,
            if_none_match: incoming.if_none_match.clone(),
            user_agent: incoming.user_agent.clone(),
            authenticated,
            status: 0,
            counted: false,
        };
        world.requests.push(record.clone());
        world.request_seqs.push(seq);
        if before > 0 {
            world.violation(format!(
                "concurrent request: {} {} arrived while {before} other request(s) were in flight",
                incoming.method, incoming.path_and_query
            ));
        }
        if incoming.user_agent.is_none() {
            world.violation(format!(
                "no User-Agent: {} {}",
                incoming.method, incoming.path_and_query
            ));
        }
        InFlight {
            shared: Arc::clone(shared),
            seq,
            record,
            finished: false,
        }
    }

    fn finish(mut self, record: RecordedRequest) {
        self.shared.world().update_request(self.seq, record);
        self.finished = true;
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.shared.in_flight.fetch_sub(1, Ordering::SeqCst);
        if !self.finished {
            let mut record = self.record.clone();
            record.status = ABANDONED;
            if self.shared.opts.log_to_stderr {
                eprintln!(
                    "fake-github: {} {} abandoned by the client",
                    record.method, record.path_and_query
                );
            }
            self.shared.world().update_request(self.seq, record);
        }
    }
}

/// Who is asking: (accepted token?, rejected credentials?, client key for poll tracking).
/// Rejected credentials are answered, and counted, as an anonymous client.
fn classify(credentials: &Credentials, opts: &Options) -> (bool, bool, String) {
    match credentials {
        Credentials::None => (false, false, "anonymous".to_string()),
        Credentials::Token(t) if opts.valid_tokens.is_empty() || opts.valid_tokens.contains(t) => {
            (true, false, format!("token {t}"))
        }
        Credentials::Token(_) | Credentials::Unreadable => (false, true, "anonymous".to_string()),
    }
}

enum Credentials {
    None,
    Token(String),
    /// An `Authorization` header this server cannot read as a token.
    Unreadable,
}

/// The parts of a request that matter, copied out so nothing borrows the request.
struct Incoming {
    method: String,
    path_and_query: String,
    query: Option<String>,
    user_agent: Option<String>,
    if_none_match: Option<String>,
    credentials: Credentials,
}

impl Incoming {
    fn read(req: &Request) -> Self {
        let headers = req.headers();
        let text = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let credentials = match text("authorization") {
            None => Credentials::None,
            Some(value) => match value.trim().split_once(' ') {
                Some((scheme, token))
                    if (scheme.eq_ignore_ascii_case("bearer")
                        || scheme.eq_ignore_ascii_case("token"))
                        && !token.trim().is_empty() =>
                {
                    Credentials::Token(token.trim().to_string())
                }
                _ => Credentials::Unreadable,
            },
        };
        Incoming {
            method: req.method().as_str().to_string(),
            path_and_query: req.uri().path_and_query().map_or_else(
                || req.uri().path().to_string(),
                |pq| pq.as_str().to_string(),
            ),
            query: req.uri().query().map(str::to_string),
            user_agent: text("user-agent"),
            if_none_match: text("if-none-match"),
            credentials,
        }
    }
}

enum Route {
    /// `/repos/{owner}/{name}/events`, holding `owner/name` as written.
    ByName(String),
    /// `/repositories/{id}/events`
    ById(u64),
    Other,
}

impl Route {
    fn parse(path: &str) -> Self {
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        match parts.as_slice() {
            ["repos", owner, name, "events"] if !owner.is_empty() && !name.is_empty() => {
                Route::ByName(format!("{owner}/{name}"))
            }
            ["repositories", id, "events"] => id.parse().map_or(Route::Other, Route::ById),
            _ => Route::Other,
        }
    }
}

/// An answer before it becomes an HTTP response.
struct Reply {
    status: u16,
    headers: Vec<(&'static str, String)>,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    delivery: Delivery,
    /// Whether it lowers `x-ratelimit-remaining`.
    counted: bool,
    /// Headers set over the others, once all are in (see `Fault::Headers`).
    overrides: Vec<(String, String)>,
}

/// How the body goes out.
#[derive(Clone, Copy)]
enum Delivery {
    Whole,
    /// Half, then the connection is closed, though `content-length` promised all.
    CutHalfway,
    /// In pieces over this long.
    Trickle(Duration),
}

impl Reply {
    /// A JSON answer whose body is already serialised (or deliberately broken).
    fn json_bytes(status: u16, body: Vec<u8>) -> Self {
        Reply {
            status,
            headers: Vec::new(),
            content_type: Some("application/json; charset=utf-8"),
            body,
            delivery: Delivery::Whole,
            counted: true,
            overrides: Vec::new(),
        }
    }

    fn json(status: u16, body: &Value) -> Self {
        Reply::json_bytes(status, body.to_string().into_bytes())
    }

    fn error(status: u16, message: &str, documentation_url: &str) -> Self {
        Reply::json(
            status,
            &json!({
                "message": message,
                "documentation_url": documentation_url,
                "status": status.to_string(),
            }),
        )
    }

    fn not_found() -> Self {
        Reply::error(404, "Not Found", EVENTS_DOCS)
    }

    fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    fn into_response(self, log: bool) -> Response {
        let length = self.body.len();
        let body = match self.delivery {
            Delivery::Whole => Body::from(self.body),
            Delivery::CutHalfway => {
                let half = self.body[..length / 2].to_vec();
                let pieces: Vec<Result<Vec<u8>, std::io::Error>> = vec![
                    Ok(half),
                    Err(std::io::Error::other("fake-github: connection cut")),
                ];
                Body::from_stream(futures_util::stream::iter(pieces))
            }
            Delivery::Trickle(over) => {
                const PIECES: usize = 20;
                let step = length.div_ceil(PIECES).max(1);
                let pause = over / PIECES as u32;
                let chunks: Vec<Vec<u8>> = self.body.chunks(step).map(<[u8]>::to_vec).collect();
                Body::from_stream(futures_util::stream::unfold(
                    chunks.into_iter(),
                    move |mut rest| async move {
                        let next = rest.next()?;
                        tokio::time::sleep(pause).await;
                        Some((Ok::<_, std::io::Error>(next), rest))
                    },
                ))
            }
        };
        let mut response = Response::new(body);
        *response.status_mut() =
            StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let headers: &mut HeaderMap = response.headers_mut();
        if let Some(ct) = self.content_type {
            headers.insert(
                axum::http::header::CONTENT_TYPE,
                HeaderValue::from_static(ct),
            );
        }
        if !matches!(self.delivery, Delivery::Whole) {
            headers.insert(
                axum::http::header::CONTENT_LENGTH,
                HeaderValue::from(length),
            );
        }
        for (name, value) in self.headers {
            match HeaderValue::from_str(&value) {
                Ok(v) => {
                    headers.append(HeaderName::from_static(name), v);
                }
                Err(_) if log => {
                    eprintln!("fake-github: dropped unencodable header {name}: {value:?}")
                }
                Err(_) => {}
            }
        }
        for (name, value) in self.overrides {
            match (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(&value),
            ) {
                (Ok(name), Ok(value)) => {
                    headers.insert(name, value);
                }
                _ if log => eprintln!("fake-github: dropped unencodable header {name}: {value:?}"),
                _ => {}
            }
        }
        response
    }
}

/// Decides the answer and accounts for it, all under one lock so the rate-limit figures and
/// the record agree.
fn respond(
    shared: &Shared,
    incoming: &Incoming,
    route: &Route,
    mut record: RecordedRequest,
) -> (Reply, RecordedRequest) {
    let opts = &shared.opts;
    let now = Instant::now();
    let wall = SystemTime::now();
    let arrived = record.at;
    let page = PageRequest::parse(incoming.query.as_deref(), opts.default_per_page);
    let (authenticated, bad_credentials, client) = classify(&incoming.credentials, opts);

    let mut guard = shared.world();
    let world = &mut *guard;
    world
        .bucket(authenticated)
        .roll(now, wall, opts.rate_window);
    let mut reply = if world.bucket(authenticated).exhausted() {
        let text = format!(
            "request after budget spent: {} {} ({})",
            incoming.method,
            incoming.path_and_query,
            if authenticated {
                "authenticated"
            } else {
                "unauthenticated"
            }
        );
        world.violation(text);
        let message = if authenticated {
            "API rate limit exceeded for user ID 1.".to_string()
        } else {
            "API rate limit exceeded for 127.0.0.1. (But here's the good news: Authenticated \
             requests get a higher rate limit. Check out the documentation for more details.)"
                .to_string()
        };
        let mut r = Reply::json(
            403,
            &json!({"message": message, "documentation_url": RATE_DOCS}),
        );
        r.counted = false; // nothing left to lower
        r
    } else if bad_credentials {
        Reply::error(401, "Bad credentials", "https://docs.github.com/rest")
    } else {
        let ctx = Ctx {
            shared,
            incoming,
            page,
            authenticated,
            client: &client,
            arrived,
        };
        serve(world, &ctx, route, &mut record)
    };
    let bucket = world.bucket(authenticated);
    if reply.counted {
        bucket.spend();
    }
    let figures = bucket.figures(opts.rate_window);
    drop(guard);

    let request_no = shared.request_counter.load(Ordering::Relaxed);
    let common = [
        ("date", Timestamp::from(wall).to_http_date()),
        ("server", "github.com".to_string()),
        ("x-github-media-type", "github.v3; format=json".to_string()),
        ("x-github-api-version-selected", "2022-11-28".to_string()),
        (
            "x-github-request-id",
            format!("FA4E:6171:{request_no:X}:{:X}", figures.reset),
        ),
        ("x-ratelimit-limit", figures.limit.to_string()),
        ("x-ratelimit-remaining", figures.remaining.to_string()),
        ("x-ratelimit-reset", figures.reset.to_string()),
        ("x-ratelimit-used", figures.used.to_string()),
        ("x-ratelimit-resource", "core".to_string()),
    ];
    reply.headers.extend(common);
    record.status = reply.status;
    record.counted = reply.counted;
    (reply, record)
}

struct Ctx<'a> {
    shared: &'a Shared,
    incoming: &'a Incoming,
    page: PageRequest,
    authenticated: bool,
    client: &'a str,
    arrived: Instant,
}

/// The events endpoint proper, for a client that is allowed to ask.
fn serve(world: &mut World, ctx: &Ctx<'_>, route: &Route, record: &mut RecordedRequest) -> Reply {
    let opts = &ctx.shared.opts;
    let base = &ctx.shared.base_url;
    if ctx.incoming.method != "GET" && ctx.incoming.method != "HEAD" {
        return Reply::error(404, "Not Found", "https://docs.github.com/rest");
    }
    let id = match route {
        Route::Other => return Reply::error(404, "Not Found", "https://docs.github.com/rest"),
        Route::ById(id) if world.repos.contains_key(id) => *id,
        Route::ById(_) => return Reply::not_found(),
        Route::ByName(name) => {
            let key = name.to_ascii_lowercase();
            if let Some(id) = world.names.get(&key) {
                *id
            } else if let Some(&id) = world.moved.get(&key) {
                // GitHub answers an old name with a permanent redirect to the id-based URL,
                // keeping the query string.
                record.repo = world.repos.get(&id).map(|r| r.full_name.clone());
                let query = ctx
                    .incoming
                    .query
                    .as_deref()
                    .map(|q| format!("?{q}"))
                    .unwrap_or_default();
                let location = format!("{base}/repositories/{id}/events{query}");
                return Reply::json(
                    301,
                    &json!({
                        "message": "Moved Permanently",
                        "url": location,
                        "documentation_url": "https://docs.github.com/v3/#http-redirects",
                    }),
                )
                .header("location", location);
            } else {
                record.repo = Some(name.clone());
                return Reply::not_found();
            }
        }
    };
    let Some(full_name) = world.repos.get(&id).map(|r| r.full_name.clone()) else {
        return Reply::not_found();
    };
    record.repo = Some(full_name.clone());

    let poll_key = (ctx.client.to_string(), id);
    if ctx.page.page == 1
        && let Some(&(previous, interval)) = world.last_poll.get(&poll_key)
    {
        let gap = ctx.arrived.saturating_duration_since(previous);
        if gap + POLL_SLACK < Duration::from_secs(interval) {
            world.violation(format!(
                "poll too soon: {} page 1 polled {:.3} s after the previous poll by {}; \
                 X-Poll-Interval was {interval} s ({})",
                full_name,
                gap.as_secs_f64(),
                ctx.client,
                ctx.incoming.path_and_query
            ));
        }
    }

    if world.draw_failure() {
        return server_error(502);
    }
    let Some(repo) = world.repos.get_mut(&id) else {
        return Reply::not_found();
    };
    let fault = repo.fault_on(ctx.page.page).cloned();
    if repo.once.take().is_some() && ctx.shared.opts.log_to_stderr {
        eprintln!("fake-github: the one-time fault {fault:?} was served");
    }
    let repo = &*repo;
    let overrides = match &fault {
        Some(Fault::Headers { headers, .. }) => headers.clone(),
        _ => Vec::new(),
    };
    match &fault {
        Some(Fault::Headers { status, .. }) if *status != 200 => {
            let mut r = match status {
                403 | 429 => secondary_limit(*status, 60),
                _ => Reply::error(*status, "Overridden answer", EVENTS_DOCS),
            };
            r.overrides = overrides;
            return r;
        }
        Some(Fault::NotFound) => return Reply::not_found(),
        Some(Fault::Gone) => return Reply::error(410, "Repository access blocked", EVENTS_DOCS),
        Some(Fault::Unauthorized) => {
            return Reply::error(
                401,
                "Requires authentication",
                "https://docs.github.com/rest",
            );
        }
        Some(Fault::ServerError(code)) => return server_error(*code),
        Some(Fault::SecondaryRateLimit { retry_after_secs }) => {
            return secondary_limit(429, *retry_after_secs);
        }
        Some(Fault::SecondaryRateLimitForbidden { retry_after_secs }) => {
            return secondary_limit(403, *retry_after_secs);
        }
        Some(Fault::RedirectTo(elsewhere)) => {
            let query = ctx
                .incoming
                .query
                .as_deref()
                .map(|q| format!("?{q}"))
                .unwrap_or_default();
            let location = format!("{elsewhere}/repositories/{id}/events{query}");
            return Reply::json(302, &json!({"message": "Found", "url": location}))
                .header("location", location);
        }
        _ => {}
    }

    if ctx.page.offset() >= opts.timeline_cap {
        return Reply::error(
            422,
            "In order to keep the API fast for everyone, pagination is limited for this resource. \
             Check the rel=last link relation in the Link response header to see how far back \
             you can traverse.",
            "https://docs.github.com/v3/#pagination",
        );
    }

    let visible = repo.visible(opts.timeline_cap, opts.max_age, Timestamp::now());
    let on_page: Vec<_> = visible
        .iter()
        .skip(ctx.page.offset())
        .take(ctx.page.per_page)
        .collect();
    let ids: Vec<u64> = on_page.iter().map(|e| e.id).collect();
    let etag = timeline::etag(&ctx.incoming.path_and_query, &ids);
    let poll_interval = ctx.shared.poll_interval.load(Ordering::Relaxed);
    let cache = if ctx.authenticated {
        "private"
    } else {
        "public"
    };
    let mut headers = vec![
        ("cache-control", format!("{cache}, max-age=60, s-maxage=60")),
        (
            "vary",
            "Accept, Authorization, Cookie, X-GitHub-OTP".to_string(),
        ),
        (
            "vary",
            "Accept-Encoding, Accept, X-Requested-With".to_string(),
        ),
        ("etag", etag.clone()),
    ];
    if let Some(newest) = on_page.iter().filter_map(|e| e.created_at).max() {
        headers.push(("last-modified", newest.to_http_date()));
    }
    headers.push(("x-poll-interval", poll_interval.to_string()));
    let link_base = match &fault {
        Some(Fault::ForeignLink(elsewhere)) => elsewhere.as_str(),
        _ => base.as_str(),
    };
    if let Some(link) = ctx.page.link_header(link_base, id, visible.len()) {
        headers.push(("link", link));
    }
    let page_json: Vec<&Value> = on_page.iter().map(|e| &e.json).collect();
    let body = splice(
        serde_json::to_vec(&page_json).unwrap_or_else(|_| b"[]".to_vec()),
        &world.splices,
    );

    let mut reply = match &fault {
        Some(Fault::Malformed) => {
            Reply::json(200, &json!({"oops": true, "message": "not an array"}))
        }
        Some(Fault::TruncatedJson) => Reply::json_bytes(200, body[..body.len() / 2].to_vec()),
        _ => {
            let fresh = ctx
                .incoming
                .if_none_match
                .as_deref()
                .is_some_and(|inm| timeline::etag_matches(inm, &etag));
            // A page cut mid-body (like a malformed one) is no answer a client can use:
            // asking for it again is a retry within the poll (SPEC section 4), not a poll.
            if ctx.page.page == 1 && !matches!(fault, Some(Fault::TruncatedClose)) {
                world
                    .last_poll
                    .insert(poll_key, (ctx.arrived, poll_interval));
            }
            if fresh {
                Reply {
                    status: 304,
                    headers: Vec::new(),
                    content_type: None,
                    body: Vec::new(),
                    delivery: Delivery::Whole,
                    // GitHub does not charge an authenticated client for "nothing new".
                    counted: !ctx.authenticated,
                    overrides: Vec::new(),
                }
            } else {
                Reply::json_bytes(200, body)
            }
        }
    };
    // A page that is cut or trickles is otherwise an ordinary answer (304s included).
    match (&fault, reply.status) {
        (Some(Fault::TruncatedClose), 200) => reply.delivery = Delivery::CutHalfway,
        (Some(Fault::Trickle(over)), 200) => reply.delivery = Delivery::Trickle(*over),
        _ => {}
    }
    reply.headers.extend(headers);
    reply.overrides = overrides;
    reply
}

/// `body` with every quoted marker replaced by its raw bytes.
fn splice(mut body: Vec<u8>, splices: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    for (marker, raw) in splices {
        let mut out = Vec::with_capacity(body.len());
        let mut rest = body.as_slice();
        while let Some(at) = rest
            .windows(marker.len())
            .position(|w| w == marker.as_slice())
        {
            out.extend_from_slice(&rest[..at]);
            out.extend_from_slice(raw);
            rest = &rest[at + marker.len()..];
        }
        out.extend_from_slice(rest);
        body = out;
    }
    body
}

fn server_error(code: u16) -> Reply {
    let code = if (500..=599).contains(&code) || (400..=499).contains(&code) {
        code
    } else {
        500
    };
    if matches!(code, 502..=504) {
        // GitHub's edge answers these with an HTML page, not JSON.
        let html = format!(
            "<!DOCTYPE html>\n<html><head><title>{code} - GitHub</title></head>\
             <body><h1>{code}</h1><p>We couldn't respond to your request in time. \
             Sorry about that. Please try resubmitting your request.</p></body></html>\n"
        );
        Reply {
            status: code,
            headers: Vec::new(),
            content_type: Some("text/html; charset=utf-8"),
            body: html.into_bytes(),
            delivery: Delivery::Whole,
            counted: true,
            overrides: Vec::new(),
        }
    } else {
        Reply::json(code, &json!({"message": "Server Error"}))
    }
}

fn secondary_limit(status: u16, retry_after_secs: u64) -> Reply {
    Reply::error(
        status,
        "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. \
         If you reach out to GitHub Support for help, please include the request ID FA4E:6171.",
        "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
    )
    .header("retry-after", retry_after_secs.to_string())
}
