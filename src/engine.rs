//! The fetcher loop: schedule -> poll -> store -> publish a snapshot, and the one place where
//! commands from the dashboard and the REST API change the watch list.

use std::collections::HashMap;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::{mpsc, oneshot, watch};
use tracing::{info, warn};

use crate::config::{self, Config, EditError};
use crate::fetcher::{self, PollInput, PollOutcome};
use crate::github::{Client, FetchError};
use crate::ratelimit::{RateLimit, RequestCounters};
use crate::repo::RepoName;
use crate::scheduler::{self, Budget, RepoTiming};
use crate::snapshot::{self, FetcherState, RepoView, Snapshot};
use crate::store::{RepoStatus, Store, StoreError};

const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// A change asked for by a view. Every view sends the same commands; the engine answers.
#[derive(Debug)]
pub enum Command {
    Add {
        repo: String,
        reply: oneshot::Sender<Result<RepoName, EditError>>,
    },
    Remove {
        repo: String,
        reply: oneshot::Sender<Result<RepoName, EditError>>,
    },
    /// Poll as soon as the poll interval and the budget allow.
    PollNow { repo: RepoName },
}

/// What the views hold: snapshots to read, commands to send.
#[derive(Clone)]
pub struct EngineHandle {
    pub commands: mpsc::Sender<Command>,
    pub snapshots: watch::Receiver<Arc<Snapshot>>,
    pub store: Store,
}

impl EngineHandle {
    /// Sends a command and waits for the engine's answer.
    pub async fn add(&self, repo: String) -> Result<RepoName, EditError> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Add { repo, reply }, rx).await
    }

    pub async fn remove(&self, repo: String) -> Result<RepoName, EditError> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Remove { repo, reply }, rx).await
    }

    async fn send(
        &self,
        cmd: Command,
        rx: oneshot::Receiver<Result<RepoName, EditError>>,
    ) -> Result<RepoName, EditError> {
        let stopped = || EditError::Io {
            path: PathBuf::new(),
            source: std::io::Error::other("ghpulse is shutting down"),
        };
        self.commands.send(cmd).await.map_err(|_| stopped())?;
        rx.await.map_err(|_| stopped())?
    }
}

pub struct EngineSettings {
    pub config: Config,
    pub client: Client,
    pub store: Store,
}

struct Watched {
    view: RepoView,
    urgent: bool,
    moved_logged: bool,
}

struct Engine {
    config_path: PathBuf,
    config: Config,
    client: Client,
    store: Store,
    repos: Vec<Watched>,
    rate_limit: RateLimit,
    counters: RequestCounters,
    fetcher_state: FetcherState,
    /// A global pause: the token was rejected or GitHub said "rate limited".
    paused_until: Option<DateTime<Utc>>,
    consecutive_rate_limited: u32,
    publish: watch::Sender<Arc<Snapshot>>,
    planned: HashMap<String, DateTime<Utc>>,
}

type PollFuture =
    Pin<Box<dyn std::future::Future<Output = Result<PollOutcome, StoreError>> + Send>>;

/// Loads the stored state, publishes a first snapshot and spawns the loop. The loop ends when
/// `shutdown` turns true, after the poll in flight (if any) has been committed.
pub async fn start(
    settings: EngineSettings,
    shutdown: watch::Receiver<bool>,
) -> Result<(EngineHandle, tokio::task::JoinHandle<()>), StoreError> {
    let EngineSettings {
        config,
        client,
        store,
    } = settings;
    let now = Utc::now();
    let authenticated = client.authenticated();
    let initial = {
        let (config, store) = (config.clone(), store.clone());
        tokio::task::spawn_blocking(move || {
            Snapshot::from_store(&config, &store, authenticated, now)
        })
        .await
        .map_err(|e| StoreError::Db(e.to_string()))??
    };
    let (publish, snapshots) = watch::channel(Arc::new(initial.clone()));
    let (commands, rx) = mpsc::channel(64);
    let mut engine = Engine {
        config_path: config.path.clone(),
        repos: initial
            .repos
            .into_iter()
            .map(|view| Watched {
                view,
                urgent: false,
                moved_logged: false,
            })
            .collect(),
        config,
        client,
        store: store.clone(),
        rate_limit: initial.rate_limit,
        counters: initial.requests,
        fetcher_state: FetcherState::Starting,
        paused_until: None,
        consecutive_rate_limited: 0,
        publish,
        planned: HashMap::new(),
    };
    engine.publish_snapshot();
    let join = tokio::spawn(async move { engine.run(rx, shutdown).await });
    Ok((
        EngineHandle {
            commands,
            snapshots,
            store,
        },
        join,
    ))
}

