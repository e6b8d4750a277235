//! The redb store: events with their raw JSON, per-repository polling state, gaps, rate-limit
//! figures and request counters. The only module that knows redb.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

use chrono::{DateTime, Utc};
use redb::{
    ConcurrencyMode, Database, ReadOnlyDatabase, ReadTransaction, ReadableDatabase, ReadableTable,
    TableDefinition, TableError,
};
use serde::{Deserialize, Serialize};

use crate::event::{EventMeta, Interner};
use crate::ratelimit::{RateLimit, RequestCounters};
use crate::stats::Gap;

mod codec;

/// Bumped whenever a table's layout changes. An older store is migrated in place when opened
/// for writing; a newer one is refused.
pub const SCHEMA_VERSION: u64 = 3;

/// redb's default page cache is 1 GiB, and it keeps every page a long ingest writes: 366 MB
/// resident after 50,000 events. The working set is small: the window's rows are read when a
/// snapshot is rebuilt (start, config change, pruning), counts and statistics come from memory,
/// and a commit touches the B-tree paths of one poll's events. Half of this is the most a
/// write transaction buffers. It fills up during an ingest and stays full, so every MiB here is
/// a MiB of the resident set; the REST endpoints' hot paths do not read it.
pub const CACHE_BYTES: usize = 4 << 20;
/// How long opening for writing waits for a reader's integrity check (`ghpulse stats`) before
/// it takes the file for another ghpulse.
const IN_USE_PATIENCE: std::time::Duration = std::time::Duration::from_secs(5);

/// The file is compacted when more than this share of it is free pages (checked with pruning,
/// which a watching ghpulse runs at start-up and hourly): copy-on-write leaves freed pages
/// behind that only new writes reuse, and the file grows in steps ahead of its content. Not
/// while opening: measuring reads every page (0.1 s at 50,000 events), which would delay the
/// first frame. Not during an ingest: compacting gives back the room the file just grew into,
/// and the next commit grows it again (tried: one compaction per commit, 0.1–0.6 s each,
/// through a 50,000-event ingest).
const COMPACT_ABOVE_FREE_SHARE: f64 = 0.25;
/// ... and at least this many bytes: a young file is mostly free space, and not worth a rewrite.
const COMPACT_ABOVE_FREE_BYTES: u64 = 1 << 20;

const META: TableDefinition<&str, &str> = TableDefinition::new("meta");
const REPOS: TableDefinition<&str, &str> = TableDefinition::new("repos");
/// (repo key, event id) -> raw event JSON, compressed (see `codec`): a fifth of its size.
const EVENTS: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("raw_json");
/// Schema version 2 kept the raw JSON LZ4-compressed without a dictionary under this name ...
const EVENTS_V2: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("raw_events");
/// ... and version 1 uncompressed under this one.
const EVENTS_V1: TableDefinition<(&str, u64), &str> = TableDefinition::new("events");
/// (repo key, created_at ms, event id) -> (type, actor, action or ""): E(R)'s order, so the
/// window is a reverse range scan that never parses JSON.
const BY_TIME: TableDefinition<(&str, i64, u64), (&str, &str, &str)> =
    TableDefinition::new("by_time");
/// (repo key, detected_at ms) -> gap JSON.
const GAPS: TableDefinition<(&str, i64), &str> = TableDefinition::new("gaps");

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
    /// A write or read of the file failed (disk full, I/O error): polling backs off and the
    /// store is reopened at the next write.
    #[error("store: {}", if *disk_full { "disk full" } else { message.as_str() })]
    Io { disk_full: bool, message: String },
    #[error("the store {} is damaged ({reason}); move it aside (ghpulse then starts a new one) or restore a backup", path.display())]
    Damaged { path: PathBuf, reason: String },
    #[error("store: damaged data ({0})")]
    Corrupted(String),
    /// A write panicked inside redb or its storage: nothing of it is kept, and the database
    /// is reopened at the next write.
    #[error("store: a write failed ({0})")]
    WritePanicked(String),
    #[error("store error: {0}")]
    Db(String),
}

impl From<redb::Error> for StoreError {
    fn from(e: redb::Error) -> Self {
        match e {
            redb::Error::Io(io) => StoreError::Io {
                disk_full: matches!(
                    io.kind(),
                    std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
                ),
                message: io.to_string(),
            },
            redb::Error::PreviousIo => StoreError::Io {
                disk_full: false,
                message: "an earlier write failed; the store is reopened".into(),
            },
            redb::Error::Corrupted(why) => StoreError::Corrupted(why),
            other => StoreError::Db(other.to_string()),
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
        StoreError::Db(e.to_string())
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

#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
    counts: Arc<Mutex<CountIndex>>,
}

struct Inner {
    path: PathBuf,
    /// How the database is opened again after a failed write: redb answers every call after
    /// an I/O error with `PreviousIo` until the file is reopened.
    reopen: Box<dyn Fn() -> Result<Db, StoreError> + Send + Sync>,
    /// `None` between a failed write and the next successful reopen.
    db: RwLock<Option<Arc<Db>>>,
}

enum Db {
    /// The lock is only taken exclusively to compact, which needs the `Database` to itself.
    Writer(RwLock<Database>),
    Reader(ReadOnlyDatabase),
}

/// Per repository key: for each event type, the `created_at` (ms) of every stored event,
/// ascending — so "how many since T" is a binary search per type, exact to the millisecond.
/// Filled per repository on first use from `by_time`, then kept in step by this store's commits
/// (the lock is held across them, so a load and a commit never interleave).
#[derive(Default)]
struct CountIndex {
    repos: HashMap<String, BTreeMap<String, Vec<i64>>>,
}

impl Store {
    /// Opens the store for writing, creating it (and its folder) on first use. A store that
    /// fails redb's integrity check (checksums of every page) is refused, never read.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let owned = path.to_path_buf();
        let open = move || {
            guarded(&owned, || {
                let mut db = Database::builder()
                    .set_concurrency_mode(ConcurrencyMode::SingleWriter)
                    .set_cache_size(CACHE_BYTES)
                    .create(&owned)
                    .map_err(|e| open_error(&owned, e))?;
                check_integrity(&owned, &mut db)?;
                Ok(Db::Writer(RwLock::new(db)))
            })
        };
        // `ghpulse stats` holds the file for the moment of its integrity check when no ghpulse
        // runs: a ghpulse starting then waits for it instead of calling it a second instance.
        let started = std::time::Instant::now();
        let db = loop {
            match open() {
                Err(StoreError::InUse(_)) if started.elapsed() < IN_USE_PATIENCE => {
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                other => break other?,
            }
        };
        let store = Store::on(path, db, open);
        store.check_or_init_schema()?;
        Ok(store)
    }

    /// A store on any redb backend, reopened through `make` after a failed write: tests use it
    /// to make writes fail (disk full, I/O errors) without root.
    pub fn with_backend<B: redb::StorageBackend>(
        name: &str,
        make: impl Fn() -> B + Send + Sync + 'static,
    ) -> Result<Store, StoreError> {
        let path = PathBuf::from(name);
        let shown = path.clone();
        let open = move || {
            let db = Database::builder()
                .set_cache_size(CACHE_BYTES)
                .create_with_backend(make())
                .map_err(|e| open_error(&shown, e))?;
            Ok(Db::Writer(RwLock::new(db)))
        };
        let store = Store::on(&path, open()?, open);
        store.check_or_init_schema()?;
        Ok(store)
    }

    /// A store in memory, for simulations and tests that need no file.
    pub fn in_memory() -> Result<Store, StoreError> {
        Store::with_backend(":memory:", redb::backends::InMemoryBackend::new)
    }

    fn on(
        path: &Path,
        db: Db,
        reopen: impl Fn() -> Result<Db, StoreError> + Send + Sync + 'static,
    ) -> Store {
        Store {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                reopen: Box::new(reopen),
                db: RwLock::new(Some(Arc::new(db))),
            }),
            counts: Arc::default(),
        }
    }

