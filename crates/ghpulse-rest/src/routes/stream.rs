//! `GET /api/events/stream`: every event stored from now on as Server-Sent Events, oldest
//! first, once each; after `Last-Event-ID` (or `?since_id=`) the events stored after that one
//! are replayed from the store first, so a consumer that reconnects loses nothing.
//!
//! Each consumer has a bounded buffer, filled by a task of its own from the engine's broadcast.
//! A consumer too slow to keep up is sent `event: lagged` and the stream ends; one that stopped
//! reading altogether has its connection closed. Neither slows the engine or other consumers.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Extension;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use ghpulse_core::{EngineHandle, LiveEvent, StreamFilter};
use serde::Deserialize;
use tokio::sync::{broadcast, mpsc, oneshot};
use utoipa::IntoParams;

use super::blocking;
use crate::error::{ApiError, ApiQuery, ErrorBody};
use crate::listener::{ConnectionHandle, StreamSlot};
use crate::state::{ApiState, watched};

/// Events a consumer may be behind before it is called too slow.
pub const CLIENT_BUFFER: usize = 256;
/// How long a consumer that lagged has to take its `lagged` event before its connection is
/// closed.
const LAG_GRACE: Duration = Duration::from_secs(5);
/// Keep-alive comments keep proxies from closing a quiet stream.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// Events replayed from the store at a time.
const REPLAY_PAGE: usize = 256;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamParams {
    /// Only events of this watched repository.
    repo: Option<String>,
    /// Only events of this type.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    event_type: Option<String>,
    /// Replay the events stored after this event id first (the `Last-Event-ID` header wins).
    since_id: Option<String>,
}

/// The events stored from now on, as `id: <event id>`, `event: github-event`, `data: <the
/// events entry>` (with its `repo`); a comment every 15 s; `event: lagged` before a stream
/// that fell too far behind ends.
#[utoipa::path(get, path = "/api/events/stream", params(
        StreamParams,
        ("Last-Event-ID" = Option<String>, Header, description = "Replay the events stored after this event id first"),
    ),
    responses(
        (status = 200, content_type = "text/event-stream", body = String, description = "Server-Sent Events; each `github-event`'s data is an events entry (see `EventEntry`)"),
        (status = 400, body = ErrorBody, description = "malformed repo, type or event id"),
        (status = 404, body = ErrorBody, description = "repo not watched, or no stored event has that id"),
        (status = 503, body = ErrorBody, description = "the fetcher has stopped, or half the connection cap already streams"),
    ))]
pub async fn stream(
    State(state): State<ApiState>,
    ApiQuery(p): ApiQuery<StreamParams>,
    headers: HeaderMap,
    connection: Option<Extension<ConnectionHandle>>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let snapshot = state.snapshot();
    let repo_key = p
        .repo
        .map(|r| watched(&snapshot, &r).map(|name| name.key()))
        .transpose()?;
    let event_type = match p.event_type {
        Some(t) if t.is_empty() || t.len() > 100 => {
            return Err(ApiError::bad_request(
                "type must be an event type of 1 to 100 characters, e.g. PushEvent",
            ));
        }
        other => other,
    };
    let filter = StreamFilter {
        repo_key,
        event_type,
    };
    let since = headers
        .get("last-event-id")
        .map(|v| v.to_str().unwrap_or("").to_string())
        .or(p.since_id);
    let replay_after = match since {
        None => None,
        Some(text) => {
            let id: u64 = text.trim().parse().map_err(|_| {
                ApiError::bad_request(format!("{text:?} is not an event id (a number)"))
            })?;
            let query = state.query();
            match blocking(move || query.seq_of(id)).await? {
                Some(seq) => Some(seq),
                None => {
                    return Err(ApiError::not_found(format!(
                        "no stored event has id {id} (pruned, or never stored); connect \
                         without Last-Event-ID or since_id to follow from now"
                    )));
                }
            }
        }
    };
    let slot = match &connection {
        Some(Extension(c)) => Some(c.stream_slot().ok_or_else(|| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "{} streams are open, the most this listener allows; try again later",
                    c.max_streams()
                ),
            )
        })?),
        None => None,
    };
    // Subscribed before the replay is read: nothing stored meanwhile is missed, and what both
    // bring is delivered once (by storage sequence).
    let live = state
        .engine
        .live_events()
        .ok_or_else(|| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "the fetcher has stopped"))?;
    let (buffer, buffered) = mpsc::channel(CLIENT_BUFFER);
    let (gone, body_gone) = oneshot::channel();
    let lagged = Arc::new(AtomicBool::new(false));
    tokio::spawn(forward(
        live,
        filter.clone(),
        buffer,
        lagged.clone(),
        body_gone,
        connection.map(|Extension(c)| c),
    ));
    let consumer = Consumer {
        engine: EngineHandle::clone(&state.engine),
        filter,
        replay_after,
        replayed: VecDeque::new(),
        skip_through: replay_after.unwrap_or(0),
        buffered,
        lagged,
        last_id: None,
        _gone: gone,
        _slot: slot,
    };
    let events = futures_util::stream::unfold(consumer, |mut c| async move {
        let event = c.next().await?;
        Some((Ok(event), c))
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE).text("keep-alive")))
}

