//! Opening a store — for writing, read-only beside a running ghpulse, on any backend — and
//! reopening it after a failed write; a damaged file is refused by name, never read.

use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use redb::{ConcurrencyMode, Database};

use super::schema::SCHEMA_VERSION;
use super::{Db, Inner, Store, StoreError};

/// redb's default page cache is 1 GiB, and it keeps every page a long ingest writes: 366 MB
/// resident after 50,000 events. The working set is small: the window's rows are read when a
/// snapshot is rebuilt (start, config change, pruning), counts and statistics come from memory,
/// and a commit touches the B-tree paths of one poll's events. Half of this is the most a
/// write transaction buffers. It fills up during an ingest and stays full, so every MiB here is
/// a MiB of the resident set; the REST endpoints' hot paths do not read it.
const CACHE_BYTES: usize = 4 << 20;
/// How long opening for writing waits for a reader's integrity check (`ghpulse stats`) before
/// it takes the file for another ghpulse.
const IN_USE_PATIENCE: std::time::Duration = std::time::Duration::from_secs(5);

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

    pub(super) fn on(
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

    /// The open database, reopened first if a write failed since.
    pub(super) fn db(&self) -> Result<Arc<Db>, StoreError> {
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
