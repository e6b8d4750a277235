//! The REST listener's connections: hyper's HTTP/1 server with a header-read timeout and a
//! write timeout, and a cap on open connections that closes the longest-idle one to admit a
//! new client, so neither idle sockets nor clients that do not read can exhaust the
//! descriptors or the memory, or lock clients out. A connection is busy until its response
//! body has been written, so a stream (Server-Sent Events) counts against the cap and is never
//! taken for idle; streams may hold at most half of it.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use http_body::{Frame, SizeHint};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, oneshot, watch};
use tokio::time::Instant;
use tokio_io_timeout::TimeoutStream;

use crate::parse_errors::JsonParseErrors;

/// `GHPULSE_REST_MAX_CONNECTIONS`: the most connections open at once (never more than the
/// descriptor limit allows).
pub const MAX_CONNECTIONS_VAR: &str = "GHPULSE_REST_MAX_CONNECTIONS";
/// `GHPULSE_REST_TIMEOUT`: how long a request head may take to arrive, how long a keep-alive
/// connection may wait for its next request, how long a request may take, and how long a
/// client may leave its answer unread.
pub const TIMEOUT_VAR: &str = "GHPULSE_REST_TIMEOUT";

const DEFAULT_MAX_CONNECTIONS: usize = 1024;
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Descriptors kept for everything else: the store, the log, the GitHub client, the runtime.
const RESERVED_DESCRIPTORS: u64 = 128;
/// How long a clean shutdown waits for requests in progress.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_connections: usize,
    pub timeout: Duration,
}

impl Limits {
    /// The defaults, or the values of the two environment variables, with the cap kept under
    /// the descriptors free (the soft limit is first raised to the hard one). Made once the
    /// store, the log and the listener are open, so that they are counted.
    pub fn from_env() -> Result<Limits, String> {
        let read = |name: &str| std::env::var(name).ok();
        Limits::parse(
            read(MAX_CONNECTIONS_VAR).as_deref(),
            read(TIMEOUT_VAR).as_deref(),
            descriptor_budget(),
        )
    }

    fn parse(
        max_connections: Option<&str>,
        timeout: Option<&str>,
        budget: usize,
    ) -> Result<Limits, String> {
        fn given(v: Option<&str>) -> Option<&str> {
            v.map(str::trim).filter(|v| !v.is_empty())
        }
        let max_connections = match given(max_connections) {
            None => DEFAULT_MAX_CONNECTIONS,
            Some(v) => match v.parse::<usize>() {
                Ok(n) if n > 0 => n,
                _ => {
                    return Err(format!(
                        "{MAX_CONNECTIONS_VAR}={v:?}: expected a number above 0"
                    ));
                }
            },
        };
        let timeout = match given(timeout) {
            None => DEFAULT_TIMEOUT,
            Some(v) => match humantime::parse_duration(v) {
                Ok(d) if !d.is_zero() && d <= Duration::from_secs(24 * 3600) => d,
                _ => {
                    return Err(format!(
                        "{TIMEOUT_VAR}={v:?}: expected a duration such as 30s, from 1ms to 24h"
                    ));
                }
            },
        };
        Ok(Limits {
            max_connections: max_connections.min(budget),
            timeout,
        })
    }
}

/// The connections the descriptors still free leave room for. The limit less a reserve is not
/// enough: under a limit of 20, half of them are taken before the first client comes.
fn descriptor_budget() -> usize {
    let limit = match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(soft) => soft,
        Err(e) => {
            tracing::warn!("cannot read the open-file limit ({e}); assuming 1024");
            1024
        }
    };
    let open = open_descriptors().unwrap_or(0);
    let budget = budget(limit.saturating_sub(open));
    tracing::debug!("{open} of {limit} descriptors open: room for {budget} REST connections");
    budget
}

/// Of `free` descriptors, all but the reserve for what ghpulse opens later (GitHub
/// connections, the store reopened, the log rotated), or half of them when few are free.
fn budget(free: u64) -> usize {
    let budget = free
        .saturating_sub(RESERVED_DESCRIPTORS)
        .max(free / 2)
        .max(1);
    usize::try_from(budget).unwrap_or(usize::MAX)
}

/// How many descriptors this process has open: Linux lists them in /proc/self/fd, macOS and
/// the BSDs in /dev/fd (the listing's own is not counted).
fn open_descriptors() -> Option<u64> {
    let listing = std::fs::read_dir("/proc/self/fd")
        .or_else(|_| std::fs::read_dir("/dev/fd"))
        .ok()?;
    Some((listing.count() as u64).saturating_sub(1))
}

