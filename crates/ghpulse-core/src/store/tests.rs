//! The store's unit tests.

use std::collections::BTreeMap;
use std::path::Path;

use redb::Database;

use super::schema::{BY_TIME, EVENTS, EVENTS_V1, EVENTS_V2, GAPS, META, REPOS};
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
    try_record(store, repo, events, etag).unwrap()
}

fn try_record(
    store: &Store,
    repo: &str,
    events: &[(EventMeta, String)],
    etag: &str,
) -> Result<u64, StoreError> {
    store.record_poll(PollRecord {
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

#[test]
fn pruning_in_slices_deletes_the_oldest_first_and_counts_follow_each_slice() {
    let store = Store::in_memory().unwrap();
    let base: DateTime<Utc> = "2026-11-01T00:00:00Z".parse().unwrap();
    let mut rng = fastrand::Rng::with_seed(11);
    for repo in ["o/r", "o/s"] {
        let events: Vec<_> = (0..200u64)
            .map(|i| {
                let (mut meta, raw) = ev(i, "A", "2026-11-01T00:00:00Z");
                meta.event_type = ["A", "B", "C"][rng.usize(..3)].into();
                // Whole minutes: several events share a millisecond.
                meta.created_at = base + chrono::TimeDelta::minutes(rng.i64(0..100));
                (meta, raw)
            })
            .collect();
        record(&store, repo, &events, "x");
        store.count_after(repo, base).unwrap(); // loaded: each slice must keep it in step
    }
    let cutoff = base + chrono::TimeDelta::minutes(60);
    let old = |repo: &str| {
        store
            .recent_events(repo, usize::MAX, None)
            .unwrap()
            .iter()
            .filter(|e| e.created_at < cutoff)
            .count() as u64
    };
    let mut left = old("o/r") + old("o/s");
    assert!(left > 7 * 3, "enough for several slices: {left}");
    let mut slices = 0;
    loop {
        let removed = store.prune_slice(cutoff, 7).unwrap().events;
        slices += 1;
        assert_eq!(removed, left.min(7));
        left -= removed;
        assert_eq!(old("o/r") + old("o/s"), left);
        for repo in ["o/r", "o/s"] {
            let mut scanned: BTreeMap<String, u64> = BTreeMap::new();
            let kept = store.recent_events(repo, usize::MAX, None).unwrap();
            for e in &kept {
                *scanned.entry(e.event_type.to_string()).or_default() += 1;
            }
            let since = base - chrono::TimeDelta::days(1);
            assert_eq!(
                store.count_after(repo, since).unwrap(),
                scanned,
                "slice {slices}"
            );
            let stored = store
                .repo_state(repo)
                .unwrap()
                .map_or(0, |s| s.events_stored);
            assert_eq!(stored, kept.len() as u64);
        }
        if removed < 7 {
            break;
        }
    }
    assert!(slices > 3);
    assert_eq!(store.prune_slice(cutoff, 7).unwrap().events, 0);
}

/// A store as schema version 1 (raw JSON uncompressed in `events`), 2 (LZ4 without a
/// dictionary in `raw_events`) or 3 (no storage order) wrote it.
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
        let mut v3 = (version == "3").then(|| txn.open_table(EVENTS).unwrap());
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
            if let Some(v3) = &mut v3 {
                v3.insert(("o/r", meta.id), codec::compress(&raw).as_slice())
                    .unwrap();
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
    for version in ["1", "2", "3"] {
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
            Some("4")
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
        // The events already stored are numbered oldest first; the next one follows them.
        let (all, _) = store.stored_after(0, 10, |_, _| true).unwrap();
        assert_eq!(
            all.iter().map(|s| (s.seq, s.meta.id)).collect::<Vec<_>>(),
            [(1, 1), (2, 2)],
            "version {version}"
        );
        assert_eq!(all[1].raw, "{\"id\":\"2\"}");
        record(
            &store,
            "o/r",
            &[ev(3, "PushEvent", "2026-11-22T11:00:00Z")],
            "W/\"3\"",
        );
        assert_eq!(store.seq_of(3).unwrap(), Some(3));
        let tables: Vec<String> = store
            .reading(|txn| {
                Ok(txn
                    .list_tables()?
                    .map(|t| redb::TableHandle::name(&t).to_string())
                    .collect())
            })
            .unwrap();
        assert_eq!(
            tables,
            [
                "by_time", "gaps", "meta", "raw_json", "repos", "seq_of", "stored"
            ],
            "version {version}: the old table is gone"
        );
        drop(store);
        // Opened again: already the current version, nothing to do.
        let store = Store::open(&path).unwrap();
        assert_eq!(store.recent_events("o/r", 10, None).unwrap().len(), 3);
        assert_eq!(store.last_seq().unwrap(), 3);
    }
}

#[test]
fn the_storage_order_is_not_the_id_order_and_replays_follow_it() {
    let store = Store::in_memory().unwrap();
    assert_eq!(store.last_seq().unwrap(), 0);
    // Repository a is polled first and stores larger ids than b stores after it.
    record(
        &store,
        "a/a",
        &[
            ev(101, "PushEvent", "2026-11-22T10:01:00Z"),
            ev(100, "IssuesEvent", "2026-11-22T10:00:00Z"),
        ],
        "W/\"a\"",
    );
    record(
        &store,
        "b/b",
        &[ev(50, "WatchEvent", "2026-11-22T09:00:00Z")],
        "W/\"b\"",
    );
    record(
        &store,
        "a/a",
        &[ev(102, "PushEvent", "2026-11-22T10:02:00Z")],
        "W/\"a2\"",
    );
    let order = |after| {
        let (page, reached) = store.stored_after(after, 10, |_, _| true).unwrap();
        let ids: Vec<u64> = page.iter().map(|s| s.meta.id).collect();
        (ids, reached)
    };
    // A poll's events are stored oldest first.
    assert_eq!(order(0), (vec![100, 101, 50, 102], 4));
    let after_101 = store.seq_of(101).unwrap().unwrap();
    assert_eq!(
        order(after_101),
        (vec![50, 102], 4),
        "50 was stored after 101"
    );
    assert_eq!(order(4), (vec![], 4));
    assert_eq!(store.seq_of(999).unwrap(), None);
    let b = store.stored_after(0, 10, |_, _| true).unwrap().0;
    assert_eq!(b[2].repo_key, "b/b");
    assert_eq!(b[2].meta.event_type, "WatchEvent");

    // A filter skips, a limit pages, and the scan says how far it got.
    let (pushes, reached) = store
        .stored_after(0, 1, |key, ty| key == "a/a" && ty == "PushEvent")
        .unwrap();
    assert_eq!((pushes[0].meta.id, reached), (101, 2));
    let (pushes, reached) = store
        .stored_after(reached, 1, |key, ty| key == "a/a" && ty == "PushEvent")
        .unwrap();
    assert_eq!((pushes[0].meta.id, reached), (102, 4));
    let (none, reached) = store.stored_after(0, 5, |_, ty| ty == "ForkEvent").unwrap();
    assert!(none.is_empty());
    assert_eq!(reached, 4, "past what the filter refused");

    // Pruned events leave the order too; numbering goes on after the last one.
    store
        .prune("2026-11-22T09:30:00Z".parse().unwrap())
        .unwrap();
    assert_eq!(order(0).0, vec![100, 101, 102]);
    assert_eq!(store.seq_of(50).unwrap(), None);
    record(
        &store,
        "b/b",
        &[ev(51, "WatchEvent", "2026-11-22T11:00:00Z")],
        "W/\"b2\"",
    );
    assert_eq!(store.seq_of(51).unwrap(), Some(5));
}

#[test]
fn raw_json_is_stored_compressed_and_a_pruned_file_is_compacted_at_the_close() {
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
    // Pruned in slices as a watching ghpulse does, which leaves compaction to the close.
    let cutoff = "2026-11-01T00:00:00Z".parse().unwrap();
    let mut removed = 0;
    while let Ok(n @ 1..) = store.prune_slice(cutoff, 1000).map(|p| p.events) {
        removed += n;
    }
    assert_eq!(removed, 4000);
    drop(store);
    let pruned = std::fs::metadata(&path).unwrap().len();
    assert!(
        pruned < full / 2,
        "compacted at the close: {full} -> {pruned} bytes"
    );
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

#[test]
fn a_reader_beside_a_writer_follows_its_commits() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ghpulse.redb");
    let writer = Store::open(&path).unwrap();
    record(&writer, "o/r", &[ev(1, "A", "2026-11-22T09:00:00Z")], "x");
    let reader = Store::open_read_only(&path).unwrap();
    assert_eq!(reader.newest_id("o/r").unwrap(), Some(1));
    record(&writer, "o/r", &[ev(2, "A", "2026-11-22T09:01:00Z")], "y");
    assert_eq!(reader.newest_id("o/r").unwrap(), Some(2));
}

/// The bytes of a store taken while a writer has it open: what `kill -9` leaves.
fn crash_left_store(dir: &Path) -> std::path::PathBuf {
    let live = dir.join("live.redb");
    let writer = Store::open(&live).unwrap();
    record(&writer, "o/r", &[ev(1, "A", "2026-11-22T09:00:00Z")], "x");
    record(&writer, "o/r", &[ev(2, "A", "2026-11-22T09:01:00Z")], "y");
    let crashed = dir.join("crashed.redb");
    std::fs::copy(&live, &crashed).unwrap();
    crashed
}

#[test]
fn a_store_left_by_a_crash_is_read_without_writing_a_byte() {
    let dir = tempfile::tempdir().unwrap();
    let crashed = crash_left_store(dir.path());
    let before = std::fs::read(&crashed).unwrap();
    let reader = Store::open_read_only(&crashed).unwrap();
    assert_eq!(reader.newest_id("o/r").unwrap(), Some(2));
    assert_eq!(reader.recent_events("o/r", 10, None).unwrap().len(), 2);
    assert!(
        try_record(&reader, "o/r", &[], "z").is_err(),
        "a reader never writes"
    );
    drop(reader);
    assert_eq!(
        std::fs::read(&crashed).unwrap(),
        before,
        "the file is untouched"
    );
    // The repair happened in memory only: a writer still finds the file to repair.
    let writer = Store::open(&crashed).unwrap();
    assert_eq!(writer.newest_id("o/r").unwrap(), Some(2));
}

#[cfg(unix)]
#[test]
fn a_read_only_store_in_a_read_only_folder_is_read() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let crashed = crash_left_store(dir.path());
    std::fs::set_permissions(&crashed, std::fs::Permissions::from_mode(0o444)).unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o555)).unwrap();
    let read = Store::open_read_only(&crashed).map(|s| s.newest_id("o/r"));
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(read.unwrap().unwrap(), Some(2));
}

