//! Request-economy simulation: an in-memory model of GitHub's repository events endpoint
//! (SPEC section 4) driven by a simulated clock, and three clients run against it — ghpulse's
//! own Planner + fetcher (the code the live engine runs), the naive poller, and the floor.
//!
//! Shared by `benches/economy.rs` (24 simulated hours) and `tests/economy_smoke.rs` (2 hours,
//! invariants asserted). Nothing here sleeps: time moves only when the driver or the model
//! advances the clock.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeDelta, Utc};
use ghpulse_core::EventMeta;
use ghpulse_core::RepoName;
use ghpulse_core::RepoView;
use ghpulse_core::Store;
use ghpulse_core::Window;
use ghpulse_core::poll_once;
use ghpulse_core::{Answer, EventsPage, FetchError, Outcome, ResponseMeta, Transport};
use ghpulse_core::{Planner, Watched};
use ghpulse_core::{RateLimit, RequestCounters};
use serde_json::Value;

pub const API: &str = "https://api.github.com";
/// GitHub's usual `X-Poll-Interval`; a scenario may announce another.
pub const POLL_INTERVAL_SECS: i64 = 60;
pub const TIMELINE_CAP: usize = 300;
pub const PER_PAGE: usize = 100;
/// What one request takes in simulated time, so paging is not instantaneous.
pub const REQUEST_MS: i64 = 200;
/// History generated before the run starts, so first polls find a full timeline.
pub const HISTORY_HOURS: i64 = 48;

/// The real recorded events: the repository's copies in `tests/fixtures` (taken from
/// GitHub's Events API, see its README), or `$GHPULSE_EVENTS_DATA`.
pub fn data_dir() -> PathBuf {
    // The simulation runs from the engine crate and from the root package's benches.
    std::env::var_os("GHPULSE_EVENTS_DATA").map_or_else(
        || {
            let core = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures"));
            let root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures"));
            if core.is_dir() { core } else { root }
        },
        PathBuf::from,
    )
}

// ---------------------------------------------------------------------------------------------
// Clock

/// The simulated clock, in milliseconds, shared by the model and the driver.
#[derive(Clone)]
pub struct Clock(Arc<AtomicI64>);

impl Clock {
    pub fn new(at: DateTime<Utc>) -> Clock {
        Clock(Arc::new(AtomicI64::new(at.timestamp_millis())))
    }
    pub fn now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.0.load(Ordering::SeqCst)).expect("valid time")
    }
    pub fn advance_to(&self, t: DateTime<Utc>) {
        self.0.fetch_max(t.timestamp_millis(), Ordering::SeqCst);
    }
    pub fn advance_ms(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

// ---------------------------------------------------------------------------------------------
// Activity profiles from real data

#[derive(Clone, Copy, Debug)]
pub struct Profile {
    pub label: &'static str,
    /// `owner__name` of a `*.events.json.gz` file; `None` for a silent repository.
    pub source: Option<&'static str>,
    pub events_per_day: f64,
}

pub const BUSY: Profile = Profile {
    label: "busy",
    source: Some("sigmavirus24__github3.py"),
    events_per_day: 480.0,
};
pub const MEDIUM: Profile = Profile {
    label: "medium",
    source: Some("sferik__rails_admin"),
    events_per_day: 60.0,
};
pub const BURSTY: Profile = Profile {
    label: "bursty",
    source: Some("github__gitignore"),
    events_per_day: 40.0,
};
pub const QUIET: Profile = Profile {
    label: "quiet",
    source: Some("praw-dev__praw"),
    events_per_day: 8.0,
};
pub const SILENT: Profile = Profile {
    label: "silent",
    source: None,
    events_per_day: 0.0,
};

/// One event of the model: when it was created, when the API starts listing it, its id (ids
/// grow with publication) and the real event JSON it was made from, with id and date replaced.
#[derive(Clone)]
pub struct SimEvent {
    pub id: u64,
    pub created_at: DateTime<Utc>,
    pub visible_at: DateTime<Utc>,
    pub meta: EventMeta,
    pub raw: Arc<str>,
}

/// Real events of a repository, oldest first, and the gaps between their `created_at`.
struct Source {
    events: Vec<Value>,
    gaps_secs: Vec<f64>,
}

fn load_source(dir: &Path, name: &str) -> Result<Source, String> {
    let path = dir.join(format!("{name}.events.json.gz"));
    let file = std::fs::File::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut events: Vec<Value> = serde_json::from_reader(flate2::read::GzDecoder::new(file))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let at = |v: &Value| {
        v["created_at"]
            .as_str()
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|d| d.timestamp())
            .unwrap_or_default()
    };
    events.sort_by_key(at);
    // Years-long pauses between recording sessions say nothing about a live repository: a
    // pause is capped at a day before the sequence is compressed to the profile's rate.
    let gaps_secs = events
        .windows(2)
        .map(|w| ((at(&w[1]) - at(&w[0])) as f64).clamp(0.0, 86_400.0))
        .collect();
    Ok(Source { events, gaps_secs })
}