    /// Opens an existing store for reading, beside a running ghpulse that writes to it.
    ///
    /// A store left by a crash needs redb's repair, which a read-only open cannot do: when no
    /// ghpulse holds the file, it is opened for writing once (repaired and checked), then read.
    pub fn open_read_only(path: &Path) -> Result<Store, StoreError> {
        if !path.exists() {
            return Err(StoreError::Missing(path.to_path_buf()));
        }
        // No writer running: check every page first, so a damaged file is refused instead of
        // read into wrong figures (or a panic inside redb).
        guarded(path, || {
            match Database::builder()
                .set_concurrency_mode(ConcurrencyMode::SingleWriter)
                .set_cache_size(CACHE_BYTES)
                .open(path)
            {
                Ok(mut db) => check_integrity(path, &mut db),
                Err(redb::DatabaseError::DatabaseAlreadyOpen) => Ok(()),
                Err(e) => Err(open_error(path, e)),
            }
        })?;
        let owned = path.to_path_buf();
        let store = Store {
            inner: Arc::new(Inner {
                path: owned.clone(),
                reopen: Box::new(move || {
                    guarded(&owned, || {
                        redb::Builder::new()
                            .set_concurrency_mode(ConcurrencyMode::SingleWriter)
                            .set_cache_size(CACHE_BYTES)
                            .open_read_only(&owned)
                            .map(Db::Reader)
                            .map_err(|e| open_error(&owned, e))
                    })
                }),
                db: RwLock::new(None),
            }),
            counts: Arc::default(),
        };
        let found = store.read_meta("schema_version")?;
        match found.as_deref() {
            // Versions 1 and 2 differ only in how raw JSON is kept, which `RawTable` reads
            // either way: a reader cannot migrate, and need not refuse.
            Some(v) if v == SCHEMA_VERSION.to_string() || v == "1" || v == "2" => Ok(store),
            Some(v) => Err(StoreError::Schema {
                path: path.to_path_buf(),
                found: v.to_string(),
            }),
            None => Err(StoreError::NotAStore {
                path: path.to_path_buf(),
                reason: "no schema version".into(),
            }),
        }
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The open database, reopened first if a write failed since.
    fn db(&self) -> Result<Arc<Db>, StoreError> {
        if let Some(db) = self.lock_read().as_ref() {
            return Ok(db.clone());
        }
        let mut slot = self.lock_write();
        if let Some(db) = slot.as_ref() {
            return Ok(db.clone());
        }
        let db = Arc::new((self.inner.reopen)()?);
        *slot = Some(db.clone());
        Ok(db)
    }

    fn lock_read(&self) -> std::sync::RwLockReadGuard<'_, Option<Arc<Db>>> {
        self.inner.db.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn lock_write(&self) -> std::sync::RwLockWriteGuard<'_, Option<Arc<Db>>> {
        self.inner
            .db
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs a write transaction. After an I/O error, or a panic in the middle of a write, redb
    /// refuses every later call until the file is reopened, so the database is dropped here
    /// and reopened by the next call: once the disk has room again, writes resume without a
    /// restart.
    fn write<T>(
        &self,
        f: impl FnOnce(&redb::WriteTransaction) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let db = self.db()?;
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let Db::Writer(writer) = &*db else {
                return Err(StoreError::Db("the store was opened read-only".into()));
            };
            let txn = writer
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .begin_write()?;
            let value = f(&txn)?;
            txn.commit()?;
            Ok(value)
        }))
        .unwrap_or_else(|payload| {
            Err(StoreError::WritePanicked(
                panic_text(payload.as_ref()).unwrap_or_else(|| "a panic".into()),
            ))
        });
        let reopen = matches!(
            result,
            Err(StoreError::Io { .. } | StoreError::Corrupted(_) | StoreError::WritePanicked(_))
        );
        if reopen {
            drop(db);
            let failed = self.lock_write().take();
            // A database that failed mid-write can panic while closing (redb unwraps its own
            // poisoned locks after the file is closed): caught, so the next call reopens it.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(failed)));
        }
        result
    }

    fn read(&self) -> Result<ReadTransaction, StoreError> {
        Ok(match &*self.db()? {
            Db::Writer(db) => db
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .begin_read()?,
            Db::Reader(db) => db.begin_read()?,
        })
    }

    fn check_or_init_schema(&self) -> Result<(), StoreError> {
        let path = self.inner.path.clone();
        self.write(|txn| {
            let mut meta = txn.open_table(META)?;
            let found = meta.get("schema_version")?.map(|v| v.value().to_string());
            match found {
                Some(v) if v == SCHEMA_VERSION.to_string() => {}
                Some(v) if v == "1" || v == "2" => {
                    migrate_raw_json(txn)?;
                    meta.insert("schema_version", SCHEMA_VERSION.to_string().as_str())?;
                }
                Some(v) => {
                    return Err(StoreError::Schema { path, found: v });
                }
                None => {
                    // A redb file with tables but no version was written by something else.
                    let foreign = txn
                        .list_tables()?
                        .any(|t| redb::TableHandle::name(&t) != "meta");
                    if foreign {
                        return Err(StoreError::NotAStore {
                            path,
                            reason: "it holds tables ghpulse did not write".into(),
                        });
                    }
                    meta.insert("schema_version", SCHEMA_VERSION.to_string().as_str())?;
                }
            }
            txn.open_table(REPOS)?;
            txn.open_table(EVENTS)?;
            txn.open_table(BY_TIME)?;
            txn.open_table(GAPS)?;
            Ok(())
        })
    }

    fn read_meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        let txn = self.read()?;
        let table = match txn.open_table(META) {
            Ok(t) => t,
            Err(TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        Ok(table.get(key)?.map(|v| v.value().to_string()))
    }

    fn read_meta_json<T: for<'de> Deserialize<'de>>(
        &self,
        key: &str,
    ) -> Result<Option<T>, StoreError> {
        Ok(match self.read_meta(key)? {
            Some(s) => Some(serde_json::from_str(&s)?),
            None => None,
        })
    }

    pub fn rate_limit(&self) -> Result<Option<RateLimit>, StoreError> {
        self.read_meta_json("rate_limit")
    }

    pub fn counters(&self) -> Result<RequestCounters, StoreError> {
        Ok(self.read_meta_json("counters")?.unwrap_or_default())
    }

    pub fn repo_state(&self, repo_key: &str) -> Result<Option<RepoState>, StoreError> {
        let txn = self.read()?;
        let table = txn.open_table(REPOS)?;
        Ok(match table.get(repo_key)? {
            Some(v) => Some(serde_json::from_str(v.value())?),
            None => None,
        })
    }

    /// Which of `ids` are already stored for the repository.
    pub fn known_ids(&self, repo_key: &str, ids: &[u64]) -> Result<Vec<bool>, StoreError> {
        let txn = self.read()?;
        let table = txn.open_table(EVENTS)?;
        ids.iter()
            .map(|&id| Ok(table.get((repo_key, id))?.is_some()))
            .collect()
    }

    /// The largest event id stored for a repository: ids grow with publication, so every
    /// event GitHub lists after it in a timeline was read before.
    pub fn newest_id(&self, repo_key: &str) -> Result<Option<u64>, StoreError> {
        let txn = self.read()?;
        let table = txn.open_table(EVENTS)?;
        let newest = table
            .range((repo_key, 0)..=(repo_key, u64::MAX))?
            .next_back();
        Ok(match newest {
            Some(row) => Some(row?.0.value().1),
            None => None,
        })
    }

    /// The newest `limit` events of a repository in E(R)'s order, optionally of one type.
    pub fn recent_events(
        &self,
        repo_key: &str,
        limit: usize,
        event_type: Option<&str>,
    ) -> Result<Vec<EventMeta>, StoreError> {
        let txn = self.read()?;
        let table = txn.open_table(BY_TIME)?;
        let mut out = Vec::with_capacity(limit.min(1024));
        let mut strings = Interner::default();
        for row in table
            .range((repo_key, i64::MIN, 0)..=(repo_key, i64::MAX, u64::MAX))?
            .rev()
        {
            if out.len() >= limit {
                break;
            }
            let (k, v) = row?;
            let (_, ms, id) = k.value();
            let (ty, actor, action) = v.value();
            if event_type.is_some_and(|t| t != ty) {
                continue;
            }
            out.push(EventMeta {
                id,
                event_type: strings.get(ty),
                created_at: DateTime::from_timestamp_millis(ms).unwrap_or_default(),
                actor: strings.get(actor),
                action: (!action.is_empty()).then(|| strings.get(action)),
            });
        }
        // The list grew by doubling and is kept (in a snapshot) for as long as the window holds:
        // without this, up to 40 % of it would be spare capacity.
        out.shrink_to_fit();
        Ok(out)
    }

    /// Events of a repository created after `after` (SPEC 3a: `created_at > now - M`),
    /// counted by type (types with none left out). Answered from the in-memory count index,
    /// never a scan of the rows.
    pub fn count_after(
        &self,
        repo_key: &str,
        after: DateTime<Utc>,
    ) -> Result<BTreeMap<String, u64>, StoreError> {
        // Event times are whole milliseconds: later than `after` is later than its millisecond.
        let after_ms = after.timestamp_millis();
        let count = |times: &BTreeMap<String, Vec<i64>>| {
            times
                .iter()
                .map(|(ty, t)| {
                    (
                        ty,
                        (t.len() - t.partition_point(|&ms| ms <= after_ms)) as u64,
                    )
                })
                .filter(|&(_, n)| n > 0)
                .map(|(ty, n)| (ty.clone(), n))
                .collect()
        };
        if let Db::Reader(_) = &*self.db()? {
            // Another process writes: what this one would keep in step goes stale at once.
            return Ok(count(&self.load_times(repo_key)?));
        }
        let mut index = self.count_index();
        if !index.repos.contains_key(repo_key) {
            let times = self.load_times(repo_key)?;
            index.repos.insert(repo_key.to_string(), times);
        }
        Ok(index.repos.get(repo_key).map(count).unwrap_or_default())
    }

    fn count_index(&self) -> MutexGuard<'_, CountIndex> {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A repository's entry of the count index, read from `by_time`.
    fn load_times(&self, repo_key: &str) -> Result<BTreeMap<String, Vec<i64>>, StoreError> {
        let txn = self.read()?;
        let table = txn.open_table(BY_TIME)?;
        let mut times: BTreeMap<String, Vec<i64>> = BTreeMap::new();
        for row in table.range((repo_key, i64::MIN, 0)..=(repo_key, i64::MAX, u64::MAX))? {
            let (k, v) = row?;
            let ty = v.value().0;
            // Rows come in time order, so each list is built ascending.
            match times.get_mut(ty) {
                Some(list) => list.push(k.value().1),
                None => {
                    times.insert(ty.to_string(), vec![k.value().1]);
                }
            }
        }
        Ok(times)
    }

    /// The event as GitHub served it.
    pub fn raw_event(&self, repo_key: &str, id: u64) -> Result<Option<String>, StoreError> {
        let txn = self.read()?;
        RawTable::open(&txn)?.get(repo_key, id)
    }

    /// The raw JSON of several events of a repository, read in one transaction; None for an
    /// event no longer stored.
    pub fn raw_events(
        &self,
        repo_key: &str,
        ids: &[u64],
    ) -> Result<Vec<Option<String>>, StoreError> {
        let txn = self.read()?;
        let raw = RawTable::open(&txn)?;
        ids.iter().map(|&id| raw.get(repo_key, id)).collect()
    }

    /// Visits the events of `repo_keys` whose (created_at ms, id) lies in `from..=to`, merged
    /// into one timeline in E(R)'s order (oldest first, or newest first), with their raw JSON
    /// when `with_raw`, until `visit` returns false. One read transaction, so the picture is
    /// consistent while a ghpulse writes, and nothing is held in memory but one event.
    pub fn scan_events(
        &self,
        repo_keys: &[String],
        from: (i64, u64),
        to: (i64, u64),
        newest_first: bool,
        with_raw: bool,
        mut visit: impl FnMut(&str, EventMeta, Option<String>) -> bool,
    ) -> Result<(), StoreError> {
        type Rows<'t> = std::iter::Peekable<
            Box<dyn Iterator<Item = Result<(i64, u64, EventMeta), StoreError>> + 't>,
        >;
        let txn = self.read()?;
        let by_time = txn.open_table(BY_TIME)?;
        let raw = RawTable::open(&txn)?;
        let mut heads: Vec<Rows<'_>> = Vec::with_capacity(repo_keys.len());
        for key in repo_keys {
            let range =
                by_time.range((key.as_str(), from.0, from.1)..=(key.as_str(), to.0, to.1))?;
            let rows = range.map(|row| {
                let (k, v) = row?;
                let (_, ms, id) = k.value();
                let (ty, actor, action) = v.value();
                let meta = EventMeta {
                    id,
                    event_type: ty.into(),
                    created_at: DateTime::from_timestamp_millis(ms).unwrap_or_default(),
                    actor: actor.into(),
                    action: (!action.is_empty()).then(|| action.into()),
                };
                Ok((ms, id, meta))
            });
            let rows: Box<dyn Iterator<Item = _>> = if newest_first {
                Box::new(rows.rev())
            } else {
                Box::new(rows)
            };
            heads.push(rows.peekable());
        }
        loop {
            let mut next: Option<(usize, (i64, u64))> = None;
            for (i, rows) in heads.iter_mut().enumerate() {
                let key = match rows.peek() {
                    None => continue,
                    Some(Ok((ms, id, _))) => (*ms, *id),
                    Some(Err(_)) => match rows.next() {
                        Some(Err(e)) => return Err(e),
                        _ => continue,
                    },
                };
                let better = next.is_none_or(
                    |(_, best)| {
                        if newest_first { key > best } else { key < best }
                    },
                );
                if better {
                    next = Some((i, key));
                }
            }
            let Some((i, _)) = next else {
                return Ok(());
            };
            let Some(Ok((_, id, meta))) = heads[i].next() else {
                continue;
            };
            let key = repo_keys[i].as_str();
            let json = if with_raw {
                match raw.get(key, id)? {
                    Some(json) => Some(json),
                    None => continue,
                }
            } else {
                None
            };
            if !visit(key, meta, json) {
                return Ok(());
            }
        }
    }

    /// When a stored event was created, from its raw JSON.
    pub fn event_created_at(
        &self,
        repo_key: &str,
        id: u64,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        #[derive(Deserialize)]
        struct CreatedAt {
            created_at: DateTime<Utc>,
        }
        Ok(match self.raw_event(repo_key, id)? {
            Some(raw) => Some(serde_json::from_str::<CreatedAt>(&raw)?.created_at),
            None => None,
        })
    }

    pub fn gaps(&self, repo_key: &str) -> Result<Vec<Gap>, StoreError> {
        let txn = self.read()?;
        let table = txn.open_table(GAPS)?;
        table
            .range((repo_key, i64::MIN)..=(repo_key, i64::MAX))?
            .map(|row| Ok(serde_json::from_str(row?.1.value())?))
            .collect()
    }

    /// Commits one poll. Events already stored are skipped, so a repeated poll duplicates nothing.
    /// Returns how many events were new.
    pub fn record_poll(&self, rec: PollRecord<'_>) -> Result<u64, StoreError> {
        let mut index = self.count_index();
        let (added, added_times) = self.write(|txn| {
            let mut added = 0;
            let mut added_times = Vec::new();
            let mut events = txn.open_table(EVENTS)?;
            let mut by_time = txn.open_table(BY_TIME)?;
            // GitHub lists newest first; inserted oldest first, a poll's events fill B-tree
            // leaves instead of splitting each in half (10,000 events: 2,760 leaf pages
            // instead of 4,521).
            let mut in_id_order: Vec<&(EventMeta, String)> = rec.events.iter().collect();
            in_id_order.sort_unstable_by_key(|(meta, _)| meta.id);
            for (meta, raw) in in_id_order {
                if events.get((rec.repo_key, meta.id))?.is_some() {
                    continue;
                }
                events.insert((rec.repo_key, meta.id), codec::compress(raw).as_slice())?;
                by_time.insert(
                    (rec.repo_key, meta.created_at.timestamp_millis(), meta.id),
                    (
                        meta.event_type.as_str(),
                        meta.actor.as_str(),
                        meta.action.as_deref().unwrap_or(""),
                    ),
                )?;
                added += 1;
                added_times.push((meta.event_type.as_str(), meta.created_at.timestamp_millis()));
            }
            if let Some(gap) = &rec.gap {
                let mut gaps = txn.open_table(GAPS)?;
                gaps.insert(
                    (rec.repo_key, gap.detected_at.timestamp_millis()),
                    serde_json::to_string(gap)?.as_str(),
                )?;
            }
            let mut repos = txn.open_table(REPOS)?;
            let previous: RepoState = match repos.get(rec.repo_key)? {
                Some(v) => serde_json::from_str(v.value())?,
                None => RepoState::default(),
            };
            let state = RepoState {
                events_stored: previous.events_stored + added,
                ..rec.state
            };
            repos.insert(rec.repo_key, serde_json::to_string(&state)?.as_str())?;
            let mut meta = txn.open_table(META)?;
            if let Some(rl) = &rec.rate_limit {
                meta.insert("rate_limit", serde_json::to_string(rl)?.as_str())?;
            }
            meta.insert("counters", serde_json::to_string(&rec.counters)?.as_str())?;
            Ok((added, added_times))
        })?;
        index.add(rec.repo_key, &added_times);
        Ok(added)
    }

    /// Deletes events created before `cutoff` and gaps that ended before it. Returns the number
    /// of events removed.
    pub fn prune(&self, cutoff: DateTime<Utc>) -> Result<u64, StoreError> {
        let cutoff_ms = cutoff.timestamp_millis();
        let mut index = self.count_index();
        let removed_total = self.write(|txn| {
            let mut removed_total = 0;
            let mut repos = txn.open_table(REPOS)?;
            let mut events = txn.open_table(EVENTS)?;
            let mut by_time = txn.open_table(BY_TIME)?;
            let mut gaps = txn.open_table(GAPS)?;
            let keys: Vec<String> = repos
                .iter()?
                .map(|row| row.map(|(k, _)| k.value().to_string()))
                .collect::<Result<_, _>>()?;
            for key in keys {
                let old: Vec<(i64, u64)> = by_time
                    .range((key.as_str(), i64::MIN, 0)..(key.as_str(), cutoff_ms, 0))?
                    .map(|row| row.map(|(k, _)| (k.value().1, k.value().2)))
                    .collect::<Result<_, _>>()?;
                for &(ms, id) in &old {
                    by_time.remove((key.as_str(), ms, id))?;
                    events.remove((key.as_str(), id))?;
                }
                gaps.retain_in(
                    (key.as_str(), i64::MIN)..=(key.as_str(), i64::MAX),
                    |_, v| {
                        serde_json::from_str::<Gap>(v)
                            .is_ok_and(|g| g.to.timestamp_millis() >= cutoff_ms)
                    },
                )?;
                if !old.is_empty() {
                    let mut state: RepoState = match repos.get(key.as_str())? {
                        Some(v) => serde_json::from_str(v.value())?,
                        None => RepoState::default(),
                    };
                    state.events_stored = state.events_stored.saturating_sub(old.len() as u64);
                    repos.insert(key.as_str(), serde_json::to_string(&state)?.as_str())?;
                }
                removed_total += old.len() as u64;
            }
            Ok(removed_total)
        })?;
        index.remove_before(cutoff_ms);
        drop(index);
        // The free pages pruning leaves, and the room a long ingest left ahead of the file's
        // content, are checked here, at start-up and hourly.
        self.compact_if_fragmented();
        Ok(removed_total)
    }

    /// Compacts the file when free pages pass [`COMPACT_ABOVE_FREE_SHARE`] of it (and
    /// [`COMPACT_ABOVE_FREE_BYTES`]). Best effort:
    /// a transaction in progress (a REST read) makes redb decline, and the next prune retries.
    fn compact_if_fragmented(&self) {
        let Ok(db) = self.db() else { return };
        let Db::Writer(lock) = &*db else { return };
        let Ok(file_len) = std::fs::metadata(self.path()).map(|m| m.len()) else {
            return; // in memory
        };
        if file_len <= COMPACT_ABOVE_FREE_BYTES {
            return;
        }
        // Pages a commit freed are released by the next commit: an empty one first, so they
        // count as free.
        let measured = || -> Result<u64, StoreError> {
            let db = lock.read().unwrap_or_else(PoisonError::into_inner);
            db.begin_write()?.commit()?;
            let txn = db.begin_write()?;
            let stats = txn.stats()?;
            txn.abort()?;
            Ok(stats.allocated_pages() * stats.page_size() as u64)
        };
        let used = match measured() {
            Ok(used) => used,
            Err(e) => {
                tracing::warn!("store: cannot measure free space: {e}");
                return;
            }
        };
        let free = file_len.saturating_sub(used);
        let free_share = free as f64 / file_len.max(1) as f64;
        if free_share <= COMPACT_ABOVE_FREE_SHARE || free <= COMPACT_ABOVE_FREE_BYTES {
            return;
        }
        let mut db = lock.write().unwrap_or_else(PoisonError::into_inner);
        match db.compact() {
            Ok(_) => tracing::info!(
                "store compacted: {:.0} % of {file_len} bytes were free pages",
                free_share * 100.0
            ),
            Err(e) => tracing::debug!("store compaction postponed: {e}"),
        }
    }
}

