//! The fetcher's decisions, free of I/O and of the wall clock: which repository to poll next
//! and when, and what a poll's outcome changes. The engine runs it in real time; the economy
//! simulation runs the same code in simulated time.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tracing::{info, warn};

use crate::config::load::Window;
use crate::github::bounds;
use crate::github::client::{FetchError, Skipped};
use crate::github::rate_limit::{RateLimit, RequestCounters};
use crate::github::repo_name::RepoName;
use crate::poll::once::{PollInput, PollOutcome};
use crate::poll::schedule::{self, Budget, RepoTiming};
use crate::snapshot::{FetcherState, RepoView};
use crate::store::RepoStatus;

pub struct Watched {
    pub view: RepoView,
    /// The user asked for a poll now.
    pub urgent: bool,
    moved_logged: bool,
    /// Fingerprints of the unreadable events already reported: later polls list them again.
    skips_logged: HashSet<u64>,
    /// What this repository's polls that found something have cost lately, in counted
    /// requests (a moving average): the schedule's expected cost of a poll.
    counted_per_find: f64,
}

/// The weight of the newest finding poll in `counted_per_find`: a repository whose polls
/// begin to read three pages is planned at that cost within a few polls.
const FIND_COST_WEIGHT: f64 = 0.25;

/// Past this many distinct unreadable events of one repository, the reported ones are
/// forgotten (and reported again if they come back) rather than remembered without bound.
const MAX_SKIPS_REMEMBERED: usize = 1024;

impl Watched {
    pub fn new(view: RepoView, urgent: bool) -> Watched {
        Watched {
            view,
            urgent,
            moved_logged: false,
            skips_logged: HashSet::new(),
            counted_per_find: 1.0,
        }
    }

    /// Learns what a poll cost from the counters before and after it. A poll that found
    /// nothing tells nothing of what finding costs.
    fn learn_cost(&mut self, before: RequestCounters, after: RequestCounters, authenticated: bool) {
        let found = after.ok.saturating_sub(before.ok);
        if found == 0 {
            return;
        }
        let counted = found
            + after.errors.saturating_sub(before.errors)
            + after.rate_limited.saturating_sub(before.rate_limited)
            + if authenticated {
                0
            } else {
                after.not_modified.saturating_sub(before.not_modified)
            };
        // Bounded: counters read back from a damaged store must not make one poll weigh more
        // than a full read and its retries.
        let counted = (counted as f64).min(16.0);
        self.counted_per_find += FIND_COST_WEIGHT * (counted - self.counted_per_find);
    }

    /// Whether this unreadable event is news: reported once, not on every poll listing it.
    fn first_report(&mut self, skipped: &Skipped) -> bool {
        if self.skips_logged.len() >= MAX_SKIPS_REMEMBERED {
            self.skips_logged.clear();
        }
        self.skips_logged.insert(skipped.fingerprint)
    }
}

pub struct Planner {
    pub repos: Vec<Watched>,
    /// With a token a 304 is free; without one every answer counts, so polls are rationed.
    pub authenticated: bool,
    pub rate_limit: RateLimit,
    pub counters: RequestCounters,
    pub fetcher_state: FetcherState,
    /// A pause for every repository: the token was rejected or GitHub said "rate limited".
    pub paused_until: Option<DateTime<Utc>>,
    /// When the last poll began: the next begins at least `schedule::poll_spacing` later.
    last_started: Option<DateTime<Utc>>,
}

impl Planner {
    pub fn new(
        repos: Vec<Watched>,
        authenticated: bool,
        rate_limit: RateLimit,
        counters: RequestCounters,
    ) -> Planner {
        Planner {
            repos,
            authenticated,
            rate_limit,
            counters,
            fetcher_state: FetcherState::Starting,
            paused_until: None,
            last_started: None,
        }
    }

    fn budget(&self, now: DateTime<Utc>) -> Budget {
        let rl = self.rate_limit.at(now);
        Budget {
            remaining: rl.remaining,
            reset_at: rl.reset_at,
            limit: rl.limit,
            authenticated: self.authenticated,
        }
    }