/// Publication latency: mostly 5–120 s, sometimes minutes, rarely hours (SPEC section 4).
fn latency(rng: &mut fastrand::Rng) -> TimeDelta {
    let u = rng.f64();
    let secs = if u < 0.90 {
        5.0 + rng.f64() * 115.0
    } else if u < 0.99 {
        120.0 + rng.f64() * 780.0
    } else {
        1800.0 + rng.f64() * 9000.0
    };
    TimeDelta::milliseconds((secs * 1000.0) as i64)
}

/// A repository's events from `start - HISTORY_HOURS` to `end`: the real sequence of
/// inter-arrival times (bursts and lulls kept), scaled to the profile's mean rate, entered at
/// a seeded offset. Ids are assigned later, in order of visibility, across repositories.
fn generate(
    profile: &Profile,
    source: Option<&Source>,
    repo: &RepoName,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    rng: &mut fastrand::Rng,
) -> Vec<(DateTime<Utc>, DateTime<Utc>, Value)> {
    let Some(src) = source else {
        return Vec::new();
    };
    let mean = src.gaps_secs.iter().sum::<f64>() / src.gaps_secs.len() as f64;
    let scale = (86_400.0 / profile.events_per_day) / mean;
    let mut i = rng.usize(..src.gaps_secs.len());
    let mut t = start - TimeDelta::hours(HISTORY_HOURS);
    let mut out = Vec::new();
    loop {
        let gap = (src.gaps_secs[i % src.gaps_secs.len()] * scale).max(1.0);
        t += TimeDelta::milliseconds((gap * 1000.0) as i64);
        if t >= end {
            return out;
        }
        let mut ev = src.events[(i + 1) % src.events.len()].clone();
        ev["created_at"] = Value::String(t.format("%Y-%m-%dT%H:%M:%SZ").to_string());
        ev["repo"] = serde_json::json!({
            "id": 1,
            "name": repo.as_str(),
            "url": format!("{API}/repos/{}", repo.as_str()),
        });
        let created = DateTime::from_timestamp(t.timestamp(), 0).expect("valid");
        out.push((created, created + latency(rng), ev));
        i += 1;
    }
}

/// A repository of the model: its events in order of publication (= id order).
pub struct SimRepo {
    pub name: RepoName,
    pub profile: Profile,
    pub repo_id: u64,
    pub events: Vec<SimEvent>,
}

impl SimRepo {
    /// Index one past the newest event visible at `t`.
    pub fn visible_end(&self, t: DateTime<Utc>) -> usize {
        self.events.partition_point(|e| e.visible_at <= t)
    }
}

/// A whole scenario's activity: the same for every client, so they are compared fairly.
pub struct World {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub repos: Vec<SimRepo>,
    /// The `X-Poll-Interval` the model announces, seconds.
    pub poll_interval_secs: i64,
}

