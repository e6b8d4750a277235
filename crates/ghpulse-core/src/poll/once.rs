//! One poll of one repository: page 1 with its ETag, further pages until a stored event or
//! 300 events, then one store transaction for the events, the gap (if any) and the new state.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tracing::debug;

use crate::github::bounds;
use crate::github::client::{self, Answer, FetchError, Outcome, ResponseMeta, Skipped, Transport};
use crate::github::event::EventMeta;
use crate::github::rate_limit::{RateLimit, RequestCounters};
use crate::github::repo_name::RepoName;
use crate::poll::schedule::{self, DEFAULT_POLL_INTERVAL};
use crate::stats::figures::Gap;
use crate::store::{PollRecord, ReadOn, RepoState, RepoStatus, Store, StoreError};

/// GitHub keeps at most this many events of a repository's timeline.
pub const TIMELINE_CAP: usize = 300;
/// How many more times a failed page is asked for within the poll, before the poll is cut.
const PAGE_RETRIES: u32 = 3;
/// The first wait before asking again; it doubles with each retry.
const FIRST_RETRY: Duration = Duration::from_secs(1);
/// A `retry-after` this long or longer is not waited out within the poll: the poll is cut
/// and the repository backs off.
const RETRY_AFTER_IN_POLL: Duration = Duration::from_secs(60);
/// Events older than this are not in the timeline any more, so their absence is no gap.
const TIMELINE_DAYS: i64 = 30;

pub struct PollInput {
    pub repo: RepoName,
    pub state: RepoState,
    /// The latest figures before this poll; each answer updates them.
    pub rate_limit: RateLimit,
    pub counters: RequestCounters,
    pub events_per_hour: f64,
    pub max_events: usize,
}

#[derive(Debug)]
pub struct PollOutcome {
    pub repo: RepoName,
    pub state: RepoState,
    pub new_events: u64,
    pub pages: u32,
    pub rate_limit: RateLimit,
    pub counters: RequestCounters,
    pub last_meta: Option<ResponseMeta>,
    /// The error that ended the poll, if any (events before it are still committed).
    pub error: Option<FetchError>,
    pub gap: Option<Gap>,
    pub skipped: Vec<Skipped>,
    /// Set when GitHub answered from another URL (a renamed or moved repository).
    pub moved_to: Option<String>,
    /// The repository's newest events and gaps, re-read when this poll changed them.
    pub refreshed: Option<(Vec<EventMeta>, Vec<Gap>)>,
}

/// Reads a repository's new events and commits them with the poll's state in one
/// transaction. Never fails: a store error is the poll's error, backed off like any other.
pub async fn poll_once(
    client: &impl Transport,
    store: &Store,
    input: PollInput,
    clock: impl Fn() -> DateTime<Utc>,
) -> PollOutcome {
    let mut read = read_pages(client, store, &input, &clock).await;
    let now = clock();
    let gap = match (&read.error, read.interrupted) {
        (None, false) => find_gap(store, &input, &read, now).await,
        _ => None,
    };
    let mut state = next_state(
        &input.state,
        now,
        read.last_meta.as_ref(),
        read.error.as_ref(),
        read.new_etag.take(),
        read.not_modified,
    );
    state.read_on = owed_read(&input.state, &read, true);
    let committed = blocking(store, {
        let (key, max_events) = (input.repo.key(), input.max_events);
        let events = std::mem::take(&mut read.collected);
        let (gap, state, rate_limit, counters) = (
            gap.clone(),
            state.clone(),
            read.rate_limit.clone(),
            read.counters,
        );
        move |s| {
            let changed_gaps = gap.is_some();
            let added = s.record_poll(PollRecord {
                repo_key: &key,
                events: &events,
                gap,
                state,
                rate_limit: Some(rate_limit),
                counters,
            })?;
            let refreshed = if added > 0 || changed_gaps {
                Some((s.recent_events(&key, max_events, None)?, s.gaps(&key)?))
            } else {
                None
            };
            Ok((added, refreshed))
        }
    })
    .await;
    let (new_events, refreshed, gap) = match committed {
        Ok((added, refreshed)) => (added, refreshed, gap),
        Err(e) => {
            // Nothing of this poll was kept, so the next one must read the same pages again:
            // the previous ETag and read-on point stay, and the failure backs off.
            let error = FetchError::Store(e.to_string());
            state = next_state(&input.state, now, None, Some(&error), None, false);
            state.read_on = owed_read(&input.state, &read, false);
            read.error = Some(error);
            (0, None, None)
        }
    };
    state.events_stored += new_events;
    PollOutcome {
        repo: input.repo,
        state,
        new_events,
        pages: read.requests,
        rate_limit: read.rate_limit,
        counters: read.counters,
        last_meta: read.last_meta,
        error: read.error,
        gap,
        skipped: read.skipped,
        moved_to: read.moved_to,
        refreshed,
    }
}

