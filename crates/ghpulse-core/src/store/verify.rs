//! The full integrity check, off the start-up path, and the seal that spares readers it.
//!
//! redb verifies a page's checksum only when it repairs a file or is asked to check it: an
//! ordinary read checks bounds and page types, so a flipped byte inside a page can be read as
//! a wrong figure. Checking every page of a 500,000-event store takes 0.7 s, so:
//!
//! - A store opened for writing is checked once, in the background, after the first frame:
//!   against the commit that was the latest when the check began, through a second redb
//!   instance over a frozen copy of the file's header, while a read transaction keeps that
//!   commit's pages from being reused. Commits go on meanwhile; no write reaches the file
//!   before the check has passed (the first write waits for it), and a store found damaged is
//!   written to no more.
//! - When that store is closed, a seal beside it records the file's identity (device, inode,
//!   size, modification and change times). A reader with no ghpulse writing finds the file
//!   unchanged since a checked close and reads it at once; any change, by any program, moves
//!   the change time (which no program sets at will), and the reader checks every page first.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, MutexGuard, PoisonError};

use redb::{Database, ReadableDatabase};

use super::open::{CACHE_BYTES, guarded, open_error};
use super::overlay::Overlay;
use super::{Db, Store, StoreError};

/// Enough of the file's start to hold redb's header (320 bytes: its commit slots).
const HEADER_BYTES: usize = 4096;

/// Where a store stands with the integrity check.
#[derive(Clone, Debug)]
pub(super) enum Check {
    /// Not checked yet: the next write, or [`Store::verify`], runs it first.
    Owed,
    /// Every page of the file verified, or the file created by this process.
    Passed,
    /// Pages failed their checksums: nothing more is written.
    Damaged(String),
}

const NOT_REACHED: u8 = 0;
const PRIMARY_FAILED: u8 = 1;
const PRIMARY_VERIFIED: u8 = 2;

impl Store {
    /// Runs the integrity check if it is owed (at most once per open), waiting for one that
    /// is running. [`StoreError::Damaged`] when pages fail their checksums: the store then
    /// refuses every write.
    pub fn verify(&self) -> Result<(), StoreError> {
        let mut check = self.check_state();
        if let Check::Owed = *check {
            match self.verify_latest_commit() {
                Ok(()) => *check = Check::Passed,
                Err(StoreError::Damaged { reason, .. }) => {
                    self.inner.switch.shut();
                    *check = Check::Damaged(reason);
                }
                // Not a verdict on the pages (an I/O error): tried again at the next write.
                Err(e) => return Err(e),
            }
        }
        match &*check {
            Check::Damaged(reason) => Err(StoreError::Damaged {
                path: self.path().to_path_buf(),
                reason: reason.clone(),
            }),
            _ => Ok(()),
        }
    }

    pub(super) fn check_state(&self) -> MutexGuard<'_, Check> {
        self.inner
            .check
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Every page reachable from the latest commit checked against its checksum, while
    /// commits go on.
    pub(super) fn verify_latest_commit(&self) -> Result<(), StoreError> {
        let db = self.db()?;
        let Db::Writer(lock) = &*db else {
            return Ok(());
        };
        let path = self.path();
        let (overlay, pinned) = {
            let db = lock.read().unwrap_or_else(PoisonError::into_inner);
            // While this write transaction is open no commit lands, so the header copied now
            // names the commit the read transaction pins: redb reuses none of its pages until
            // that transaction ends.
            let hold = db.begin_write()?;
            let pinned = db.begin_read()?;
            let overlay = frozen_copy(path).map_err(|e| StoreError::from(e).in_file(path))?;
            hold.abort()?;
            (overlay, pinned)
        };
        let verdict = Arc::new(AtomicU8::new(NOT_REACHED));
        let seen = verdict.clone();
        let mut builder = Database::builder();
        builder
            .set_cache_size(CACHE_BYTES)
            .set_check_integrity_on_open(true)
            // redb's repair reports 0.3 only after the latest commit failed to verify, and 0.6
            // once it verified; what follows (rebuilding the allocator state) is not needed.
            .set_repair_callback(move |session| {
                let progress = session.progress();
                if progress > 0.0 {
                    let failed = progress < 0.5;
                    seen.store(
                        if failed {
                            PRIMARY_FAILED
                        } else {
                            PRIMARY_VERIFIED
                        },
                        Ordering::Release,
                    );
                    session.abort();
                }
            });
        let opened = guarded(path, || {
            builder
                .create_with_backend(overlay)
                .map(drop)
                .map_err(|e| match e {
                    redb::DatabaseError::RepairAborted => StoreError::db("aborted"),
                    redb::DatabaseError::Storage(redb::StorageError::Corrupted(reason)) => {
                        StoreError::Damaged {
                            path: path.to_path_buf(),
                            reason,
                        }
                    }
                    other => open_error(path, other),
                })
        });
        drop(pinned);
        match (opened, verdict.load(Ordering::Acquire)) {
            (Err(e @ StoreError::Damaged { .. }), _) => Err(e),
            (_, PRIMARY_FAILED) => Err(StoreError::Damaged {
                path: path.to_path_buf(),
                reason: "pages of the latest commit fail their checksums".into(),
            }),
            (_, PRIMARY_VERIFIED) => Ok(()),
            // The open went through without a repair: redb found nothing to verify.
            (Ok(()), _) => Ok(()),
            (Err(e), _) => Err(e),
        }
    }
}

