//! The in-memory count index: "how many events since T", by type, without scanning rows.

use std::collections::{BTreeMap, HashMap};
use std::sync::{MutexGuard, PoisonError};

use chrono::{DateTime, Utc};

use super::schema::BY_TIME;
use super::{Db, Store, StoreError};

/// Per repository key: for each event type, the `created_at` (ms) of every stored event,
/// ascending — so "how many since T" is a binary search per type, exact to the millisecond.
/// Filled per repository on first use from `by_time`, then kept in step by this store's commits
/// (the lock is held across them, so a load and a commit never interleave).
#[derive(Default)]
pub(super) struct CountIndex {
    repos: HashMap<String, BTreeMap<String, Vec<i64>>>,
}

impl Store {
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

    pub(super) fn count_index(&self) -> MutexGuard<'_, CountIndex> {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A repository's entry of the count index, read from `by_time`.
    pub(super) fn load_times(
        &self,
        repo_key: &str,
    ) -> Result<BTreeMap<String, Vec<i64>>, StoreError> {
        self.reading(|txn| {
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
        })
    }
}

impl CountIndex {
    pub(super) fn add(&mut self, repo_key: &str, added: &[(&str, i64)]) {
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

    /// Mirrors a pruning slice: a repository's oldest rows are gone, one type named for each.
    pub(super) fn remove_oldest(&mut self, repo_key: &str, types: &[String]) {
        let Some(times) = self.repos.get_mut(repo_key) else {
            return;
        };
        let mut per_type: BTreeMap<&str, usize> = BTreeMap::new();
        for ty in types {
            *per_type.entry(ty.as_str()).or_default() += 1;
        }
        // The rows went oldest first, so each type lost the start of its list.
        for (ty, n) in per_type {
            if let Some(list) = times.get_mut(ty) {
                list.drain(..n.min(list.len()));
            }
        }
        times.retain(|_, list| !list.is_empty());
    }
}