/// `accept` failed for want of a descriptor (this process's, or the system's).
fn out_of_descriptors(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
}

/// Serves `app` on `listener` until `shutdown` turns true, then lets requests in progress
/// finish (for at most `SHUTDOWN_GRACE`).
pub async fn serve<A>(
    listener: TcpListener,
    app: A,
    limits: Limits,
    mut shutdown: watch::Receiver<bool>,
) where
    A: tower_service::Service<
            hyper::Request<hyper::body::Incoming>,
            Response = axum::response::Response,
            Error = std::convert::Infallible,
            Future: Send,
        > + Clone
        + Send
        + Sync
        + 'static,
{
    let mut http = http1::Builder::new();
    // hyper restarts this timer whenever a keep-alive connection waits for its next request
    // head, so it is the idle timeout too.
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.timeout);
    let open = Arc::new(Connections::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let app = TowerToHyperService::new(app);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) if out_of_descriptors(&e) && open.evict_longest_idle() => {
                    // The cap keeps a reserve, but the rest of ghpulse opens descriptors too:
                    // at the limit, the connection idle the longest makes room, as at the cap.
                    // Its task closes it; wait for that rather than close another.
                    tracing::debug!("REST accept failed ({e}): closed the longest-idle connection");
                    let _ = tokio::time::timeout(Duration::from_secs(1), open.freed.notified()).await;
                    continue;
                }
                Err(e) => {
                    // Out of descriptors with no idle connection to close, or a connection
                    // reset before it was accepted: the listener itself is fine, so pause
                    // instead of spinning.
                    tracing::debug!("REST accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stopped(&mut shutdown) => break,
        };
        tokio::select! {
            _ = open.make_room() => {}
            _ = stopped(&mut shutdown) => break,
        }
        let (slot, evicted) = open.register();
        let service = {
            let (app, slot) = (app.clone(), slot.clone());
            hyper::service::service_fn(move |mut req: hyper::Request<_>| {
                let busy = slot.request_started();
                req.extensions_mut()
                    .insert(ConnectionHandle { slot: slot.clone() });
                let answer = hyper::service::Service::call(&app, req);
                async move {
                    // Busy until the body is written (or the connection dropped with it).
                    let response = answer.await?;
                    Ok::<_, std::convert::Infallible>(
                        response.map(|body| WhileBusy { body, _busy: busy }),
                    )
                }
            })
        };
        let io = TokioIo::new(connection_io(stream, limits.timeout));
        let connection = graceful.watch(http.serve_connection(io, service));
        tokio::spawn(async move {
            let _closing = Closing(slot);
            tokio::select! {
                served = connection => if let Err(e) = served {
                    tracing::debug!("REST connection ended: {e}");
                },
                _ = evicted => tracing::debug!("closed the longest-idle REST connection to admit a new one"),
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("REST requests still in progress after {SHUTDOWN_GRACE:?} were dropped");
    }
}

/// The stream hyper serves. A write that makes no progress for `write_timeout` fails, which
/// ends the connection: a client that does not read its answer is dropped, and the answer's
/// buffers are freed with it. hyper's own error answers get a JSON body.
fn connection_io(
    stream: TcpStream,
    write_timeout: Duration,
) -> JsonParseErrors<Pin<Box<TimeoutStream<TcpStream>>>> {
    let mut timed = TimeoutStream::new(stream);
    timed.set_write_timeout(Some(write_timeout));
    JsonParseErrors::new(Box::pin(timed))
}

async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    while !*shutdown.borrow_and_update() {
        if shutdown.changed().await.is_err() {
            return;
        }
    }
}

/// What a handler may do with the connection it answers on; in every request's extensions.
#[derive(Clone)]
pub struct ConnectionHandle {
    slot: Slot,
}

impl ConnectionHandle {
    /// Ends the connection at once, whatever is being written on it: for a consumer that
    /// stopped reading, whose response would otherwise wait for it for ever.
    pub fn close(&self) {
        self.slot.evict();
    }

    /// A place for a long-lived response, while fewer than half the connection cap hold one;
    /// it is given back when dropped.
    pub fn stream_slot(&self) -> Option<StreamSlot> {
        let connections = &self.slot.connections;
        let max = (connections.cap / 2).max(1);
        connections
            .streams
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| StreamSlot(connections.clone()))
    }

    /// How many long-lived responses may be open at once.
    pub fn max_streams(&self) -> usize {
        (self.slot.connections.cap / 2).max(1)
    }
}

