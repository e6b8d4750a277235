//! The questions the views ask of a snapshot and the store it came from: section 3's and 3a's
//! figures, the events list and counts. The REST listener, the dashboard and `ghpulse stats`
//! all ask through a [`Query`], so their answers are the same. Reads of the store block: call
//! those off the async executor.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::config::load::LabelGroups;
use crate::feed::{EventEntry, WebOrigin};
use crate::github::event::EventMeta;
use crate::github::repo_name::RepoName;
use crate::live::{LiveEvent, StreamFilter};
use crate::snapshot::{RepoView, Snapshot};
use crate::stats::activity::{self, RepoActivity, RepoTypeCount, Scope};
use crate::stats::figures::RepoEvents;
use crate::stats::figures::{self, RepoReport, RepoStats, Selection, WindowReport};
use crate::stats::labels::{self, LabelsReport, RepoLabels};
use crate::stats::response::{self, RepoResponseTimes, ResponseTimesReport};
use crate::store::{Store, StoreError};

/// Offsets reach back at most the 30 days GitHub keeps.
pub const MAX_OFFSET_MINUTES: u64 = 30 * 24 * 60;

/// The body of `GET /api/stats` with section 3a's parameters: section 3's report, plus the
/// `combined` entry when asked for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatsAnswer {
    pub generated_at: DateTime<Utc>,
    pub window: WindowReport,
    pub repositories: Vec<RepoReport>,
    /// Only with `combined=true`: every watched repository together.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub combined: Option<RepoStats>,
}

#[derive(Clone, Debug, Default)]
pub struct StatsAsk<'a> {
    pub repo: Option<&'a RepoName>,
    /// Keep the first N repositories, in config order.
    pub limit: Option<usize>,
    pub selection: Selection<'a>,
    /// Add the figures of every watched repository together (whatever `repo` and `limit` say).
    pub combined: bool,
}

/// Which stored events of one repository a list wants, newest first.
#[derive(Clone, Debug)]
pub struct EventsAsk {
    pub repo: RepoName,
    pub event_type: Option<String>,
    pub action: Option<String>,
    /// (created_at ms, id) bounds, both included (see `key_bounds`).
    pub from: (i64, u64),
    pub to: (i64, u64),
    /// With the raw JSON of each event.
    pub raw: bool,
    /// At most this many events, and one more to tell whether more match.
    pub limit: u64,
}

/// A snapshot and the store it was read from.
#[derive(Clone)]
pub struct Query {
    snapshot: Arc<Snapshot>,
    store: Store,
}

