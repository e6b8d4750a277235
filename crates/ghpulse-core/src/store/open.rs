//! Opening a store — for writing, read-only beside a running ghpulse, on any backend — and
//! reopening it after a failed write; a damaged file is refused by name, never read.

use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use redb::{ConcurrencyMode, Database};

use super::barrier::{Barrier, Switch};
use super::overlay::Overlay;
use super::schema::SCHEMA_VERSION;
use super::verify::{self, Check};
use super::{Db, Inner, Store, StoreError};

/// redb's default page cache is 1 GiB, and it keeps every page a long ingest writes: 366 MB
/// resident after 50,000 events. The working set is small: the window's rows are read when a
/// snapshot is rebuilt (start, config change, pruning), counts and statistics come from memory,
/// and a commit touches the B-tree paths of one poll's events. Half of this is the most a
/// write transaction buffers. It fills up during an ingest and stays full, so every MiB here is
/// a MiB of the resident set; the REST endpoints' hot paths do not read it.
pub(super) const CACHE_BYTES: usize = 4 << 20;
/// How long opening for writing waits for a reader (`ghpulse stats`, `export`) before it
/// takes the file for another ghpulse; and how long a reader waits for a writer that is
/// starting.
const IN_USE_PATIENCE: std::time::Duration = std::time::Duration::from_secs(5);

