//! The redb store: events with their raw JSON, per-repository polling state, gaps, rate-limit
//! figures and request counters. The only module that knows redb.
//!
//! `open` opens and reopens the file (read-only through `overlay` when no ghpulse writes to
//! it), `verify` checks every page off the start-up path, `schema` holds the tables and
//! migrates older stores, `read` and `write` are the transactions, `count_index` answers
//! counts from memory.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use chrono::{DateTime, Utc};
use redb::{Database, ReadOnlyDatabase};
use serde::{Deserialize, Serialize};

use crate::github::event::EventMeta;
use crate::github::rate_limit::{RateLimit, RequestCounters};
use crate::stats::figures::Gap;

mod barrier;
mod codec;
mod count_index;
mod open;
mod overlay;
mod read;
mod schema;
mod verify;
mod write;

use count_index::CountIndex;
use schema::SCHEMA_VERSION;
pub use write::{PRUNE_SLICE_EVENTS, PrunedSlice};

/// What went wrong with the store. Every error names the file (a store without one, in
/// memory, has no name to give).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the store {} is in use by another ghpulse; stop it or pass another --data path", .0.display())]
    InUse(PathBuf),
    #[error("the store {} has schema version {found}, this ghpulse knows version {SCHEMA_VERSION}; use a matching ghpulse or another --data path", path.display())]
    Schema { path: PathBuf, found: String },
    #[error("{} is not a ghpulse store ({reason}); pass another --data path", path.display())]
    NotAStore { path: PathBuf, reason: String },
    #[error("the store {} does not exist yet; run ghpulse once to create it", .0.display())]
    Missing(PathBuf),
    /// The file opened is no longer at its path (deleted, or its folder, or another file moved
    /// over it): a write now would go to a file that is gone at exit, so none is made until
    /// the file is back.
    #[error("store: {} was {}; put it back, or restart ghpulse to start a new store", path.display(), if *replaced { "replaced by another file" } else { "removed" })]
    Removed { path: PathBuf, replaced: bool },
    /// A write or read of the file failed (disk full, I/O error): polling backs off and the
    /// store is reopened at the next write.
    #[error("store: {}{}", named(path), if *disk_full { "disk full" } else { message.as_str() })]
    Io {
        path: PathBuf,
        disk_full: bool,
        message: String,
    },
    #[error("the store {} is damaged ({reason}); move it aside (ghpulse then starts a new one) or restore a backup", path.display())]
    Damaged { path: PathBuf, reason: String },
    #[error("store: {}damaged data ({reason})", named(path))]
    Corrupted { path: PathBuf, reason: String },
    /// A write panicked inside redb or its storage: nothing of it is kept, and the database
    /// is reopened at the next write.
    #[error("store: {}a write failed ({reason})", named(path))]
    WritePanicked { path: PathBuf, reason: String },
    #[error("store: {}{message}", named(path))]
    Db { path: PathBuf, message: String },
}

/// `"<path>: "`, or nothing for a store without a file name.
fn named(path: &Path) -> String {
    if path.as_os_str().is_empty() {
        String::new()
    } else {
        format!("{}: ", path.display())
    }
}

impl StoreError {
    /// An error of the store's own (a path is added where the error leaves the store).
    pub(crate) fn db(message: impl Into<String>) -> StoreError {
        StoreError::Db {
            path: PathBuf::new(),
            message: message.into(),
        }
    }

    /// The error, naming `path` if it named no file yet.
    pub(crate) fn in_file(self, path: &Path) -> StoreError {
        let fill = |p: PathBuf| {
            if p.as_os_str().is_empty() {
                path.to_path_buf()
            } else {
                p
            }
        };
        match self {
            StoreError::Io {
                path: p,
                disk_full,
                message,
            } => StoreError::Io {
                path: fill(p),
                disk_full,
                message,
            },
            StoreError::Corrupted { path: p, reason } => StoreError::Corrupted {
                path: fill(p),
                reason,
            },
            StoreError::WritePanicked { path: p, reason } => StoreError::WritePanicked {
                path: fill(p),
                reason,
            },
            StoreError::Db { path: p, message } => StoreError::Db {
                path: fill(p),
                message,
            },
            other => other,
        }
    }
}

impl From<redb::Error> for StoreError {
    fn from(e: redb::Error) -> Self {
        match e {
            redb::Error::Io(io) => StoreError::Io {
                path: PathBuf::new(),
                disk_full: matches!(
                    io.kind(),
                    std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
                ),
                message: io.to_string(),
            },
            redb::Error::PreviousIo => StoreError::Io {
                path: PathBuf::new(),
                disk_full: false,
                message: "an earlier write failed; the store is reopened".into(),
            },
            redb::Error::Corrupted(reason) => StoreError::Corrupted {
                path: PathBuf::new(),
                reason,
            },
            other => StoreError::db(other.to_string()),
        }
    }
}

macro_rules! via_redb_error {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self { StoreError::from(redb::Error::from(e)) }
        }
    )*};
}
via_redb_error!(
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError::db(e.to_string())
    }
}

