//! The engine's published state: an owned, immutable picture that the dashboard, the REST
//! listener and `ghpulse stats` all compute their figures from.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use bytes::{BufMut, Bytes, BytesMut};
use chrono::{DateTime, TimeDelta, Utc};

use crate::config::load::{Config, LabelGroups, Window};
use crate::github::bounds;
use crate::github::event::EventMeta;
use crate::github::rate_limit::{RateLimit, RequestCounters};
use crate::github::repo_name::RepoName;
use crate::stats::figures::{
    self, Gap, RepoEvents, RepoReport, RepoStats, StatsReport, WindowReport,
};
use crate::store::{RepoState, Store, StoreError};

#[derive(Clone, Debug, PartialEq)]
pub enum FetcherState {
    Starting,
    Live,
    WaitingForRateLimit { until: DateTime<Utc> },
    Offline { reason: String },
    TokenRejected,
}

impl FetcherState {
    pub fn label(&self) -> &'static str {
        match self {
            FetcherState::Starting => "starting",
            FetcherState::Live => "live",
            FetcherState::WaitingForRateLimit { .. } => "waiting for rate limit",
            FetcherState::Offline { .. } => "offline",
            FetcherState::TokenRejected => "token rejected",
        }
    }
}

#[derive(Clone, Debug)]
pub struct RepoView {
    pub name: RepoName,
    pub state: RepoState,
    /// E(R)'s newest `window.max_events` events, newest first: enough for every figure.
    pub recent: Arc<Vec<EventMeta>>,
    pub gaps: Arc<Vec<Gap>>,
}

impl RepoView {
    /// Forgets what pruning removed from the store: events created before `cutoff`, gaps
    /// that ended before it.
    pub fn forget_before(&mut self, cutoff: DateTime<Utc>) {
        if self.recent.iter().any(|e| e.created_at < cutoff) {
            let kept = self
                .recent
                .iter()
                .filter(|e| e.created_at >= cutoff)
                .cloned();
            self.recent = Arc::new(kept.collect());
        }
        if self.gaps.iter().any(|g| g.to < cutoff) {
            let kept = self.gaps.iter().filter(|g| g.to >= cutoff).cloned();
            self.gaps = Arc::new(kept.collect());
        }
    }

    /// What the figures are computed from: the events, and what is known to be missing.
    pub fn events(&self) -> RepoEvents<'_> {
        RepoEvents {
            repo: self.name.as_str(),
            events: &self.recent,
            gaps: &self.gaps,
            catching_up: self.state.catching_up(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Snapshot {
    pub taken_at: DateTime<Utc>,
    pub config_path: PathBuf,
    pub window: Window,
    pub max_repositories: usize,
    pub authenticated: bool,
    pub rate_limit: RateLimit,
    pub requests: RequestCounters,
    pub fetcher: FetcherState,
    pub repos: Vec<RepoView>,
    /// Why the config file as it is now is not in force (the last valid one is), if it is not.
    pub config_error: Option<String>,
    /// `[labels]` of the config in force, for the label KPIs.
    pub labels: Arc<LabelGroups>,
    /// The statistics of `repos`, computed on first use; see [`Snapshot::stats_cache`].
    pub stats_cache: StatsCache,
}

/// Where a snapshot keeps its computed statistics. A clone starts empty: a changed copy of a
/// snapshot must not inherit figures of the original.
#[derive(Default)]
pub struct StatsCache {
    current: RwLock<Option<Arc<CachedStats>>>,
    /// Held while computing, so concurrent first readers compute once.
    computing: Mutex<()>,
    /// The unfiltered report's JSON as last served. Never handed to another snapshot (not
    /// by [`Snapshot::keep_figures_of`] either): it holds this snapshot's polling fields, and
    /// a poll, a 304 too, publishes a new snapshot, so a changed `last_polled_at` or
    /// `last_error` is in the very next answer.
    plain: RwLock<Option<PlainJson>>,
}

/// The unfiltered report as JSON: everything after `generated_at` (the window, each
/// repository's figures and polling fields) for the figures it was made from, and the whole
/// body for the millisecond it was last served at, which every request within that
/// millisecond answers as it is.
struct PlainJson {
    figures: Arc<CachedStats>,
    at: DateTime<Utc>,
    tail: Bytes,
    body: Bytes,
}

impl Clone for StatsCache {
    fn clone(&self) -> Self {
        StatsCache::default()
    }
}

impl std::fmt::Debug for StatsCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StatsCache")
    }
}

/// Every repository's figures, unfiltered, as of `computed_at`, and their JSON. They hold for
/// any instant in `computed_at..valid_until`: the window only changes with time when its
/// oldest event passes the age limit (or a gap's start is reached), and that instant is
/// `valid_until`.
pub struct CachedStats {
    computed_at: DateTime<Utc>,
    valid_until: Option<DateTime<Utc>>,
    window: WindowReport,
    window_json: Bytes,
    /// In the snapshot's order, with each repository's JSON object.
    repos: Vec<(RepoName, RepoStats, Bytes)>,
}

/// Which part of the statistics a caller wants.
#[derive(Clone, Debug, Default)]
pub struct StatsQuery<'a> {
    pub repo: Option<&'a RepoName>,
    pub event_type: Option<&'a str>,
    /// Keep the first N repositories, in config order.
    pub limit: Option<usize>,
}