impl Query {
    pub fn new(snapshot: Arc<Snapshot>, store: Store) -> Query {
        Query { snapshot, store }
    }

    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    fn repo_events(&self) -> Vec<RepoEvents<'_>> {
        self.snapshot.repos.iter().map(RepoView::events).collect()
    }

    /// Section 3's figures with section 3a's action filter, action lists and combined entry.
    pub fn stats(&self, now: DateTime<Utc>, ask: &StatsAsk<'_>) -> StatsAnswer {
        let now = figures::to_millis(now);
        let snapshot = &self.snapshot;
        let repositories = snapshot
            .repos
            .iter()
            .filter(|r| ask.repo.is_none_or(|want| &r.name == want))
            .take(ask.limit.unwrap_or(usize::MAX))
            .map(|r| RepoReport {
                figures: figures::selected_repo_stats(
                    &r.events(),
                    now,
                    &snapshot.window,
                    &ask.selection,
                ),
                last_polled_at: r.state.last_polled_at,
                last_error: r.state.last_error.clone(),
            })
            .collect();
        let combined = ask.combined.then(|| {
            activity::combined(&self.repo_events(), now, &snapshot.window, &ask.selection)
        });
        StatsAnswer {
            generated_at: now,
            window: snapshot.window.into(),
            repositories,
            combined,
        }
    }

    /// "Most active" over the last `offset_minutes`, the first `limit`.
    pub fn most_active(
        &self,
        now: DateTime<Utc>,
        offset_minutes: u64,
        limit: Option<usize>,
    ) -> Result<Vec<RepoActivity>, StoreError> {
        let now = figures::to_millis(now);
        let repos: Vec<&RepoView> = self.snapshot.repos.iter().collect();
        let events = self.events_after(&repos, now - offset(offset_minutes))?;
        let with_events = paired(&repos, &events);
        let mut ranked = activity::most_active(&with_events, now, offset(offset_minutes));
        ranked.truncate(limit.unwrap_or(usize::MAX));
        Ok(ranked)
    }

    /// "More than N of a type", in the window or over the last `offset_minutes`.
    pub fn with_events(
        &self,
        now: DateTime<Utc>,
        event_type: &str,
        more_than: u64,
        offset_minutes: Option<u64>,
    ) -> Result<Vec<RepoTypeCount>, StoreError> {
        let now = figures::to_millis(now);
        match offset_minutes {
            None => Ok(activity::more_than(
                &self.repo_events(),
                now,
                Scope::Window(self.snapshot.window),
                event_type,
                more_than,
            )),
            Some(m) => {
                let repos: Vec<&RepoView> = self.snapshot.repos.iter().collect();
                let events = self.events_after(&repos, now - offset(m))?;
                let with_events = paired(&repos, &events);
                Ok(activity::more_than(
                    &with_events,
                    now,
                    Scope::Offset(offset(m)),
                    event_type,
                    more_than,
                ))
            }
        }
    }

    /// Events created in the last `offset_minutes` by type, of one or every watched
    /// repository, only those with `action` when given. Without `action` the count comes from
    /// the store's count index; with it, from the events themselves.
    pub fn counts(
        &self,
        now: DateTime<Utc>,
        repo: Option<&RepoName>,
        offset_minutes: u64,
        action: Option<&str>,
    ) -> Result<BTreeMap<String, u64>, StoreError> {
        let repos: Vec<&RepoView> = self
            .snapshot
            .repos
            .iter()
            .filter(|r| repo.is_none_or(|want| &r.name == want))
            .collect();
        let mut total = BTreeMap::new();
        let Some(action) = action else {
            let since = now - offset(offset_minutes);
            for r in repos {
                for (ty, n) in self.store.count_after(&r.name.key(), since)? {
                    *total.entry(ty).or_default() += n;
                }
            }
            return Ok(total);
        };
        let now = figures::to_millis(now);
        for events in self.events_after(&repos, now - offset(offset_minutes))? {
            for (ty, n) in
                activity::counts_by_type(&events, now, offset(offset_minutes), Some(action))
            {
                *total.entry(ty).or_insert(0) += n;
            }
        }
        Ok(total)
    }

    /// The label KPIs of one or every watched repository, from the raw JSON of the
    /// IssuesEvents and PullRequestEvents in each window.
    pub fn labels(
        &self,
        now: DateTime<Utc>,
        repo: Option<&RepoName>,
    ) -> Result<LabelsReport, StoreError> {
        let now = figures::to_millis(now);
        let groups = &self.snapshot.labels;
        let repositories = self
            .snapshot
            .repos
            .iter()
            .filter(|r| repo.is_none_or(|want| &r.name == want))
            .map(|r| self.repo_labels(r, now, groups))
            .collect::<Result<_, _>>()?;
        Ok(LabelsReport {
            generated_at: now,
            repositories,
        })
    }

    fn repo_labels(
        &self,
        r: &RepoView,
        now: DateTime<Utc>,
        groups: &LabelGroups,
    ) -> Result<RepoLabels, StoreError> {
        let ids: Vec<u64> = figures::window_events(&r.recent, now, &self.snapshot.window)
            .iter()
            .filter(|e| matches!(e.event_type.as_str(), "IssuesEvent" | "PullRequestEvent"))
            .map(|e| e.id)
            .collect();
        // Newest first, as the window is; an event whose JSON does not parse names no item.
        let facts = self
            .store
            .raw_events(&r.name.key(), &ids)?
            .into_iter()
            .flatten()
            .filter_map(|raw| serde_json::from_str(&raw).ok())
            .filter_map(|v| labels::item_facts(&v));
        Ok(labels::label_kpis(r.name.as_str(), facts, groups))
    }

    /// Section 3b's response times of one or every watched repository, from the raw JSON of
    /// the events created since each window's start.
    pub fn response_times(
        &self,
        now: DateTime<Utc>,
        repo: Option<&RepoName>,
    ) -> Result<ResponseTimesReport, StoreError> {
        let now = figures::to_millis(now);
        let repositories = self
            .snapshot
            .repos
            .iter()
            .filter(|r| repo.is_none_or(|want| &r.name == want))
            .map(|r| self.repo_response_times(r, now))
            .collect::<Result<_, _>>()?;
        Ok(ResponseTimesReport {
            generated_at: now,
            repositories,
        })
    }

    fn repo_response_times(
        &self,
        r: &RepoView,
        now: DateTime<Utc>,
    ) -> Result<RepoResponseTimes, StoreError> {
        let win = figures::window_events(&r.recent, now, &self.snapshot.window);
        let partial = figures::partial_reason(&r.events(), win, now);
        let window_from = win.last().map(EventMeta::order_key);
        let mut touches = Vec::new();
        if let Some((start, _)) = window_from {
            // Every event from the window's first instant on, including any that share it
            // but fell outside the window: an answer there still answers an opening inside.
            self.store.scan_events(
                &[r.name.key()],
                (start, 0),
                (i64::MAX, u64::MAX),
                true,
                true,
                |_, meta, raw| {
                    let relevant = matches!(
                        meta.event_type.as_str(),
                        "IssuesEvent"
                            | "PullRequestEvent"
                            | "IssueCommentEvent"
                            | "PullRequestReviewEvent"
                            | "PullRequestReviewCommentEvent"
                    );
                    if relevant
                        && let Some(raw) = raw
                        && let Ok(v) = serde_json::from_str(&raw)
                        && let Some(t) = response::touch(&v, meta.id, meta.created_at)
                    {
                        touches.push(t);
                    }
                    true
                },
            )?;
        }
        let (issues, pull_requests) = response::response_times(&touches, window_from, now);
        Ok(RepoResponseTimes {
            repo: r.name.as_str().to_string(),
            partial: partial.is_some(),
            partial_reason: partial,
            issues,
            pull_requests,
        })
    }

    /// A repository's stored events, newest first, that match `ask`: at most `limit + 1`, so
    /// the caller can tell whether another page follows.
    pub fn events(&self, ask: &EventsAsk) -> Result<Vec<(EventMeta, Option<String>)>, StoreError> {
        let mut page = Vec::new();
        if ask.from <= ask.to {
            self.store.scan_events(
                &[ask.repo.key()],
                ask.from,
                ask.to,
                true,
                ask.raw,
                |_, meta, json| {
                    if ask
                        .event_type
                        .as_deref()
                        .is_none_or(|t| t == meta.event_type)
                        && ask
                            .action
                            .as_deref()
                            .is_none_or(|a| meta.action.as_deref() == Some(a))
                    {
                        page.push((meta, json));
                    }
                    page.len() as u64 <= ask.limit
                },
            )?;
        }
        Ok(page)
    }

    /// The feed of `repos`: their newest `limit` stored events, merged newest first, each
    /// with its line and web page.
    pub fn feed(
        &self,
        repos: &[RepoName],
        limit: usize,
        web: &WebOrigin,
    ) -> Result<Vec<EventEntry>, StoreError> {
        let keys: Vec<String> = repos.iter().map(RepoName::key).collect();
        let mut entries = Vec::new();
        if limit == 0 {
            return Ok(entries);
        }
        self.store.scan_events(
            &keys,
            (i64::MIN, 0),
            (i64::MAX, u64::MAX),
            true,
            true,
            |key, meta, raw| {
                if let (Some(repo), Some(raw)) = (self.repo_of(key), raw) {
                    entries.push(EventEntry::new(&repo, &meta, &raw, web));
                }
                entries.len() < limit
            },
        )?;
        Ok(entries)
    }

    /// The events stored after storage sequence number `after` that `filter` accepts, in
    /// storage order (at most `limit`), and the sequence number the scan reached: the next
    /// page starts there.
    pub fn stored_after(
        &self,
        after: u64,
        limit: usize,
        filter: &StreamFilter,
        web: &WebOrigin,
    ) -> Result<(Vec<LiveEvent>, u64), StoreError> {
        let (page, reached) = self
            .store
            .stored_after(after, limit, |key, ty| filter.accepts(key, ty))?;
        let events = page
            .into_iter()
            .filter_map(|s| {
                let entry = EventEntry::new(&self.repo_of(&s.repo_key)?, &s.meta, &s.raw, web);
                let json = serde_json::to_string(&entry).ok()?;
                Some(LiveEvent {
                    seq: s.seq,
                    repo_key: s.repo_key,
                    entry,
                    json,
                })
            })
            .collect();
        Ok((events, reached))
    }

    /// Where the event with this id was stored (see [`Store::seq_of`]).
    pub fn seq_of(&self, event_id: u64) -> Result<Option<u64>, StoreError> {
        self.store.seq_of(event_id)
    }

    /// A store key's repository, as the watch list spells it (as the key does when it is no
    /// longer watched).
    fn repo_of(&self, key: &str) -> Option<RepoName> {
        match self.snapshot.repos.iter().find(|r| r.name.key() == key) {
            Some(r) => Some(r.name.clone()),
            None => RepoName::parse(key).ok(),
        }
    }

    /// Every stored event of each repository created after `after`, newest first: offsets
    /// can reach further back than the window the snapshot holds.
    fn events_after(
        &self,
        repos: &[&RepoView],
        after: DateTime<Utc>,
    ) -> Result<Vec<Vec<EventMeta>>, StoreError> {
        repos
            .iter()
            .map(|r| {
                let mut events = Vec::new();
                self.store.scan_events(
                    &[r.name.key()],
                    (after.timestamp_millis().saturating_add(1), 0),
                    (i64::MAX, u64::MAX),
                    true,
                    false,
                    |_, meta, _| {
                        events.push(meta);
                        true
                    },
                )?;
                Ok(events)
            })
            .collect()
    }
}

/// Each repository with the events `events_after` read for it (counts over an offset are
/// no statistics: nothing there is partial).
fn paired<'a>(repos: &[&'a RepoView], events: &'a [Vec<EventMeta>]) -> Vec<RepoEvents<'a>> {
    repos
        .iter()
        .zip(events)
        .map(|(r, e)| RepoEvents {
            repo: r.name.as_str(),
            events: e,
            gaps: &[],
            catching_up: false,
        })
        .collect()
}

fn offset(minutes: u64) -> TimeDelta {
    TimeDelta::minutes(minutes.min(MAX_OFFSET_MINUTES) as i64)
}
