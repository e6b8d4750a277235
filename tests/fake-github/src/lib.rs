//! A local imitation of GitHub's repository Events API
//! (`GET /repos/{owner}/{name}/events`, `GET /repositories/{id}/events`) for ghpulse's tests,
//! end-to-end runs and screenshots.
//!
//! It models what a polling client must get right — paging and `link`, weak ETags and `304`,
//! `X-Poll-Interval`, the primary rate limit with its headers, the 300-event timeline, renames
//! and errors — and it watches the client: every request is recorded, and protocol violations
//! (no `User-Agent`, concurrent requests, polling faster than `X-Poll-Interval`, requests after
//! the budget ran out) are listed by [`FakeGithub::violations`].
//!
//! ```no_run
//! # async fn demo() {
//! use fake_github::{FakeGithub, Options, data};
//! let gh = FakeGithub::start(Options::default()).await;
//! let mut events = data::load_events("sferik__rails_admin");
//! data::rebase(&mut events, std::time::SystemTime::now());
//! gh.add_repo("sferik/rails_admin", 810796, events);
//! // point the client at gh.url() ...
//! assert!(gh.violations().is_empty());
//! # }
//! ```

pub mod data;
mod ratelimit;
mod server;
pub mod synthetic;
mod timeline;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;

use crate::server::{Shared, World};
use crate::timeline::Repo;

/// How the server behaves. Build with `Options { field: value, ..Options::default() }`.
#[derive(Debug, Clone)]
pub struct Options {
    /// `X-Poll-Interval` sent on 200 and 304 answers (changeable later with
    /// [`FakeGithub::set_poll_interval`]).
    pub poll_interval_secs: u64,
    /// Length of a rate-limit window. As on GitHub, a window opens at a client kind's first
    /// request and the next one at the first request after it ended (there are two client
    /// kinds: anonymous, and any accepted token).
    pub rate_window: Duration,
    /// Requests per window without a token (GitHub: 60 an hour).
    pub unauth_limit: u32,
    /// Requests per window with a token (GitHub: 5,000 an hour).
    pub auth_limit: u32,
    /// Tokens accepted; empty means any `Bearer`/`token` credential is accepted.
    pub valid_tokens: Vec<String>,
    /// How many of a repository's newest events the API shows (GitHub: 300).
    pub timeline_cap: usize,
    /// `per_page` when the client names none (GitHub: 30; at most 100 either way).
    pub default_per_page: usize,
    /// Hide events whose `created_at` is older than this (GitHub: 30 days). `None` (the default)
    /// shows everything, so raw fixtures from years ago can be served without rebasing.
    pub max_age: Option<Duration>,
    /// Log every request and violation to stderr (the binary's `--verbose`).
    pub log_to_stderr: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            poll_interval_secs: 60,
            rate_window: Duration::from_secs(3600),
            unauth_limit: 60,
            auth_limit: 5000,
            valid_tokens: Vec::new(),
            timeline_cap: 300,
            default_per_page: 30,
            max_age: None,
            log_to_stderr: false,
        }
    }
}

/// A misbehaviour of one repository, set with [`FakeGithub::set_fault`]. Every error answer
/// carries the rate-limit headers and counts against the budget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// `404 {"message":"Not Found",…}`
    NotFound,
    /// `410 {"message":"Repository access blocked",…}`
    Gone,
    /// `401 {"message":"Requires authentication",…}`
    Unauthorized,
    /// That status; 502–504 with an HTML body (as GitHub's edge sends), others with
    /// `{"message":"Server Error"}`. Codes outside 400–599 become 500.
    ServerError(u16),
    /// Sleep this long, then answer normally.
    Slow(Duration),
    /// `200` with valid JSON that is not an array.
    Malformed,
    /// `200` with the first half of the real body (and the real ETag).
    TruncatedJson,
    /// `429` with `retry-after` and GitHub's secondary-rate-limit message.
    SecondaryRateLimit { retry_after_secs: u64 },
    /// The same, as the `403` GitHub also uses for it (rate-limit headers show budget left).
    SecondaryRateLimitForbidden { retry_after_secs: u64 },
    /// The repository is renamed: the old name answers `301` with
    /// `Location: {base}/repositories/{id}/events?{query}`; the new name and the id URL serve it.
    /// Recorded in [`FakeGithub::renames`]; `set_fault(old, None)` makes the old name serve again.
    RenamedTo(String),
    /// Answers normally, but `link: rel="next"` (and the other rels) point at this base URL,
    /// another origin, instead of the server's own.
    ForeignLink(String),
    /// `302` with `Location: {base}/repositories/{id}/events?{query}` on another origin.
    RedirectTo(String),
    /// `200` declaring the whole body's `content-length`, sending half of it, then closing the
    /// connection (a proxy or GitHub's edge dropping mid-answer).
    TruncatedClose,
    /// `200` whose body arrives in small pieces spread over this long.
    Trickle(Duration),
    /// Answers with this status — `200`: the page; `403`/`429`: the secondary-rate-limit
    /// message; anything else: an error body — and these headers set over the usual ones
    /// (`x-poll-interval`, `x-ratelimit-reset`, `date`, `etag`, `retry-after`, …), given
    /// verbatim: for values no real GitHub would send.
    Headers {
        status: u16,
        headers: Vec<(String, String)>,
    },
}