impl Engine {
    async fn run(
        &mut self,
        mut commands: mpsc::Receiver<Command>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let mut in_flight: Option<PollFuture> = None;
        let mut next_prune = tokio::time::Instant::now();
        loop {
            let next = if in_flight.is_none() {
                self.next_due(Utc::now())
            } else {
                None
            };
            let sleep_for = next
                .as_ref()
                .map(|(_, at)| (*at - Utc::now()).to_std().unwrap_or_default())
                .unwrap_or(Duration::from_secs(3600));
            tokio::select! {
                changed = shutdown.changed() => {
                    if changed.is_err() || *shutdown.borrow() {
                        break;
                    }
                }
                Some(cmd) = commands.recv() => self.handle(cmd).await,
                result = async { in_flight.as_mut().expect("guarded by the branch condition").await }, if in_flight.is_some() => {
                    in_flight = None;
                    self.apply(result);
                }
                _ = tokio::time::sleep(sleep_for), if in_flight.is_none() && next.is_some() => {
                    if let Some((i, _)) = next {
                        in_flight = Some(self.start_poll(i));
                    }
                }
                _ = tokio::time::sleep_until(next_prune), if in_flight.is_none() => {
                    next_prune = tokio::time::Instant::now() + PRUNE_EVERY;
                    self.prune().await;
                }
            }
        }
        if let Some(poll) = in_flight {
            // Let the poll finish so its events and ETag land together; a hung request is
            // abandoned (nothing of it is committed yet).
            if let Ok(result) = tokio::time::timeout(Duration::from_secs(10), poll).await {
                self.apply(result);
            }
        }
        info!("fetcher stopped; the store is up to date");
    }

    fn budget(&self, now: DateTime<Utc>) -> Budget {
        let rl = self.rate_limit.at(now);
        Budget {
            remaining: rl.remaining,
            reset_at: rl.reset_at,
        }
    }

