//! The fetcher loop: schedule -> poll -> store -> publish a snapshot, and the one place where
//! the watch list changes: requests from the dashboard and the REST API, and the config file
//! changing under it.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::time::Instant;
use tracing::{debug, error, info, warn};

use crate::config::edit::{self, EditError};
use crate::config::load::Config;
use crate::config::watch::{ConfigWatch, Reads};
use crate::feed::WebOrigin;
use crate::github::bounds;
use crate::github::client::{Client, Transport};
use crate::github::repo_name::RepoName;
use crate::live::{LiveEvent, LiveFeed};
use crate::poll::once::{self, PollOutcome};
use crate::poll::planner::{Planner, Watched};
use crate::poll::schedule::DEFAULT_POLL_INTERVAL;
use crate::query::Query;
use crate::snapshot::{self, RepoView, Snapshot};
use crate::store::{PRUNE_SLICE_EVENTS, Store, StoreError};

const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// A change asked for by a view, through the handle's methods: every view asks the same way
/// and the engine answers in one place.
#[derive(Debug)]
enum Request {
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

/// What the views hold: the published snapshots, the questions they ask of them and the
/// store, and the changes they ask for.
#[derive(Clone)]
pub struct EngineHandle {
    requests: mpsc::Sender<Request>,
    snapshots: watch::Receiver<Arc<Snapshot>>,
    store: Store,
    running: Arc<AtomicBool>,
    web: WebOrigin,
    live: broadcast::WeakSender<Arc<LiveEvent>>,
}

impl EngineHandle {
    /// The snapshot published last.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshots.borrow().clone()
    }

    /// A receiver that is told of every new snapshot.
    pub fn subscribe(&self) -> watch::Receiver<Arc<Snapshot>> {
        self.snapshots.clone()
    }

    /// The latest snapshot with the store it came from, to ask questions that read stored
    /// events (label KPIs, counts, event lists).
    pub fn query(&self) -> Query {
        Query::new(self.snapshot(), self.store.clone())
    }

    /// Where the watched repositories' web pages are (from the API URL in use).
    pub fn web_origin(&self) -> &WebOrigin {
        &self.web
    }

    /// Every event stored from now on, in storage order, once each (see [`LiveEvent`]);
    /// `None` once the engine has stopped. A receiver more than
    /// [`crate::LIVE_CAPACITY`] events behind is told it lagged.
    pub fn live_events(&self) -> Option<broadcast::Receiver<Arc<LiveEvent>>> {
        self.live.upgrade().map(|sender| sender.subscribe())
    }

    /// False once the fetcher loop has ended, however it ended (shutdown or panic).
    pub fn fetcher_running(&self) -> bool {
        self.running.load(Ordering::Acquire)
    }

    /// Watches a repository (the config file is edited) and waits for the engine's answer.
    pub async fn add(&self, repo: String) -> Result<RepoName, EditError> {
        let (reply, rx) = oneshot::channel();
        self.ask(Request::Add { repo, reply }, rx).await
    }

    /// Stops watching a repository (its stored events are kept).
    pub async fn remove(&self, repo: String) -> Result<RepoName, EditError> {
        let (reply, rx) = oneshot::channel();
        self.ask(Request::Remove { repo, reply }, rx).await
    }

    /// Asks for a poll of `repo` as soon as its poll interval and the budget allow. Never
    /// waits: when the engine is busy with other requests, this one is dropped (the user can
    /// ask again).
    pub fn poll_now(&self, repo: RepoName) {
        let _ = self.requests.try_send(Request::PollNow { repo });
    }

    async fn ask(
        &self,
        request: Request,
        rx: oneshot::Receiver<Result<RepoName, EditError>>,
    ) -> Result<RepoName, EditError> {
        self.requests
            .send(request)
            .await
            .map_err(|_| EditError::Stopped)?;
        rx.await.map_err(|_| EditError::Stopped)?
    }
}

pub struct EngineSettings {
    pub config: Config,
    pub client: Client,
    pub store: Store,
}

