//! Writes: one transaction per poll, pruning, and compaction of a fragmented file; a failed
//! write drops the database so the next call reopens it.

use std::path::PathBuf;
use std::sync::PoisonError;

use chrono::{DateTime, Utc};
use redb::ReadableTable;

use super::open::panic_text;
use super::schema::{BY_TIME, EVENTS, GAPS, META, REPOS, SEQ_OF, STORED};
use super::{Db, PollRecord, RepoState, Store, StoreError, codec};
use crate::github::event::EventMeta;
use crate::stats::figures::Gap;

/// The file is compacted when more than this share of it is free pages (checked when a
/// watching ghpulse closes it): copy-on-write leaves freed pages behind that only new writes
/// reuse, and the file grows in steps ahead of its content. Not while watching: compaction
/// holds the store for the whole rewrite (6.8 s at 500,000 events, `cargo bench --bench
/// scale`), which would hold every poll's commit behind it. Not during an ingest: compacting gives back the
/// room the file just grew into, and the next commit grows it again.
const COMPACT_ABOVE_FREE_SHARE: f64 = 0.25;
/// ... and at least this many bytes: a young file is mostly free space, and not worth a rewrite.
const COMPACT_ABOVE_FREE_BYTES: u64 = 1 << 20;
/// What one pruning transaction deleted.
#[derive(Debug, Default)]
pub struct PrunedSlice {
    pub events: u64,
    /// How many each repository (by key) lost, for those that lost any.
    pub by_repo: Vec<(String, u64)>,
}

/// Events one pruning transaction deletes: about 20 ms of work (`cargo bench --bench scale`).
pub const PRUNE_SLICE_EVENTS: usize = 1000;

impl Store {
    /// Runs a write transaction. After an I/O error, or a panic in the middle of a write, redb
    /// refuses every later call until the file is reopened, so the database is dropped here
    /// and reopened by the next call: once the disk has room again, writes resume without a
    /// restart.
    ///
    /// A file no longer at its path (deleted, or replaced) is written to no more: the write
    /// fails with [`StoreError::Removed`] until the file is back. Nor is a file before its
    /// pages are checked (the first write waits for the check), or once they failed it.
    /// Every error names the file.
    pub(super) fn write<T>(
        &self,
        f: impl FnOnce(&redb::WriteTransaction) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.check_in_place()?;
        self.verify()?;
        self.unnamed_write(f).map_err(|e| e.in_file(self.path()))
    }