    /// The repository to poll next and when.
    fn next_due(&mut self, now: DateTime<Utc>) -> Option<(usize, DateTime<Utc>)> {
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
                    not_before,
                    events_per_hour: scheduler::events_per_hour(&w.view.recent, now),
                    urgent: w.urgent,
                }
            })
            .collect();
        let due = scheduler::due_times(now, &timings, self.budget(now));
        self.planned = self
            .repos
            .iter()
            .zip(&due)
            .map(|(w, d)| (w.view.name.key(), *d))
            .collect();
        due.into_iter().enumerate().min_by_key(|(_, d)| *d)
    }

    fn start_poll(&mut self, i: usize) -> PollFuture {
        let now = Utc::now();
        let w = &mut self.repos[i];
        w.urgent = false;
        let input = PollInput {
            repo: w.view.name.clone(),
            state: w.view.state.clone(),
            rate_limit: self.rate_limit.at(now),
            counters: self.counters,
            events_per_hour: scheduler::events_per_hour(&w.view.recent, now),
            max_events: self.config.window.max_events,
        };
        let (client, store) = (self.client.clone(), self.store.clone());
        Box::pin(async move { fetcher::poll(&client, &store, input, Utc::now).await })
    }

    fn apply(&mut self, result: Result<PollOutcome, StoreError>) {
        let outcome = match result {
            Ok(o) => o,
            Err(e) => {
                warn!("could not record a poll: {e}");
                return;
            }
        };
        let now = Utc::now();
        self.rate_limit = outcome.rate_limit.clone();
        self.counters = outcome.counters;
        let repo = &outcome.repo;
        for why in &outcome.skipped {
            warn!("{repo}: skipped an event GitHub sent: {why}");
        }
        if let Some(gap) = &outcome.gap {
            warn!(
                "{repo}: events may be missing between {} and {} (about {}): more arrived than one poll can read",
                gap.from, gap.to, gap.estimated_missing
            );
        }
        self.fetcher_state = match &outcome.error {
            None => {
                self.consecutive_rate_limited = 0;
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
                self.paused_until = Some(
                    now + TimeDelta::from_std(scheduler::TOKEN_REJECTED_RETRY).unwrap_or_default(),
                );
                FetcherState::TokenRejected
            }
            Some(FetchError::RateLimited(status)) => {
                self.consecutive_rate_limited += 1;
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
        let Some(w) = self.repos.iter_mut().find(|w| &w.view.name == repo) else {
            // Removed while its poll was in flight: the events are stored, the view is gone.
            self.publish_snapshot();
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
        self.publish_snapshot();
    }

    async fn handle(&mut self, cmd: Command) {
        match cmd {
            Command::Add { repo, reply } => {
                let result = self.edit(move |p| config::add_repository(p, &repo)).await;
                let _ = reply.send(result);
            }
            Command::Remove { repo, reply } => {
                let result = self
                    .edit(move |p| config::remove_repository(p, &repo))
                    .await;
                let _ = reply.send(result);
            }
            Command::PollNow { repo } => {
                if let Some(w) = self.repos.iter_mut().find(|w| w.view.name == repo) {
                    w.urgent = true;
                    info!("{repo}: polling as soon as the poll interval and budget allow");
                }
            }
        }
    }

    /// Applies a config edit, then makes the watch list follow the file.
    async fn edit(
        &mut self,
        change: impl FnOnce(&std::path::Path) -> Result<Config, EditError> + Send + 'static,
    ) -> Result<RepoName, EditError> {
        let before: Vec<RepoName> = self.config.repositories.clone();
        let path = self.config_path.clone();
        let config = tokio::task::spawn_blocking(move || change(&path))
            .await
            .map_err(|e| EditError::Io {
                path: self.config_path.clone(),
                source: std::io::Error::other(e),
            })??;
        let changed = config
            .repositories
            .iter()
            .find(|r| !before.contains(r))
            .or_else(|| before.iter().find(|r| !config.repositories.contains(r)))
            .cloned();
        let mut repos = Vec::with_capacity(config.repositories.len());
        for name in &config.repositories {
            if let Some(pos) = self.repos.iter().position(|w| &w.view.name == name) {
                repos.push(self.repos.swap_remove(pos));
                continue;
            }
            // A repository watched before keeps what the store has: no re-read.
            let view = {
                let (store, name, max) =
                    (self.store.clone(), name.clone(), config.window.max_events);
                tokio::task::spawn_blocking(move || snapshot::repo_view(&store, &name, max)).await
            };
            let view = match view {
                Ok(Ok(v)) => v,
                _ => RepoView {
                    name: name.clone(),
                    state: Default::default(),
                    recent: Arc::default(),
                    gaps: Arc::default(),
                },
            };
            info!("{name}: now watched");
            repos.push(Watched {
                view,
                urgent: true,
                moved_logged: false,
            });
        }
        for gone in &self.repos {
            info!(
                "{}: no longer watched (its stored events are kept)",
                gone.view.name
            );
        }
        self.repos = repos;
        self.config = config;
        self.publish_snapshot();
        changed.ok_or_else(|| EditError::Io {
            path: self.config_path.clone(),
            source: std::io::Error::other("the config did not change"),
        })
    }

    async fn prune(&mut self) {
        let cutoff =
            Utc::now() - TimeDelta::from_std(self.config.retention).unwrap_or(TimeDelta::days(30));
        let store = self.store.clone();
        let names: Vec<RepoName> = self.repos.iter().map(|w| w.view.name.clone()).collect();
        let max_events = self.config.window.max_events;
        let pruned = tokio::task::spawn_blocking(move || {
            let n = store.prune(cutoff)?;
            let views = if n > 0 {
                names
                    .iter()
                    .map(|r| snapshot::repo_view(&store, r, max_events))
                    .collect::<Result<Vec<_>, _>>()?
            } else {
                Vec::new()
            };
            Ok::<_, StoreError>((n, views))
        })
        .await;
        match pruned {
            Ok(Ok((0, _))) => {}
            Ok(Ok((n, views))) => {
                info!("pruned {n} event(s) created before {cutoff}");
                for view in views {
                    if let Some(w) = self.repos.iter_mut().find(|w| w.view.name == view.name) {
                        w.view = view;
                    }
                }
                self.publish_snapshot();
            }
            Ok(Err(e)) => warn!("pruning failed: {e}"),
            Err(e) => warn!("pruning failed: {e}"),
        }
    }

    /// A spent budget is shown as waiting even though no request failed.
    fn shown_state(&self, now: DateTime<Utc>) -> FetcherState {
        let rl = self.rate_limit.at(now);
        match &self.fetcher_state {
            FetcherState::Live | FetcherState::Starting if rl.remaining == 0 => {
                FetcherState::WaitingForRateLimit { until: rl.reset_at }
            }
            other => other.clone(),
        }
    }

    fn publish_snapshot(&mut self) {
        let now = Utc::now();
        if !self.repos.is_empty() {
            self.next_due(now);
        }
        let repos = self
            .repos
            .iter()
            .map(|w| {
                let mut view = w.view.clone();
                let planned = self.planned.get(&view.name.key()).copied();
                if view.state.status != RepoStatus::NotFound {
                    view.state.next_poll_at = planned.or(view.state.next_poll_at);
                }
                view
            })
            .collect();
        let snapshot = Snapshot {
            taken_at: now,
            config_path: self.config_path.clone(),
            window: self.config.window,
            max_repositories: self.config.max_repositories,
            authenticated: self.client.authenticated(),
            rate_limit: self.rate_limit.at(now),
            requests: self.counters,
            fetcher: self.shown_state(now),
            repos,
        };
        self.publish.send_replace(Arc::new(snapshot));
    }
}