impl Snapshot {
    /// SPEC section 3's figures as of `now` (truncated to the millisecond).
    pub fn stats(&self, now: DateTime<Utc>, q: &StatsQuery<'_>) -> StatsReport {
        let now = figures::to_millis(now);
        let cached = self.stats_cache(now);
        StatsReport {
            generated_at: now,
            window: cached.window.clone(),
            repositories: cached
                .select(q)
                .map(|(i, (name, r, _))| {
                    let state = self.state_of(i, name);
                    RepoReport {
                        figures: with_type(r, q.event_type),
                        last_polled_at: state.and_then(|s| s.last_polled_at),
                        last_error: state.and_then(|s| s.last_error.clone()),
                    }
                })
                .collect(),
        }
    }

    /// The same report as [`Snapshot::stats`], as JSON: the repositories' objects were
    /// serialized once, so only the selection is copied; the unfiltered report is assembled
    /// once per snapshot and figures, and its body once per millisecond.
    pub fn stats_json(&self, now: DateTime<Utc>, q: &StatsQuery<'_>) -> Bytes {
        let now = figures::to_millis(now);
        let figures = self.stats_cache(now);
        let state = |i, name: &RepoName| self.state_of(i, name);
        if q.repo.is_some() || q.event_type.is_some() || q.limit.is_some() {
            return figures.json(now, q, state);
        }
        let tail = {
            let plain = self
                .stats_cache
                .plain
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            match &*plain {
                Some(p) if Arc::ptr_eq(&p.figures, &figures) && p.at == now => {
                    return p.body.clone();
                }
                Some(p) if Arc::ptr_eq(&p.figures, &figures) => Some(p.tail.clone()),
                _ => None,
            }
        };
        let tail = tail.unwrap_or_else(|| figures.json_after_generated_at(q, state));
        let body = with_generated_at(now, &tail);
        let mut plain = self
            .stats_cache
            .plain
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        // A request that read the clock earlier may come second: the later body stays.
        if plain
            .as_ref()
            .is_none_or(|p| !Arc::ptr_eq(&p.figures, &figures) || p.at < now)
        {
            *plain = Some(PlainJson {
                figures,
                at: now,
                tail,
                body: body.clone(),
            });
        }
        body
    }

    /// The figures for `now` if they are already computed: never blocks on a computation.
    pub fn cached_stats(&self, now: DateTime<Utc>) -> Option<Arc<CachedStats>> {
        let now = figures::to_millis(now);
        let current = self
            .stats_cache
            .current
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        current.as_ref().filter(|c| c.holds_at(now)).cloned()
    }

    /// The figures for `now`, computed when no cached ones hold then. The first call after a
    /// snapshot (or after the age edge passed an event) costs a pass over every window; call it
    /// off the async executor.
    pub fn stats_cache(&self, now: DateTime<Utc>) -> Arc<CachedStats> {
        let now = figures::to_millis(now);
        if let Some(c) = self.cached_stats(now) {
            return c;
        }
        let _computing = self
            .stats_cache
            .computing
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(c) = self.cached_stats(now) {
            return c;
        }
        let fresh = Arc::new(self.compute_stats(now));
        *self
            .stats_cache
            .current
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some(fresh.clone());
        fresh
    }

