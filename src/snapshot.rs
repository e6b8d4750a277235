//! The engine's published state: an owned, immutable picture that the dashboard, the REST
//! listener and `ghpulse stats` all compute their figures from.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::config::{Config, Window};
use crate::event::EventMeta;
use crate::ratelimit::{RateLimit, RequestCounters};
use crate::repo::RepoName;
use crate::stats::{self, Gap, StatsReport};
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
        let now = stats::to_millis(now);
        let repositories = self
            .repos
            .iter()
            .filter(|r| q.repo.is_none_or(|want| &r.name == want))
            .take(q.limit.unwrap_or(usize::MAX))
            .map(|r| {
                stats::repo_stats(
                    r.name.as_str(),
                    &r.recent,
                    &r.gaps,
                    now,
                    &self.window,
                    q.event_type,
                )
            })
            .collect();
        StatsReport {
            generated_at: now,
            window: self.window.into(),
            repositories,
        }
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
            .map(|name| repo_view(store, name, config.window.max_events))
            .collect::<Result<_, _>>()?;
        Ok(Snapshot {
            taken_at: now,
            config_path: config.path.clone(),
            window: config.window,
            max_repositories: config.max_repositories,
            authenticated,
            rate_limit: store
                .rate_limit()?
                .map_or_else(|| RateLimit::assumed(authenticated, now), |r| r.at(now)),
            requests: store.counters()?,
            fetcher: FetcherState::Starting,
            repos,
            config_error: None,
        })
    }
}

/// One repository as the store holds it.
pub fn repo_view(
    store: &Store,
    name: &RepoName,
    max_events: usize,
) -> Result<RepoView, StoreError> {
    let key = name.key();
    Ok(RepoView {
        name: name.clone(),
        state: store.repo_state(&key)?.unwrap_or_default(),
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
            actor: String::new(),
            action: None,
        };
        let repo = |n: &str, recent: Vec<EventMeta>| RepoView {
            name: RepoName::parse(n).unwrap(),
            state: RepoState::default(),
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
        let names: Vec<_> = all.repositories.iter().map(|r| r.repo.as_str()).collect();
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
        assert_eq!(one.repositories[0].repo, "a/first-by-name");
        let typed = s.stats(
            now,
            &StatsQuery {
                event_type: Some("A"),
                ..Default::default()
            },
        );
        assert_eq!(typed.repositories[0].events_in_window, 3);
        assert_eq!(typed.repositories[0].event_types.len(), 1);
        assert_eq!(
            typed.repositories[0].event_types[0].avg_seconds_between,
            Some(60.0)
        );
    }
}
