//! Section 3a's answers over a snapshot and the store: what the REST listener and
//! `ghpulse stats` share, so that their bodies are the same.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::config::LabelGroups;
use crate::event::EventMeta;
use crate::questions::{
    self, LabelsReport, RepoActivity, RepoEvents, RepoLabels, RepoTypeCount, Scope,
};
use crate::repo::RepoName;
use crate::snapshot::{RepoView, Snapshot};
use crate::stats::{self, RepoStats, Selection, WindowReport};
use crate::store::{Store, StoreError};

/// Offsets reach back at most the 30 days GitHub keeps.
pub const MAX_OFFSET_MINUTES: u64 = 30 * 24 * 60;

/// The body of `GET /api/stats` with section 3a's parameters: section 3's report, plus the
/// `combined` entry when asked for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StatsAnswer {
    pub generated_at: DateTime<Utc>,
    pub window: WindowReport,
    pub repositories: Vec<RepoStats>,
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

fn repo_events(snapshot: &Snapshot) -> Vec<RepoEvents<'_>> {
    snapshot
        .repos
        .iter()
        .map(|r| RepoEvents {
            repo: r.name.as_str(),
            events: &r.recent,
            gaps: &r.gaps,
        })
        .collect()
}

/// Section 3's figures with section 3a's action filter, action lists and combined entry.
pub fn stats(snapshot: &Snapshot, now: DateTime<Utc>, ask: &StatsAsk<'_>) -> StatsAnswer {
    let now = stats::to_millis(now);
    let repositories = snapshot
        .repos
        .iter()
        .filter(|r| ask.repo.is_none_or(|want| &r.name == want))
        .take(ask.limit.unwrap_or(usize::MAX))
        .map(|r| {
            stats::selected_repo_stats(
                r.name.as_str(),
                &r.recent,
                &r.gaps,
                now,
                &snapshot.window,
                &ask.selection,
            )
        })
        .collect();
    let combined = ask.combined.then(|| {
        questions::combined(
            &repo_events(snapshot),
            now,
            &snapshot.window,
            &ask.selection,
        )
    });
    StatsAnswer {
        generated_at: now,
        window: snapshot.window.into(),
        repositories,
        combined,
    }
}

/// Every stored event of each repository created after `after`, newest first: offsets can
/// reach further back than the window the snapshot holds.
/// Each repository with the events `events_after` read for it (offsets have no gaps).
fn paired<'a>(repos: &[&'a RepoView], events: &'a [Vec<EventMeta>]) -> Vec<RepoEvents<'a>> {
    repos
        .iter()
        .zip(events)
        .map(|(r, e)| RepoEvents {
            repo: r.name.as_str(),
            events: e,
            gaps: &[],
        })
        .collect()
}

fn events_after(
    store: &Store,
    repos: &[&RepoView],
    after: DateTime<Utc>,
) -> Result<Vec<Vec<EventMeta>>, StoreError> {
    repos
        .iter()
        .map(|r| {
            let mut events = Vec::new();
            store.scan_events(
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

fn offset(minutes: u64) -> TimeDelta {
    TimeDelta::minutes(minutes.min(MAX_OFFSET_MINUTES) as i64)
}

/// "Most active" over the last `offset_minutes`, the first `limit`.
pub fn most_active(
    snapshot: &Snapshot,
    store: &Store,
    now: DateTime<Utc>,
    offset_minutes: u64,
    limit: Option<usize>,
) -> Result<Vec<RepoActivity>, StoreError> {
    let now = stats::to_millis(now);
    let repos: Vec<&RepoView> = snapshot.repos.iter().collect();
    let events = events_after(store, &repos, now - offset(offset_minutes))?;
    let with_events = paired(&repos, &events);
    let mut ranked = questions::most_active(&with_events, now, offset(offset_minutes));
    ranked.truncate(limit.unwrap_or(usize::MAX));
    Ok(ranked)
}

/// "More than N of a type", in the window or over the last `offset_minutes`.
pub fn with_events(
    snapshot: &Snapshot,
    store: &Store,
    now: DateTime<Utc>,
    event_type: &str,
    more_than: u64,
    offset_minutes: Option<u64>,
) -> Result<Vec<RepoTypeCount>, StoreError> {
    let now = stats::to_millis(now);
    match offset_minutes {
        None => Ok(questions::more_than(
            &repo_events(snapshot),
            now,
            Scope::Window(snapshot.window),
            event_type,
            more_than,
        )),
        Some(m) => {
            let repos: Vec<&RepoView> = snapshot.repos.iter().collect();
            let events = events_after(store, &repos, now - offset(m))?;
            let with_events = paired(&repos, &events);
            Ok(questions::more_than(
                &with_events,
                now,
                Scope::Offset(offset(m)),
                event_type,
                more_than,
            ))
        }
    }
}

/// Events created in the last `offset_minutes` by type, of one or every watched repository,
/// only those with `action`.
pub fn counts(
    snapshot: &Snapshot,
    store: &Store,
    now: DateTime<Utc>,
    repo: Option<&RepoName>,
    offset_minutes: u64,
    action: Option<&str>,
) -> Result<BTreeMap<String, u64>, StoreError> {
    let now = stats::to_millis(now);
    let repos: Vec<&RepoView> = snapshot
        .repos
        .iter()
        .filter(|r| repo.is_none_or(|want| &r.name == want))
        .collect();
    let mut total = BTreeMap::new();
    for events in events_after(store, &repos, now - offset(offset_minutes))? {
        for (ty, n) in questions::counts_by_type(&events, now, offset(offset_minutes), action) {
            *total.entry(ty).or_insert(0) += n;
        }
    }
    Ok(total)
}

/// The label KPIs of one or every watched repository, from the raw JSON of the
/// IssuesEvents and PullRequestEvents in each window.
pub fn labels(
    snapshot: &Snapshot,
    store: &Store,
    now: DateTime<Utc>,
    repo: Option<&RepoName>,
) -> Result<LabelsReport, StoreError> {
    let now = stats::to_millis(now);
    let groups = &snapshot.labels;
    let repositories = snapshot
        .repos
        .iter()
        .filter(|r| repo.is_none_or(|want| &r.name == want))
        .map(|r| repo_labels(r, store, now, snapshot, groups))
        .collect::<Result<_, _>>()?;
    Ok(LabelsReport {
        generated_at: now,
        repositories,
    })
}

fn repo_labels(
    r: &RepoView,
    store: &Store,
    now: DateTime<Utc>,
    snapshot: &Snapshot,
    groups: &LabelGroups,
) -> Result<RepoLabels, StoreError> {
    let ids: Vec<u64> = stats::window(&r.recent, now, &snapshot.window)
        .iter()
        .filter(|e| matches!(e.event_type.as_str(), "IssuesEvent" | "PullRequestEvent"))
        .map(|e| e.id)
        .collect();
    // Newest first, as the window is; an event whose JSON does not parse names no item.
    let facts = store
        .raw_events(&r.name.key(), &ids)?
        .into_iter()
        .flatten()
        .filter_map(|raw| serde_json::from_str(&raw).ok())
        .filter_map(|v| questions::item_facts(&v));
    Ok(questions::label_kpis(r.name.as_str(), facts, groups))
}