/// Where the next polls must read to (SPEC section 4: "read on"), after this poll: the
/// point of the first interruption while one is owed; the end of the timeline (or an event
/// stored before) while no first read has completed, failed or cut; nothing once a read
/// has gone through. `committed` is false when the store kept nothing of this poll.
fn owed_read(prev: &RepoState, read: &Pages, committed: bool) -> Option<ReadOn> {
    let here = ReadOn {
        before_id: read.before_id,
    };
    let first_read = prev.last_polled_at.is_none();
    if !committed || read.pages_read == 0 {
        prev.read_on.or(first_read.then_some(here))
    } else if read.interrupted {
        // Keep the first interruption's point: events up to it are still unread.
        Some(prev.read_on.unwrap_or(here))
    } else {
        None
    }
}

/// What the pages of one poll brought, before anything is committed.
struct Pages {
    collected: Vec<(EventMeta, String)>,
    skipped: Vec<Skipped>,
    /// Requests sent; `pages_read` of them brought a page of events.
    requests: u32,
    pages_read: u32,
    /// A page held an event read by an earlier poll: nothing older is new.
    reached_known: bool,
    /// Pages were read but the rest was not (an error or a spent budget after page 1).
    interrupted: bool,
    /// The newest event id stored before this poll (or before the interrupted poll it resumes).
    before_id: Option<u64>,
    new_etag: Option<String>,
    not_modified: bool,
    error: Option<FetchError>,
    last_meta: Option<ResponseMeta>,
    moved_to: Option<String>,
    rate_limit: RateLimit,
    counters: RequestCounters,
}

impl Pages {
    fn new(before_id: Option<u64>, input: &PollInput) -> Pages {
        Pages {
            collected: Vec::new(),
            skipped: Vec::new(),
            requests: 0,
            pages_read: 0,
            reached_known: false,
            interrupted: false,
            before_id,
            new_etag: None,
            not_modified: false,
            error: None,
            last_meta: None,
            moved_to: None,
            rate_limit: input.rate_limit.clone(),
            counters: input.counters,
        }
    }

    /// One page: asked for again after a short wait while it fails in a way a retry can
    /// mend (SPEC section 4), one request at a time, each counted like any other.
    async fn ask(&mut self, client: &impl Transport, url: &str, etag: Option<&str>) -> Outcome {
        let mut retries = 0;
        loop {
            let Answer { meta, outcome } = client.get(url, etag).await;
            self.count(meta, &outcome);
            let wait = match &outcome {
                Outcome::Failed(e) if retries < PAGE_RETRIES && self.rate_limit.remaining > 0 => {
                    let retry_after = self.last_meta.as_ref().and_then(|m| m.retry_after);
                    retry_wait(e, retries, retry_after, fastrand::f64())
                }
                _ => None,
            };
            let Some(wait) = wait else { return outcome };
            debug!("{url}: {outcome:?}; asking again in {wait:?}");
            client.pause(wait).await;
            retries += 1;
        }
    }

    fn count(&mut self, meta: Option<ResponseMeta>, outcome: &Outcome) {
        self.requests += 1;
        self.counters.total += 1;
        match outcome {
            Outcome::NotModified => self.counters.not_modified += 1,
            Outcome::Page(_) => self.counters.ok += 1,
            Outcome::Failed(FetchError::RateLimited(_)) => self.counters.rate_limited += 1,
            Outcome::Failed(_) => self.counters.errors += 1,
        }
        if let Some(rl) = meta.as_ref().and_then(|m| m.rate_limit.clone()) {
            self.rate_limit = rl;
        }
        self.last_meta = meta;
    }

    /// Ends the reading on an error; the pages read so far are kept and the rest is owed.
    fn fail(&mut self, error: FetchError) {
        self.interrupted = self.pages_read > 0;
        self.error = Some(error);
    }
}