    fn compute_stats(&self, now: DateTime<Utc>) -> CachedStats {
        let max_age = TimeDelta::from_std(self.window.max_age).unwrap_or(TimeDelta::MAX);
        let mut valid_until: Option<DateTime<Utc>> = None;
        let mut until = |t: Option<DateTime<Utc>>| {
            if let Some(t) = t.filter(|&t| t > now) {
                valid_until = Some(valid_until.map_or(t, |v| v.min(t)));
            }
        };
        let repos = self
            .repos
            .iter()
            .map(|r| {
                let figures = figures::repo_stats(&r.events(), now, &self.window, None);
                // The oldest event leaves the window at its created_at + max_age.
                until(
                    figures
                        .window_start
                        .and_then(|s| s.checked_add_signed(max_age)),
                );
                // A gap counts from its start on.
                for g in r.gaps.iter() {
                    until(Some(g.from));
                }
                let json = to_json(&figures);
                (r.name.clone(), figures, json)
            })
            .collect();
        let window = WindowReport::from(self.window);
        CachedStats {
            computed_at: now,
            valid_until,
            window_json: to_json(&window),
            window,
            repos,
        }
    }

    /// Keeps `previous`'s computed figures when they were computed from the same events (the
    /// same lists, not equal copies) and window: a poll that brought nothing new, a 304, then
    /// costs the next reader no recomputation.
    pub fn keep_figures_of(&self, previous: &Snapshot) {
        let same_events = self.window == previous.window
            && self.repos.len() == previous.repos.len()
            && self.repos.iter().zip(&previous.repos).all(|(a, b)| {
                a.name == b.name
                    && Arc::ptr_eq(&a.recent, &b.recent)
                    && Arc::ptr_eq(&a.gaps, &b.gaps)
                    && a.state.catching_up() == b.state.catching_up()
            });
        let kept = previous
            .stats_cache
            .current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if same_events && kept.is_some() {
            *self
                .stats_cache
                .current
                .write()
                .unwrap_or_else(PoisonError::into_inner) = kept;
        }
    }

    /// The polling state of the `i`-th repository: the cached figures are in the snapshot's
    /// order (they are kept only for the same names in the same order), so no search by
    /// name on every request.
    fn state_of(&self, i: usize, name: &RepoName) -> Option<&RepoState> {
        self.repos
            .get(i)
            .filter(|v| &v.name == name)
            .map(|v| &v.state)
    }

    pub fn repo(&self, name: &RepoName) -> Option<&RepoView> {
        self.repos.iter().find(|r| &r.name == name)
    }

    /// The picture a store holds for a config, with no fetcher running (`ghpulse stats`).
    pub fn from_store(
        config: &Config,
        store: &Store,
        authenticated: bool,
        now: DateTime<Utc>,
    ) -> Result<Snapshot, StoreError> {
        let repos = config
            .repositories
            .iter()
            .map(|name| repo_view(store, name, config.window.max_events, now))
            .collect::<Result<_, _>>()?;
        Ok(Snapshot {
            taken_at: now,
            config_path: config.path.clone(),
            window: config.window,
            max_repositories: config.max_repositories,
            authenticated,
            rate_limit: store.rate_limit()?.map_or_else(
                || RateLimit::assumed(authenticated, now),
                |r| bounds::stored_rate_limit(r, now).at(now),
            ),
            requests: store.counters()?,
            fetcher: FetcherState::Starting,
            repos,
            config_error: None,
            labels: Arc::new(config.labels.clone()),
            stats_cache: StatsCache::default(),
        })
    }
}

impl CachedStats {
    fn holds_at(&self, now: DateTime<Utc>) -> bool {
        self.computed_at <= now && self.valid_until.is_none_or(|v| now < v)
    }

    /// The figures of the snapshot's `i`-th repository.
    pub fn repo(&self, i: usize) -> Option<&RepoStats> {
        self.repos.get(i).map(|(_, figures, _)| figures)
    }