struct Engine {
    config: Config,
    client: Client,
    store: Store,
    planner: Planner,
    publish: watch::Sender<Arc<Snapshot>>,
    live: LiveFeed,
    /// Why the file as it is now was not applied; `config` is the last valid one.
    config_error: Option<String>,
    /// When the last edit of the file through the engine began.
    edited: Option<std::time::Instant>,
    spacing: Spacing,
    /// The pruning pass in progress: its cutoff, fixed for the pass, and what it removed.
    pruning: Option<Pruning>,
}

#[derive(Clone, Copy)]
struct Pruning {
    cutoff: DateTime<Utc>,
    removed: u64,
}

/// The poll interval kept on the monotonic clock too. The schedule plans in wall-clock time
/// (its plan is stored, and simulated), so a wall clock stepped forward (NTP, a resumed
/// virtual machine) would bring every pending poll forward by the step: sooner than
/// `X-Poll-Interval` allows after the previous one.
#[derive(Default)]
struct Spacing(HashMap<RepoName, Instant>);

impl Spacing {
    /// A poll of `repo` ended at `ended`; the next may start `interval` later.
    fn polled(&mut self, repo: RepoName, ended: Instant, interval: Duration) {
        self.0
            .insert(repo, ended.checked_add(interval).unwrap_or(ended));
    }

    /// When a poll of `repo` the schedule plans `wait` after `now` may start.
    fn start_at(&self, repo: &RepoName, now: Instant, wait: Duration) -> Instant {
        let planned = now.checked_add(wait).unwrap_or(now + PRUNE_EVERY);
        self.0
            .get(repo)
            .map_or(planned, |&earliest| planned.max(earliest))
    }

    /// Forgets repositories no longer watched.
    fn keep(&mut self, watched: &[RepoName]) {
        self.0.retain(|repo, _| watched.contains(repo));
    }
}

type PollFuture = Pin<Box<dyn std::future::Future<Output = PollOutcome> + Send>>;

/// Loads the stored state, publishes a first snapshot and spawns the loop. The loop ends when
/// `shutdown` turns true, after the poll in flight (if any) has been committed; or with
/// [`StoreError::Damaged`] when the store's pages fail the integrity check it runs once the
/// first snapshot is out (nothing is written to such a store).
pub async fn start_engine(
    settings: EngineSettings,
    shutdown: watch::Receiver<bool>,
) -> Result<
    (
        EngineHandle,
        tokio::task::JoinHandle<Result<(), StoreError>>,
    ),
    StoreError,
> {
    let EngineSettings {
        config,
        client,
        store,
    } = settings;
    let now = Utc::now();
    let authenticated = client.authenticated();
    let (initial, last_seq) = {
        let (config, reading) = (config.clone(), store.clone());
        tokio::task::spawn_blocking(move || {
            let snapshot = Snapshot::from_store(&config, &reading, authenticated, now)?;
            Ok::<_, StoreError>((snapshot, reading.last_seq()?))
        })
        .await
        .map_err(|e| StoreError::db(e.to_string()).in_file(store.path()))??
    };
    let (publish, snapshots) = watch::channel(Arc::new(initial.clone()));
    let web = WebOrigin::from_api_url(client.api_url());
    let live = LiveFeed::start(store.clone(), snapshots.clone(), web.clone(), last_seq);
    let subscriptions = live.subscriptions();
    let (requests, rx) = mpsc::channel(64);
    let repos = initial
        .repos
        .into_iter()
        .map(|view| Watched::new(view, false))
        .collect();
    let mut engine = Engine {
        config,
        client,
        store: store.clone(),
        planner: Planner::new(repos, authenticated, initial.rate_limit, initial.requests),
        publish,
        live,
        config_error: None,
        edited: None,
        spacing: Spacing::default(),
        pruning: None,
    };
    engine.publish_snapshot();
    // Every page checked against its checksum, after the first frame has what it draws.
    let checking = store.clone();
    let check = tokio::task::spawn_blocking(move || checking.verify());
    let follow = ConfigWatch::start(&engine.config.path);
    let running = Arc::new(AtomicBool::new(false));
    let flag = RunningFlag::raise(running.clone());
    let join = tokio::spawn(async move {
        let _flag = flag;
        engine.run(rx, shutdown, follow, check).await
    });
    Ok((
        EngineHandle {
            requests,
            snapshots,
            store,
            running,
            web,
            live: subscriptions,
        },
        join,
    ))
}