/// Page 1 (with the ETag unless an interrupted poll is being resumed), then further pages
/// until one holds an event read before, 300 events, the end of the timeline, an error or a
/// spent budget. `Link` targets off the API's origin are refused, never requested.
async fn read_pages(
    client: &impl Transport,
    store: &Store,
    input: &PollInput,
    clock: &impl Fn() -> DateTime<Utc>,
) -> Pages {
    let key = input.repo.key();
    let first_url = client.first_page_url(&input.repo);
    let before_id = match input.state.read_on {
        Some(r) => Ok(r.before_id),
        None => {
            let key = key.clone();
            blocking(store, move |s| s.newest_id(&key)).await
        }
    };
    let mut read = match before_id {
        Ok(before_id) => Pages::new(before_id, input),
        Err(e) => {
            let mut read = Pages::new(None, input);
            read.fail(FetchError::Store(e.to_string()));
            return read;
        }
    };
    let mut seen = 0;
    let mut url = first_url.clone();
    loop {
        let etag = match (read.pages_read, input.state.read_on) {
            (0, None) => input.state.etag.as_deref(),
            _ => None,
        };
        let mut page = match read.ask(client, &url, etag).await {
            Outcome::NotModified => {
                read.not_modified = true;
                break;
            }
            Outcome::Failed(e) => {
                read.fail(e);
                break;
            }
            Outcome::Page(p) => p,
        };
        let arrived = clock();
        for (meta, _) in &mut page.events {
            meta.created_at = bounds::counted_at(meta.created_at, arrived);
        }
        let ids: Vec<u64> = page.events.iter().map(|(m, _)| m.id).collect();
        let known = {
            let key = key.clone();
            blocking(store, move |s| s.known_ids(&key, &ids)).await
        };
        let known = match known {
            Ok(known) => known,
            Err(e) => {
                read.fail(FetchError::Store(e.to_string()));
                break;
            }
        };
        read.pages_read += 1;
        if read.pages_read == 1 {
            read.new_etag = page.etag.clone();
            if page.final_url != first_url {
                read.moved_to = Some(page.final_url.clone());
            }
        }
        read.skipped.extend(page.skipped);
        seen += page.events.len();
        read.reached_known = page
            .events
            .iter()
            .any(|(e, _)| before_id_reached(read.before_id, e.id));
        read.collected.extend(
            page.events
                .into_iter()
                .zip(known)
                .filter(|(_, k)| !k)
                .map(|(e, _)| e),
        );
        let Some(next) = page.next else { break };
        if read.reached_known || seen >= TIMELINE_CAP {
            break;
        }
        if read.rate_limit.remaining == 0 {
            read.interrupted = true;
            break;
        }
        if !client::same_origin(&next, client.api_url()) {
            // Never sent: the token must not reach another host, nor its answer the store.
            read.fail(FetchError::ForeignOrigin(client::origin_of(&next)));
            break;
        }
        url = next;
    }
    read
}

/// The wait before asking again for a page that failed with `error` after `retries` retries,
/// or `None` when asking again cannot help: about 1 s, 2 s, 4 s (±25 % so that clients do
/// not retry in step), or the `retry-after` the answer gave when that is under a minute.
/// A rate limit is never retried within the poll: its own rules apply. `unit` is a random
/// number in [0, 1).
fn retry_wait(
    error: &FetchError,
    retries: u32,
    retry_after: Option<Duration>,
    unit: f64,
) -> Option<Duration> {
    let mendable = matches!(
        error,
        FetchError::Server(_)
            | FetchError::Timeout
            | FetchError::Network(_)
            | FetchError::Malformed(_)
    );
    if !mendable {
        return None;
    }
    match retry_after {
        Some(wait) if wait < RETRY_AFTER_IN_POLL => Some(wait),
        Some(_) => None,
        None => Some(
            FIRST_RETRY
                .saturating_mul(1 << retries.min(16))
                .mul_f64(0.75 + 0.5 * unit.clamp(0.0, 1.0)),
        ),
    }
}

/// Whether an event of a timeline was published no later than the newest one stored before:
/// ids grow with publication, so everything listed after it was read before.
fn before_id_reached(before_id: Option<u64>, id: u64) -> bool {
    before_id.is_some_and(|b| id <= b)
}

/// A completed poll that met no event read before, while the store had events of R young
/// enough to still be in the timeline: events between them may be missing.
async fn find_gap(
    store: &Store,
    input: &PollInput,
    read: &Pages,
    now: DateTime<Utc>,
) -> Option<Gap> {
    if read.reached_known || read.not_modified || read.collected.is_empty() {
        return None;
    }
    let before_id = read.before_id?;
    let key = input.repo.key();
    let newest_before = blocking(store, move |s| s.event_created_at(&key, before_id))
        .await
        .ok()
        .flatten()?;
    if newest_before <= bounds::shifted(now, -TimeDelta::days(TIMELINE_DAYS)) {
        return None;
    }
    let oldest_seen = read
        .collected
        .iter()
        .map(|(e, _)| e.created_at)
        .min()
        .unwrap_or(newest_before);
    let hours = (oldest_seen - newest_before).num_seconds().max(0) as f64 / 3600.0;
    Some(Gap {
        detected_at: now,
        from: newest_before,
        to: oldest_seen.max(newest_before),
        estimated_missing: (hours * input.events_per_hour).ceil().max(1.0) as u64,
    })
}