    fn select<'a>(
        &'a self,
        q: &'a StatsQuery<'_>,
    ) -> impl Iterator<Item = (usize, &'a (RepoName, RepoStats, Bytes))> + 'a {
        self.repos
            .iter()
            .enumerate()
            .filter(|(_, (name, _, _))| q.repo.is_none_or(|want| name == want))
            .take(q.limit.unwrap_or(usize::MAX))
    }

    /// Byte for byte what serde_json makes of the [`StatsReport`].
    fn json<'s>(
        &self,
        now: DateTime<Utc>,
        q: &StatsQuery<'_>,
        state: impl Fn(usize, &RepoName) -> Option<&'s RepoState>,
    ) -> Bytes {
        let mut out = BytesMut::with_capacity(self.json_size(q) + GENERATED_AT_SIZE);
        put_generated_at(&mut out, now);
        self.put_after_generated_at(&mut out, q, state);
        out.freeze()
    }

    /// The report's JSON after its `generated_at` value.
    fn json_after_generated_at<'s>(
        &self,
        q: &StatsQuery<'_>,
        state: impl Fn(usize, &RepoName) -> Option<&'s RepoState>,
    ) -> Bytes {
        let mut out = BytesMut::with_capacity(self.json_size(q));
        self.put_after_generated_at(&mut out, q, state);
        out.freeze()
    }

    /// About the size of the JSON after `generated_at` (the polling fields are not counted
    /// exactly).
    fn json_size(&self, q: &StatsQuery<'_>) -> usize {
        self.select(q)
            .map(|(_, (_, _, j))| j.len() + 96)
            .sum::<usize>()
            + self.window_json.len()
            + 64
    }

    /// The figures' objects were serialized once, and each takes its repository's polling
    /// fields (which change on every poll, a 304 too) before its closing brace, where
    /// `flatten` puts them.
    fn put_after_generated_at<'s>(
        &self,
        out: &mut BytesMut,
        q: &StatsQuery<'_>,
        state: impl Fn(usize, &RepoName) -> Option<&'s RepoState>,
    ) {
        out.put_slice(b",\"window\":");
        out.put_slice(&self.window_json);
        out.put_slice(b",\"repositories\":[");
        for (n, (i, (name, figures, json))) in self.select(q).enumerate() {
            if n > 0 {
                out.put_u8(b',');
            }
            let object = match q.event_type {
                None => json.clone(),
                Some(_) => to_json(&with_type(figures, q.event_type)),
            };
            out.put_slice(object.strip_suffix(b"}").unwrap_or(&object));
            let state = state(i, name);
            out.put_u8(b',');
            out.put_slice(
                &to_json(&Polling {
                    last_polled_at: state.and_then(|s| s.last_polled_at),
                    last_error: state.and_then(|s| s.last_error.as_deref()),
                })[1..],
            );
        }
        out.put_slice(b"]}");
    }
}

/// `{"generated_at":` and a timestamp to the millisecond, quoted.
const GENERATED_AT_SIZE: usize = 48;

fn put_generated_at(out: &mut BytesMut, now: DateTime<Utc>) {
    out.put_slice(b"{\"generated_at\":");
    out.put_slice(&to_json(&now));
}

/// `{"generated_at":NOW` and the rest of a report.
fn with_generated_at(now: DateTime<Utc>, rest: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(GENERATED_AT_SIZE + rest.len());
    put_generated_at(&mut out, now);
    out.put_slice(rest);
    out.freeze()
}

/// [`RepoReport`]'s own fields, to follow a cached figures object (the `{` left out).
#[derive(serde::Serialize)]
struct Polling<'a> {
    last_polled_at: Option<DateTime<Utc>>,
    last_error: Option<&'a str>,
}