pub fn world(
    profiles: &[Profile],
    start: DateTime<Utc>,
    hours: i64,
    seed: u64,
    poll_interval_secs: i64,
) -> Result<World, String> {
    let dir = data_dir();
    if !dir.is_dir() {
        return Err(format!(
            "the real event data is missing: {} (expected tests/fixtures, or set GHPULSE_EVENTS_DATA)",
            dir.display()
        ));
    }
    let mut rng = fastrand::Rng::with_seed(seed);
    let end = start + TimeDelta::hours(hours);
    let mut sources: HashMap<&str, Source> = HashMap::new();
    let mut all = Vec::new();
    let mut repos = Vec::new();
    for (k, p) in profiles.iter().enumerate() {
        let name = RepoName::parse(&format!("sim-{}/{}-{k}", p.label, p.label)).expect("valid");
        let src = match p.source {
            Some(s) => {
                if !sources.contains_key(s) {
                    sources.insert(s, load_source(&dir, s)?);
                }
                sources.get(s)
            }
            None => None,
        };
        for (created, visible, json) in generate(p, src, &name, start, end, &mut rng) {
            all.push((visible, k, created, json));
        }
        repos.push(SimRepo {
            name,
            profile: *p,
            repo_id: 1_000_000 + k as u64,
            events: Vec::new(),
        });
    }
    // Ids grow with publication, across all of GitHub.
    all.sort_by_key(|(visible, k, created, _)| (*visible, *k, *created));
    for (n, (visible, k, created, mut json)) in all.into_iter().enumerate() {
        let id = 40_000_000_000 + n as u64 * 7;
        json["id"] = Value::String(id.to_string());
        json["repo"]["id"] = Value::from(repos[k].repo_id);
        let meta = EventMeta::from_json(&json).map_err(|e| format!("generated event: {e}"))?;
        repos[k].events.push(SimEvent {
            id,
            created_at: created,
            visible_at: visible,
            meta,
            raw: Arc::from(json.to_string()),
        });
    }
    Ok(World {
        start,
        end,
        repos,
        poll_interval_secs,
    })
}

// ---------------------------------------------------------------------------------------------
// The GitHub model

#[derive(Clone, Copy, Debug)]
pub struct RequestRecord {
    pub at: DateTime<Utc>,
    pub repo: usize,
    pub page: usize,
    pub status: u16,
    pub counted: bool,
}

#[derive(Clone, Copy, Debug, Default)]
pub struct Violations {
    /// Requests sent while the budget was spent (each answered 403).
    pub after_budget_spent: u64,
    /// Page-1 requests of a repository sooner than `X-Poll-Interval` after the previous one.
    pub faster_than_poll_interval: u64,
    pub forbidden_403: u64,
}

struct ModelState {
    limit: u32,
    used: u32,
    reset_at: Option<DateTime<Utc>>,
    window: TimeDelta,
    last_page1: HashMap<usize, DateTime<Utc>>,
    log: Vec<RequestRecord>,
    violations: Violations,
    peak_used: u32,
}

/// GitHub's events endpoint as SPEC section 4 describes it, for one client (one token or IP).
#[derive(Clone)]
pub struct GitHubModel {
    world: Arc<World>,
    clock: Clock,
    pub authenticated: bool,
    state: Arc<Mutex<ModelState>>,
}

impl GitHubModel {
    pub fn new(world: Arc<World>, clock: Clock, authenticated: bool) -> GitHubModel {
        GitHubModel::with_window(world, clock, authenticated, TimeDelta::hours(1))
    }

    /// `window` is the rate-limit window (an hour on GitHub).
    pub fn with_window(
        world: Arc<World>,
        clock: Clock,
        authenticated: bool,
        window: TimeDelta,
    ) -> GitHubModel {
        GitHubModel {
            world,
            clock,
            authenticated,
            state: Arc::new(Mutex::new(ModelState {
                limit: if authenticated { 5000 } else { 60 },
                used: 0,
                reset_at: None,
                window,
                last_page1: HashMap::new(),
                log: Vec::new(),
                violations: Violations::default(),
                peak_used: 0,
            })),
        }
    }

    pub fn log(&self) -> Vec<RequestRecord> {
        self.state.lock().unwrap().log.clone()
    }

    /// The most counted requests in one rate-limit window.
    pub fn peak_used(&self) -> u32 {
        self.state.lock().unwrap().peak_used
    }