/// The repository's state after a poll; `events_stored` is filled in by the store.
fn next_state(
    prev: &RepoState,
    now: DateTime<Utc>,
    meta: Option<&ResponseMeta>,
    error: Option<&FetchError>,
    new_etag: Option<String>,
    not_modified: bool,
) -> RepoState {
    let poll_interval = meta
        .filter(|m| m.status == 200 || m.status == 304)
        .and_then(|m| m.poll_interval)
        .or(prev.poll_interval_secs.map(Duration::from_secs))
        .unwrap_or(DEFAULT_POLL_INTERVAL);
    let mut state = RepoState {
        etag: if not_modified {
            prev.etag.clone()
        } else {
            new_etag.or(prev.etag.clone())
        },
        last_polled_at: Some(now),
        poll_interval_secs: Some(poll_interval.as_secs()),
        events_stored: prev.events_stored,
        ..RepoState::default()
    };
    let backoff = match error {
        None => {
            state.status = RepoStatus::Ok;
            None
        }
        Some(e) => {
            state.last_error = Some(e.to_string());
            state.consecutive_errors = prev.consecutive_errors.saturating_add(1);
            let (status, until) = match e {
                FetchError::NotFound(_) => (
                    RepoStatus::NotFound,
                    bounds::after(now, schedule::NOT_FOUND_RETRY),
                ),
                FetchError::Unauthorized => (
                    RepoStatus::TokenRejected,
                    bounds::after(now, schedule::TOKEN_REJECTED_RETRY),
                ),
                FetchError::RateLimited(_) => {
                    let budget =
                        meta.and_then(|m| m.rate_limit.as_ref())
                            .map(|r| schedule::Budget {
                                remaining: r.remaining,
                                reset_at: r.reset_at,
                                limit: r.limit,
                                // The wait reads only what is remaining and when it resets.
                                authenticated: false,
                            });
                    let until = schedule::rate_limited_until(
                        now,
                        meta.and_then(|m| m.retry_after),
                        budget,
                        state.consecutive_errors,
                    );
                    (RepoStatus::RateLimited, until)
                }
                _ => {
                    let backoff =
                        schedule::error_backoff(state.consecutive_errors, fastrand::f64());
                    // A server that says when to come back (a 503's retry-after) is obeyed.
                    let asked = meta.and_then(|m| m.retry_after).unwrap_or_default();
                    (RepoStatus::Backoff, bounds::after(now, backoff.max(asked)))
                }
            };
            state.status = status;
            Some(until)
        }
    };
    state.backoff_until = backoff;
    let by_interval = bounds::after(now, poll_interval);
    state.next_poll_at = Some(backoff.map_or(by_interval, |b| b.max(by_interval)));
    state
}

