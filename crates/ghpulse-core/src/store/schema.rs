//! The store's tables, its schema version, and the migration of older stores.

use redb::{ReadTransaction, ReadableTable, TableDefinition, TableError};

use super::codec;
use super::{Store, StoreError};

/// Bumped whenever a table's layout changes. An older store is migrated in place when opened
/// for writing; a newer one is refused.
pub const SCHEMA_VERSION: u64 = 4;

pub(super) const META: TableDefinition<&str, &str> = TableDefinition::new("meta");
pub(super) const REPOS: TableDefinition<&str, &str> = TableDefinition::new("repos");
/// (repo key, event id) -> raw event JSON, compressed (see `codec`): a fifth of its size.
pub(super) const EVENTS: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("raw_json");
/// Schema version 2 kept the raw JSON LZ4-compressed without a dictionary under this name ...
pub(super) const EVENTS_V2: TableDefinition<(&str, u64), &[u8]> =
    TableDefinition::new("raw_events");
/// ... and version 1 uncompressed under this one.
pub(super) const EVENTS_V1: TableDefinition<(&str, u64), &str> = TableDefinition::new("events");
/// (repo key, created_at ms, event id) -> (type, actor, action or ""): E(R)'s order, so the
/// window is a reverse range scan that never parses JSON.
pub(super) const BY_TIME: TableDefinition<(&str, i64, u64), (&str, &str, &str)> =
    TableDefinition::new("by_time");
/// Storage sequence (1, 2, …) -> (repo key, created_at ms, event id): the order events were
/// stored in, which the live stream follows and replays from. Event ids are no such order:
/// a repository polled after another can store a smaller id later.
pub(super) const STORED: TableDefinition<u64, (&str, i64, u64)> = TableDefinition::new("stored");
/// (event id, repo key) -> storage sequence: where a replay after an event id starts.
pub(super) const SEQ_OF: TableDefinition<(u64, &str), u64> = TableDefinition::new("seq_of");
/// (repo key, detected_at ms) -> gap JSON.
pub(super) const GAPS: TableDefinition<(&str, i64), &str> = TableDefinition::new("gaps");

impl Store {
    pub(super) fn check_or_init_schema(&self) -> Result<(), StoreError> {
        // A current store is only read: a write would wait for the integrity check.
        if self.read_meta("schema_version")? == Some(SCHEMA_VERSION.to_string()) {
            return Ok(());
        }
        let path = self.inner.path.clone();
        self.write(|txn| {
            let mut meta = txn.open_table(META)?;
            let found = meta.get("schema_version")?.map(|v| v.value().to_string());
            match found {
                Some(v) if v == SCHEMA_VERSION.to_string() => {}
                Some(v) if matches!(v.as_str(), "1" | "2" | "3") => {
                    if v != "3" {
                        migrate_raw_json(txn)?;
                    }
                    number_stored_events(txn)?;
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
            txn.open_table(STORED)?;
            txn.open_table(SEQ_OF)?;
            Ok(())
        })
    }
}

/// The raw JSON table of a read transaction, in the current format or (an older store opened
/// read-only, which a writer would have migrated) an older one.
pub(super) enum RawTable {
    Current(redb::ReadOnlyTable<(&'static str, u64), &'static [u8]>),
    V2(redb::ReadOnlyTable<(&'static str, u64), &'static [u8]>),
    V1(redb::ReadOnlyTable<(&'static str, u64), &'static str>),
}

impl RawTable {
    pub(super) fn open(txn: &ReadTransaction) -> Result<RawTable, StoreError> {
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

    pub(super) fn get(&self, repo_key: &str, id: u64) -> Result<Option<String>, StoreError> {
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

/// Schema 3 -> 4: the events already stored get storage sequence numbers in E(R)'s order across
/// repositories (oldest first), the best guess of the order they came in; events stored from
/// now on are numbered as they are stored.
fn number_stored_events(txn: &redb::WriteTransaction) -> Result<(), StoreError> {
    let mut rows: Vec<(i64, u64, String)> = Vec::new();
    for row in txn.open_table(BY_TIME)?.iter()? {
        let (k, _) = row?;
        let (key, ms, id) = k.value();
        rows.push((ms, id, key.to_string()));
    }
    rows.sort_unstable();
    let mut stored = txn.open_table(STORED)?;
    let mut seq_of = txn.open_table(SEQ_OF)?;
    for (seq, (ms, id, key)) in (1..).zip(&rows) {
        stored.insert(seq, (key.as_str(), *ms, *id))?;
        seq_of.insert((*id, key.as_str()), seq)?;
    }
    Ok(())
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
