//! Reads: the polling state, the window's events in E(R)'s order, raw JSON, merged scans.

use chrono::{DateTime, Utc};
use std::sync::PoisonError;

use redb::{ReadTransaction, ReadableDatabase, ReadableTable, TableError};
use serde::Deserialize;

use super::schema::{BY_TIME, EVENTS, GAPS, META, REPOS, RawTable, SEQ_OF, STORED};
use super::{Db, RepoState, Store, StoreError, Stored};
use crate::github::event::{EventMeta, Interner};
use crate::github::rate_limit::{RateLimit, RequestCounters};
use crate::stats::figures::Gap;

impl Store {
    /// Runs `f` in a read transaction; every error names the file.
    pub(super) fn reading<T>(
        &self,
        f: impl FnOnce(&ReadTransaction) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let txn = || -> Result<ReadTransaction, StoreError> {
            Ok(match &*self.db()? {
                Db::Writer(db) => db
                    .read()
                    .unwrap_or_else(PoisonError::into_inner)
                    .begin_read()?,
                Db::Reader(db) => db.begin_read()?,
                Db::Private { db, .. } => db.begin_read()?,
            })
        };
        txn()
            .and_then(|txn| f(&txn))
            .map_err(|e| e.in_file(self.path()))
    }

    pub(super) fn read_meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.reading(|txn| {
            let table = match txn.open_table(META) {
                Ok(t) => t,
                Err(TableError::TableDoesNotExist(_)) => return Ok(None),
                Err(e) => return Err(e.into()),
            };
            Ok(table.get(key)?.map(|v| v.value().to_string()))
        })
    }

    pub(super) fn read_meta_json<T: for<'de> Deserialize<'de>>(
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
        self.reading(|txn| {
            let table = txn.open_table(REPOS)?;
            Ok(match table.get(repo_key)? {
                Some(v) => Some(serde_json::from_str(v.value())?),
                None => None,
            })
        })
    }

    /// Which of `ids` are already stored for the repository.
    pub fn known_ids(&self, repo_key: &str, ids: &[u64]) -> Result<Vec<bool>, StoreError> {
        self.reading(|txn| {
            let table = txn.open_table(EVENTS)?;
            ids.iter()
                .map(|&id| Ok(table.get((repo_key, id))?.is_some()))
                .collect()
        })
    }

    /// The largest event id stored for a repository: ids grow with publication, so every
    /// event GitHub lists after it in a timeline was read before.
    pub fn newest_id(&self, repo_key: &str) -> Result<Option<u64>, StoreError> {
        self.reading(|txn| {
            let table = txn.open_table(EVENTS)?;
            let newest = table
                .range((repo_key, 0)..=(repo_key, u64::MAX))?
                .next_back();
            Ok(match newest {
                Some(row) => Some(row?.0.value().1),
                None => None,
            })
        })
    }

    /// The newest `limit` events of a repository in E(R)'s order, optionally of one type.
    pub fn recent_events(
        &self,
        repo_key: &str,
        limit: usize,
        event_type: Option<&str>,
    ) -> Result<Vec<EventMeta>, StoreError> {
        self.reading(|txn| Self::recent_in(txn, repo_key, limit, event_type))
    }

    fn recent_in(
        txn: &ReadTransaction,
        repo_key: &str,
        limit: usize,
        event_type: Option<&str>,
    ) -> Result<Vec<EventMeta>, StoreError> {
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

    /// The event as GitHub served it.
    pub fn raw_event(&self, repo_key: &str, id: u64) -> Result<Option<String>, StoreError> {
        self.reading(|txn| RawTable::open(txn)?.get(repo_key, id))
    }

    /// The raw JSON of several events of a repository, read in one transaction; None for an
    /// event no longer stored.
    pub fn raw_events(
        &self,
        repo_key: &str,
        ids: &[u64],
    ) -> Result<Vec<Option<String>>, StoreError> {
        self.reading(|txn| {
            let raw = RawTable::open(txn)?;
            ids.iter().map(|&id| raw.get(repo_key, id)).collect()
        })
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
        visit: impl FnMut(&str, EventMeta, Option<String>) -> bool,
    ) -> Result<(), StoreError> {
        self.reading(|txn| scan_in(txn, repo_keys, from, to, newest_first, with_raw, visit))
    }

    /// The storage sequence number of the event stored last (0 for an empty store).
    pub fn last_seq(&self) -> Result<u64, StoreError> {
        self.reading(|txn| {
            let last = txn.open_table(STORED)?.last()?.map(|(seq, _)| seq.value());
            Ok(last.unwrap_or(0))
        })
    }

    /// Where an event id was stored: its storage sequence number (the first one, should two
    /// repositories hold the same id), `None` when no stored event has it.
    pub fn seq_of(&self, id: u64) -> Result<Option<u64>, StoreError> {
        self.reading(|txn| {
            let table = txn.open_table(SEQ_OF)?;
            let mut min: Option<u64> = None;
            // Repo keys are ASCII, so every key of this id sorts below char::MAX.
            for row in table.range((id, "")..=(id, "\u{10ffff}"))? {
                let seq = row?.1.value();
                min = Some(min.map_or(seq, |m| m.min(seq)));
            }
            Ok(min)
        })
    }

    /// The events stored after sequence number `after`, in storage order, that `keep` accepts
    /// (by repo key and type), at most `limit` of them, with their raw JSON; and the sequence
    /// number the scan reached, from which the next page starts (past events `keep` refused).
    /// One read transaction.
    pub fn stored_after(
        &self,
        after: u64,
        limit: usize,
        keep: impl Fn(&str, &str) -> bool,
    ) -> Result<(Vec<Stored>, u64), StoreError> {
        self.reading(|txn| {
            let stored = txn.open_table(STORED)?;
            let by_time = txn.open_table(BY_TIME)?;
            let raw = RawTable::open(txn)?;
            let mut page = Vec::new();
            let mut reached = after;
            for row in stored.range(after.saturating_add(1)..)? {
                if page.len() >= limit {
                    break;
                }
                let (seq, at) = row?;
                let (seq, (key, ms, id)) = (seq.value(), at.value());
                reached = seq;
                let Some(fields) = by_time.get((key, ms, id))? else {
                    continue;
                };
                let (ty, actor, action) = fields.value();
                if !keep(key, ty) {
                    continue;
                }
                let Some(json) = raw.get(key, id)? else {
                    continue;
                };
                page.push(Stored {
                    seq,
                    repo_key: key.to_string(),
                    meta: EventMeta {
                        id,
                        event_type: ty.into(),
                        created_at: DateTime::from_timestamp_millis(ms).unwrap_or_default(),
                        actor: actor.into(),
                        action: (!action.is_empty()).then(|| action.into()),
                    },
                    raw: json,
                });
            }
            Ok((page, reached))
        })
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
        self.reading(|txn| {
            let table = txn.open_table(GAPS)?;
            table
                .range((repo_key, i64::MIN)..=(repo_key, i64::MAX))?
                .map(|row| Ok(serde_json::from_str(row?.1.value())?))
                .collect()
        })
    }
}

/// [`Store::scan_events`] in a read transaction.
fn scan_in(
    txn: &ReadTransaction,
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
    let by_time = txn.open_table(BY_TIME)?;
    let raw = RawTable::open(txn)?;
    let mut heads: Vec<Rows<'_>> = Vec::with_capacity(repo_keys.len());
    for key in repo_keys {
        let range = by_time.range((key.as_str(), from.0, from.1)..=(key.as_str(), to.0, to.1))?;
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