/// redb is synchronous: run store calls off the async executor.
async fn blocking<T: Send + 'static>(
    store: &Store,
    f: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    let store = store.clone();
    let path = store.path().to_path_buf();
    tokio::task::spawn_blocking(move || f(&store))
        .await
        .map_err(|e| StoreError::db(format!("store task failed: {e}")).in_file(&path))?
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::Mutex;

    use super::*;
    use crate::github::client::EventsPage;

    /// Answers from a script, recording what was asked and the waits between (which it
    /// does not sleep).
    #[derive(Default)]
    struct Scripted {
        answers: Mutex<VecDeque<Answer>>,
        asked: Mutex<Vec<(String, Option<String>)>>,
        paused: Mutex<Vec<Duration>>,
    }

    impl Transport for Scripted {
        fn api_url(&self) -> &str {
            "https://gh"
        }
        fn get(&self, url: &str, etag: Option<&str>) -> impl Future<Output = Answer> + Send {
            self.asked
                .lock()
                .unwrap()
                .push((url.to_string(), etag.map(str::to_string)));
            let answer = self
                .answers
                .lock()
                .unwrap()
                .pop_front()
                .expect("an answer is scripted");
            std::future::ready(answer)
        }
        fn pause(&self, wait: Duration) -> impl Future<Output = ()> + Send {
            self.paused.lock().unwrap().push(wait);
            std::future::ready(())
        }
    }

    fn now() -> DateTime<Utc> {
        "2026-11-22T12:00:00Z".parse().unwrap()
    }

    fn meta(status: u16, remaining: u32) -> Option<ResponseMeta> {
        Some(ResponseMeta {
            status,
            rate_limit: Some(RateLimit {
                limit: 5000,
                remaining,
                used: 5000 - remaining,
                reset_at: now() + TimeDelta::hours(1),
                assumed: false,
            }),
            poll_interval: Some(Duration::from_secs(60)),
            ..Default::default()
        })
    }

    /// A page of events with ids `ids`, one minute apart, newest first.
    fn page(
        ids: std::ops::RangeInclusive<u64>,
        next: Option<&str>,
        etag: &str,
        remaining: u32,
    ) -> Answer {
        let events = ids
            .rev()
            .map(|id| {
                let m = EventMeta {
                    id,
                    event_type: "PushEvent".into(),
                    created_at: now() - TimeDelta::minutes(10_000 - id as i64),
                    actor: "a".into(),
                    action: None,
                };
                let raw = format!(
                    "{{\"id\":\"{id}\",\"created_at\":\"{}\"}}",
                    m.created_at.to_rfc3339()
                );
                (m, raw)
            })
            .collect();
        Answer {
            meta: meta(200, remaining),
            outcome: Outcome::Page(EventsPage {
                events,
                skipped: vec![],
                next: next.map(str::to_string),
                etag: Some(etag.into()),
                final_url: "https://gh/repos/o/r/events?per_page=100".into(),
            }),
        }
    }

    fn failed(status: u16, e: FetchError) -> Answer {
        Answer {
            meta: meta(status, 4000),
            outcome: Outcome::Failed(e),
        }
    }

    /// The same failure for the first ask and every retry: the page is lost to this poll.
    fn failed_every_time(status: u16, e: FetchError) -> Vec<Answer> {
        (0..=PAGE_RETRIES)
            .map(|_| failed(status, e.clone()))
            .collect()
    }

    fn pauses(gh: &Scripted) -> Vec<Duration> {
        gh.paused.lock().unwrap().clone()
    }

    /// Each retry waits about 1, 2, then 4 s (±25 %).
    fn assert_backs_off(waits: &[Duration]) {
        for (wait, about) in waits.iter().zip([1.0, 2.0, 4.0]) {
            let secs = wait.as_secs_f64();
            assert!((about * 0.75..=about * 1.25).contains(&secs), "{waits:?}");
        }
    }

    async fn run(gh: &Scripted, store: &Store, state: RepoState) -> PollOutcome {
        let input = PollInput {
            repo: RepoName::parse("o/r").unwrap(),
            state,
            rate_limit: RateLimit::assumed(true, now()),
            counters: RequestCounters::default(),
            events_per_hour: 6.0,
            max_events: 500,
        };
        poll_once(gh, store, input, now).await
    }

    fn script(answers: Vec<Answer>) -> Scripted {
        Scripted {
            answers: Mutex::new(answers.into()),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn a_first_read_follows_links_up_to_300_events() {
        let store = Store::in_memory().unwrap();
        let gh = script(vec![
            page(
                201..=300,
                Some("https://gh/repositories/1/events?page=2"),
                "W/\"p1\"",
                4999,
            ),
            page(
                101..=200,
                Some("https://gh/repositories/1/events?page=3"),
                "W/\"p2\"",
                4998,
            ),
            page(
                1..=100,
                Some("https://gh/repositories/1/events?page=4"),
                "W/\"p3\"",
                4997,
            ),
        ]);
        let out = run(&gh, &store, RepoState::default()).await;
        assert_eq!(
            (out.new_events, out.pages, out.gap.is_none()),
            (300, 3, true)
        );
        let asked = gh.asked.lock().unwrap().clone();
        assert_eq!(
            asked[1].0, "https://gh/repositories/1/events?page=2",
            "the Link target, as given"
        );
        assert!(asked.iter().all(|(_, etag)| etag.is_none()));
        assert_eq!(out.state.etag.as_deref(), Some("W/\"p1\""), "page 1's ETag");
        assert_eq!(
            out.counters,
            RequestCounters {
                total: 3,
                ok: 3,
                ..Default::default()
            }
        );
        assert_eq!(out.rate_limit.remaining, 4997);
        assert_eq!(out.refreshed.unwrap().0.len(), 300);
        assert_eq!(
            out.state.events_stored, 300,
            "the view's count follows the store's"
        );
        assert_eq!(store.repo_state("o/r").unwrap().unwrap().events_stored, 300);
    }

    #[tokio::test]
    async fn paging_stops_at_a_stored_event_and_304_keeps_the_etag() {
        let store = Store::in_memory().unwrap();
        let gh = script(vec![page(1..=50, None, "W/\"a\"", 4999)]);
        let first = run(&gh, &store, RepoState::default()).await;
        let gh = script(vec![
            page(
                31..=130,
                Some("https://gh/repositories/1/events?page=2"),
                "W/\"b\"",
                4998,
            ),
            Answer {
                meta: meta(304, 4998),
                outcome: Outcome::NotModified,
            },
        ]);
        let second = run(&gh, &store, first.state).await;
        assert_eq!(
            (second.new_events, second.pages),
            (80, 1),
            "page 1 held known events: no page 2"
        );
        assert_eq!(
            gh.asked.lock().unwrap()[0].1.as_deref(),
            Some("W/\"a\""),
            "the stored ETag, verbatim"
        );
        let third = run(&gh, &store, second.state).await;
        assert_eq!(
            (third.new_events, third.state.etag.as_deref()),
            (0, Some("W/\"b\""))
        );
        assert_eq!(third.counters.not_modified, 1);
    }

    #[tokio::test]
    async fn a_poll_that_meets_no_stored_event_records_a_gap() {
        let store = Store::in_memory().unwrap();
        let gh = script(vec![page(1..=10, None, "W/\"a\"", 4999)]);
        let first = run(&gh, &store, RepoState::default()).await;
        assert!(first.gap.is_none(), "a first read is no gap");
        let gh = script(vec![
            page(501..=600, Some("https://gh/p2"), "W/\"b\"", 4998),
            page(401..=500, Some("https://gh/p3"), "W/\"c\"", 4997),
            page(301..=400, None, "W/\"d\"", 4996),
        ]);
        let out = run(&gh, &store, first.state).await;
        let gap = out.gap.expect("gap recorded");
        assert_eq!(
            gap.from,
            now() - TimeDelta::minutes(10_000 - 10),
            "newest stored event"
        );
        assert_eq!(
            gap.to,
            now() - TimeDelta::minutes(10_000 - 301),
            "oldest event seen"
        );
        assert_eq!(store.gaps("o/r").unwrap(), [gap]);
    }

    #[tokio::test]
    async fn a_spent_budget_stops_paging() {
        let store = Store::in_memory().unwrap();
        let gh = script(vec![page(101..=200, Some("https://gh/p2"), "W/\"a\"", 0)]);
        let out = run(&gh, &store, RepoState::default()).await;
        assert_eq!((out.pages, out.new_events), (1, 100));
    }

    #[tokio::test]
    async fn an_error_mid_paging_keeps_what_arrived() {
        let store = Store::in_memory().unwrap();
        let mut answers = vec![page(101..=200, Some("https://gh/p2"), "W/\"a\"", 4999)];
        answers.extend(failed_every_time(502, FetchError::Server(502)));
        let gh = script(answers);
        let out = run(&gh, &store, RepoState::default()).await;
        assert_eq!(out.new_events, 100);
        assert_eq!(gh.asked.lock().unwrap().len(), 5, "page 2 asked four times");
        let waits = pauses(&gh);
        assert_eq!(waits.len(), 3);
        assert_backs_off(&waits);
        assert_eq!(out.state.status, RepoStatus::Backoff);
        assert!(out.state.backoff_until.unwrap() >= now() + TimeDelta::seconds(5));
        assert!(
            out.state.next_poll_at.unwrap() >= now() + TimeDelta::seconds(60),
            "never sooner than the poll interval"
        );
        assert_eq!(
            out.counters,
            RequestCounters {
                total: 5,
                ok: 1,
                errors: 4,
                ..Default::default()
            },
            "every retry is a counted request"
        );
    }

    #[tokio::test]
    async fn a_page_that_fails_is_asked_again_and_the_poll_goes_on() {
        let store = Store::in_memory().unwrap();
        let gh = script(vec![
            page(201..=300, Some("https://gh/p2"), "W/\"p1\"", 4999),
            failed(502, FetchError::Server(502)),
            Answer {
                meta: None,
                outcome: Outcome::Failed(FetchError::Network("connection reset".into())),
            },
            page(101..=200, Some("https://gh/p3"), "W/\"p2\"", 4996),
            failed(200, FetchError::Malformed("truncated".into())),
            page(1..=100, None, "W/\"p3\"", 4994),
        ]);
        let out = run(&gh, &store, RepoState::default()).await;
        assert_eq!((out.new_events, out.error), (300, None));
        assert_eq!(out.state.read_on, None, "nothing owed");
        let asked: Vec<String> = gh
            .asked
            .lock()
            .unwrap()
            .iter()
            .map(|a| a.0.clone())
            .collect();
        assert_eq!(
            asked[1..],
            [
                "https://gh/p2",
                "https://gh/p2",
                "https://gh/p2",
                "https://gh/p3",
                "https://gh/p3"
            ]
        );
        let waits = pauses(&gh);
        assert_backs_off(&waits[..2]);
        assert_backs_off(&waits[2..]);
        assert_eq!(
            (out.counters.total, out.counters.ok, out.counters.errors),
            (6, 3, 3)
        );
    }

    #[tokio::test]
    async fn a_retry_after_under_a_minute_is_the_wait_and_a_longer_one_cuts_the_poll() {
        let unavailable = |retry_after: u64| {
            let mut a = failed(503, FetchError::Server(503));
            if let Some(m) = a.meta.as_mut() {
                m.retry_after = Some(Duration::from_secs(retry_after));
            }
            a
        };
        let store = Store::in_memory().unwrap();
        let gh = script(vec![unavailable(10), page(1..=10, None, "W/\"a\"", 4998)]);
        let out = run(&gh, &store, RepoState::default()).await;
        assert_eq!(
            (out.new_events, pauses(&gh)),
            (10, vec![Duration::from_secs(10)])
        );

        let store = Store::in_memory().unwrap();
        let gh = script(vec![unavailable(120)]);
        let out = run(&gh, &store, RepoState::default()).await;
        assert!(pauses(&gh).is_empty(), "not waited out within the poll");
        assert!(out.state.backoff_until.unwrap() >= now() + TimeDelta::seconds(120));
    }

    #[tokio::test]
    async fn a_rate_limit_or_a_spent_budget_is_never_retried_within_the_poll() {
        let store = Store::in_memory().unwrap();
        let gh = script(vec![
            page(201..=300, Some("https://gh/p2"), "W/\"p1\"", 4999),
            failed(429, FetchError::RateLimited(429)),
        ]);
        let out = run(&gh, &store, RepoState::default()).await;
        assert_eq!(gh.asked.lock().unwrap().len(), 2);
        assert_eq!(out.error, Some(FetchError::RateLimited(429)));

        let store = Store::in_memory().unwrap();
        let mut spent = failed(502, FetchError::Server(502));
        spent.meta = meta(502, 0);
        let gh = script(vec![spent]);
        run(&gh, &store, RepoState::default()).await;
        assert_eq!(
            gh.asked.lock().unwrap().len(),
            1,
            "no budget left to retry with"
        );

        let store = Store::in_memory().unwrap();
        let gh = script(vec![failed(404, FetchError::NotFound(404))]);
        run(&gh, &store, RepoState::default()).await;
        assert!(pauses(&gh).is_empty(), "a retry cannot mend a 404");
    }

    #[tokio::test]
    async fn a_first_read_that_fails_is_owed_like_a_cut_one() {
        let store = Store::in_memory().unwrap();
        let gh = script(failed_every_time(502, FetchError::Server(502)));
        let failed_first = run(&gh, &store, RepoState::default()).await;
        assert_eq!(
            failed_first.state.read_on,
            Some(ReadOn { before_id: None }),
            "catching up: nothing of the timeline is stored yet"
        );
        let gh = script(failed_every_time(502, FetchError::Server(502)));
        let again = run(&gh, &store, failed_first.state).await;
        assert_eq!(again.state.read_on, Some(ReadOn { before_id: None }));
        let gh = script(vec![
            page(201..=300, Some("https://gh/p2"), "W/\"p1\"", 4990),
            page(101..=200, Some("https://gh/p3"), "W/\"p2\"", 4989),
            page(1..=100, None, "W/\"p3\"", 4988),
        ]);
        let done = run(&gh, &store, again.state).await;
        assert_eq!((done.new_events, done.state.read_on), (300, None));

        // A repository read once before that fails on page 1 owes nothing: the next poll
        // reads from page 1 to the first stored event anyway.
        let gh = script(failed_every_time(502, FetchError::Server(502)));
        let later = run(&gh, &store, done.state).await;
        assert_eq!(later.state.read_on, None);
    }

    #[tokio::test]
    async fn a_poll_cut_after_page_1_is_read_on_by_the_next_whatever_the_etag() {
        let store = Store::in_memory().unwrap();
        let gh = script(vec![page(1..=50, None, "W/\"a\"", 4999)]);
        let first = run(&gh, &store, RepoState::default()).await;
        // 250 new events (51..=300): page 1 arrives, page 2 fails.
        let mut answers = vec![page(201..=300, Some("https://gh/p2"), "W/\"b\"", 4998)];
        answers.extend(failed_every_time(500, FetchError::Server(500)));
        let gh = script(answers);
        let cut = run(&gh, &store, first.state).await;
        assert_eq!(cut.new_events, 100);
        assert!(cut.gap.is_none(), "an interrupted poll proves no gap");
        assert_eq!(
            cut.state.read_on,
            Some(ReadOn {
                before_id: Some(50)
            })
        );
        // The next poll sends no ETag (a 304 would hide the unread pages) and reads on past
        // the events the cut poll stored, down to event 50.
        let gh = script(vec![
            page(201..=300, Some("https://gh/p2"), "W/\"b\"", 4997),
            page(101..=200, Some("https://gh/p3"), "W/\"c\"", 4996),
            page(1..=100, None, "W/\"d\"", 4995),
        ]);
        let resumed = run(&gh, &store, cut.state).await;
        assert_eq!(gh.asked.lock().unwrap()[0].1, None, "no If-None-Match");
        assert_eq!((resumed.new_events, resumed.pages), (150, 3));
        assert!(resumed.gap.is_none());
        assert_eq!(resumed.state.read_on, None, "done: back to ETags");
        assert_eq!(resumed.state.etag.as_deref(), Some("W/\"b\""));
        assert_eq!(store.repo_state("o/r").unwrap().unwrap().events_stored, 300);
    }

    #[tokio::test]
    async fn a_cut_that_fails_again_on_page_1_keeps_its_point() {
        let store = Store::in_memory().unwrap();
        let gh = script(vec![page(1..=50, None, "W/\"a\"", 4999)]);
        let first = run(&gh, &store, RepoState::default()).await;
        let gh = script(vec![
            page(201..=300, Some("https://gh/p2"), "W/\"b\"", 4998),
            failed(429, FetchError::RateLimited(429)),
        ]);
        let cut = run(&gh, &store, first.state).await;
        let gh = script(failed_every_time(502, FetchError::Server(502)));
        let again = run(&gh, &store, cut.state).await;
        assert_eq!(
            again.state.read_on,
            Some(ReadOn {
                before_id: Some(50)
            })
        );
        // Cut a second time on page 2: still the first cut's point, not event 300.
        let mut answers = vec![page(201..=300, Some("https://gh/p2"), "W/\"b\"", 4997)];
        answers.extend(failed_every_time(
            200,
            FetchError::Malformed("truncated".into()),
        ));
        let gh = script(answers);
        let twice = run(&gh, &store, again.state).await;
        assert_eq!(
            twice.state.read_on,
            Some(ReadOn {
                before_id: Some(50)
            })
        );
    }

    #[tokio::test]
    async fn a_spent_budget_mid_paging_is_a_cut_too() {
        let store = Store::in_memory().unwrap();
        let gh = script(vec![page(101..=200, Some("https://gh/p2"), "W/\"a\"", 0)]);
        let out = run(&gh, &store, RepoState::default()).await;
        assert_eq!(out.state.read_on, Some(ReadOn { before_id: None }));
    }

    #[tokio::test]
    async fn a_link_to_another_origin_is_never_requested() {
        let store = Store::in_memory().unwrap();
        let gh = script(vec![page(
            101..=200,
            Some("https://elsewhere.example/repositories/1/events?page=2"),
            "W/\"a\"",
            4999,
        )]);
        let out = run(&gh, &store, RepoState::default()).await;
        assert_eq!(gh.asked.lock().unwrap().len(), 1, "page 2 never requested");
        assert_eq!(
            out.error,
            Some(FetchError::ForeignOrigin(
                "https://elsewhere.example".into()
            ))
        );
        assert_eq!(out.state.status, RepoStatus::Backoff);
        assert_eq!(out.new_events, 100, "page 1 came from the API and is kept");
        assert_eq!(out.state.read_on, Some(ReadOn { before_id: None }));
    }

    #[tokio::test]
    async fn an_event_from_the_far_future_is_kept_and_counts_at_its_arrival() {
        let store = Store::in_memory().unwrap();
        let mut answer = page(1..=3, None, "W/\"a\"", 4999);
        let Outcome::Page(p) = &mut answer.outcome else {
            unreachable!()
        };
        p.events[0].0.created_at = "9999-12-31T23:59:59Z".parse().unwrap();
        let out = run(&script(vec![answer]), &store, RepoState::default()).await;
        assert_eq!(out.new_events, 3);
        let stored = store.recent_events("o/r", 10, None).unwrap();
        assert_eq!(stored[0].id, 3);
        assert_eq!(stored[0].created_at, now(), "counted when it arrived");
        assert!(
            store.raw_event("o/r", 3).unwrap().is_some(),
            "its JSON is kept as served"
        );
        assert_eq!(
            store.prune(now() + TimeDelta::seconds(1)).unwrap(),
            3,
            "and it is pruned like any other"
        );
    }

    #[tokio::test]
    async fn a_broken_answer_never_moves_the_etag() {
        let store = Store::in_memory().unwrap();
        let prev = RepoState {
            etag: Some("W/\"old\"".into()),
            poll_interval_secs: Some(60),
            ..Default::default()
        };
        let gh = script(failed_every_time(
            200,
            FetchError::Malformed("not an array".into()),
        ));
        let out = run(&gh, &store, prev).await;
        assert_eq!(out.state.etag.as_deref(), Some("W/\"old\""));
        assert_eq!(out.state.consecutive_errors, 1);
        assert_eq!(
            store.repo_state("o/r").unwrap().unwrap().etag.as_deref(),
            Some("W/\"old\"")
        );
    }

    #[tokio::test]
    async fn statuses_follow_the_error() {
        let timeouts = (0..=PAGE_RETRIES)
            .map(|_| Answer {
                meta: None,
                outcome: Outcome::Failed(FetchError::Timeout),
            })
            .collect();
        for (answers, status) in [
            (
                vec![failed(404, FetchError::NotFound(404))],
                RepoStatus::NotFound,
            ),
            (
                vec![failed(401, FetchError::Unauthorized)],
                RepoStatus::TokenRejected,
            ),
            (
                vec![failed(429, FetchError::RateLimited(429))],
                RepoStatus::RateLimited,
            ),
            (timeouts, RepoStatus::Backoff),
        ] {
            let store = Store::in_memory().unwrap();
            let out = run(&script(answers), &store, RepoState::default()).await;
            assert_eq!(out.state.status, status);
            assert!(
                out.state.next_poll_at.unwrap() >= now() + TimeDelta::seconds(60),
                "{status:?}"
            );
        }
    }
}