/// Writes the seal after the database is closed, if the file was checked and is still at its
/// path. Best effort: without a seal, the next reader checks every page.
pub(super) fn seal_if_checked(path: &Path, check: &Check) {
    if !matches!(check, Check::Passed) {
        return;
    }
    let Some(identity) = identity_of_path(path) else {
        return;
    };
    let sealed = seal_path(path);
    let dir = sealed
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let written = tempfile::NamedTempFile::new_in(dir).and_then(|mut tmp| {
        std::io::Write::write_all(&mut tmp, identity.as_bytes())?;
        tmp.persist(&sealed).map(drop).map_err(|e| e.error)
    });
    if let Err(e) = written {
        tracing::debug!("store: no seal written beside {}: {e}", path.display());
    }
}

/// The seal of a store: beside it, named after it.
pub(super) fn seal_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".checked");
    PathBuf::from(name)
}

/// Whether the opened file is, by its identity, the file a checked close left.
pub(super) fn sealed(path: &Path, file: &File) -> bool {
    let Some(now) = file.metadata().ok().as_ref().and_then(identity) else {
        return false;
    };
    std::fs::read_to_string(seal_path(path)).is_ok_and(|seal| seal == now)
}

/// A writer removes the seal before its first write: a seal must never outlive the state of
/// the file it describes, even where a change left the times as they were.
pub(super) fn break_seal(path: &Path) {
    match std::fs::remove_file(seal_path(path)) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!("store: cannot remove {}: {e}", seal_path(path).display()),
    }
}

fn identity_of_path(path: &Path) -> Option<String> {
    identity(&std::fs::metadata(path).ok()?)
}

#[cfg(unix)]
fn identity(meta: &std::fs::Metadata) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    Some(format!(
        "ghpulse store seal 1\ndevice {}\ninode {}\nsize {}\nmodified {}.{:09}\nchanged {}.{:09}\n",
        meta.dev(),
        meta.ino(),
        meta.size(),
        meta.mtime(),
        meta.mtime_nsec(),
        meta.ctime(),
        meta.ctime_nsec()
    ))
}

/// Without a change time that programs cannot set, there is no seal: readers always check.
#[cfg(not(unix))]
fn identity(_: &std::fs::Metadata) -> Option<String> {
    None
}