impl Store {
    /// Opens the store for writing, creating it (and its folder) on first use. Every page
    /// is checked against its checksum before the first write, off the start-up path (see
    /// `verify`); redb itself checks them on opening a file a crash left.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::from(e).in_file(path))?;
        }
        let fresh = std::fs::metadata(path).map_or(true, |m| m.len() == 0);
        let switch = Switch::default();
        let writer = move |path: &Path, create: bool, switch: &Switch| {
            guarded(path, || {
                let file = std::fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create(create)
                    .truncate(false)
                    .open(path)
                    .map_err(|e| StoreError::from(e).in_file(path))?;
                let file =
                    redb::backends::FileBackend::new(file).map_err(|e| open_error(path, e))?;
                let db = Database::builder()
                    .set_concurrency_mode(ConcurrencyMode::SingleWriter)
                    .set_cache_size(CACHE_BYTES)
                    .create_with_backend(Barrier::new(file, switch.clone()))
                    .map_err(|e| open_error(path, e))?;
                Ok(Db::Writer(RwLock::new(db)))
            })
        };
        // `ghpulse stats` holds the file while it reads when no ghpulse runs: a ghpulse
        // starting then waits for it instead of calling it a second instance.
        let started = std::time::Instant::now();
        let db = loop {
            match writer(path, true, &switch) {
                Err(StoreError::InUse(_)) if started.elapsed() < IN_USE_PATIENCE => {
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                other => break other?,
            }
        };
        let file =
            same_file::Handle::from_path(path).map_err(|e| StoreError::from(e).in_file(path))?;
        let owned = path.to_path_buf();
        // Reopened after a failed write: the file must exist by then (a missing one is the
        // store removed, never a reason to start an empty one).
        verify::break_seal(path);
        let shut = switch.clone();
        let store = Store::on(path, Some(file), db, switch, move || {
            writer(&owned, false, &shut)
        });
        if fresh {
            *store.check_state() = Check::Passed;
        }
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
        let store = Store::on(&path, None, open()?, Switch::default(), open);
        // Nothing on disk to check: the backend is new.
        *store.check_state() = Check::Passed;
        store.check_or_init_schema()?;
        Ok(store)
    }

    /// A store in memory, for simulations and tests that need no file.
    pub fn in_memory() -> Result<Store, StoreError> {
        Store::with_backend(":memory:", redb::backends::InMemoryBackend::new)
    }

    fn on(
        path: &Path,
        file: Option<same_file::Handle>,
        db: Db,
        switch: Switch,
        reopen: impl Fn() -> Result<Db, StoreError> + Send + Sync + 'static,
    ) -> Store {
        Store {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                file,
                reopen: Box::new(reopen),
                db: RwLock::new(Some(Arc::new(db))),
                check: Mutex::new(Check::Owed),
                switch,
            }),
            counts: Arc::default(),
        }
    }

    /// Opens an existing store for reading, truly read-only: nothing is ever written to the
    /// file, so a read-only file or folder is no obstacle.
    ///
    /// Beside a running ghpulse, it follows that ghpulse's commits. With none running, the
    /// file is read through a copy-on-write layer in memory, where redb repairs a store left
    /// by a crash and checks every page, so a damaged file is refused instead of read into
    /// wrong figures (or a panic inside redb); no ghpulse can start writing meanwhile (one
    /// starting waits for it, see `open`).
    pub fn open_read_only(path: &Path) -> Result<Store, StoreError> {
        if !path.exists() {
            return Err(StoreError::Missing(path.to_path_buf()));
        }
        let owned = path.to_path_buf();
        let store = Store {
            inner: Arc::new(Inner {
                path: owned.clone(),
                file: None,
                reopen: Box::new(move || reader(&owned)),
                db: RwLock::new(None),
                // Never written through: its pages are checked when it is opened (`private`).
                check: Mutex::new(Check::Passed),
                switch: Switch::default(),
            }),
            counts: Arc::default(),
        };
        let found = store.read_meta("schema_version")?;
        match found.as_deref() {
            // Versions 1 and 2 differ only in how raw JSON is kept, which `RawTable` reads
            // either way, and 3 only lacks the storage order, which only the watching
            // ghpulse's live stream reads: a reader cannot migrate, and need not refuse.
            Some(v) if v == SCHEMA_VERSION.to_string() || matches!(v, "1" | "2" | "3") => Ok(store),
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

    /// Whether the file opened for writing is still the one at the path: one that was
    /// deleted (or its folder), or that another file replaced, is written to no more.
    pub(super) fn check_in_place(&self) -> Result<(), StoreError> {
        let Some(opened) = &self.inner.file else {
            return Ok(());
        };
        let path = self.path();
        match same_file::Handle::from_path(path) {
            Ok(now) if now == *opened => Ok(()),
            Ok(_) => Err(StoreError::Removed {
                path: path.to_path_buf(),
                replaced: true,
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(StoreError::Removed {
                path: path.to_path_buf(),
                replaced: false,
            }),
            Err(e) => Err(StoreError::from(e).in_file(path)),
        }
    }

    /// The open database, reopened first if a write failed since.
    pub(super) fn db(&self) -> Result<Arc<Db>, StoreError> {
        if let Some(db) = self.lock_read().as_ref() {
            return Ok(db.clone());
        }
        let mut slot = self.lock_write();
        if let Some(db) = slot.as_ref() {
            return Ok(db.clone());
        }
        self.check_in_place()?;
        let db = Arc::new((self.inner.reopen)()?);
        *slot = Some(db.clone());
        Ok(db)
    }

    pub(super) fn lock_read(&self) -> std::sync::RwLockReadGuard<'_, Option<Arc<Db>>> {
        self.inner.db.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn lock_write(&self) -> std::sync::RwLockWriteGuard<'_, Option<Arc<Db>>> {
        self.inner
            .db
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// The byte a single-writer redb `Database` holds exclusively while it is open (redb's
/// design document, "Lock bytes"; the store's tests check that it still is).
const REDB_WRITER_BYTE: u64 = 1 << 62;

/// A shared lock on redb's writer byte: taking it proves that no ghpulse writes to the
/// file, and holding it keeps any from starting to (its open finds the file in use).
pub(super) struct NoWriter(#[allow(dead_code)] redb::backends::FileBackend);

impl NoWriter {
    /// The lock, or `None` when a ghpulse is writing to the file.
    pub(super) fn take(path: &Path) -> Result<Option<NoWriter>, StoreError> {
        let named = |e: std::io::Error| StoreError::from(e).in_file(path);
        let file = std::fs::File::open(path).map_err(named)?;
        let backend = redb::backends::FileBackend::new(file).map_err(|e| open_error(path, e))?;
        let byte = (
            Bound::Included(REDB_WRITER_BYTE),
            Bound::Excluded(REDB_WRITER_BYTE + 1),
        );
        match redb::StorageBackend::try_lock_shared_range(&backend, byte.0, byte.1) {
            Ok(true) => Ok(Some(NoWriter(backend))),
            Ok(false) => Ok(None),
            Err(e) => Err(StoreError::db(format!("cannot lock the file: {e}")).in_file(path)),
        }
    }
}

/// Opens the file for reading without ever writing to it: see [`Store::open_read_only`].
fn reader(path: &Path) -> Result<Db, StoreError> {
    // A writer that is starting (repairing what a crash left), or that dies as this looks,
    // leaves the file unclean for a moment: look again.
    let started = std::time::Instant::now();
    loop {
        let attempt = match NoWriter::take(path)? {
            Some(no_writer) => return guarded(path, || private(path, no_writer)),
            None => redb::Builder::new()
                .set_concurrency_mode(ConcurrencyMode::SingleWriter)
                .set_cache_size(CACHE_BYTES)
                .open_read_only(path),
        };
        match attempt {
            Ok(db) => return Ok(Db::Reader(db)),
            Err(redb::DatabaseError::RepairAborted) if started.elapsed() < IN_USE_PATIENCE => {
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            Err(e) => return Err(open_error(path, e)),
        }
    }
}

/// The file through a copy-on-write layer: repaired if a crash left it so, and every page
/// checked unless the file is as a checked close sealed it (see `verify`).
fn private(path: &Path, no_writer: NoWriter) -> Result<Db, StoreError> {
    let file = std::fs::File::open(path).map_err(|e| StoreError::from(e).in_file(path))?;
    let sealed = verify::sealed(path, &file);
    let overlay = Overlay::new(file).map_err(|e| StoreError::from(e).in_file(path))?;
    let mut db = Database::builder()
        .set_cache_size(CACHE_BYTES)
        .create_with_backend(overlay)
        .map_err(|e| open_error(path, e))?;
    if !sealed {
        check_integrity(path, &mut db)?;
    }
    Ok(Db::Private {
        db,
        _no_writer: no_writer,
        checked: !sealed,
    })
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

/// What a caught panic said, when it said it in text.
pub(super) fn panic_text(payload: &(dyn std::any::Any + Send)) -> Option<String> {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
}

/// Runs redb's opening of a file. A damaged file can trip an assertion inside redb (debug
/// builds panic where release builds return `Corrupted`): either way the store is called
/// damaged, by name, instead of taking the process down.
pub(super) fn guarded<T>(
    path: &Path,
    open: impl FnOnce() -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(open)).unwrap_or_else(|payload| {
        let reason = panic_text(payload.as_ref()).unwrap_or_else(|| "unreadable pages".into());
        Err(StoreError::Damaged {
            path: path.to_path_buf(),
            reason,
        })
    })
}

pub(super) fn open_error(path: &Path, e: redb::DatabaseError) -> StoreError {
    match e {
        redb::DatabaseError::DatabaseAlreadyOpen => StoreError::InUse(path.to_path_buf()),
        // Not a redb file at all is invalid data; other I/O errors (permissions, a full disk)
        // say nothing about the file's content.
        redb::DatabaseError::Storage(redb::StorageError::Io(io))
            if io.kind() != std::io::ErrorKind::InvalidData =>
        {
            StoreError::from(redb::Error::Io(io)).in_file(path)
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
