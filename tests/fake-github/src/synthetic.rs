//! Large synthetic timelines (tens of thousands of events) fed to a client through the real
//! 300-event API, for load and memory benchmarks: recorded events cloned with fresh ids and
//! times, published a page at a time as the client reads them, so nothing falls past the cap.

use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;

use crate::FakeGithub;
use crate::data::{self, Timestamp};

/// Builds events on demand from every recorded fixture event, in turn, so a timeline of any
/// length has the real mix of types and payload sizes.
#[derive(Debug, Clone)]
pub struct SyntheticTimeline {
    templates: Vec<Value>,
    full_name: String,
    repo_id: u64,
    first_id: u64,
    count: u64,
    newest: Timestamp,
    span_secs: u64,
}

impl SyntheticTimeline {
    /// `count` events of `full_name`, ids `first_id..first_id + count` (growing with
    /// publication, as on GitHub), `created_at` evenly spread over `span` up to `newest`.
    pub fn new(
        full_name: &str,
        repo_id: u64,
        first_id: u64,
        count: u64,
        newest: SystemTime,
        span: Duration,
    ) -> SyntheticTimeline {
        let templates = data::FIXTURE_REPOS
            .iter()
            .flat_map(|r| data::load_events(r.file_stem))
            .collect();
        SyntheticTimeline {
            templates,
            full_name: full_name.to_string(),
            repo_id,
            first_id,
            count,
            newest: Timestamp::from(newest),
            span_secs: span.as_secs(),
        }
    }

    pub fn len(&self) -> u64 {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The `n`-th event, oldest first (`n < len`).
    pub fn event(&self, n: u64) -> Value {
        let mut event = self.templates[(n as usize) % self.templates.len()].clone();
        event["id"] = Value::String((self.first_id + n).to_string());
        let age = if self.count > 1 {
            self.span_secs * (self.count - 1 - n) / (self.count - 1)
        } else {
            0
        };
        event["created_at"] = Value::String(Timestamp(self.newest.0 - age as i64).to_rfc3339());
        event["repo"] = data::repo_json(&self.full_name, self.repo_id);
        event
    }

    /// The raw JSON bytes of the whole timeline, as the API serves it (for "bytes stored per
    /// byte of JSON").
    pub fn json_bytes(&self) -> u64 {
        (0..self.count)
            .map(|n| serde_json::to_vec(&self.event(n)).map_or(0, |v| v.len() as u64))
            .sum()
    }
}

impl FakeGithub {
    /// Serves `timeline` under its name: publishes it `batch` events at a time (at most 100, one
    /// page), oldest first, each batch once a page 1 was answered with `200` after the previous
    /// one was published — so a client polling at its pace reads every event. Events older than
    /// the 300-event view are dropped from the server's memory. Returns when the last batch
    /// has been read, or `None` after `timeout`.
    pub async fn feed(
        &self,
        timeline: &SyntheticTimeline,
        batch: usize,
        timeout: Duration,
    ) -> Option<()> {
        let batch = batch.clamp(1, 100) as u64;
        let name = timeline.full_name.as_str();
        let deadline = Instant::now() + timeout;
        if self.repo_id(name).is_none() {
            self.add_synthetic(timeline);
        }
        let mut next = 0;
        while next < timeline.len() {
            let end = (next + batch).min(timeline.len());
            let events: Vec<Value> = (next..end).rev().map(|n| timeline.event(n)).collect();
            self.push_events(name, events);
            self.forget_beyond_view(name);
            let published = Instant::now();
            while !self.page_one_served_since(name, published) {
                if Instant::now() > deadline {
                    return None;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            next = end;
        }
        Some(())
    }

    /// Serves the timeline's repository, still empty, so a client can start polling it before
    /// [`Self::feed`] does.
    pub fn add_synthetic(&self, timeline: &SyntheticTimeline) {
        self.add_repo(&timeline.full_name, timeline.repo_id, Vec::new());
    }

    fn page_one_served_since(&self, name: &str, since: Instant) -> bool {
        let world = self.shared.world();
        let Some(id) = world.resolve(name) else {
            return false;
        };
        let current = world.repos.get(&id).map(|r| r.full_name.as_str());
        world.requests.iter().rev().any(|q| {
            q.at >= since && q.page == 1 && q.status == 200 && q.repo.as_deref() == current
        })
    }

    fn forget_beyond_view(&self, name: &str) {
        let cap = self.shared.opts.timeline_cap;
        let mut world = self.shared.world();
        if let Some(id) = world.resolve(name)
            && let Some(repo) = world.repos.get_mut(&id)
        {
            repo.events.truncate(cap);
        }
    }
}
