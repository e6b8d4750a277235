//! A store whose writes fail (disk full, I/O errors), without root: a redb backend in memory
//! that refuses writes on demand. A failing store must be an error like any other — shown,
//! backed off, never a reason to poll faster — and once writes work again polling resumes and
//! catches up without a restart.

use std::collections::BTreeSet;
use std::io::ErrorKind;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use fake_github::{FakeGithub, Options, data};
use ghpulse_core::Config;
use ghpulse_core::{Client, Token};
use ghpulse_core::{EngineSettings, start_engine};
use ghpulse_core::{RepoStatus, Store, StoreError};
use serde_json::Value;

const OK: u8 = 0;
const FULL: u8 = 1;
const BROKEN: u8 = 2;
/// A backend that panics mid-write, as a bug in a dependency would.
const PANICS: u8 = 3;

/// A disk in memory: its bytes outlive every `Database` opened on it, as a file does.
#[derive(Debug, Clone, Default)]
struct Disk {
    bytes: Arc<Mutex<Vec<u8>>>,
    mode: Arc<AtomicU8>,
}

impl Disk {
    fn set(&self, mode: u8) {
        self.mode.store(mode, Ordering::SeqCst);
    }

    fn refuse(&self) -> std::io::Result<()> {
        match self.mode.load(Ordering::SeqCst) {
            FULL => Err(std::io::Error::from(ErrorKind::StorageFull)),
            BROKEN => Err(std::io::Error::other("injected I/O error")),
            PANICS => panic!("injected panic in a store write"),
            _ => Ok(()),
        }
    }

    fn store(&self) -> Store {
        let disk = self.clone();
        Store::with_backend("memory-disk", move || disk.clone()).expect("store opens")
    }
}