    fn unnamed_write<T>(
        &self,
        f: impl FnOnce(&redb::WriteTransaction) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let db = self.db()?;
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let Db::Writer(writer) = &*db else {
                return Err(StoreError::db("the store was opened read-only"));
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
            Err(StoreError::WritePanicked {
                path: PathBuf::new(),
                reason: panic_text(payload.as_ref()).unwrap_or_else(|| "a panic".into()),
            })
        });
        let reopen = matches!(
            result,
            Err(StoreError::Io { .. }
                | StoreError::Corrupted { .. }
                | StoreError::WritePanicked { .. })
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

    /// Commits one poll. Events already stored are skipped, so a repeated poll duplicates nothing.
    /// Returns how many events were new.
    pub fn record_poll(&self, rec: PollRecord<'_>) -> Result<u64, StoreError> {
        let mut index = self.count_index();
        let (added, added_times) = self.write(|txn| {
            let mut added = 0;
            let mut added_times = Vec::new();
            let mut events = txn.open_table(EVENTS)?;
            let mut by_time = txn.open_table(BY_TIME)?;
            let mut stored = txn.open_table(STORED)?;
            let mut seq_of = txn.open_table(SEQ_OF)?;
            let mut next_seq = stored.last()?.map_or(0, |(seq, _)| seq.value()) + 1;
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
                let ms = meta.created_at.timestamp_millis();
                stored.insert(next_seq, (rec.repo_key, ms, meta.id))?;
                seq_of.insert((meta.id, rec.repo_key), next_seq)?;
                next_seq += 1;
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

    /// Deletes events created before `cutoff` and gaps that ended before it, a slice at a time
    /// (see [`Store::prune_slice`]), then compacts a fragmented file. Returns the number of
    /// events removed.
    pub fn prune(&self, cutoff: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut removed = 0;
        loop {
            let slice = self.prune_slice(cutoff, PRUNE_SLICE_EVENTS)?.events;
            removed += slice;
            if slice < PRUNE_SLICE_EVENTS as u64 {
                break;
            }
        }
        self.compact_if_fragmented();
        Ok(removed)
    }

    /// Deletes at most `budget` of the events created before `cutoff`, each repository's oldest
    /// first, and the gaps that ended before it, in one transaction: short enough that a poll's
    /// commit waiting behind it waits little. Fewer than `budget` events deleted means none
    /// older than `cutoff` is left.
    pub fn prune_slice(
        &self,
        cutoff: DateTime<Utc>,
        budget: usize,
    ) -> Result<PrunedSlice, StoreError> {
        let cutoff_ms = cutoff.timestamp_millis();
        let mut index = self.count_index();
        let (removed_total, removed) = self.write(|txn| {
            let mut removed_total = 0;
            let mut removed: Vec<(String, Vec<String>)> = Vec::new();
            let mut repos = txn.open_table(REPOS)?;
            let mut events = txn.open_table(EVENTS)?;
            let mut by_time = txn.open_table(BY_TIME)?;
            let mut gaps = txn.open_table(GAPS)?;
            let mut stored = txn.open_table(STORED)?;
            let mut seq_of = txn.open_table(SEQ_OF)?;
            let keys: Vec<String> = repos
                .iter()?
                .map(|row| row.map(|(k, _)| k.value().to_string()))
                .collect::<Result<_, _>>()?;
            for key in keys {
                gaps.retain_in(
                    (key.as_str(), i64::MIN)..=(key.as_str(), i64::MAX),
                    |_, v| {
                        serde_json::from_str::<Gap>(v)
                            .is_ok_and(|g| g.to.timestamp_millis() >= cutoff_ms)
                    },
                )?;
                let left = budget.saturating_sub(removed_total as usize);
                if left == 0 {
                    continue;
                }
                let old: Vec<(i64, u64, String)> = by_time
                    .range((key.as_str(), i64::MIN, 0)..(key.as_str(), cutoff_ms, 0))?
                    .take(left)
                    .map(|row| {
                        row.map(|(k, v)| (k.value().1, k.value().2, v.value().0.to_string()))
                    })
                    .collect::<Result<_, _>>()?;
                if old.is_empty() {
                    continue;
                }
                for (ms, id, _) in &old {
                    by_time.remove((key.as_str(), *ms, *id))?;
                    events.remove((key.as_str(), *id))?;
                    let seq = seq_of.remove((*id, key.as_str()))?.map(|s| s.value());
                    if let Some(seq) = seq {
                        stored.remove(seq)?;
                    }
                }
                let mut state: RepoState = match repos.get(key.as_str())? {
                    Some(v) => serde_json::from_str(v.value())?,
                    None => RepoState::default(),
                };
                state.events_stored = state.events_stored.saturating_sub(old.len() as u64);
                repos.insert(key.as_str(), serde_json::to_string(&state)?.as_str())?;
                removed_total += old.len() as u64;
                removed.push((key, old.into_iter().map(|(_, _, ty)| ty).collect()));
            }
            Ok((removed_total, removed))
        })?;
        for (key, types) in &removed {
            index.remove_oldest(key, types);
        }
        Ok(PrunedSlice {
            events: removed_total,
            by_repo: removed
                .into_iter()
                .map(|(key, types)| (key, types.len() as u64))
                .collect(),
        })
    }

    /// Compacts the file when free pages pass [`COMPACT_ABOVE_FREE_SHARE`] of it (and
    /// [`COMPACT_ABOVE_FREE_BYTES`]). Best effort: a transaction in progress (a REST read)
    /// makes redb decline. Holds the store for the whole rewrite, so a watching ghpulse leaves
    /// it to the close (see `Inner`'s drop), where nothing waits for the store.
    pub fn compact_if_fragmented(&self) {
        let Ok(db) = self.db() else { return };
        let Db::Writer(lock) = &*db else { return };
        let mut db = lock.write().unwrap_or_else(PoisonError::into_inner);
        compact_if_fragmented(self.path(), &mut db);
    }
}

/// [`Store::compact_if_fragmented`] on a database held alone.
pub(super) fn compact_if_fragmented(path: &std::path::Path, db: &mut redb::Database) {
    let Ok(file_len) = std::fs::metadata(path).map(|m| m.len()) else {
        return; // in memory
    };
    if file_len <= COMPACT_ABOVE_FREE_BYTES {
        return;
    }
    // Pages a commit freed are released by the next commit: an empty one first, so they
    // count as free.
    let measured = || -> Result<u64, StoreError> {
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
    tracing::info!(
        "compacting the store: {:.0} % of its {file_len} bytes are free pages",
        free_share * 100.0
    );
    match db.compact() {
        Ok(_) => tracing::info!("store compacted"),
        Err(e) => tracing::debug!("store compaction postponed: {e}"),
    }
}