/// Failures of requests to the events endpoint as a whole, whatever the repository (see
/// [`FakeGithub::set_failures`]): each answers `502` with GitHub's HTML error page, carries
/// the rate-limit headers and counts against the budget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failures {
    /// Every `n`-th request from now on (the `n`-th, the `2n`-th, …).
    EveryNth(u64),
    /// Each request with probability `percent` / 100, drawn from a generator seeded with
    /// `seed`, so a run can be repeated.
    Random { percent: u8, seed: u64 },
}

/// One request as received, with the answer's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// Arrival time.
    pub at: Instant,
    pub method: String,
    /// Exactly as sent, e.g. `/repos/a/b/events?per_page=100`.
    pub path_and_query: String,
    /// The repository's current `owner/name` when the path named a known one (by name, old name
    /// or id); the path's `owner/name` for an unknown name; `None` otherwise.
    pub repo: Option<String>,
    /// The `page` asked for (1 when absent).
    pub page: u32,
    pub if_none_match: Option<String>,
    pub user_agent: Option<String>,
    /// A token was sent and accepted.
    pub authenticated: bool,
    /// The answer's status; 0 while unanswered, 499 if the client hung up first.
    pub status: u16,
    /// Whether the answer lowered `x-ratelimit-remaining` (every answer except an authenticated
    /// 304 and a 403 for an already spent budget).
    pub counted: bool,
}

/// Handle on a running fake server; clones share it. The server runs on the Tokio runtime that
/// started it and stops with it.
#[derive(Clone)]
pub struct FakeGithub {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for FakeGithub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeGithub")
            .field("url", &self.shared.base_url)
            .finish_non_exhaustive()
    }
}

impl FakeGithub {
    /// Starts on `127.0.0.1` with a free port.
    pub async fn start(opts: Options) -> FakeGithub {
        Self::start_on(opts, 0)
            .await
            .expect("fake-github: cannot bind 127.0.0.1:0")
    }