/// Moves the broadcast's events that pass the filter into the consumer's buffer. When the
/// buffer is full (or the broadcast passed this consumer by) the consumer lagged: its buffer
/// is closed, and if it has not ended its response within [`LAG_GRACE`], its connection is.
async fn forward(
    mut live: broadcast::Receiver<Arc<LiveEvent>>,
    filter: StreamFilter,
    buffer: mpsc::Sender<Arc<LiveEvent>>,
    lagged: Arc<AtomicBool>,
    mut body_gone: oneshot::Receiver<()>,
    connection: Option<ConnectionHandle>,
) {
    loop {
        let event = tokio::select! {
            _ = &mut body_gone => return,
            event = live.recv() => event,
        };
        let fell_behind = match event {
            Ok(e) if !filter.accepts(&e.repo_key, &e.entry.event_type) => continue,
            Ok(e) => buffer
                .try_send(e)
                .is_err_and(|e| matches!(e, mpsc::error::TrySendError::Full(_))),
            Err(broadcast::error::RecvError::Lagged(_)) => true,
            // The engine stopped: the stream ends once the buffer is read.
            Err(broadcast::error::RecvError::Closed) => return,
        };
        if fell_behind {
            lagged.store(true, Ordering::Release);
            drop(buffer);
            if tokio::time::timeout(LAG_GRACE, body_gone).await.is_err()
                && let Some(c) = connection
            {
                tracing::debug!("closed a stream whose consumer stopped reading");
                c.close();
            }
            return;
        }
    }
}

/// One consumer's stream: the replay, then its buffer.
struct Consumer {
    engine: EngineHandle,
    filter: StreamFilter,
    /// Where the replay has reached; `None` once it is done (or was not asked for).
    replay_after: Option<u64>,
    replayed: VecDeque<LiveEvent>,
    /// Events up to this storage sequence number were delivered by the replay.
    skip_through: u64,
    buffered: mpsc::Receiver<Arc<LiveEvent>>,
    lagged: Arc<AtomicBool>,
    /// The id of the last event delivered, for the `lagged` event.
    last_id: Option<String>,
    /// Dropped with the stream: tells the forwarder the consumer is gone.
    _gone: oneshot::Sender<()>,
    _slot: Option<StreamSlot>,
}