    pub fn violations(&self) -> Violations {
        self.state.lock().unwrap().violations
    }

    fn route(&self, url: &str) -> Option<(usize, usize)> {
        let rest = url.strip_prefix(API)?;
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let page = query
            .split('&')
            .find_map(|kv| kv.strip_prefix("page="))
            .and_then(|p| p.parse().ok())
            .unwrap_or(1);
        let repo = if let Some(id) = path
            .strip_prefix("/repositories/")
            .and_then(|p| p.strip_suffix("/events"))
        {
            let id: u64 = id.parse().ok()?;
            self.world.repos.iter().position(|r| r.repo_id == id)?
        } else {
            let full = path.strip_prefix("/repos/")?.strip_suffix("/events")?;
            self.world
                .repos
                .iter()
                .position(|r| r.name.as_str().eq_ignore_ascii_case(full))?
        };
        Some((repo, page))
    }

    fn answer(&self, url: &str, etag: Option<&str>) -> Answer {
        let now = self.clock.now();
        let mut st = self.state.lock().unwrap();
        if st.reset_at.is_none_or(|r| now >= r) {
            // The window starts with the first request after the previous one ended; GitHub
            // reports the reset in whole epoch seconds.
            let reset = now + st.window;
            st.reset_at = DateTime::from_timestamp(
                reset.timestamp() + i64::from(reset.timestamp_subsec_millis() > 0),
                0,
            );
            st.used = 0;
        }
        let reset_at = st.reset_at.expect("set above");
        let Some((repo, page)) = self.route(url) else {
            panic!("the model got a URL no client should build: {url}");
        };
        if page == 1
            && let Some(prev) = st.last_page1.insert(repo, now)
            && now - prev < TimeDelta::seconds(self.world.poll_interval_secs)
        {
            st.violations.faster_than_poll_interval += 1;
        }
        let rate = |used: u32, limit: u32| RateLimit {
            limit,
            remaining: limit.saturating_sub(used),
            used,
            reset_at,
            assumed: false,
        };
        let (status, counted, outcome) = if st.used >= st.limit {
            st.violations.after_budget_spent += 1;
            st.violations.forbidden_403 += 1;
            (403, false, Outcome::Failed(FetchError::RateLimited(403)))
        } else {
            let r = &self.world.repos[repo];
            let visible = r.visible_end(now);
            let month_ago = now - TimeDelta::days(30);
            let timeline: Vec<&SimEvent> = r.events[..visible]
                .iter()
                .rev()
                .take(TIMELINE_CAP)
                .filter(|e| e.created_at > month_ago)
                .collect();
            let from = (page - 1) * PER_PAGE;
            let items = &timeline[from.min(timeline.len())..(page * PER_PAGE).min(timeline.len())];
            let tag = page_etag(page, items);
            if etag == Some(tag.as_str()) {
                (304, !self.authenticated, Outcome::NotModified)
            } else {
                let next = (page * PER_PAGE < timeline.len()).then(|| {
                    format!(
                        "{API}/repositories/{}/events?page={}&per_page=100",
                        r.repo_id,
                        page + 1
                    )
                });
                (
                    200,
                    true,
                    Outcome::Page(EventsPage {
                        events: items
                            .iter()
                            .map(|e| (e.meta.clone(), e.raw.to_string()))
                            .collect(),
                        skipped: Vec::new(),
                        next,
                        etag: Some(tag),
                        final_url: url.to_string(),
                    }),
                )
            }
        };
        if counted {
            st.used += 1;
            st.peak_used = st.peak_used.max(st.used);
        }
        let rate_limit = rate(st.used, st.limit);
        st.log.push(RequestRecord {
            at: now,
            repo,
            page,
            status,
            counted,
        });
        drop(st);
        self.clock.advance_ms(REQUEST_MS);
        Answer {
            meta: Some(ResponseMeta {
                status,
                rate_limit: Some(rate_limit),
                poll_interval: (status != 403)
                    .then(|| std::time::Duration::from_secs(self.world.poll_interval_secs as u64)),
                retry_after: None,
                clock_skew: Some(TimeDelta::zero()),
            }),
            outcome,
        }
    }
}