/// Up while the loop's task lives; lowered when the task's future is dropped, which happens on
/// return and on a panic alike.
struct RunningFlag(Arc<AtomicBool>);

impl RunningFlag {
    fn raise(flag: Arc<AtomicBool>) -> RunningFlag {
        flag.store(true, Ordering::Release);
        RunningFlag(flag)
    }
}

impl Drop for RunningFlag {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

impl Engine {
    async fn run(
        &mut self,
        mut requests: mpsc::Receiver<Request>,
        mut shutdown: watch::Receiver<bool>,
        mut follow: ConfigWatch,
        check: tokio::task::JoinHandle<Result<(), StoreError>>,
    ) -> Result<(), StoreError> {
        let mut in_flight: Option<PollFuture> = None;
        let mut check = Some(check);
        let mut next_prune = Instant::now();
        // A config whose folder did not exist could not be watched; once an edit has created
        // it, watch it (once: a second failure is logged, not retried in a loop).
        let mut rewatch = !follow.is_following();
        loop {
            if rewatch && self.config.exists {
                rewatch = false;
                follow = ConfigWatch::start(&self.config.path);
            }
            let next = if in_flight.is_none() {
                self.planner.next_due(Utc::now())
            } else {
                None
            };
            let now = Instant::now();
            let wake = match &next {
                Some((i, at)) => {
                    let wait = (*at - Utc::now()).to_std().unwrap_or_default();
                    self.spacing
                        .start_at(&self.planner.repos[*i].view.name, now, wait)
                }
                None => now + Duration::from_secs(3600),
            };
            tokio::select! {
                changed = shutdown.changed() => {
                    if changed.is_err() || *shutdown.borrow() {
                        break;
                    }
                }
                Some(request) = requests.recv() => self.handle(request).await,
                reads = follow.changed() => self.reload(reads).await,
                result = async {
                    match in_flight.as_mut() {
                        Some(poll) => poll.await,
                        None => std::future::pending().await,
                    }
                }, if in_flight.is_some() => {
                    in_flight = None;
                    self.apply(result);
                }
                _ = tokio::time::sleep_until(wake), if in_flight.is_none() && next.is_some() => {
                    if let Some((i, _)) = next {
                        in_flight = Some(self.start_poll(i));
                    }
                }
                checked = async {
                    match check.as_mut() {
                        Some(c) => c.await,
                        None => std::future::pending().await,
                    }
                }, if check.is_some() => {
                    check = None;
                    match checked {
                        Ok(Ok(())) => debug!("store: every page passed its checksum"),
                        Ok(Err(e @ StoreError::Damaged { .. })) => {
                            error!("{e}; nothing more is written to it");
                            return Err(e);
                        }
                        // Not a verdict on the pages: the first write runs the check again.
                        Ok(Err(e)) => warn!("store: integrity check not completed: {e}"),
                        Err(e) => warn!("store: integrity check not completed: {e}"),
                    }
                }
                _ = tokio::time::sleep_until(next_prune), if in_flight.is_none() => {
                    let more = self.prune_step().await;
                    next_prune = Instant::now() + if more { Duration::ZERO } else { PRUNE_EVERY };
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
        Ok(())
    }

    fn start_poll(&mut self, i: usize) -> PollFuture {
        let input = self.planner.poll_input(i, Utc::now(), &self.config.window);
        let (client, store) = (self.client.clone(), self.store.clone());
        Box::pin(async move { once::poll_once(&client, &store, input, Utc::now).await })
    }

    fn apply(&mut self, outcome: PollOutcome) {
        if outcome.new_events > 0 {
            self.live.committed();
        }
        let interval = outcome
            .state
            .poll_interval_secs
            .map_or(DEFAULT_POLL_INTERVAL, Duration::from_secs);
        self.spacing
            .polled(outcome.repo.clone(), Instant::now(), interval);
        self.planner.apply(outcome, Utc::now());
        self.publish_snapshot();
    }

    async fn handle(&mut self, request: Request) {
        match request {
            Request::Add { repo, reply } => {
                let result = self.edit(move |p| edit::add_repository(p, &repo)).await;
                let _ = reply.send(result);
            }
            Request::Remove { repo, reply } => {
                let result = self.edit(move |p| edit::remove_repository(p, &repo)).await;
                let _ = reply.send(result);
            }
            Request::PollNow { repo } => {
                if let Some(i) = self.planner.position(&repo) {
                    self.planner.repos[i].urgent = true;
                    info!("{repo}: polling as soon as the poll interval and budget allow");
                }
            }
        }
    }

    /// Applies a config edit (a locked read-modify-write of the file), then follows it.
    async fn edit(
        &mut self,
        change: impl FnOnce(&std::path::Path) -> Result<edit::Edited, EditError> + Send + 'static,
    ) -> Result<RepoName, EditError> {
        let started = std::time::Instant::now();
        let path = self.config.path.clone();
        let edit::Edited { config, repo } = tokio::task::spawn_blocking(move || change(&path))
            .await
            .map_err(|e| EditError::Io {
                path: self.config.path.clone(),
                source: std::io::Error::other(e),
            })??;
        // The edit read the file after every read the watch made before it began, and the
        // file was valid then: those reads are superseded.
        self.edited = Some(started);
        self.apply_config(config).await;
        Ok(repo)
    }

    /// The file changed: what it held each time the watch fired is taken in order — a valid
    /// config is applied at once, an invalid read after it is reported while the last valid
    /// config stays in force.
    async fn reload(&mut self, reads: Reads) {
        let edited = self.edited;
        let fresh = |at: &std::time::Instant| edited.is_none_or(|e| *at >= e);
        if let Some((_, config)) = reads.valid.filter(|(at, _)| fresh(at)) {
            if let Some(was) = self.config_error.take() {
                info!("config file fixed ({was}); it is in force again");
            }
            if config.listen != self.config.listen {
                warn!("[server] listen changed: it takes effect when ghpulse restarts");
            }
            if config.allowed_hosts != self.config.allowed_hosts {
                warn!("[server] allowed_hosts changed: it takes effect when ghpulse restarts");
            }
            if config.api_url != self.config.api_url {
                warn!("[github] api_url changed: it takes effect when ghpulse restarts");
            }
            if config != self.config {
                info!("config file changed; applying it");
            }
            self.apply_config(config).await;
        }
        if let Some((_, e)) = reads.error.filter(|(at, _)| fresh(at)) {
            if self.config_error.as_ref() != Some(&e) {
                warn!("{e}; the last valid config stays in force until the file is fixed");
            }
            self.config_error = Some(e);
            self.publish_snapshot();
        }
    }

    /// Makes the watch list and the window follow a valid config read from the file.
    async fn apply_config(&mut self, config: Config) {
        self.config_error = None;
        let resize = config.window.max_events != self.config.window.max_events;
        let mut repos = Vec::with_capacity(config.repositories.len());
        for name in &config.repositories {
            let kept = self
                .planner
                .position(name)
                .map(|pos| self.planner.repos.swap_remove(pos));
            let kept = match kept {
                Some(kept) if !resize => {
                    repos.push(kept);
                    continue;
                }
                other => other,
            };
            // A repository watched before keeps what the store has: no re-read.
            let view = {
                let (store, name, max) =
                    (self.store.clone(), name.clone(), config.window.max_events);
                tokio::task::spawn_blocking(move || {
                    snapshot::repo_view(&store, &name, max, Utc::now())
                })
                .await
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
            match kept {
                Some(mut kept) => {
                    kept.view.recent = view.recent;
                    repos.push(kept);
                }
                None => {
                    info!("{name}: now watched");
                    repos.push(Watched::new(view, true));
                }
            }
        }
        for gone in &self.planner.repos {
            info!(
                "{}: no longer watched (its stored events are kept)",
                gone.view.name
            );
        }
        self.planner.repos = repos;
        self.spacing.keep(&config.repositories);
        self.config = config;
        self.publish_snapshot();
    }

    /// One slice of pruning: a short transaction, so that a poll's commit never waits long
    /// behind it, with the engine's loop free between slices. Returns whether more is left.
    async fn prune_step(&mut self) -> bool {
        let pass = *self.pruning.get_or_insert_with(|| Pruning {
            cutoff: bounds::shifted(Utc::now(), -bounds::delta(self.config.retention)),
            removed: 0,
        });
        let store = self.store.clone();
        let slice =
            tokio::task::spawn_blocking(move || store.prune_slice(pass.cutoff, PRUNE_SLICE_EVENTS))
                .await;
        let pruned = match slice {
            Ok(Ok(pruned)) => pruned,
            Ok(Err(e)) => return self.pruning_failed(e),
            Err(e) => return self.pruning_failed(e),
        };
        if pruned.events > 0 {
            // The pruned events are each repository's oldest: the views lose exactly the
            // ones before the cutoff, and the slice says how many each stored, without
            // reading the store again.
            for w in &mut self.planner.repos {
                w.view.forget_before(pass.cutoff);
                let key = w.view.name.key();
                if let Some((_, n)) = pruned.by_repo.iter().find(|(k, _)| *k == key) {
                    w.view.state.events_stored = w.view.state.events_stored.saturating_sub(*n);
                }
            }
            self.publish_snapshot();
        }
        let total = pass.removed + pruned.events;
        if pruned.events == PRUNE_SLICE_EVENTS as u64 {
            self.pruning = Some(Pruning {
                removed: total,
                ..pass
            });
            return true;
        }
        self.pruning = None;
        if total > 0 {
            info!("pruned {total} event(s) created before {}", pass.cutoff);
        }
        false
    }

    fn pruning_failed(&mut self, e: impl std::fmt::Display) -> bool {
        warn!("pruning failed: {e}");
        self.pruning = None;
        false
    }

    fn publish_snapshot(&mut self) {
        let now = Utc::now();
        let p = &self.planner;
        let snapshot = Snapshot {
            taken_at: now,
            config_path: self.config.path.clone(),
            window: self.config.window,
            max_repositories: self.config.max_repositories,
            authenticated: p.authenticated,
            rate_limit: p.rate_limit.at(now),
            requests: p.counters,
            fetcher: p.shown_state(now),
            repos: p.views(now),
            config_error: self.config_error.clone(),
            labels: Arc::new(self.config.labels.clone()),
            stats_cache: Default::default(),
        };
        snapshot.keep_figures_of(&self.publish.borrow());
        self.publish.send_replace(Arc::new(snapshot));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_poll_brought_forward_by_a_wall_clock_step_still_waits_its_interval() {
        let mut spacing = Spacing::default();
        let repo = RepoName::parse("o/r").unwrap();
        let t0 = Instant::now();
        spacing.polled(repo.clone(), t0, Duration::from_secs(5));
        // The wall clock jumped 3 s ahead: the schedule says the poll is due in 2 s.
        let secs = Duration::from_secs;
        assert_eq!(spacing.start_at(&repo, t0, secs(2)), t0 + secs(5));
        assert_eq!(spacing.start_at(&repo, t0, secs(9)), t0 + secs(9));
        let other = RepoName::parse("o/other").unwrap();
        assert_eq!(spacing.start_at(&other, t0, secs(2)), t0 + secs(2));
        spacing.keep(std::slice::from_ref(&other));
        assert_eq!(spacing.start_at(&repo, t0, secs(2)), t0 + secs(2));
    }
}