impl From<std::io::Error> for StoreError {
    fn from(e: std::io::Error) -> Self {
        StoreError::from(redb::Error::Io(e))
    }
}

/// What ghpulse remembers about polling one repository.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RepoState {
    pub etag: Option<String>,
    pub last_polled_at: Option<DateTime<Utc>>,
    /// The earliest next poll this answer allows (poll interval, backoff); the schedule may
    /// choose a later one.
    pub next_poll_at: Option<DateTime<Utc>>,
    /// Set after errors: no poll before this instant, whatever the schedule says.
    pub backoff_until: Option<DateTime<Utc>>,
    pub poll_interval_secs: Option<u64>,
    pub status: RepoStatus,
    pub last_error: Option<String>,
    pub consecutive_errors: u32,
    pub events_stored: u64,
    /// Set while a poll that stopped after page 1 (an error, a spent budget) has left events
    /// unread: the next polls send no ETag and read on until they reach this point.
    pub read_on: Option<ReadOn>,
}

impl RepoState {
    /// A read is owed — a poll was cut before reaching the events stored before it, or no
    /// first read has gone through yet — so events may be missing (`partial_reason:
    /// catching_up`).
    pub fn catching_up(&self) -> bool {
        self.read_on.is_some() || self.last_polled_at.is_none()
    }
}

/// Where an interrupted poll's reading must reach.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadOn {
    /// The newest event id stored before the interrupted poll; `None` when there was none,
    /// so reading goes on to the end of the timeline.
    pub before_id: Option<u64>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RepoStatus {
    #[default]
    Pending,
    Ok,
    NotFound,
    TokenRejected,
    Backoff,
    RateLimited,
}

impl RepoStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RepoStatus::Pending => "pending",
            RepoStatus::Ok => "ok",
            RepoStatus::NotFound => "not_found",
            RepoStatus::TokenRejected => "token_rejected",
            RepoStatus::Backoff => "backoff",
            RepoStatus::RateLimited => "rate_limited",
        }
    }
}

/// Everything one poll changes, written in one transaction: the events, then (atomically with
/// them) the ETag that would make the next poll skip them.
#[derive(Debug)]
pub struct PollRecord<'a> {
    pub repo_key: &'a str,
    pub events: &'a [(EventMeta, String)],
    pub gap: Option<Gap>,
    pub state: RepoState,
    pub rate_limit: Option<RateLimit>,
    pub counters: RequestCounters,
}

/// One event as the store keeps it, with its place in the storage order.
#[derive(Clone, Debug, PartialEq)]
pub struct Stored {
    pub seq: u64,
    pub repo_key: String,
    pub meta: EventMeta,
    pub raw: String,
}

#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
    counts: Arc<Mutex<CountIndex>>,
}

struct Inner {
    path: PathBuf,
    /// The file opened for writing, to find out when it is no longer at `path`.
    file: Option<same_file::Handle>,
    /// How the database is opened again after a failed write: redb answers every call after
    /// an I/O error with `PreviousIo` until the file is reopened.
    reopen: Box<dyn Fn() -> Result<Db, StoreError> + Send + Sync>,
    /// `None` between a failed write and the next successful reopen.
    db: RwLock<Option<Arc<Db>>>,
    /// The integrity check's state: writes wait for it to pass.
    check: Mutex<verify::Check>,
    /// Shut when the check finds damage: the file gets no byte more (see `barrier`).
    switch: barrier::Switch,
}

impl Drop for Inner {
    /// Compacts a fragmented file, closes the database, then seals a file that was checked
    /// (see `verify`).
    fn drop(&mut self) {
        let slot = self
            .db
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let Some(Ok(Db::Writer(lock))) = slot.map(Arc::try_unwrap) else {
            return;
        };
        let mut db = lock.into_inner().unwrap_or_else(PoisonError::into_inner);
        let check = self
            .check
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        // A database that failed can panic while closing: then there is no seal.
        let closed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            // Nothing waits for the store now. Only pages the check passed are rewritten.
            if matches!(check, verify::Check::Passed) {
                write::compact_if_fragmented(&self.path, &mut db);
            }
            db.close()
        }));
        if !matches!(closed, Ok(Ok(()))) {
            return;
        }
        let in_place = self.file.as_ref().is_some_and(|opened| {
            same_file::Handle::from_path(&self.path).is_ok_and(|now| now == *opened)
        });
        if in_place {
            verify::seal_if_checked(&self.path, &check);
        }
    }
}

enum Db {
    /// Open for writing. The lock is only taken exclusively to compact, which needs the
    /// `Database` to itself.
    Writer(RwLock<Database>),
    /// Open read-only beside a ghpulse that writes to the file: follows its commits.
    Reader(ReadOnlyDatabase),
    /// Open read-only with no ghpulse writing: the file through a copy-on-write layer in
    /// memory (`overlay`), repaired and checked there, never written. No ghpulse can start
    /// writing to the file meanwhile.
    Private {
        db: Database,
        _no_writer: open::NoWriter,
        /// Whether its pages were checked on opening (not when the seal vouched for them).
        #[cfg_attr(not(test), allow(dead_code))]
        checked: bool,
    },
}

#[cfg(test)]
mod tests;
