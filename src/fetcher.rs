//! One poll of one repository: page 1 with its ETag, further pages until a stored event or
//! 300 events, then one store transaction for the events, the gap (if any) and the new state.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use crate::event::EventMeta;
use crate::github::{Answer, FetchError, Outcome, ResponseMeta, Transport};
use crate::ratelimit::{RateLimit, RequestCounters};
use crate::repo::RepoName;
use crate::scheduler::{self, DEFAULT_POLL_INTERVAL};
use crate::stats::Gap;
use crate::store::{PollRecord, RepoState, RepoStatus, Store, StoreError};

/// GitHub keeps at most this many events of a repository's timeline.
pub const TIMELINE_CAP: usize = 300;
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
    pub skipped: Vec<String>,
    /// Set when GitHub answered from another URL (a renamed or moved repository).
    pub moved_to: Option<String>,
    /// The repository's newest events and gaps, re-read when this poll changed them.
    pub refreshed: Option<(Vec<EventMeta>, Vec<Gap>)>,
}

pub async fn poll(
    client: &impl Transport,
    store: &Store,
    input: PollInput,
    clock: impl Fn() -> DateTime<Utc>,
) -> Result<PollOutcome, StoreError> {
    let key = input.repo.key();
    let first_url = client.first_page_url(&input.repo);
    let mut rate_limit = input.rate_limit;
    let mut counters = input.counters;
    let mut collected: Vec<(EventMeta, String)> = Vec::new();
    let mut skipped = Vec::new();
    let mut found_known = false;
    let mut new_etag = None;
    let mut not_modified = false;
    let mut error = None;
    let mut last_meta;
    let mut moved_to = None;
    let mut pages = 0;
    let mut url = first_url.clone();

    loop {
        let etag = if pages == 0 {
            input.state.etag.as_deref()
        } else {
            None
        };
        let Answer { meta, outcome } = client.get(&url, etag).await;
        pages += 1;
        counters.total += 1;
        if let Some(rl) = meta.as_ref().and_then(|m| m.rate_limit.clone()) {
            rate_limit = rl;
        }
        last_meta = meta;
        let page = match outcome {
            Outcome::NotModified => {
                counters.not_modified += 1;
                not_modified = true;
                break;
            }
            Outcome::Failed(e) => {
                if matches!(e, FetchError::RateLimited(_)) {
                    counters.rate_limited += 1;
                } else {
                    counters.errors += 1;
                }
                error = Some(e);
                break;
            }
            Outcome::Page(p) => p,
        };
        counters.ok += 1;
        if pages == 1 {
            new_etag = page.etag.clone();
            if page.final_url != first_url {
                moved_to = Some(page.final_url.clone());
            }
        }
        skipped.extend(page.skipped);
        let ids: Vec<u64> = page.events.iter().map(|(m, _)| m.id).collect();
        let known = blocking(store, {
            let key = key.clone();
            move |s| s.known_ids(&key, &ids)
        })
        .await?;
        found_known = known.iter().any(|&k| k);
        collected.extend(
            page.events
                .into_iter()
                .zip(known)
                .filter(|(_, k)| !k)
                .map(|(e, _)| e),
        );
        let budget_left = rate_limit.remaining > 0;
        match page.next {
            Some(next) if !found_known && collected.len() < TIMELINE_CAP && budget_left => {
                url = next
            }
            _ => break,
        }
    }

    let now = clock();
    let gap = if !found_known && !not_modified && !collected.is_empty() {
        let newest_stored = blocking(store, {
            let key = key.clone();
            move |s| s.recent_events(&key, 1, None)
        })
        .await?
        .into_iter()
        .next();
        newest_stored
            .filter(|e| e.created_at > now - TimeDelta::days(TIMELINE_DAYS))
            .map(|newest| {
                let oldest_seen = collected
                    .iter()
                    .map(|(e, _)| e.created_at)
                    .min()
                    .unwrap_or(newest.created_at);
                let hours = (oldest_seen - newest.created_at).num_seconds().max(0) as f64 / 3600.0;
                Gap {
                    detected_at: now,
                    from: newest.created_at,
                    to: oldest_seen.max(newest.created_at),
                    estimated_missing: (hours * input.events_per_hour).ceil().max(1.0) as u64,
                }
            })
    } else {
        None
    };

    let state = next_state(
        &input.state,
        now,
        last_meta.as_ref(),
        error.as_ref(),
        new_etag,
        not_modified,
    );
    let record_events = collected;
    let outcome_state = state.clone();
    let gap_for_store = gap.clone();
    let (rl, ctr, max_events) = (rate_limit.clone(), counters, input.max_events);
    let (new_events, refreshed) = blocking(store, move |s| {
        let changed_gaps = gap_for_store.is_some();
        let added = s.record_poll(PollRecord {
            repo_key: &key,
            events: &record_events,
            gap: gap_for_store,
            state: outcome_state,
            rate_limit: Some(rl),
            counters: ctr,
        })?;
        let refreshed = if added > 0 || changed_gaps {
            Some((s.recent_events(&key, max_events, None)?, s.gaps(&key)?))
        } else {
            None
        };
        Ok((added, refreshed))
    })
    .await?;
    Ok(PollOutcome {
        repo: input.repo,
        state,
        new_events,
        pages,
        rate_limit,
        counters,
        last_meta,
        error,
        gap,
        skipped,
        moved_to,
        refreshed,
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
            state.consecutive_errors = prev.consecutive_errors + 1;
            let (status, wait) = match e {
                FetchError::NotFound(_) => (RepoStatus::NotFound, scheduler::NOT_FOUND_RETRY),
                FetchError::Unauthorized => {
                    (RepoStatus::TokenRejected, scheduler::TOKEN_REJECTED_RETRY)
                }
                FetchError::RateLimited(_) => {
                    let budget =
                        meta.and_then(|m| m.rate_limit.as_ref())
                            .map(|r| scheduler::Budget {
                                remaining: r.remaining,
                                reset_at: r.reset_at,
                            });
                    let until = scheduler::rate_limited_until(
                        now,
                        meta.and_then(|m| m.retry_after),
                        budget,
                        state.consecutive_errors,
                    );
                    (
                        RepoStatus::RateLimited,
                        (until - now).to_std().unwrap_or_default(),
                    )
                }
                _ => (
                    RepoStatus::Backoff,
                    scheduler::error_backoff(
                        state.consecutive_errors,
                        poll_interval,
                        fastrand::f64(),
                    ),
                ),
            };
            state.status = status;
            Some(now + TimeDelta::from_std(wait).unwrap_or(TimeDelta::hours(1)))
        }
    };
    state.backoff_until = backoff;
    let by_interval = now + TimeDelta::from_std(poll_interval).unwrap_or_default();
    state.next_poll_at = Some(backoff.map_or(by_interval, |b| b.max(by_interval)));
    state
}

/// redb is synchronous: run store calls off the async executor.
async fn blocking<T: Send + 'static>(
    store: &Store,
    f: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || f(&store))
        .await
        .map_err(|e| StoreError::Db(format!("store task failed: {e}")))?
}