/// The file through a copy-on-write layer whose first bytes (redb's header) are copied now:
/// later commits rewrite the header in the file, not in the copy.
fn frozen_copy(path: &Path) -> std::io::Result<Overlay> {
    let overlay = Overlay::new(File::open(path)?)?;
    let len = redb::StorageBackend::len(&overlay)?;
    let mut head = vec![0; HEADER_BYTES.min(len as usize)];
    redb::StorageBackend::read(&overlay, 0, &mut head)?;
    redb::StorageBackend::write(&overlay, 0, &head)?;
    Ok(overlay)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::{PollRecord, RepoState, RepoStatus};
    use super::*;
    use crate::github::event::EventMeta;

    /// `n` events of one repository from id `first`, a poll of 100 at a time.
    fn fill(store: &Store, repo: &str, first: u64, n: u64) -> Result<(), StoreError> {
        let start: chrono::DateTime<chrono::Utc> = "2026-11-01T00:00:00Z".parse().unwrap();
        let ids: Vec<u64> = (first..first + n).collect();
        for chunk in ids.chunks(100) {
            let events: Vec<(EventMeta, String)> = chunk
                .iter()
                .rev()
                .map(|&id| {
                    let meta = EventMeta {
                        id,
                        event_type: "PushEvent".into(),
                        created_at: start + chrono::TimeDelta::seconds(id as i64),
                        actor: "someone".into(),
                        action: None,
                    };
                    let raw = format!(
                        "{{\"id\":\"{id}\",\"type\":\"PushEvent\",\"payload\":{{\"n\":\"{}\"}}}}",
                        id.wrapping_mul(0x9e37_79b9_7f4a_7c15)
                    );
                    (meta, raw)
                })
                .collect();
            store.record_poll(PollRecord {
                repo_key: repo,
                events: &events,
                gap: None,
                state: RepoState {
                    status: RepoStatus::Ok,
                    ..RepoState::default()
                },
                rate_limit: None,
                counters: Default::default(),
            })?;
        }
        Ok(())
    }

    /// redb's header flags, after its 9-byte magic number (its file format).
    const REDB_FLAGS_BYTE: usize = 9;

    fn private_checked(store: &Store) -> bool {
        match &*store.db().unwrap() {
            Db::Private { checked, .. } => *checked,
            _ => panic!("not read through the overlay"),
        }
    }

    fn filled_store(path: &Path) {
        let store = Store::open(path).unwrap();
        fill(&store, "o/r", 1, 3000).unwrap();
        store.verify().unwrap();
    }

    #[test]
    fn the_check_passes_while_commits_go_on() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ghpulse.redb");
        filled_store(&path);
        let store = Store::open(&path).unwrap();
        let writing = store.clone();
        let writer = std::thread::spawn(move || fill(&writing, "o/s", 10_000, 4000));
        let mut checks = 0;
        while !writer.is_finished() || checks < 3 {
            store.verify_latest_commit().expect("no false alarm");
            checks += 1;
        }
        writer.join().unwrap().unwrap();
        assert!(checks >= 3);
        assert_eq!(store.newest_id("o/s").unwrap(), Some(13_999));
    }

    /// The ids a store holds for a repository, read row by row.
    fn ids(store: &Store, repo: &str) -> Vec<u64> {
        store
            .recent_events(repo, usize::MAX, None)
            .unwrap()
            .iter()
            .map(|e| e.id)
            .collect()
    }

    #[test]
    fn damaged_pages_are_found_and_nothing_more_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let clean_path = dir.path().join("clean.redb");
        filled_store(&clean_path);
        let clean = std::fs::read(&clean_path).unwrap();
        let expected = ids(&Store::open_read_only(&clean_path).unwrap(), "o/r");
        let path = dir.path().join("ghpulse.redb");
        let pages = clean.len() / 4096;
        let (mut refused_on_open, mut writes_refused, mut unused_page) = (0, 0, 0);
        // Bytes in the middle of one page at a time, across the file: in a leaf, they are
        // keys or values, which only the checksums can tell from the real ones.
        for page in (1..pages).step_by((pages / 16).max(1)) {
            let mut bytes = clean.clone();
            let at = page * 4096 + 2048;
            bytes[at..at + 16].iter_mut().for_each(|b| *b ^= 0x5a);
            std::fs::write(&path, &bytes).unwrap();
            let _ = std::fs::remove_file(seal_path(&path));
            let store = match Store::open(&path) {
                Ok(store) => store,
                // Damage redb meets while opening is refused there, by name.
                Err(e) => {
                    assert!(e.to_string().contains(&path.display().to_string()), "{e}");
                    refused_on_open += 1;
                    continue;
                }
            };
            match fill(&store, "o/r", 5000, 100) {
                Err(StoreError::Damaged { .. }) => {
                    writes_refused += 1;
                    assert!(matches!(store.verify(), Err(StoreError::Damaged { .. })));
                    drop(store);
                    let after = std::fs::read(&path).unwrap();
                    // Only the flag byte redb sets on opening (the file is open, so a crash
                    // must be repaired) differs: not a page was written.
                    let changed: Vec<usize> = (0..after.len().max(bytes.len()))
                        .filter(|&i| after.get(i) != bytes.get(i))
                        .collect();
                    assert!(
                        changed.iter().all(|&i| i == REDB_FLAGS_BYTE),
                        "page {page}: bytes written at {:?}",
                        &changed[..changed.len().min(8)]
                    );
                    assert!(
                        !seal_path(&path).exists(),
                        "a damaged store is never sealed"
                    );
                }
                Err(e) => panic!("page {page}: {e:?}"),
                // A page no commit uses: the events read exactly.
                Ok(()) => {
                    unused_page += 1;
                    let mut want = (5000..5100).rev().collect::<Vec<u64>>();
                    want.extend(&expected);
                    assert_eq!(ids(&store, "o/r"), want, "page {page}");
                }
            }
        }
        eprintln!(
            "{refused_on_open} refused on opening, {writes_refused} writes refused, {unused_page} unused"
        );
        assert!(writes_refused > 0, "no damage reached the check");
    }

    #[test]
    fn a_sealed_store_is_read_at_once_and_a_changed_one_checked_first() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ghpulse.redb");
        filled_store(&path);
        assert!(seal_path(&path).exists(), "a checked close seals the store");
        let reader = Store::open_read_only(&path).unwrap();
        assert_eq!(reader.newest_id("o/r").unwrap(), Some(3000));
        assert!(!private_checked(&reader), "the seal vouches for the pages");
        drop(reader);

        // The same bytes written again: a change all the same.
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes).unwrap();
        let reader = Store::open_read_only(&path).unwrap();
        assert_eq!(reader.newest_id("o/r").unwrap(), Some(3000));
        assert!(private_checked(&reader), "a changed file is checked");
        drop(reader);

        let writer = Store::open(&path).unwrap();
        assert!(!seal_path(&path).exists(), "a writer breaks the seal");
        drop(writer);
        assert!(
            !seal_path(&path).exists(),
            "closed before its check ran: nothing vouches for the pages"
        );
    }

    #[test]
    fn a_store_this_process_created_is_sealed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ghpulse.redb");
        let store = Store::open(&path).unwrap();
        fill(&store, "o/r", 1, 10).unwrap();
        drop(store);
        assert!(
            seal_path(&path).exists(),
            "every page was written by this process"
        );
    }
}