    /// Starts on `127.0.0.1:port` (0 picks a free one).
    pub async fn start_on(opts: Options, port: u16) -> std::io::Result<FakeGithub> {
        let listener =
            tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            base_url: format!("http://{addr}"),
            poll_interval: AtomicU64::new(opts.poll_interval_secs),
            in_flight: AtomicUsize::new(0),
            max_concurrent: AtomicUsize::new(0),
            request_counter: AtomicU64::new(1),
            world: std::sync::Mutex::new(World::new(&opts)),
            opts,
        });
        let app = server::router(Arc::clone(&shared));
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                eprintln!("fake-github: server stopped: {e}");
            }
        });
        Ok(FakeGithub { shared })
    }

    /// `http://127.0.0.1:PORT`, no trailing slash: the `api_url` to give a client.
    pub fn url(&self) -> String {
        self.shared.base_url.clone()
    }

    /// Serves a repository under `full_name` (matched case-insensitively) and
    /// `/repositories/{id}`. Events are served as given (their `repo` field is not rewritten;
    /// see [`data::retarget`]), ordered by numeric id, newest first. Adding an existing id
    /// replaces that repository.
    ///
    /// Panics if an event has no numeric id.
    pub fn add_repo(&self, full_name: &str, id: u64, events_newest_first: Vec<Value>) {
        let mut repo = Repo::new(full_name);
        repo.publish(events_newest_first, Instant::now());
        let mut world = self.shared.world();
        world.names.retain(|_, v| *v != id);
        world.moved.retain(|_, v| *v != id);
        world.names.insert(full_name.to_ascii_lowercase(), id);
        world.repos.insert(id, repo);
    }

    /// Publishes events now: they show at the top of the timeline (by id) from the next request
    /// on, and push the oldest past the cap out of view. Ids already present are ignored.
    ///
    /// Panics if the repository is unknown or an event has no numeric id.
    pub fn push_events(&self, full_name: &str, new_events: Vec<Value>) {
        let mut world = self.shared.world();
        let id = world
            .resolve(full_name)
            .unwrap_or_else(|| panic!("fake-github: no repository {full_name}"));
        if let Some(repo) = world.repos.get_mut(&id) {
            repo.publish(new_events, Instant::now());
        }
    }

    /// Keeps a dashboard alive until the task is dropped: at random intervals around
    /// `mean_secs`, a random fixture repository gets a copy of one of its own recorded events
    /// (see [`Self::push_live_event`]); `published` hears of each.
    pub fn publish_live_events(
        &self,
        mean_secs: f64,
        published: impl Fn(&str, &Value) + Send + 'static,
    ) -> tokio::task::JoinHandle<()> {
        let gh = self.clone();
        tokio::spawn(async move {
            let templates: Vec<(&str, Vec<Value>)> = data::FIXTURE_REPOS
                .iter()
                .map(|r| (r.full_name, data::load_events(r.file_stem)))
                .collect();
            loop {
                let wait = mean_secs.max(0.1) * (0.5 + fastrand::f64());
                tokio::time::sleep(Duration::from_secs_f64(wait)).await;
                let (name, events) = &templates[fastrand::usize(..templates.len())];
                let template = events[fastrand::usize(..events.len())].clone();
                let event = gh.push_live_event(name, template);
                published(name, &event);
            }
        })
    }

    /// Publishes a copy of `template` as a brand-new event of `full_name`: the next free id
    /// ([`Self::next_event_id`]), `created_at` now, and `repo` pointing at the repository's
    /// current name and id. Returns the event as published.
    pub fn push_live_event(&self, full_name: &str, mut template: Value) -> Value {
        let mut world = self.shared.world();
        let id = world
            .resolve(full_name)
            .unwrap_or_else(|| panic!("fake-github: no repository {full_name}"));
        let next = world
            .repos
            .values()
            .filter_map(Repo::max_id)
            .max()
            .unwrap_or(0)
            + 1;
        let Some(repo) = world.repos.get_mut(&id) else {
            unreachable!("resolve returned a known id")
        };
        template["id"] = Value::String(next.to_string());
        template["created_at"] = Value::String(data::Timestamp::now().to_rfc3339());
        template["repo"] = data::repo_json(&repo.full_name, id);
        repo.publish(vec![template.clone()], Instant::now());
        template
    }

    /// One more than the highest event id of any repository: an id that will sort newest.
    pub fn next_event_id(&self) -> u64 {
        let world = self.shared.world();
        world
            .repos
            .values()
            .filter_map(Repo::max_id)
            .max()
            .unwrap_or(0)
            + 1
    }

    /// Sets or clears a repository's fault. See [`Fault::RenamedTo`] for renames.
    ///
    /// Panics if the repository is unknown.
    pub fn set_fault(&self, full_name: &str, fault: Option<Fault>) {
        let mut world = self.shared.world();
        let key = full_name.to_ascii_lowercase();
        let id = world
            .resolve(full_name)
            .unwrap_or_else(|| panic!("fake-github: no repository {full_name}"));
        match fault {
            Some(Fault::RenamedTo(new_name)) => {
                let old_name = world
                    .repos
                    .get(&id)
                    .map(|r| r.full_name.clone())
                    .unwrap_or_default();
                world.names.remove(&key);
                world.moved.insert(key, id);
                world.moved.remove(&new_name.to_ascii_lowercase());
                world.names.insert(new_name.to_ascii_lowercase(), id);
                if let Some(repo) = world.repos.get_mut(&id) {
                    repo.full_name = new_name.clone();
                }
                world.renames.push((old_name, new_name));
            }
            other => {
                if other.is_none() && world.moved.remove(&key).is_some() {
                    world.names.insert(key, id);
                }
                if let Some(repo) = world.repos.get_mut(&id) {
                    repo.fault = other;
                }
            }
        }
    }

    /// Sets a fault for the next request of a repository only (any page; over its other
    /// faults): a value sent once, after which the repository behaves.
    ///
    /// Panics if the repository is unknown.
    pub fn set_fault_once(&self, full_name: &str, fault: Fault) {
        let mut world = self.shared.world();
        let id = world
            .resolve(full_name)
            .unwrap_or_else(|| panic!("fake-github: no repository {full_name}"));
        if let Some(repo) = world.repos.get_mut(&id) {
            repo.once = Some(fault);
        }
    }

    /// Sets or clears failures of requests to the events endpoint, whatever the repository:
    /// the faults of a flaky proxy or an overloaded API.
    pub fn set_failures(&self, failures: Option<Failures>) {
        self.shared.world().set_failures(failures);
    }

    /// Replaces, in every events page served from now on, the JSON string `"marker"` (quotes
    /// included) by `raw`: bytes no JSON value can hold (invalid UTF-8), or nesting deeper
    /// than a serializer goes, in one event of a page.
    pub fn set_splice(&self, marker: &str, raw: Vec<u8>) {
        let quoted = serde_json::to_vec(marker).unwrap_or_default();
        self.shared.world().splices.push((quoted, raw));
    }

    /// Sets or clears a fault of one page (1-based) of a repository; it applies over the
    /// repository's own fault. A fault on page 2 or 3 hits a poll half-way through its paging.
    ///
    /// Panics if the repository is unknown.
    pub fn set_page_fault(&self, full_name: &str, page: u32, fault: Option<Fault>) {
        let mut world = self.shared.world();
        let id = world
            .resolve(full_name)
            .unwrap_or_else(|| panic!("fake-github: no repository {full_name}"));
        if let Some(repo) = world.repos.get_mut(&id) {
            match fault {
                Some(f) => repo.page_faults.insert(page, f),
                None => repo.page_faults.remove(&page),
            };
        }
    }

    /// Changes `X-Poll-Interval` for answers from now on (GitHub raises it under load).
    pub fn set_poll_interval(&self, secs: u64) {
        self.shared.poll_interval.store(secs, Ordering::Relaxed);
    }

    pub fn poll_interval(&self) -> u64 {
        self.shared.poll_interval.load(Ordering::Relaxed)
    }

    /// Everything received, in order of arrival. A request still being answered shows status 0;
    /// one whose client hung up before the answer shows 499 and `counted: false`.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.world().requests.clone()
    }

    /// Protocol violations seen, each a sentence starting with one of `no User-Agent:`,
    /// `concurrent request:`, `poll too soon:`, `request after budget spent:`.
    pub fn violations(&self) -> Vec<String> {
        self.shared.world().violations.clone()
    }

    /// The most requests that were ever in flight at once (1 for a well-behaved client).
    pub fn max_concurrent(&self) -> usize {
        self.shared.max_concurrent.load(Ordering::SeqCst)
    }

    /// Forgets recorded requests, violations, poll history and `max_concurrent`; repositories
    /// and rate-limit windows stay.
    pub fn clear_records(&self) {
        self.shared.world().clear_records();
        self.shared.max_concurrent.store(0, Ordering::SeqCst);
    }

    /// The id of a repository by current or old name.
    pub fn repo_id(&self, full_name: &str) -> Option<u64> {
        self.shared.world().resolve(full_name)
    }

    /// Renames so far, as `(old, new)`.
    pub fn renames(&self) -> Vec<(String, String)> {
        self.shared.world().renames.clone()
    }

    /// Ids the API currently shows for a repository, newest first (at most `timeline_cap`).
    pub fn timeline_ids(&self, full_name: &str) -> Vec<u64> {
        let world = self.shared.world();
        let Some(repo) = world.resolve(full_name).and_then(|id| world.repos.get(&id)) else {
            return Vec::new();
        };
        let opts = &self.shared.opts;
        repo.visible(
            opts.timeline_cap,
            opts.max_age,
            data::Timestamp::from(SystemTime::now()),
        )
        .iter()
        .map(|e| e.id)
        .collect()
    }

    /// When an event became visible in the API (`add_repo`/`push_events` time), for measuring
    /// how long a client took to pick it up.
    pub fn visible_since(&self, event_id: u64) -> Option<Instant> {
        let world = self.shared.world();
        world
            .repos
            .values()
            .flat_map(|r| r.events.iter())
            .find(|e| e.id == event_id)
            .map(|e| e.visible_since)
    }

    /// Serves a recorded repository ([`data::FIXTURE_REPOS`], by `owner/name`) with its 300
    /// newest events rescaled to end at `newest` and span `span` ([`data::rescale`]); returns
    /// the events as served.
    ///
    /// Panics if `name` is not a fixture repository.
    pub fn add_fixture(&self, name: &str, newest: SystemTime, span: Duration) -> Vec<Value> {
        let repo = data::fixture_repo(name).expect("a fixture repository");
        let mut events = data::load_events(repo.file_stem);
        data::rescale(&mut events, newest, 300, span);
        self.add_repo(repo.full_name, repo.id, events.clone());
        events
    }

    /// Serves the demo data set of the binary ([`data::demo_dataset`]) for `now`.
    pub fn add_demo_repos(&self, now: SystemTime) {
        for (repo, events) in data::demo_dataset(now) {
            self.add_repo(repo.full_name, repo.id, events);
        }
    }
}