fn page_etag(page: usize, items: &[&SimEvent]) -> String {
    // FNV-1a over the page number and the ids listed: changes whenever the page does.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for x in std::iter::once(page as u64).chain(items.iter().map(|e| e.id)) {
        for b in x.to_le_bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("W/\"{h:016x}\"")
}

impl Transport for GitHubModel {
    fn api_url(&self) -> &str {
        API
    }

    fn get(
        &self,
        url: &str,
        etag: Option<&str>,
    ) -> impl std::future::Future<Output = Answer> + Send {
        std::future::ready(self.answer(url, etag))
    }

    /// A retry's wait passes in simulated time.
    fn pause(&self, wait: std::time::Duration) -> impl std::future::Future<Output = ()> + Send {
        self.clock
            .advance_ms(i64::try_from(wait.as_millis()).unwrap_or(i64::MAX));
        std::future::ready(())
    }
}

// ---------------------------------------------------------------------------------------------
// Measuring what a client stored and when

/// When each event of each repository was first stored by a client.
struct Arrivals {
    stored_at: Vec<Vec<Option<DateTime<Utc>>>>,
    /// Per repository: every event before this index is stored (or was evicted unseen).
    first_open: Vec<usize>,
}

impl Arrivals {
    fn new(world: &World) -> Arrivals {
        Arrivals {
            stored_at: world
                .repos
                .iter()
                .map(|r| vec![None; r.events.len()])
                .collect(),
            first_open: vec![0; world.repos.len()],
        }
    }

    /// Events of `repo` visible by `now` and not marked yet.
    fn open(&self, world: &World, repo: usize, now: DateTime<Utc>) -> Vec<usize> {
        let end = world.repos[repo].visible_end(now);
        (self.first_open[repo]..end)
            .filter(|&k| self.stored_at[repo][k].is_none())
            .collect()
    }

    fn mark(&mut self, repo: usize, k: usize, at: DateTime<Utc>) {
        self.stored_at[repo][k].get_or_insert(at);
        while self.first_open[repo] < self.stored_at[repo].len()
            && self.stored_at[repo][self.first_open[repo]].is_some()
        {
            self.first_open[repo] += 1;
        }
    }

    fn result(&self, world: &World) -> (Vec<i64>, u64, u64) {
        let mut delays = Vec::new();
        let (mut missed, mut pending) = (0, 0);
        for (r, repo) in world.repos.iter().enumerate() {
            let visible_at_end = repo.visible_end(world.end);
            for (k, e) in repo.events[..visible_at_end].iter().enumerate() {
                if e.visible_at < world.start {
                    continue;
                }
                match self.stored_at[r][k] {
                    Some(at) => delays.push((at - e.visible_at).num_milliseconds()),
                    // Pushed out of the 300-event timeline before it was read: lost for good.
                    None if k + TIMELINE_CAP < visible_at_end => missed += 1,
                    None => pending += 1,
                }
            }
        }
        delays.sort_unstable();
        (delays, missed, pending)
    }
}

// ---------------------------------------------------------------------------------------------
// Clients

#[derive(Clone, Debug, Default)]
pub struct ClientReport {
    pub sent: u64,
    pub counted: u64,
    pub not_modified: u64,
    pub forbidden: u64,
    pub violations: Violations,
    /// Gaps ghpulse itself recorded (a poll that found no stored event).
    pub gaps_recorded: u64,
    /// Events that became visible during the run and fell out of the timeline unread.
    pub missed: u64,
    /// Visible at the end, still in the timeline, not read yet.
    pub pending_at_end: u64,
    pub events_stored: u64,
    /// Delay from visibility to storage, milliseconds, sorted.
    pub delays_ms: Vec<i64>,
    /// The most counted requests in one of GitHub's rate-limit windows.
    pub max_counted_per_window: u64,
    /// The most requests sent (counted or not) in any 60 simulated seconds: GitHub's
    /// secondary limit is 900.
    pub max_sent_per_minute: u64,
    pub requests: Vec<RequestRecord>,
}