impl CountIndex {
    fn add(&mut self, repo_key: &str, added: &[(&str, i64)]) {
        let Some(times) = self.repos.get_mut(repo_key) else {
            return; // not loaded yet: the load will read these rows
        };
        for &(ty, ms) in added {
            let list = match times.get_mut(ty) {
                Some(list) => list,
                None => times.entry(ty.to_string()).or_default(),
            };
            // New events are mostly the newest: the insertion point is usually the end.
            let at = list.partition_point(|&t| t <= ms);
            list.insert(at, ms);
        }
    }

    /// Mirrors `prune`: rows created before `cutoff_ms` are gone.
    fn remove_before(&mut self, cutoff_ms: i64) {
        for times in self.repos.values_mut() {
            for list in times.values_mut() {
                let old = list.partition_point(|&t| t < cutoff_ms);
                list.drain(..old);
            }
            times.retain(|_, list| !list.is_empty());
        }
    }
}

/// The raw JSON table of a read transaction, in the current format or (an older store opened
/// read-only, which a writer would have migrated) an older one.
enum RawTable {
    Current(redb::ReadOnlyTable<(&'static str, u64), &'static [u8]>),
    V2(redb::ReadOnlyTable<(&'static str, u64), &'static [u8]>),
    V1(redb::ReadOnlyTable<(&'static str, u64), &'static str>),
}

impl RawTable {
    fn open(txn: &ReadTransaction) -> Result<RawTable, StoreError> {
        let missing = |e: &TableError| matches!(e, TableError::TableDoesNotExist(_));
        match txn.open_table(EVENTS) {
            Ok(table) => return Ok(RawTable::Current(table)),
            Err(e) if !missing(&e) => return Err(e.into()),
            Err(_) => {}
        }
        match txn.open_table(EVENTS_V2) {
            Ok(table) => Ok(RawTable::V2(table)),
            Err(e) if missing(&e) => Ok(RawTable::V1(txn.open_table(EVENTS_V1)?)),
            Err(e) => Err(e.into()),
        }
    }

    fn get(&self, repo_key: &str, id: u64) -> Result<Option<String>, StoreError> {
        match self {
            RawTable::Current(t) => t
                .get((repo_key, id))?
                .map(|v| codec::decompress(v.value()))
                .transpose(),
            RawTable::V2(t) => t
                .get((repo_key, id))?
                .map(|v| codec::decompress_v2(v.value()))
                .transpose(),
            RawTable::V1(t) => Ok(t.get((repo_key, id))?.map(|v| v.value().to_string())),
        }
    }
}

/// Schema 1 or 2 -> 3: the raw JSON moves to the current table in the current format, in the
/// caller's transaction, so a crash leaves either the old store or the new one.
fn migrate_raw_json(txn: &redb::WriteTransaction) -> Result<(), StoreError> {
    let mut new = txn.open_table(EVENTS)?;
    let exists = |name: &str| -> Result<bool, StoreError> {
        Ok(txn
            .list_tables()?
            .any(|t| redb::TableHandle::name(&t) == name))
    };
    if exists(redb::TableHandle::name(&EVENTS_V2))? {
        for row in txn.open_table(EVENTS_V2)?.iter()? {
            let (k, v) = row?;
            let json = codec::decompress_v2(v.value())?;
            new.insert(k.value(), codec::compress(&json).as_slice())?;
        }
        txn.delete_table(EVENTS_V2)?;
    }
    if exists(redb::TableHandle::name(&EVENTS_V1))? {
        for row in txn.open_table(EVENTS_V1)?.iter()? {
            let (k, v) = row?;
            new.insert(k.value(), codec::compress(v.value()).as_slice())?;
        }
        txn.delete_table(EVENTS_V1)?;
    }
    Ok(())
}

/// redb's own integrity check: every page's checksum, repairing what a crash left. A damaged
/// file can trip an assertion inside redb (debug builds panic where release builds return
/// `Corrupted`): either way the store is called damaged, by name.
fn check_integrity(path: &Path, db: &mut Database) -> Result<(), StoreError> {
    match db.check_integrity() {
        Ok(_) => Ok(()),
        Err(redb::DatabaseError::Storage(redb::StorageError::Corrupted(reason))) => {
            Err(StoreError::Damaged {
                path: path.to_path_buf(),
                reason,
            })
        }
        Err(e) => Err(open_error(path, e)),
    }
}

/// Runs redb's opening of a file. A damaged file can trip an assertion inside redb (debug
/// builds panic where release builds return `Corrupted`): either way the store is called
/// damaged, by name, instead of taking the process down.
/// What a caught panic said, when it said it in text.
fn panic_text(payload: &(dyn std::any::Any + Send)) -> Option<String> {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
}

fn guarded<T>(path: &Path, open: impl FnOnce() -> Result<T, StoreError>) -> Result<T, StoreError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(open)).unwrap_or_else(|payload| {
        let reason = panic_text(payload.as_ref()).unwrap_or_else(|| "unreadable pages".into());
        Err(StoreError::Damaged {
            path: path.to_path_buf(),
            reason,
        })
    })
}

fn open_error(path: &Path, e: redb::DatabaseError) -> StoreError {
    match e {
        redb::DatabaseError::DatabaseAlreadyOpen => StoreError::InUse(path.to_path_buf()),
        // Not a redb file at all is invalid data; other I/O errors (permissions, a full disk)
        // say nothing about the file's content.
        redb::DatabaseError::Storage(redb::StorageError::Io(io))
            if io.kind() != std::io::ErrorKind::InvalidData =>
        {
            StoreError::from(redb::Error::Io(io))
        }
        redb::DatabaseError::UpgradeRequired(v) => StoreError::Schema {
            path: path.to_path_buf(),
            found: format!("redb file format {v}"),
        },
        other => StoreError::NotAStore {
            path: path.to_path_buf(),
            reason: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(id: u64, ty: &str, at: &str) -> (EventMeta, String) {
        let meta = EventMeta {
            id,
            event_type: ty.into(),
            created_at: at.parse().unwrap(),
            actor: "someone".into(),
            action: (ty == "IssuesEvent").then(|| "opened".into()),
        };
        (meta, format!("{{\"id\":\"{id}\"}}"))
    }

    fn record(store: &Store, repo: &str, events: &[(EventMeta, String)], etag: &str) -> u64 {
        store
            .record_poll(PollRecord {
                repo_key: repo,
                events,
                gap: None,
                state: RepoState {
                    etag: Some(etag.into()),
                    status: RepoStatus::Ok,
                    ..RepoState::default()
                },
                rate_limit: None,
                counters: RequestCounters {
                    total: 1,
                    ok: 1,
                    ..Default::default()
                },
            })
            .unwrap()
    }

    #[test]
    fn events_are_deduplicated_and_ordered_like_e_of_r() {
        let store = Store::in_memory().unwrap();
        let batch = [
            ev(3, "PushEvent", "2026-11-22T10:00:00Z"),
            ev(5, "IssuesEvent", "2026-11-22T09:00:00Z"),
            ev(4, "PushEvent", "2026-11-22T10:00:00Z"),
        ];
        assert_eq!(record(&store, "o/r", &batch, "W/\"1\""), 3);
        assert_eq!(
            record(&store, "o/r", &batch[..2], "W/\"2\""),
            0,
            "a repeated poll adds nothing"
        );
        let recent = store.recent_events("o/r", 10, None).unwrap();
        assert_eq!(
            recent.iter().map(|e| e.id).collect::<Vec<_>>(),
            [4, 3, 5],
            "created_at desc, then id desc"
        );
        assert_eq!(recent[2].action.as_deref(), Some("opened"));
        assert_eq!(
            store
                .recent_events("o/r", 10, Some("IssuesEvent"))
                .unwrap()
                .len(),
            1
        );
        assert_eq!(store.known_ids("o/r", &[3, 6]).unwrap(), [true, false]);
        assert_eq!(
            store.known_ids("other/repo", &[3]).unwrap(),
            [false],
            "ids are per repository"
        );
        let state = store.repo_state("o/r").unwrap().unwrap();
        assert_eq!(
            (state.events_stored, state.etag.as_deref()),
            (3, Some("W/\"2\""))
        );
        assert_eq!(
            store.raw_event("o/r", 5).unwrap().as_deref(),
            Some("{\"id\":\"5\"}")
        );
        assert_eq!(store.counters().unwrap().total, 1);
    }

    #[test]
    fn pruning_removes_old_events_and_gaps_and_keeps_counts() {
        let store = Store::in_memory().unwrap();
        record(
            &store,
            "o/r",
            &[
                ev(1, "A", "2026-10-01T00:00:00Z"),
                ev(2, "A", "2026-11-20T00:00:00Z"),
            ],
            "x",
        );
        let gap = Gap {
            detected_at: "2026-10-02T00:00:00Z".parse().unwrap(),
            from: "2026-10-01T00:00:00Z".parse().unwrap(),
            to: "2026-10-01T12:00:00Z".parse().unwrap(),
            estimated_missing: 3,
        };
        store
            .record_poll(PollRecord {
                repo_key: "o/r",
                events: &[],
                gap: Some(gap),
                state: store.repo_state("o/r").unwrap().unwrap(),
                rate_limit: None,
                counters: RequestCounters::default(),
            })
            .unwrap();
        assert_eq!(store.gaps("o/r").unwrap().len(), 1);
        let removed = store
            .prune("2026-10-23T00:00:00Z".parse().unwrap())
            .unwrap();
        assert_eq!(removed, 1);
        assert_eq!(store.recent_events("o/r", 10, None).unwrap().len(), 1);
        assert_eq!(store.raw_event("o/r", 1).unwrap(), None);
        assert!(store.gaps("o/r").unwrap().is_empty());
        assert_eq!(store.repo_state("o/r").unwrap().unwrap().events_stored, 1);
    }

    #[test]
    fn counts_after_an_instant_by_type() {
        let store = Store::in_memory().unwrap();
        record(
            &store,
            "o/r",
            &[
                ev(1, "A", "2026-11-22T09:00:00Z"),
                ev(2, "B", "2026-11-22T10:00:00Z"),
                ev(3, "B", "2026-11-22T10:30:00Z"),
            ],
            "x",
        );
        let counts = store
            .count_after("o/r", "2026-11-22T09:30:00Z".parse().unwrap())
            .unwrap();
        assert_eq!(
            counts.into_iter().collect::<Vec<_>>(),
            [("B".to_string(), 2)]
        );
    }

    #[test]
    fn counts_after_an_instant_are_exact_and_follow_commits_and_pruning() {
        let store = Store::in_memory().unwrap();
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let counts = |since: &str| {
            store
                .count_after("o/r", at(since))
                .unwrap()
                .into_iter()
                .collect::<Vec<_>>()
        };
        record(
            &store,
            "o/r",
            &[
                ev(1, "A", "2026-11-22T09:00:00Z"),
                ev(2, "B", "2026-11-22T10:00:00Z"),
            ],
            "x",
        );
        // A millisecond before is included, the instant itself and a fraction of a
        // millisecond before it are not.
        assert_eq!(counts("2026-11-22T09:59:59.999Z"), [("B".to_string(), 1)]);
        assert_eq!(counts("2026-11-22T09:59:59.9995Z"), [("B".to_string(), 1)]);
        assert!(counts("2026-11-22T10:00:00Z").is_empty());
        // Loaded now; later commits (out of time order too) must reach it.
        record(
            &store,
            "o/r",
            &[
                ev(4, "B", "2026-11-22T11:00:00Z"),
                ev(3, "A", "2026-11-22T08:00:00Z"),
                ev(2, "B", "2026-11-22T10:00:00Z"),
            ],
            "y",
        );
        record(
            &store,
            "other/r",
            &[ev(9, "A", "2026-11-22T10:30:00Z")],
            "z",
        );
        assert_eq!(
            counts("2026-11-22T07:59:59Z"),
            [("A".to_string(), 2), ("B".to_string(), 2)],
            "the duplicate id 2 is not counted twice"
        );
        store.prune(at("2026-11-22T09:30:00Z")).unwrap();
        assert_eq!(counts("2026-01-01T00:00:00Z"), [("B".to_string(), 2)]);
    }

    #[test]
    fn counts_agree_with_a_scan_of_the_rows() {
        let store = Store::in_memory().unwrap();
        let base: DateTime<Utc> = "2026-11-01T00:00:00Z".parse().unwrap();
        let mut rng = fastrand::Rng::with_seed(7);
        for batch in 0..20u64 {
            let events: Vec<_> = (0..50u64)
                .map(|i| {
                    let (mut meta, raw) = ev(batch * 50 + i, "A", "2026-11-01T00:00:00Z");
                    meta.event_type = ["A", "B", "C"][rng.usize(..3)].into();
                    meta.created_at = base + chrono::TimeDelta::seconds(rng.i64(0..86_400));
                    (meta, raw)
                })
                .collect();
            record(&store, "o/r", &events, "x");
            let since = base + chrono::TimeDelta::seconds(rng.i64(0..86_400));
            let mut scanned: BTreeMap<String, u64> = BTreeMap::new();
            for e in store.recent_events("o/r", usize::MAX, None).unwrap() {
                if e.created_at > since {
                    *scanned.entry(e.event_type.to_string()).or_default() += 1;
                }
            }
            assert_eq!(store.count_after("o/r", since).unwrap(), scanned);
        }
    }

    /// A store as schema version 1 (raw JSON uncompressed in `events`) or 2 (LZ4 without a
    /// dictionary in `raw_events`) wrote it.
    fn write_old_store(path: &Path, version: &str) {
        let db = Database::create(path).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let mut meta = txn.open_table(META).unwrap();
            meta.insert("schema_version", version).unwrap();
            let mut repos = txn.open_table(REPOS).unwrap();
            let state = RepoState {
                etag: Some("W/\"v1\"".into()),
                events_stored: 2,
                ..RepoState::default()
            };
            repos
                .insert("o/r", serde_json::to_string(&state).unwrap().as_str())
                .unwrap();
            let mut v1 = (version == "1").then(|| txn.open_table(EVENTS_V1).unwrap());
            let mut v2 = (version == "2").then(|| txn.open_table(EVENTS_V2).unwrap());
            let mut by_time = txn.open_table(BY_TIME).unwrap();
            for (meta, raw) in [
                ev(1, "PushEvent", "2026-11-22T09:00:00Z"),
                ev(2, "IssuesEvent", "2026-11-22T10:00:00Z"),
            ] {
                if let Some(v1) = &mut v1 {
                    v1.insert(("o/r", meta.id), raw.as_str()).unwrap();
                }
                if let Some(v2) = &mut v2 {
                    let lz4 = lz4_flex::compress_prepend_size(raw.as_bytes());
                    v2.insert(("o/r", meta.id), lz4.as_slice()).unwrap();
                }
                by_time
                    .insert(
                        ("o/r", meta.created_at.timestamp_millis(), meta.id),
                        (meta.event_type.as_str(), "someone", ""),
                    )
                    .unwrap();
            }
            txn.open_table(GAPS).unwrap();
        }
        txn.commit().unwrap();
    }

    #[test]
    fn older_stores_are_migrated_in_place() {
        for version in ["1", "2"] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("old.redb");
            write_old_store(&path, version);

            let reader = Store::open_read_only(&path).expect("a reader reads it as it is");
            assert_eq!(
                reader.raw_event("o/r", 2).unwrap().as_deref(),
                Some("{\"id\":\"2\"}"),
                "version {version}"
            );
            drop(reader);

            let store = Store::open(&path).expect("migrated, not refused");
            assert_eq!(
                store.read_meta("schema_version").unwrap().as_deref(),
                Some("3")
            );
            assert_eq!(
                store.raw_event("o/r", 1).unwrap().as_deref(),
                Some("{\"id\":\"1\"}"),
                "version {version}"
            );
            assert_eq!(
                store.known_ids("o/r", &[1, 2, 3]).unwrap(),
                [true, true, false]
            );
            assert_eq!(
                store.repo_state("o/r").unwrap().unwrap().etag.as_deref(),
                Some("W/\"v1\""),
                "the polling state is kept: no re-read after the upgrade"
            );
            assert_eq!(store.recent_events("o/r", 10, None).unwrap().len(), 2);
            let txn = store.read().unwrap();
            let tables: Vec<String> = txn
                .list_tables()
                .unwrap()
                .map(|t| redb::TableHandle::name(&t).to_string())
                .collect();
            assert_eq!(
                tables,
                ["by_time", "gaps", "meta", "raw_json", "repos"],
                "version {version}: the old table is gone"
            );
            drop(txn);
            drop(store);
            // Opened again: already the current version, nothing to do.
            let store = Store::open(&path).unwrap();
            assert_eq!(store.recent_events("o/r", 10, None).unwrap().len(), 2);
        }
    }

    #[test]
    fn raw_json_is_stored_compressed_and_pruning_compacts_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.redb");
        let store = Store::open(&path).unwrap();
        // Event-like JSON: repetitive keys, varying values.
        let raw = |id: u64| {
            let body: String = (0..40)
                .map(|i| format!("\"field_{i}\":\"value {} of event {id}\",", i * id % 97))
                .collect();
            format!("{{{body}\"id\":\"{id}\"}}")
        };
        let mut raw_bytes = 0;
        for batch in 0..20u64 {
            let events: Vec<_> = (0..200u64)
                .map(|i| {
                    let id = batch * 200 + i;
                    let (meta, _) = ev(id, "A", "2026-10-01T00:00:00Z");
                    let json = raw(id);
                    raw_bytes += json.len() as u64;
                    (meta, json)
                })
                .collect();
            record(&store, "o/r", &events, "x");
        }
        assert_eq!(store.raw_event("o/r", 1234).unwrap(), Some(raw(1234)));
        let full = std::fs::metadata(&path).unwrap().len();
        assert!(
            full < raw_bytes,
            "{full} bytes on disk for {raw_bytes} bytes of JSON"
        );
        assert_eq!(
            store
                .prune("2026-11-01T00:00:00Z".parse().unwrap())
                .unwrap(),
            4000
        );
        let pruned = std::fs::metadata(&path).unwrap().len();
        assert!(pruned < full / 2, "compacted: {full} -> {pruned} bytes");
    }

    #[test]
    fn a_file_store_is_exclusive_and_readable_alongside() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/ghpulse.redb");
        let writer = Store::open(&path).unwrap();
        assert!(matches!(Store::open(&path), Err(StoreError::InUse(_))));
        record(&writer, "o/r", &[ev(1, "A", "2026-11-22T09:00:00Z")], "x");
        let reader = Store::open_read_only(&path).unwrap();
        assert_eq!(reader.recent_events("o/r", 10, None).unwrap().len(), 1);
        assert!(matches!(
            Store::open_read_only(&dir.path().join("none.redb")),
            Err(StoreError::Missing(_))
        ));
    }

    #[test]
    fn a_file_that_is_not_a_store_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notes.redb");
        std::fs::write(&path, "just some text, not a database").unwrap();
        let err = Store::open(&path).err().expect("refused");
        assert!(matches!(err, StoreError::NotAStore { .. }), "{err}");
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "just some text, not a database",
            "left untouched"
        );
    }
}
