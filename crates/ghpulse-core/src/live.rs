//! Events as they are stored, for the live stream: after each commit that added events, a
//! task of its own reads them from the store in storage order and broadcasts them, once each,
//! to every subscriber. The engine only wakes it, so a slow reader can never hold up a poll;
//! a subscriber that falls behind loses its place in the broadcast (and reads what it missed
//! from the store, by storage sequence, like one that reconnects).

use std::sync::Arc;

use tokio::sync::{broadcast, mpsc, watch};

use crate::feed::{EventEntry, WebOrigin};
use crate::query::Query;
use crate::snapshot::Snapshot;
use crate::store::Store;

/// How many events the broadcast holds for subscribers that have not read them yet.
pub const LIVE_CAPACITY: usize = 1024;
/// Events read from the store at a time.
const PAGE: usize = 256;

/// One stored event for the stream: its place in the storage order, its entry, and the entry
/// as JSON (serialized once, whatever the number of subscribers).
#[derive(Clone, Debug, PartialEq)]
pub struct LiveEvent {
    pub seq: u64,
    pub repo_key: String,
    pub entry: EventEntry,
    pub json: String,
}

/// Which events a subscriber wants: of one repository (its store key), of one type.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StreamFilter {
    pub repo_key: Option<String>,
    pub event_type: Option<String>,
}

impl StreamFilter {
    pub fn accepts(&self, repo_key: &str, event_type: &str) -> bool {
        self.repo_key.as_deref().is_none_or(|k| k == repo_key)
            && self.event_type.as_deref().is_none_or(|t| t == event_type)
    }
}

/// The engine's side: wake the publisher after a commit, and the broadcast to subscribe to.
pub(crate) struct LiveFeed {
    wake: mpsc::Sender<()>,
    events: broadcast::Sender<Arc<LiveEvent>>,
}

impl LiveFeed {
    /// Starts the publisher; events stored after sequence number `from` are broadcast. It ends
    /// when the `LiveFeed` is dropped, and the subscribers' receivers then close.
    pub(crate) fn start(
        store: Store,
        snapshots: watch::Receiver<Arc<Snapshot>>,
        web: WebOrigin,
        from: u64,
    ) -> LiveFeed {
        // One pending wake is enough: the publisher reads everything stored since it last read.
        let (wake, woken) = mpsc::channel(1);
        let (events, _) = broadcast::channel(LIVE_CAPACITY);
        tokio::spawn(publish(store, snapshots, web, from, woken, events.clone()));
        LiveFeed { wake, events }
    }

    /// A commit added events.
    pub(crate) fn committed(&self) {
        let _ = self.wake.try_send(());
    }

    /// A handle that subscribes without keeping the broadcast open after the engine stopped.
    pub(crate) fn subscriptions(&self) -> broadcast::WeakSender<Arc<LiveEvent>> {
        self.events.downgrade()
    }
}