    /// When each repository is due, in watch-list order.
    pub fn due_times(&self, now: DateTime<Utc>) -> Vec<DateTime<Utc>> {
        let economy_interval =
            (!self.authenticated).then_some(schedule::UNAUTHENTICATED_MIN_INTERVAL);
        let timings: Vec<RepoTiming> = self
            .repos
            .iter()
            .map(|w| {
                let s = &w.view.state;
                let not_before = match (s.backoff_until, self.paused_until) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    (a, b) => a.or(b),
                };
                RepoTiming {
                    last_polled_at: s.last_polled_at,
                    poll_interval: Duration::from_secs(s.poll_interval_secs.unwrap_or(60)),
                    economy_interval,
                    not_before,
                    events_per_hour: schedule::events_per_hour(&w.view.recent, now),
                    urgent: w.urgent,
                    counted_per_find: w.counted_per_find,
                }
            })
            .collect();
        schedule::due_times(now, &timings, self.budget(now))
    }

    /// The repository to poll next and when. Every repository already due ties (so does each
    /// overdue one when a pause ends), and the tie goes to the one polled least recently — a
    /// never polled one first: a repository that keeps failing early in the list cannot
    /// starve the others, nor can the overdue ones starve the new ones when the polls a
    /// minute are all spent. Polls begin at least `schedule::poll_spacing` apart, so
    /// GitHub's secondary limit is never approached.
    pub fn next_due(&self, now: DateTime<Utc>) -> Option<(usize, DateTime<Utc>)> {
        let (i, due) = self
            .due_times(now)
            .into_iter()
            .enumerate()
            .map(|(i, due)| (i, due.max(now)))
            .min_by_key(|&(i, due)| (due, self.repos[i].view.state.last_polled_at))?;
        let spaced = self.last_started.map_or(due, |t| {
            due.max(bounds::shifted(t, schedule::poll_spacing()))
        });
        Some((i, spaced))
    }

    pub fn poll_input(&mut self, i: usize, now: DateTime<Utc>, window: &Window) -> PollInput {
        self.last_started = Some(now);
        let w = &mut self.repos[i];
        w.urgent = false;
        PollInput {
            repo: w.view.name.clone(),
            state: w.view.state.clone(),
            rate_limit: self.rate_limit.at(now),
            counters: self.counters,
            events_per_hour: schedule::events_per_hour(&w.view.recent, now),
            max_events: window.max_events,
        }
    }

    /// Takes in what a poll brought: figures, the repository's new state, and any pause it
    /// calls for. Logs what a user should know.
    pub fn apply(&mut self, outcome: PollOutcome, now: DateTime<Utc>) {
        self.rate_limit = outcome.rate_limit.clone();
        let before = std::mem::replace(&mut self.counters, outcome.counters);
        let repo = &outcome.repo;
        let mut watched = self.repos.iter_mut().find(|w| &w.view.name == repo);
        if let Some(w) = watched.as_mut() {
            w.learn_cost(before, outcome.counters, self.authenticated);
        }
        for skipped in &outcome.skipped {
            if watched.as_mut().is_none_or(|w| w.first_report(skipped)) {
                warn!(
                    "{repo}: skipped an event GitHub sent: {} (reported once)",
                    skipped.why
                );
            }
        }
        if let Some(gap) = &outcome.gap {
            warn!(
                "{repo}: events may be missing between {} and {} (about {}): more arrived than one poll can read",
                gap.from, gap.to, gap.estimated_missing
            );
        }
        self.fetcher_state = match &outcome.error {
            None => {
                if outcome.new_events > 0 {
                    info!(
                        "{repo}: {} new event(s) in {} page(s)",
                        outcome.new_events, outcome.pages
                    );
                }
                FetcherState::Live
            }
            Some(FetchError::Unauthorized) => {
                if self.fetcher_state != FetcherState::TokenRejected {
                    warn!(
                        "GitHub rejected the token (HTTP 401); polling pauses for an hour. Check GITHUB_TOKEN / GH_TOKEN."
                    );
                }
                self.paused_until = Some(bounds::after(now, schedule::TOKEN_REJECTED_RETRY));
                FetcherState::TokenRejected
            }
            Some(FetchError::RateLimited(status)) => {
                let until = outcome.state.backoff_until.unwrap_or(now);
                warn!("{repo}: rate limited (HTTP {status}); all polling waits until {until}");
                self.paused_until = Some(until);
                FetcherState::WaitingForRateLimit { until }
            }
            Some(e @ (FetchError::Timeout | FetchError::Network(_))) => {
                warn!("{repo}: {e}; retrying with backoff");
                FetcherState::Offline {
                    reason: e.to_string(),
                }
            }
            Some(e) => {
                warn!("{repo}: {e}");
                FetcherState::Live
            }
        };
        if outcome.error.is_none() && self.paused_until.is_some_and(|p| p <= now) {
            self.paused_until = None;
        }
        // Gone when it was removed while its poll was in flight: the events are stored anyway.
        let Some(w) = self.repos.iter_mut().find(|w| &w.view.name == repo) else {
            return;
        };
        if let Some(url) = &outcome.moved_to
            && !w.moved_logged
        {
            w.moved_logged = true;
            info!(
                "{repo}: GitHub answered from {url}: the repository was renamed or moved; consider updating the config"
            );
        }
        w.view.state = outcome.state;
        if let Some((recent, gaps)) = outcome.refreshed {
            w.view.recent = Arc::new(recent);
            w.view.gaps = Arc::new(gaps);
        }
    }

    pub fn position(&self, name: &RepoName) -> Option<usize> {
        self.repos.iter().position(|w| &w.view.name == name)
    }

    /// A spent budget is shown as waiting even though no request failed.
    pub fn shown_state(&self, now: DateTime<Utc>) -> FetcherState {
        let rl = self.rate_limit.at(now);
        match &self.fetcher_state {
            FetcherState::Live | FetcherState::Starting if rl.remaining == 0 => {
                FetcherState::WaitingForRateLimit { until: rl.reset_at }
            }
            other => other.clone(),
        }
    }

    /// The views to publish, each with its planned next poll.
    pub fn views(&self, now: DateTime<Utc>) -> Vec<RepoView> {
        let due = self.due_times(now);
        self.repos
            .iter()
            .zip(due)
            .map(|(w, planned)| {
                let mut view = w.view.clone();
                if view.state.status != RepoStatus::NotFound {
                    view.state.next_poll_at = Some(planned);
                }
                view
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;
    use crate::store::RepoState;

    fn now() -> DateTime<Utc> {
        "2026-11-22T12:00:00Z".parse().unwrap()
    }

    fn planner(names: &[&str]) -> Planner {
        let repos = names
            .iter()
            .map(|n| {
                let view = RepoView {
                    name: RepoName::parse(n).unwrap(),
                    state: RepoState {
                        last_polled_at: Some(now() - TimeDelta::seconds(120)),
                        poll_interval_secs: Some(60),
                        ..Default::default()
                    },
                    recent: Arc::default(),
                    gaps: Arc::default(),
                };
                Watched::new(view, false)
            })
            .collect();
        Planner::new(
            repos,
            true,
            RateLimit::assumed(true, now()),
            RequestCounters::default(),
        )
    }

    fn outcome(
        repo: &str,
        error: Option<FetchError>,
        state: RepoState,
        rate_limit: RateLimit,
    ) -> PollOutcome {
        PollOutcome {
            repo: RepoName::parse(repo).unwrap(),
            state,
            new_events: 0,
            pages: 1,
            rate_limit,
            counters: RequestCounters::default(),
            last_meta: None,
            error,
            gap: None,
            skipped: vec![],
            moved_to: None,
            refreshed: None,
        }
    }

    #[test]
    fn an_unreadable_event_listed_by_every_poll_is_reported_once() {
        let mut w = planner(&["a/b"]).repos.remove(0);
        let odd = |fingerprint| Skipped {
            fingerprint,
            why: "no numeric id".into(),
        };
        assert!(w.first_report(&odd(1)));
        assert!(!w.first_report(&odd(1)), "the next poll lists it again");
        assert!(w.first_report(&odd(2)), "another odd event is news");
        for n in 3..3 + MAX_SKIPS_REMEMBERED as u64 {
            w.first_report(&odd(n));
        }
        assert!(w.skips_logged.len() <= MAX_SKIPS_REMEMBERED, "bounded");
    }

    #[test]
    fn a_rate_limit_answer_pauses_every_repository() {
        let mut p = planner(&["a/b", "c/d"]);
        let until = now() + TimeDelta::seconds(90);
        let state = RepoState {
            backoff_until: Some(until),
            status: RepoStatus::RateLimited,
            ..Default::default()
        };
        p.apply(
            outcome(
                "a/b",
                Some(FetchError::RateLimited(429)),
                state,
                RateLimit::assumed(true, now()),
            ),
            now(),
        );
        assert_eq!(p.fetcher_state, FetcherState::WaitingForRateLimit { until });
        assert!(
            p.due_times(now()).iter().all(|d| *d >= until),
            "{:?}",
            p.due_times(now())
        );
    }

    #[test]
    fn when_a_pause_ends_the_least_recently_polled_goes_first() {
        // Every repository is overdue, so all are due the instant the pause ends: the one
        // polled longest ago goes first, not the first in the list.
        let mut p = planner(&["a/b", "c/d", "e/f"]);
        for (w, ago) in p.repos.iter_mut().zip([5, 300, 60]) {
            w.view.state.last_polled_at = Some(now() - TimeDelta::seconds(ago));
        }
        p.paused_until = Some(now() + TimeDelta::seconds(1));
        let (i, at) = p.next_due(now()).unwrap();
        assert_eq!((i, at), (1, now() + TimeDelta::seconds(1)));
        p.repos[1].view.state.last_polled_at = Some(now());
        p.repos[0].view.state.last_polled_at = Some(now() - TimeDelta::seconds(70));
        assert_eq!(p.next_due(now()).unwrap().0, 0);
    }

    #[test]
    fn the_cost_of_a_finding_poll_is_learned_from_its_counted_requests() {
        let mut p = planner(&["a/b"]);
        let counters = |ok, not_modified, errors| RequestCounters {
            total: ok + not_modified + errors,
            ok,
            not_modified,
            errors,
            rate_limited: 0,
        };
        let polled = |p: &mut Planner, after: RequestCounters| {
            let mut out = outcome(
                "a/b",
                None,
                RepoState::default(),
                RateLimit::assumed(true, now()),
            );
            out.counters = after;
            p.apply(out, now());
        };
        // A 304: free with a token, and it says nothing of what finding costs.
        polled(&mut p, counters(0, 1, 0));
        assert_eq!(p.repos[0].counted_per_find, 1.0);
        // Three pages and a retry, again and again: the cost approaches four.
        let mut after = counters(0, 1, 0);
        for _ in 0..20 {
            after.ok += 3;
            after.errors += 1;
            after.total += 4;
            polled(&mut p, after);
        }
        assert!(
            (p.repos[0].counted_per_find - 4.0).abs() < 0.05,
            "{}",
            p.repos[0].counted_per_find
        );
        // Counters read back lower (a store from before) teach nothing absurd.
        polled(&mut p, counters(0, 0, 0));
        assert!(p.repos[0].counted_per_find <= 4.0);
    }

    #[test]
    fn overdue_repositories_do_not_starve_a_never_polled_one() {
        let mut p = planner(&["a/b", "c/d", "e/f"]);
        p.repos[2].view.state.last_polled_at = None;
        assert_eq!(p.next_due(now()).unwrap().0, 2);
    }

    #[test]
    fn polls_begin_at_least_the_spacing_apart() {
        let mut p = planner(&["a/b", "c/d"]);
        let (i, at) = p.next_due(now()).unwrap();
        assert_eq!(at, now(), "overdue: at once");
        p.poll_input(i, now(), &Window::default());
        let (_, at) = p.next_due(now()).unwrap();
        assert_eq!(at, now() + schedule::poll_spacing());
    }

    #[test]
    fn a_rejected_token_pauses_for_an_hour() {
        let mut p = planner(&["a/b", "c/d"]);
        p.apply(
            outcome(
                "a/b",
                Some(FetchError::Unauthorized),
                RepoState::default(),
                RateLimit::assumed(true, now()),
            ),
            now(),
        );
        assert_eq!(p.fetcher_state, FetcherState::TokenRejected);
        assert!(
            p.due_times(now())
                .iter()
                .all(|d| *d >= now() + TimeDelta::hours(1))
        );
    }

    #[test]
    fn a_spent_budget_shows_as_waiting_and_waits_for_the_reset() {
        let mut p = planner(&["a/b"]);
        let reset_at = now() + TimeDelta::minutes(10);
        let spent = RateLimit {
            limit: 60,
            remaining: 0,
            used: 60,
            reset_at,
            assumed: false,
        };
        let state = RepoState {
            last_polled_at: Some(now()),
            poll_interval_secs: Some(60),
            status: RepoStatus::Ok,
            ..Default::default()
        };
        p.apply(outcome("a/b", None, state, spent), now());
        assert_eq!(
            p.shown_state(now()),
            FetcherState::WaitingForRateLimit { until: reset_at }
        );
        assert!(p.next_due(now()).unwrap().1 > reset_at);
        assert_eq!(
            p.shown_state(reset_at + TimeDelta::seconds(1)),
            FetcherState::Live
        );
    }

    #[test]
    fn an_outcome_for_a_removed_repository_changes_only_the_figures() {
        let mut p = planner(&["a/b"]);
        let rl = RateLimit {
            limit: 5000,
            remaining: 4321,
            used: 679,
            reset_at: now() + TimeDelta::minutes(5),
            assumed: false,
        };
        p.apply(outcome("gone/repo", None, RepoState::default(), rl), now());
        assert_eq!(p.rate_limit.remaining, 4321);
        assert_eq!(p.repos.len(), 1);
    }
}