impl ClientReport {
    pub fn delay_pct(&self, p: f64) -> Option<f64> {
        if self.delays_ms.is_empty() {
            return None;
        }
        let i = ((self.delays_ms.len() as f64 - 1.0) * p).round() as usize;
        Some(self.delays_ms[i] as f64 / 1000.0)
    }

    fn fill_from(&mut self, model: &GitHubModel) {
        let log = model.log();
        self.sent = log.len() as u64;
        self.counted = log.iter().filter(|r| r.counted).count() as u64;
        self.not_modified = log.iter().filter(|r| r.status == 304).count() as u64;
        self.forbidden = log.iter().filter(|r| r.status == 403).count() as u64;
        self.violations = model.violations();
        self.max_counted_per_window = u64::from(model.peak_used());
        let mut first = 0;
        for (k, r) in log.iter().enumerate() {
            while r.at - log[first].at >= TimeDelta::seconds(60) {
                first += 1;
            }
            self.max_sent_per_minute = self.max_sent_per_minute.max((k + 1 - first) as u64);
        }
        self.requests = log;
    }
}

/// ghpulse: the engine's Planner and `fetcher::poll`, exactly as `engine.rs` drives them, with
/// the simulated clock in place of `Utc::now`.
pub async fn run_ghpulse(
    world: Arc<World>,
    authenticated: bool,
    window: TimeDelta,
) -> ClientReport {
    let clock = Clock::new(world.start);
    let model = GitHubModel::with_window(world.clone(), clock.clone(), authenticated, window);
    let store = Store::in_memory().expect("in-memory store");
    let repos = world
        .repos
        .iter()
        .map(|r| {
            Watched::new(
                RepoView {
                    name: r.name.clone(),
                    state: Default::default(),
                    recent: Arc::default(),
                    gaps: Arc::default(),
                },
                false,
            )
        })
        .collect();
    let mut planner = Planner::new(
        repos,
        authenticated,
        RateLimit::assumed(authenticated, world.start),
        RequestCounters::default(),
    );
    let win = Window::default();
    let mut arrivals = Arrivals::new(&world);
    let mut report = ClientReport::default();
    while let Some((i, at)) = planner.next_due(clock.now()) {
        if at >= world.end {
            break;
        }
        clock.advance_to(at);
        let input = planner.poll_input(i, clock.now(), &win);
        let c = clock.clone();
        let outcome = poll_once(&model, &store, input, move || c.now()).await;
        let now = clock.now();
        report.gaps_recorded += u64::from(outcome.gap.is_some());
        planner.apply(outcome, now);
        // What the store really holds now.
        let open = arrivals.open(&world, i, now);
        if !open.is_empty() {
            let ids: Vec<u64> = open.iter().map(|&k| world.repos[i].events[k].id).collect();
            let known = store
                .known_ids(&world.repos[i].name.key(), &ids)
                .expect("store");
            for (k, stored) in open.into_iter().zip(known) {
                if stored {
                    arrivals.mark(i, k, now);
                }
            }
        }
    }
    report.fill_from(&model);
    let (delays, missed, pending) = arrivals.result(&world);
    report.events_stored = delays.len() as u64;
    report.delays_ms = delays;
    report.missed = missed;
    report.pending_at_end = pending;
    report
}