impl Consumer {
    async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(e) = self.replayed.pop_front() {
                return Some(self.deliver(&e));
            }
            if let Some(after) = self.replay_after {
                let (query, filter, web) = (
                    self.engine.query(),
                    self.filter.clone(),
                    self.engine.web_origin().clone(),
                );
                let (page, reached) =
                    blocking(move || query.stored_after(after, REPLAY_PAGE, &filter, &web))
                        .await
                        .ok()?;
                let done = reached == after;
                self.replayed.extend(page);
                self.skip_through = reached;
                self.replay_after = (!done).then_some(reached);
                continue;
            }
            match self.buffered.recv().await {
                Some(e) if e.seq <= self.skip_through => continue,
                Some(e) => return Some(self.deliver(&e)),
                None if self.lagged.swap(false, Ordering::AcqRel) => {
                    let data = serde_json::json!({
                        "error": format!(
                            "this consumer fell more than {CLIENT_BUFFER} events behind and \
                             missed some; reconnect with Last-Event-ID to resume"
                        ),
                        "last_event_id": self.last_id,
                    });
                    return Some(Event::default().event("lagged").data(data.to_string()));
                }
                None => return None,
            }
        }
    }

    fn deliver(&mut self, e: &LiveEvent) -> Event {
        self.skip_through = self.skip_through.max(e.seq);
        self.last_id = Some(e.entry.id.clone());
        Event::default()
            .id(e.entry.id.as_str())
            .event("github-event")
            .data(e.json.as_str())
    }
}

#[cfg(test)]
mod tests {
    use ghpulse_core::{EventEntry, EventMeta, RepoName, WebOrigin};

    use super::*;

    fn event(seq: u64, event_type: &str) -> Arc<LiveEvent> {
        let raw = format!(
            r#"{{"id":"{seq}","type":"{event_type}","actor":{{"login":"a"}},"created_at":"2026-11-22T10:00:00Z"}}"#
        );
        let meta = EventMeta::from_raw(&raw).unwrap();
        let entry = EventEntry::new(
            &RepoName::parse("o/r").unwrap(),
            &meta,
            &raw,
            &WebOrigin::default(),
        );
        Arc::new(LiveEvent {
            seq,
            repo_key: "o/r".into(),
            json: serde_json::to_string(&entry).unwrap(),
            entry,
        })
    }

    #[tokio::test]
    async fn a_full_buffer_is_a_lag_and_the_buffer_ends_after_what_it_holds() {
        let (live, rx) = broadcast::channel(4 * CLIENT_BUFFER);
        let (buffer, mut buffered) = mpsc::channel(CLIENT_BUFFER);
        let (_gone, body_gone) = oneshot::channel();
        let lagged = Arc::new(AtomicBool::new(false));
        let filter = StreamFilter {
            repo_key: None,
            event_type: Some("PushEvent".into()),
        };
        // Events of other types never take room.
        for seq in 1..=CLIENT_BUFFER as u64 * 2 {
            live.send(event(seq, "WatchEvent")).unwrap();
        }
        for seq in 1000..1000 + CLIENT_BUFFER as u64 + 1 {
            live.send(event(seq, "PushEvent")).unwrap();
        }
        let forwarder = tokio::spawn(forward(rx, filter, buffer, lagged.clone(), body_gone, None));
        // Not read until then: the consumer is slow.
        while !lagged.load(Ordering::Acquire) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let mut got = Vec::new();
        while let Some(e) = buffered.recv().await {
            got.push(e.seq);
        }
        assert_eq!(got, (1000..1000 + CLIENT_BUFFER as u64).collect::<Vec<_>>());
        assert!(lagged.load(Ordering::Acquire));
        // Without a connection to close, the forwarder ends once its grace is over.
        tokio::time::timeout(LAG_GRACE * 2, forwarder)
            .await
            .unwrap()
            .unwrap();
    }

    #[tokio::test]
    async fn a_consumer_that_keeps_up_is_never_lagged_and_ends_with_the_engine() {
        let (live, rx) = broadcast::channel(16);
        let (buffer, mut buffered) = mpsc::channel(CLIENT_BUFFER);
        let (_gone, body_gone) = oneshot::channel();
        let lagged = Arc::new(AtomicBool::new(false));
        tokio::spawn(forward(
            rx,
            StreamFilter::default(),
            buffer,
            lagged.clone(),
            body_gone,
            None,
        ));
        for seq in 1..=CLIENT_BUFFER as u64 * 3 {
            live.send(event(seq, "PushEvent")).unwrap();
            assert_eq!(buffered.recv().await.map(|e| e.seq), Some(seq));
        }
        drop(live);
        assert!(
            buffered.recv().await.is_none(),
            "the engine stopped: the stream ends"
        );
        assert!(!lagged.load(Ordering::Acquire));
    }
}