#[test]
fn a_reader_with_no_writer_keeps_any_from_starting_while_it_reads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ghpulse.redb");
    let writer = Store::open(&path).unwrap();
    record(&writer, "o/r", &[ev(1, "A", "2026-11-22T09:00:00Z")], "x");
    assert!(
        super::open::NoWriter::take(&path).unwrap().is_none(),
        "redb's writer byte is held by the writer"
    );
    drop(writer);
    let reader = Store::open_read_only(&path).unwrap();
    assert_eq!(reader.newest_id("o/r").unwrap(), Some(1));
    let refused = redb::Database::builder()
        .set_concurrency_mode(redb::ConcurrencyMode::SingleWriter)
        .create(&path);
    assert!(
        matches!(refused, Err(redb::DatabaseError::DatabaseAlreadyOpen)),
        "a writer cannot start while the reader reads"
    );
    drop(reader);
    assert!(Store::open(&path).is_ok(), "and can once it is done");
}

#[test]
fn a_store_file_removed_or_replaced_is_never_written_to_silently() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data/ghpulse.redb");
    let store = Store::open(&path).unwrap();
    record(&store, "o/r", &[ev(1, "A", "2026-11-22T09:00:00Z")], "x");
    let write = |id| try_record(&store, "o/r", &[ev(id, "A", "2026-11-22T10:00:00Z")], "y");
    let aside = dir.path().join("aside.redb");
    std::fs::rename(&path, &aside).unwrap();
    let err = write(2).expect_err("the file is gone");
    assert!(
        matches!(
            err,
            StoreError::Removed {
                replaced: false,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "store: {} was removed; put it back, or restart ghpulse to start a new store",
            path.display()
        )
    );
    assert_eq!(store.newest_id("o/r").unwrap(), Some(1), "reads go on");
    std::fs::write(&path, b"another file").unwrap();
    let err = write(2).expect_err("another file");
    assert!(
        matches!(err, StoreError::Removed { replaced: true, .. }),
        "{err:?}"
    );
    std::fs::rename(&aside, &path).unwrap();
    assert_eq!(write(2).unwrap(), 1, "the file is back: writes resume");
    std::fs::remove_dir_all(dir.path().join("data")).unwrap();
    assert!(matches!(
        write(3),
        Err(StoreError::Removed {
            replaced: false,
            ..
        })
    ));
}