async fn publish(
    store: Store,
    snapshots: watch::Receiver<Arc<Snapshot>>,
    web: WebOrigin,
    mut last: u64,
    mut woken: mpsc::Receiver<()>,
    events: broadcast::Sender<Arc<LiveEvent>>,
) {
    let everything = StreamFilter::default();
    while woken.recv().await.is_some() {
        loop {
            let query = Query::new(snapshots.borrow().clone(), store.clone());
            let (web, filter) = (web.clone(), everything.clone());
            let read =
                tokio::task::spawn_blocking(move || query.stored_after(last, PAGE, &filter, &web))
                    .await;
            let (page, reached) = match read {
                Ok(Ok(read)) => read,
                // Nothing is lost: the next wake reads from the same place.
                Ok(Err(e)) => {
                    tracing::warn!("live stream: reading new events failed: {e}");
                    break;
                }
                Err(e) => {
                    tracing::warn!("live stream: reading new events failed: {e}");
                    break;
                }
            };
            let full = page.len() == PAGE;
            for event in page {
                // No subscriber is no error.
                let _ = events.send(Arc::new(event));
            }
            last = reached;
            if !full {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chrono::Utc;

    use super::*;
    use crate::github::event::EventMeta;
    use crate::github::rate_limit::{RateLimit, RequestCounters};
    use crate::snapshot::FetcherState;
    use crate::store::{PollRecord, RepoState};

    fn empty_snapshot() -> Snapshot {
        Snapshot {
            taken_at: Utc::now(),
            config_path: "repositories.toml".into(),
            window: Default::default(),
            max_repositories: 5,
            authenticated: false,
            rate_limit: RateLimit {
                limit: 60,
                remaining: 60,
                used: 0,
                reset_at: Utc::now(),
                assumed: false,
            },
            requests: RequestCounters::default(),
            fetcher: FetcherState::Live,
            repos: Vec::new(),
            config_error: None,
            labels: Default::default(),
            stats_cache: Default::default(),
        }
    }

    fn store_events(store: &Store, repo: &str, ids: std::ops::Range<u64>) {
        let events: Vec<(EventMeta, String)> = ids
            .map(|id| {
                let raw = format!(
                    r#"{{"id":"{id}","type":"WatchEvent","actor":{{"login":"a"}},"payload":{{"action":"started"}},"created_at":"2026-11-22T10:00:00Z"}}"#
                );
                (EventMeta::from_raw(&raw).unwrap(), raw)
            })
            .collect();
        store
            .record_poll(PollRecord {
                repo_key: repo,
                events: &events,
                gap: None,
                state: RepoState::default(),
                rate_limit: None,
                counters: RequestCounters::default(),
            })
            .unwrap();
    }

    async fn next(rx: &mut broadcast::Receiver<Arc<LiveEvent>>) -> Arc<LiveEvent> {
        tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .expect("an event in time")
            .expect("the broadcast is open")
    }

    #[tokio::test]
    async fn each_commit_is_broadcast_once_in_storage_order_and_stops_with_the_feed() {
        let store = Store::in_memory().unwrap();
        store_events(&store, "o/r", 1..3);
        let (_keep, snapshots) = watch::channel(Arc::new(empty_snapshot()));
        let feed = LiveFeed::start(
            store.clone(),
            snapshots,
            WebOrigin::default(),
            store.last_seq().unwrap(),
        );
        let mut rx = feed.subscriptions().upgrade().unwrap().subscribe();
        // More than a page in one commit, then a smaller id in another repository.
        store_events(&store, "o/r", 1000..1000 + PAGE as u64 + 10);
        feed.committed();
        store_events(&store, "b/b", 500..501);
        feed.committed();
        let mut ids = Vec::new();
        for _ in 0..PAGE + 11 {
            let e = next(&mut rx).await;
            ids.push(e.entry.id.parse::<u64>().unwrap());
            let parsed: EventEntry = serde_json::from_str(&e.json).unwrap();
            assert_eq!(parsed, e.entry);
        }
        let mut want: Vec<u64> = (1000..1000 + PAGE as u64 + 10).collect();
        want.push(500);
        assert_eq!(ids, want, "events stored before the start are not new");
        assert_eq!(
            rx.try_recv().err(),
            Some(broadcast::error::TryRecvError::Empty)
        );
        let last = next_after_wake(&feed, &mut rx).await;
        assert!(last.is_none(), "a wake without a commit broadcasts nothing");

        let weak = feed.subscriptions();
        drop(feed);
        let closed = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await;
        assert_eq!(
            closed.unwrap().err(),
            Some(broadcast::error::RecvError::Closed)
        );
        assert!(weak.upgrade().is_none());
    }

    async fn next_after_wake(
        feed: &LiveFeed,
        rx: &mut broadcast::Receiver<Arc<LiveEvent>>,
    ) -> Option<Arc<LiveEvent>> {
        feed.committed();
        tokio::time::timeout(Duration::from_millis(300), rx.recv())
            .await
            .ok()
            .and_then(Result::ok)
    }
}