impl redb::StorageBackend for Disk {
    fn len(&self) -> std::io::Result<u64> {
        Ok(self.bytes.lock().unwrap().len() as u64)
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> std::io::Result<()> {
        let bytes = self.bytes.lock().unwrap();
        let start = offset as usize;
        let src = bytes
            .get(start..start + out.len())
            .ok_or_else(|| std::io::Error::from(ErrorKind::UnexpectedEof))?;
        out.copy_from_slice(src);
        Ok(())
    }

    fn set_len(&self, len: u64) -> std::io::Result<()> {
        // Refused (or panicking) before the lock is taken, as `write` does: a panic while
        // holding it would poison the disk itself, which no real disk does.
        if len > self.len()? {
            self.refuse()?;
        }
        self.bytes.lock().unwrap().resize(len as usize, 0);
        Ok(())
    }

    fn sync_data(&self) -> std::io::Result<()> {
        self.refuse()
    }

    fn write(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        self.refuse()?;
        let mut bytes = self.bytes.lock().unwrap();
        let start = offset as usize;
        bytes
            .get_mut(start..start + data.len())
            .ok_or_else(|| std::io::Error::from(ErrorKind::UnexpectedEof))?
            .copy_from_slice(data);
        Ok(())
    }
}

fn record(store: &Store, repo: &str, id: u64) -> Result<u64, StoreError> {
    let meta = ghpulse_core::EventMeta {
        id,
        event_type: "PushEvent".into(),
        created_at: chrono::Utc::now(),
        actor: "a".into(),
        action: None,
    };
    let raw = format!(
        "{{\"id\":\"{id}\",\"created_at\":\"{}\"}}",
        meta.created_at.to_rfc3339()
    );
    store.record_poll(ghpulse_core::PollRecord {
        repo_key: repo,
        events: &[(meta, raw)],
        gap: None,
        state: Default::default(),
        rate_limit: None,
        counters: Default::default(),
    })
}

#[test]
fn a_failed_write_keeps_nothing_of_it_and_the_store_recovers_by_itself() {
    let disk = Disk::default();
    let store = disk.store();
    assert_eq!(record(&store, "o/r", 1).unwrap(), 1);
    for mode in [FULL, BROKEN] {
        disk.set(mode);
        let err = record(&store, "o/r", 2).expect_err("the write fails");
        assert!(matches!(err, StoreError::Io { .. }), "{err:?}");
        if mode == FULL {
            assert_eq!(err.to_string(), "store: memory-disk: disk full");
        }
        // Every later write fails too while the disk refuses, and reads still answer.
        assert!(record(&store, "o/r", 2).is_err());
        disk.set(OK);
        assert_eq!(
            store.newest_id("o/r").unwrap(),
            Some(1),
            "nothing of the failed write"
        );
        // No restart: the next write reopens the database.
        assert_eq!(record(&store, "o/r", 2).unwrap(), 1);
        assert_eq!(store.newest_id("o/r").unwrap(), Some(2));
        // Undo for the next mode.
        store
            .prune(chrono::Utc::now() + chrono::TimeDelta::days(1))
            .unwrap();
        assert_eq!(record(&store, "o/r", 1).unwrap(), 1);
    }
}

#[test]
fn a_write_that_panics_keeps_nothing_of_it_and_the_store_goes_on() {
    let disk = Disk::default();
    let store = disk.store();
    assert_eq!(record(&store, "o/r", 1).unwrap(), 1);
    disk.set(PANICS);
    // redb's locks are poisoned by the panic, and it refuses every later write ("reopen the
    // database to repair it"), or panics while closing: the store reopens it instead.
    let err = record(&store, "o/r", 2).expect_err("the write fails");
    assert!(matches!(err, StoreError::WritePanicked { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "store: memory-disk: a write failed (injected panic in a store write)"
    );
    disk.set(OK);
    assert_eq!(
        store.newest_id("o/r").unwrap(),
        Some(1),
        "nothing of the write"
    );
    assert_eq!(record(&store, "o/r", 2).unwrap(), 1);
    assert_eq!(store.newest_id("o/r").unwrap(), Some(2));
    assert_eq!(record(&store, "o/r", 3).unwrap(), 1);
}

fn fixture(gh: &FakeGithub, stem: &str, name: &str, repo_id: u64, first_id: u64) -> Vec<Value> {
    let mut events = data::load_events(stem);
    events.truncate(100);
    data::renumber(&mut events, first_id);
    data::retarget(&mut events, name, repo_id);
    data::rescale(
        &mut events,
        SystemTime::now() - Duration::from_secs(120),
        100,
        Duration::from_secs(24 * 3600),
    );
    gh.add_repo(name, repo_id, events.clone());
    events
}

fn stored(store: &Store, repo: &str) -> BTreeSet<u64> {
    store
        .recent_events(repo, 10_000, None)
        .map(|v| v.into_iter().map(|e| e.id).collect())
        .unwrap_or_default()
}

async fn until(what: &str, limit: Duration, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_disk_backs_off_and_polling_resumes_when_it_has_room() {
    let gh = FakeGithub::start(Options {
        poll_interval_secs: 1,
        ..Options::default()
    })
    .await;
    fixture(&gh, "praw-dev__praw", "busy/repo", 1, 20_000_000_000);
    fixture(&gh, "sferik__rails_admin", "quiet/repo", 2, 30_000_000_000);
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("repositories.toml");
    std::fs::write(
        &config_path,
        "repositories = [\"busy/repo\", \"quiet/repo\"]\n",
    )
    .unwrap();
    let config = Config::load(&config_path).unwrap();
    let disk = Disk::default();
    let store = disk.store();
    let client = Client::new(&gh.url(), Token::new("t".into())).unwrap();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let (handle, fetcher) = start_engine(
        EngineSettings {
            config,
            client,
            store: store.clone(),
        },
        stop_rx,
    )
    .await
    .unwrap();
    let ids = |repo: &str| -> BTreeSet<u64> { gh.timeline_ids(repo).into_iter().collect() };
    until("the first reads", Duration::from_secs(60), || {
        stored(&store, "busy/repo") == ids("busy/repo")
            && stored(&store, "quiet/repo") == ids("quiet/repo")
    })
    .await;

    disk.set(FULL);
    let template = data::load_events("praw-dev__praw");
    let mut fresh: Vec<Value> = template.into_iter().take(150).collect();
    data::renumber(&mut fresh, gh.next_event_id());
    data::retarget(&mut fresh, "busy/repo", 1);
    data::rebase(&mut fresh, SystemTime::now());
    gh.push_events("busy/repo", fresh);
    gh.clear_records();
    until("a failed commit shown", Duration::from_secs(30), || {
        let s = handle.snapshot();
        s.repos.iter().any(|r| {
            r.state.status == RepoStatus::Backoff
                && r.state.last_error.as_deref() == Some("store: memory-disk: disk full")
        })
    })
    .await;
    // Ten seconds of a full disk: the backoff after each failed commit (5 s, then 10 s, with
    // up to half again of jitter) holds each repository to three polls at most, whatever
    // its poll interval of 1 s.
    tokio::time::sleep(Duration::from_secs(10)).await;
    let sent = gh.requests();
    for repo in ["busy/repo", "quiet/repo"] {
        let page_ones = sent
            .iter()
            .filter(|q| q.page == 1 && q.repo.as_deref() == Some(repo))
            .count();
        assert!(
            page_ones <= 3,
            "{repo}: {page_ones} polls in 10 s: {sent:#?}"
        );
    }
    assert_eq!(gh.violations(), Vec::<String>::new());
    assert_ne!(stored(&store, "busy/repo"), ids("busy/repo"));

    // Room again: no restart, the next polls commit and catch up on everything.
    disk.set(OK);
    until(
        "polling resumed and caught up",
        Duration::from_secs(200),
        || {
            // Both polled again after the backoff: the quiet one had nothing new to store.
            let s = handle.snapshot();
            s.repos.iter().all(|r| r.state.status == RepoStatus::Ok)
                && stored(&store, "busy/repo") == ids("busy/repo")
                && stored(&store, "quiet/repo") == ids("quiet/repo")
        },
    )
    .await;
    assert_eq!(gh.violations(), Vec::<String>::new());
    stop_tx.send(true).unwrap();
    fetcher.await.unwrap().unwrap();
}