/// What the older tools do: every 60 s, every repository, all three pages, no ETag, whatever
/// the budget says.
pub fn run_naive(world: Arc<World>, authenticated: bool, window: TimeDelta) -> ClientReport {
    let clock = Clock::new(world.start);
    let model = GitHubModel::with_window(world.clone(), clock.clone(), authenticated, window);
    let mut arrivals = Arrivals::new(&world);
    let mut tick = world.start;
    while tick < world.end {
        clock.advance_to(tick);
        for (i, r) in world.repos.iter().enumerate() {
            // Page URLs built by hand, as those tools do: three requests whatever comes back.
            let mut seen = Vec::new();
            for page in 1..=3 {
                let url = format!(
                    "{API}/repos/{}/events?page={page}&per_page=100",
                    r.name.as_str()
                );
                if let Outcome::Page(p) = model.answer(&url, None).outcome {
                    seen.extend(p.events.iter().map(|(m, _)| m.id));
                }
            }
            let now = clock.now();
            for k in arrivals.open(&world, i, now) {
                if seen.contains(&r.events[k].id) {
                    arrivals.mark(i, k, now);
                }
            }
        }
        tick += TimeDelta::seconds(POLL_INTERVAL_SECS);
    }
    let mut report = ClientReport::default();
    report.fill_from(&model);
    let (delays, missed, pending) = arrivals.result(&world);
    report.events_stored = delays.len() as u64;
    report.delays_ms = delays;
    report.missed = missed;
    report.pending_at_end = pending;
    report
}

/// The floor (SPEC section 7): one counted request per repository per `X-Poll-Interval` slot
/// (aligned to the start) in which at least one new event became visible.
pub fn floor(world: &World) -> u64 {
    world
        .repos
        .iter()
        .map(|r| {
            let mut slots: Vec<i64> = r
                .events
                .iter()
                .filter(|e| e.visible_at >= world.start && e.visible_at < world.end)
                .map(|e| (e.visible_at - world.start).num_seconds() / world.poll_interval_secs)
                .collect();
            slots.sort_unstable();
            slots.dedup();
            slots.len() as u64
        })
        .sum()
}

/// Events that became visible during the run.
pub fn visible_during(world: &World) -> u64 {
    world
        .repos
        .iter()
        .map(|r| {
            r.events
                .iter()
                .filter(|e| e.visible_at >= world.start && e.visible_at < world.end)
                .count() as u64
        })
        .sum()
}

pub fn start() -> DateTime<Utc> {
    "2026-03-02T00:00:00Z".parse().expect("valid")
}

#[derive(Clone)]
pub struct Scenario {
    pub label: String,
    pub profiles: Vec<Profile>,
    /// The `X-Poll-Interval` announced, seconds.
    pub poll_interval_secs: i64,
}

pub fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            label: "1 repo (busy)".into(),
            profiles: vec![BUSY],
            poll_interval_secs: POLL_INTERVAL_SECS,
        },
        mixed(5, POLL_INTERVAL_SECS),
    ]
}

/// `n` repositories, a fifth of each profile (busy, medium, bursty, quiet, silent).
pub fn mixed(n: usize, poll_interval_secs: i64) -> Scenario {
    let all = [BUSY, MEDIUM, BURSTY, QUIET, SILENT];
    Scenario {
        label: if poll_interval_secs == POLL_INTERVAL_SECS {
            format!("{n} repos (mixed)")
        } else {
            format!("{n} repos (mixed), X-Poll-Interval {poll_interval_secs} s")
        },
        profiles: (0..n).map(|k| all[k % all.len()]).collect(),
        poll_interval_secs,
    }
}

/// With a token, how the cost grows with the watch list.
pub fn scale_scenarios() -> Vec<Scenario> {
    vec![
        mixed(25, POLL_INTERVAL_SECS),
        mixed(100, POLL_INTERVAL_SECS),
        mixed(200, POLL_INTERVAL_SECS),
        mixed(100, 10),
    ]
}

pub struct Row {
    pub scenario: String,
    pub authenticated: bool,
    pub events: u64,
    pub ghpulse: ClientReport,
    pub naive: ClientReport,
    pub floor: u64,
}

pub async fn run_row(
    scenario: &Scenario,
    authenticated: bool,
    hours: i64,
    seed: u64,
    window: TimeDelta,
) -> Result<Row, String> {
    let world = Arc::new(world(
        &scenario.profiles,
        start(),
        hours,
        seed,
        scenario.poll_interval_secs,
    )?);
    let ghpulse = run_ghpulse(world.clone(), authenticated, window).await;
    let naive = run_naive(world.clone(), authenticated, window);
    Ok(Row {
        scenario: scenario.label.clone(),
        authenticated,
        events: visible_during(&world),
        floor: floor(&world),
        ghpulse,
        naive,
    })
}