/// One of the places streams may hold (see [`ConnectionHandle::stream_slot`]).
pub struct StreamSlot(Arc<Connections>);

impl Drop for StreamSlot {
    fn drop(&mut self) {
        self.0.streams.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A response body that keeps its connection busy until it is dropped.
struct WhileBusy {
    body: Body,
    _busy: Busy,
}

impl http_body::Body for WhileBusy {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// The open connections, each idle (no request in progress) since some instant. The table
/// changes as connections open and close; a request only touches its own connection's
/// [`Activity`], so requests on different connections never wait on one another.
struct Connections {
    cap: usize,
    /// Streams open now (at most half of `cap`).
    streams: AtomicUsize,
    open: Mutex<Open>,
    /// Signalled when a connection closes, or its last request ends while `waiting`.
    freed: Notify,
    /// Callers of `make_room` waiting for `freed`.
    waiting: AtomicUsize,
    /// What `Activity::idle_since` counts from.
    epoch: Instant,
}

#[derive(Default)]
struct Open {
    next_id: u64,
    by_id: HashMap<u64, Connection>,
}

impl Open {
    fn evict_longest_idle(&mut self) -> bool {
        let longest_idle = self
            .by_id
            .iter()
            .filter(|(_, c)| c.activity.in_progress.load(Ordering::SeqCst) == 0)
            .min_by_key(|(_, c)| c.activity.idle_since.load(Ordering::Acquire))
            .map(|(id, _)| *id);
        match longest_idle.and_then(|id| self.by_id.remove(&id)) {
            Some(victim) => {
                let _ = victim.evict.send(());
                true
            }
            None => false,
        }
    }
}

struct Connection {
    activity: Arc<Activity>,
    evict: oneshot::Sender<()>,
}

/// A connection's requests in progress, and since when it has had none.
#[derive(Default)]
struct Activity {
    in_progress: AtomicUsize,
    /// Nanoseconds from `Connections::epoch`.
    idle_since: AtomicU64,
}

impl Connections {
    fn new(cap: usize) -> Connections {
        Connections {
            cap,
            streams: AtomicUsize::new(0),
            open: Mutex::default(),
            freed: Notify::new(),
            waiting: AtomicUsize::new(0),
            epoch: Instant::now(),
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Open> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Returns once one more connection fits under the cap: at the cap, the connection idle
    /// the longest is closed (as nginx reuses keep-alive connections); when every connection
    /// has a request in progress, waits for one to finish (requests are bounded by the timeout).
    async fn make_room(&self) {
        loop {
            // Counted before looking, so a request ending after the look notifies (and
            // `notify_one` keeps the wake-up for a waiter not yet waiting).
            self.waiting.fetch_add(1, Ordering::SeqCst);
            let room = self.try_make_room();
            if !room {
                self.freed.notified().await;
            }
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            if room {
                return;
            }
        }
    }

    fn try_make_room(&self) -> bool {
        let mut open = self.lock();
        open.by_id.len() < self.cap || open.evict_longest_idle()
    }

    /// Closes the connection idle the longest; false when every one has a request in progress.
    fn evict_longest_idle(&self) -> bool {
        self.lock().evict_longest_idle()
    }

    fn register(self: &Arc<Self>) -> (Slot, oneshot::Receiver<()>) {
        let (evict, evicted) = oneshot::channel();
        let activity = Arc::new(Activity {
            in_progress: AtomicUsize::new(0),
            idle_since: AtomicU64::new(self.now()),
        });
        let mut open = self.lock();
        let id = open.next_id;
        open.next_id += 1;
        open.by_id.insert(
            id,
            Connection {
                activity: activity.clone(),
                evict,
            },
        );
        let slot = Slot(Arc::new(Place {
            connections: self.clone(),
            activity,
            id,
        }));
        (slot, evicted)
    }
}

/// One connection's place in `Connections`, shared by its requests: a copy per request costs
/// one count on the connection's own `Arc`, none on the table's, which every connection shares.
#[derive(Clone)]
struct Slot(Arc<Place>);

struct Place {
    connections: Arc<Connections>,
    activity: Arc<Activity>,
    id: u64,
}

impl std::ops::Deref for Slot {
    type Target = Place;

    fn deref(&self) -> &Place {
        &self.0
    }
}

impl Slot {
    fn request_started(&self) -> Busy {
        self.activity.in_progress.fetch_add(1, Ordering::SeqCst);
        Busy(self.clone())
    }

    fn close(&self) {
        self.connections.lock().by_id.remove(&self.id);
        self.connections.freed.notify_one();
    }

    /// Closes the connection from outside its task, as the cap does to the longest-idle one.
    fn evict(&self) {
        let removed = self.connections.lock().by_id.remove(&self.id);
        if let Some(c) = removed {
            let _ = c.evict.send(());
            self.connections.freed.notify_one();
        }
    }
}

/// Gives up the connection's place however its task ends.
struct Closing(Slot);

impl Drop for Closing {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// A request in progress on a connection; the connection is idle again once every `Busy` of it
/// is dropped.
struct Busy(Slot);

impl Drop for Busy {
    fn drop(&mut self) {
        let Place {
            connections,
            activity,
            ..
        } = &*self.0;
        activity
            .idle_since
            .store(connections.now(), Ordering::Release);
        let idle = activity.in_progress.fetch_sub(1, Ordering::SeqCst) == 1;
        if idle && connections.waiting.load(Ordering::SeqCst) > 0 {
            connections.freed.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_default_refuse_nonsense_and_stay_under_the_descriptor_budget() {
        let defaults = Limits::parse(None, Some(" "), 5000).expect("defaults");
        assert_eq!(defaults.timeout, Duration::from_secs(30));
        assert_eq!(defaults.max_connections, DEFAULT_MAX_CONNECTIONS);
        let set = Limits::parse(Some("40"), Some("1500ms"), 5000).expect("values");
        assert_eq!(set.max_connections, 40);
        assert_eq!(set.timeout, Duration::from_millis(1500));
        let huge = Limits::parse(Some("100000000"), None, 300).expect("clamped");
        assert_eq!(huge.max_connections, 300);
        assert_eq!(Limits::from_env().map(|l| l.max_connections > 0), Ok(true));
        for (max, timeout) in [
            (Some("0"), None),
            (Some("-1"), None),
            (Some("many"), None),
            (None, Some("0s")),
            (None, Some("30")),
            (None, Some("1000d")),
        ] {
            assert!(
                Limits::parse(max, timeout, 5000).is_err(),
                "{max:?} {timeout:?} accepted"
            );
        }
    }

    #[test]
    fn the_budget_keeps_a_reserve_of_the_descriptors_free() {
        assert_eq!(budget(1_000_000), 1_000_000 - 128);
        assert_eq!(budget(1024), 896);
        // Few free: half of them; none: one, and a full table evicts at accept.
        assert_eq!(budget(200), 100);
        assert_eq!(budget(7), 3);
        assert_eq!(budget(0), 1);
        // stdin, stdout and stderr at least.
        assert!(open_descriptors().expect("this platform lists its descriptors") >= 3);
    }

    #[tokio::test]
    async fn at_the_cap_the_longest_idle_connection_makes_room() {
        let open = Arc::new(Connections::new(3));
        let (first, mut first_evicted) = open.register();
        tokio::time::sleep(Duration::from_millis(2)).await;
        let (_second, mut second_evicted) = open.register();
        tokio::time::sleep(Duration::from_millis(2)).await;
        let (_third, mut third_evicted) = open.register();
        // The oldest one is busy, so the second (idle the longest) goes.
        let busy = first.request_started();
        open.make_room().await;
        assert!(second_evicted.try_recv().is_ok());
        assert!(first_evicted.try_recv().is_err());
        assert_eq!(open.lock().by_id.len(), 2);
        // Idle again, but only just: the third has waited longer.
        drop(busy);
        let (_fourth, _) = open.register();
        open.make_room().await;
        assert!(third_evicted.try_recv().is_ok());
        assert!(first_evicted.try_recv().is_err());
    }

    #[tokio::test]
    async fn when_every_connection_is_busy_a_new_one_waits_for_a_request_to_end() {
        let open = Arc::new(Connections::new(1));
        let (only, mut evicted) = open.register();
        let busy = only.request_started();
        let waiting = tokio::spawn({
            let open = open.clone();
            async move { open.make_room().await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished(), "no room while the request runs");
        drop(busy);
        tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("room once the request ended")
            .expect("task");
        assert!(evicted.try_recv().is_ok());
    }

    #[tokio::test]
    async fn a_closed_connection_frees_its_place() {
        let open = Arc::new(Connections::new(1));
        let (only, _evicted) = open.register();
        let busy = only.request_started();
        only.close();
        drop(busy);
        assert!(open.try_make_room());
    }
}