/// A `type` filter lists fewer types and changes no figure.
fn with_type(figures: &RepoStats, event_type: Option<&str>) -> RepoStats {
    let Some(t) = event_type else {
        return figures.clone();
    };
    RepoStats {
        event_types: figures
            .event_types
            .iter()
            .filter(|s| s.event_type == t)
            .cloned()
            .collect(),
        ..figures.clone()
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> Bytes {
    // Plain data (strings, numbers, timestamps): serializing it cannot fail.
    serde_json::to_vec(value).unwrap_or_default().into()
}

/// One repository as the store holds it, its polling plan within today's bounds as of `now`.
pub fn repo_view(
    store: &Store,
    name: &RepoName,
    max_events: usize,
    now: DateTime<Utc>,
) -> Result<RepoView, StoreError> {
    let key = name.key();
    let state = store.repo_state(&key)?.unwrap_or_default();
    Ok(RepoView {
        name: name.clone(),
        state: bounds::stored_state(state, now),
        recent: Arc::new(store.recent_events(&key, max_events, None)?),
        gaps: Arc::new(store.gaps(&key)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::RepoState;

    fn snapshot() -> Snapshot {
        let now: DateTime<Utc> = "2026-11-22T12:00:00Z".parse().unwrap();
        let ev = |id, ty: &str, mins| EventMeta {
            id,
            event_type: ty.into(),
            created_at: now - chrono::TimeDelta::minutes(mins),
            actor: Default::default(),
            action: None,
        };
        let repo = |n: &str, recent: Vec<EventMeta>| RepoView {
            name: RepoName::parse(n).unwrap(),
            // Read to the end before: nothing is owed.
            state: RepoState {
                last_polled_at: Some(now),
                ..RepoState::default()
            },
            recent: Arc::new(recent),
            gaps: Arc::default(),
        };
        Snapshot {
            taken_at: now,
            config_path: "repositories.toml".into(),
            window: Window::default(),
            max_repositories: 5,
            authenticated: false,
            rate_limit: RateLimit::assumed(false, now),
            requests: RequestCounters::default(),
            fetcher: FetcherState::Live,
            repos: vec![
                repo(
                    "z/last-by-name",
                    vec![ev(3, "B", 1), ev(2, "A", 2), ev(1, "A", 3)],
                ),
                repo("a/first-by-name", vec![]),
            ],
            config_error: None,
            labels: Default::default(),
            stats_cache: StatsCache::default(),
        }
    }

    #[test]
    fn queries_keep_config_order_and_filter() {
        let s = snapshot();
        let now = s.taken_at + chrono::TimeDelta::nanoseconds(1_500_000);
        let all = s.stats(now, &StatsQuery::default());
        assert_eq!(
            all.generated_at.timestamp_subsec_nanos(),
            1_000_000,
            "truncated to the millisecond"
        );
        let names: Vec<_> = all
            .repositories
            .iter()
            .map(|r| r.figures.repo.as_str())
            .collect();
        assert_eq!(
            names,
            ["z/last-by-name", "a/first-by-name"],
            "config order, also when empty"
        );
        assert_eq!(
            s.stats(
                now,
                &StatsQuery {
                    limit: Some(1),
                    ..Default::default()
                }
            )
            .repositories
            .len(),
            1
        );
        let a = RepoName::parse("A/First-By-Name").unwrap();
        let one = s.stats(
            now,
            &StatsQuery {
                repo: Some(&a),
                ..Default::default()
            },
        );
        assert_eq!(one.repositories[0].figures.repo, "a/first-by-name");
        let typed = s.stats(
            now,
            &StatsQuery {
                event_type: Some("A"),
                ..Default::default()
            },
        );
        assert_eq!(typed.repositories[0].figures.events_in_window, 3);
        assert_eq!(typed.repositories[0].figures.event_types.len(), 1);
        assert_eq!(
            typed.repositories[0].figures.event_types[0].avg_seconds_between,
            Some(60.0)
        );
    }

    /// What the statistics are without any cache: SPEC section 3 straight from the events.
    fn computed(s: &Snapshot, now: DateTime<Utc>, q: &StatsQuery<'_>) -> StatsReport {
        let now = figures::to_millis(now);
        StatsReport {
            generated_at: now,
            window: s.window.into(),
            repositories: s
                .repos
                .iter()
                .filter(|r| q.repo.is_none_or(|want| &r.name == want))
                .take(q.limit.unwrap_or(usize::MAX))
                .map(|r| RepoReport {
                    figures: figures::repo_stats(&r.events(), now, &s.window, q.event_type),
                    last_polled_at: r.state.last_polled_at,
                    last_error: r.state.last_error.clone(),
                })
                .collect(),
        }
    }

    #[test]
    fn the_json_is_what_serde_makes_of_the_report() {
        let s = snapshot();
        let z = RepoName::parse("z/last-by-name").unwrap();
        let queries = [
            StatsQuery::default(),
            StatsQuery {
                limit: Some(1),
                ..Default::default()
            },
            StatsQuery {
                repo: Some(&z),
                event_type: Some("A"),
                ..Default::default()
            },
            StatsQuery {
                event_type: Some("none such"),
                ..Default::default()
            },
        ];
        let now = s.taken_at + chrono::TimeDelta::milliseconds(1234);
        for q in &queries {
            let json = s.stats_json(now, q);
            assert_eq!(
                std::str::from_utf8(&json).unwrap(),
                serde_json::to_string(&computed(&s, now, q)).unwrap(),
                "{q:?}"
            );
        }
    }

    #[test]
    fn cached_figures_follow_the_age_edge_to_the_millisecond() {
        // Events one minute apart, the oldest at the edge of a one-hour window.
        let mut s = snapshot();
        s.window.max_age = std::time::Duration::from_secs(3600);
        let start = s.taken_at;
        let edge = start + chrono::TimeDelta::minutes(57); // the oldest event (3 min before) leaves
        let q = StatsQuery::default();
        let first = s.stats(start, &q);
        assert_eq!(first.repositories[0].figures.events_in_window, 3);
        for now in [
            edge - chrono::TimeDelta::milliseconds(1),
            edge,
            edge + chrono::TimeDelta::minutes(1),
            edge + chrono::TimeDelta::minutes(2),
            edge + chrono::TimeDelta::minutes(3),
        ] {
            assert_eq!(s.stats(now, &q), computed(&s, now, &q), "at {now}");
        }
        assert_eq!(
            s.stats(edge, &q).repositories[0].figures.events_in_window,
            2
        );
        // A clock that went back gets figures for its own instant, not the cached later ones.
        assert_eq!(s.stats(start, &q), computed(&s, start, &q));
    }

    #[test]
    fn a_gap_starting_later_is_picked_up_when_reached() {
        let mut s = snapshot();
        let gap_from = s.taken_at + chrono::TimeDelta::minutes(5);
        let view = &mut s.repos[0];
        view.gaps = Arc::new(vec![Gap {
            detected_at: gap_from,
            from: gap_from,
            to: gap_from,
            estimated_missing: 1,
        }]);
        let q = StatsQuery::default();
        assert!(!s.stats(s.taken_at, &q).repositories[0].figures.partial);
        assert!(s.stats(gap_from, &q).repositories[0].figures.partial);
    }

    #[test]
    fn figures_are_kept_only_for_the_same_events() {
        let s = snapshot();
        let now = s.taken_at;
        let q = StatsQuery::default();
        let _ = s.stats(now, &q);
        let computed_once = s.cached_stats(now).expect("computed");

        // What a 304 publishes: new state, the same event lists.
        let mut after_304 = s.clone();
        after_304.taken_at = now + chrono::TimeDelta::seconds(1);
        after_304.keep_figures_of(&s);
        let kept = after_304.cached_stats(now).expect("kept");
        assert!(Arc::ptr_eq(&kept, &computed_once));
        // The kept figures are served with the new polling state, in both forms.
        after_304.repos[1].state.last_polled_at = Some(now + chrono::TimeDelta::seconds(1));
        after_304.repos[1].state.last_error = Some("HTTP 502 \"bad\" gateway".into());
        after_304.repos[0].state.last_error = Some("timed out".into());
        let served = after_304.stats(now, &q);
        assert_eq!(served, computed(&after_304, now, &q));
        assert_eq!(
            served.repositories[1].last_error.as_deref(),
            Some("HTTP 502 \"bad\" gateway")
        );
        assert_eq!(
            std::str::from_utf8(&after_304.stats_json(now, &q)).unwrap(),
            serde_json::to_string(&served).unwrap()
        );

        // New events (an equal copy is not trusted: only the same list is), another window.
        let mut new_events = s.clone();
        new_events.repos[0].recent = Arc::new(new_events.repos[0].recent.to_vec());
        new_events.keep_figures_of(&s);
        assert!(new_events.cached_stats(now).is_none());
        let mut new_window = s.clone();
        new_window.window.max_events -= 1;
        new_window.keep_figures_of(&s);
        assert!(new_window.cached_stats(now).is_none());
        // A poll cut with nothing new: the same events, but now a read is owed.
        let mut cut = s.clone();
        cut.repos[0].state.read_on = Some(crate::store::ReadOn { before_id: Some(1) });
        cut.keep_figures_of(&s);
        assert!(cut.cached_stats(now).is_none());
        assert_eq!(
            cut.stats(now, &q).repositories[0].figures.partial_reason,
            Some(crate::stats::figures::PartialReason::CatchingUp)
        );
        assert_eq!(new_window.stats(now, &q), computed(&new_window, now, &q));
    }

    #[test]
    fn the_plain_body_is_made_once_a_millisecond_and_never_outlives_its_polling_state() {
        let s = snapshot();
        let q = StatsQuery::default();
        let json = |s: &Snapshot, now| serde_json::to_string(&computed(s, now, &q)).unwrap();
        let now = s.taken_at + TimeDelta::milliseconds(5);
        let first = s.stats_json(now, &q);
        let same_ms = s.stats_json(now + TimeDelta::microseconds(300), &q);
        assert_eq!(first.as_ptr(), same_ms.as_ptr(), "one body a millisecond");
        assert_eq!(std::str::from_utf8(&first).unwrap(), json(&s, now));
        let later = now + TimeDelta::milliseconds(1);
        assert_eq!(
            std::str::from_utf8(&s.stats_json(later, &q)).unwrap(),
            json(&s, later)
        );
        // A clock that went back gets its own instant.
        assert_eq!(
            std::str::from_utf8(&s.stats_json(now, &q)).unwrap(),
            json(&s, now)
        );

        // The next poll, a 304: the same events and figures, new polling fields.
        let mut polled = s.clone();
        polled.repos[0].state.last_polled_at = Some(later);
        polled.repos[1].state.last_error = Some("HTTP 502 \"bad\" gateway".into());
        polled.keep_figures_of(&s);
        assert!(Arc::ptr_eq(
            &polled.cached_stats(later).expect("kept"),
            &s.cached_stats(later).expect("computed")
        ));
        let served = polled.stats_json(later, &q);
        assert_eq!(std::str::from_utf8(&served).unwrap(), json(&polled, later));
        let served: serde_json::Value = serde_json::from_slice(&served).unwrap();
        assert_eq!(
            served["repositories"][0]["last_polled_at"],
            serde_json::json!(later)
        );
        assert_eq!(
            served["repositories"][1]["last_error"],
            "HTTP 502 \"bad\" gateway"
        );
        // The one after it clears the error.
        let mut recovered = polled.clone();
        recovered.repos[1].state.last_error = None;
        recovered.keep_figures_of(&polled);
        let served: serde_json::Value =
            serde_json::from_slice(&recovered.stats_json(later, &q)).unwrap();
        assert_eq!(
            served["repositories"][1]["last_error"],
            serde_json::Value::Null
        );
    }

    #[test]
    fn a_store_holding_an_absurd_plan_is_polled_at_once() {
        // What an older ghpulse stored after obeying absurd headers: a poll interval of 10^17 s,
        // a next poll in 2058, a reset at chrono's last instant.
        let now: DateTime<Utc> = "2026-11-22T12:00:00Z".parse().unwrap();
        let store = Store::in_memory().unwrap();
        let year_2058: DateTime<Utc> = "2058-01-01T00:00:00Z".parse().unwrap();
        store
            .record_poll(crate::store::PollRecord {
                repo_key: "o/r",
                events: &[],
                gap: None,
                state: RepoState {
                    last_polled_at: Some(now - TimeDelta::minutes(5)),
                    next_poll_at: Some(year_2058),
                    backoff_until: Some(year_2058),
                    poll_interval_secs: Some(100_000_000_000_000_000),
                    ..RepoState::default()
                },
                rate_limit: Some(RateLimit {
                    limit: 5000,
                    remaining: 0,
                    used: 5000,
                    reset_at: DateTime::<Utc>::MAX_UTC,
                    assumed: false,
                }),
                counters: RequestCounters::default(),
            })
            .unwrap();
        let mut config = Config::missing(std::path::Path::new("repositories.toml"));
        config.repositories = vec![RepoName::parse("o/r").unwrap()];
        let s = Snapshot::from_store(&config, &store, true, now).unwrap();
        assert!(s.rate_limit.reset_at <= now + TimeDelta::hours(1));
        let planner = crate::poll::planner::Planner::new(
            s.repos
                .into_iter()
                .map(|v| crate::poll::planner::Watched::new(v, false))
                .collect(),
            true,
            s.rate_limit,
            s.requests,
        );
        let (_, due) = planner.next_due(now).unwrap();
        assert!(
            due <= now + TimeDelta::hours(1) + TimeDelta::seconds(2),
            "the spent budget's reset, at most an hour away: {due}"
        );
        let later = now + TimeDelta::hours(2);
        assert!(
            planner.next_due(later).unwrap().1 <= later,
            "once the reset has passed the repository is due: its 2058 plan is gone"
        );
    }

    #[test]
    fn a_clone_does_not_inherit_figures() {
        let s = snapshot();
        let now = s.taken_at;
        let _ = s.stats(now, &StatsQuery::default());
        let mut changed = s.clone();
        changed.repos.truncate(1);
        assert_eq!(
            changed
                .stats(now, &StatsQuery::default())
                .repositories
                .len(),
            1
        );
    }
}
