//! Crashes and damaged stores: `kill -9` at random moments loses and duplicates nothing and
//! leaves a store that `ghpulse stats` reads at once; a store with random bytes written into it
//! is read exactly or refused with a clear message, never read into wrong figures or a panic.
//!
//! A watching ghpulse checks every page after its first frame: one that finds damage stops
//! (exit 2) without writing a page, and a clean stop after a passed check seals the store.
//!
//! `GHPULSE_CRASH_RUNS=200 cargo test --test crash` kills more often than the default.

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use crate::support::figures::assert_complete;
use crate::support::{Running, Workdir, wait_for};
use fake_github::{FakeGithub, Fault, Options, data};
use serde_json::Value;

const TOKEN: Option<&str> = Some("test-token");
const REPOS: [&str; 2] = ["busy/one", "quiet/two"];

fn crash_runs() -> usize {
    std::env::var("GHPULSE_CRASH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6)
}

fn publish(gh: &FakeGithub, repo: &str, repo_id: u64, n: usize) -> Vec<Value> {
    let mut events: Vec<Value> = data::load_events("praw-dev__praw")
        .into_iter()
        .cycle()
        .take(n)
        .collect();
    data::renumber(&mut events, gh.next_event_id().max(10_000_000_000));
    data::retarget(&mut events, repo, repo_id);
    data::rescale(
        &mut events,
        SystemTime::now() - Duration::from_secs(60),
        n,
        Duration::from_secs(6 * 3600),
    );
    events
}

/// The ids stored for a repository, sorted (duplicates kept); none while the store is being
/// created.
fn stored_ids(work: &Workdir, repo: &str) -> Vec<u64> {
    let Ok(store) = ghpulse_core::Store::open_read_only(&work.store()) else {
        return Vec::new();
    };
    let mut ids: Vec<u64> = store
        .recent_events(repo, 100_000, None)
        .expect("read")
        .into_iter()
        .map(|e| e.id)
        .collect();
    ids.sort_unstable();
    ids
}

fn ids(events: &[Value]) -> Vec<u64> {
    let set: BTreeSet<u64> = events
        .iter()
        .map(|e| e["id"].as_str().unwrap().parse().unwrap())
        .collect();
    set.into_iter().collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_at_random_moments_loses_and_duplicates_nothing() {
    let gh = FakeGithub::start(Options {
        poll_interval_secs: 1,
        auth_limit: 1_000_000,
        ..Options::default()
    })
    .await;
    let mut published: Vec<Vec<Value>> = Vec::new();
    for (i, repo) in REPOS.iter().enumerate() {
        let events = publish(&gh, repo, i as u64 + 1, 120);
        gh.add_repo(repo, i as u64 + 1, events.clone());
        published.push(events);
    }
    let work = Workdir::new(&REPOS);
    // Slow answers put many kills inside a request or a commit.
    gh.set_fault(REPOS[0], Some(Fault::Slow(Duration::from_millis(150))));
    for run in 0..crash_runs() {
        // New events on the busy repository before each life: some lives read them, some die
        // first; up to 150 at a time need two pages. Never more unread than GitHub's 300-event
        // timeline shows, or events would really be lost (a gap, not a crash's doing).
        let n = 40 + 37 * (run % 4);
        let unread = ids(&published[0]).len() - stored_ids(&work, REPOS[0]).len();
        if unread + n <= 300 {
            let fresh = publish(&gh, REPOS[0], 1, n);
            gh.push_events(REPOS[0], fresh.clone());
            published[0].extend(fresh);
        }
        let child = Running::new(work.start(&gh.url(), TOKEN));
        std::thread::sleep(Duration::from_millis(fastrand::u64(200..2500)));
        child.kill();
        // The store a crash left is read at once, without a running ghpulse to repair it.
        let out = work.run(&["stats", "--json"]);
        assert!(
            out.status.success(),
            "run {run}: stats after kill -9: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let ids = stored_ids(&work, REPOS[0]);
        let mut dedup = ids.clone();
        dedup.dedup();
        assert_eq!(dedup, ids, "run {run}: no duplicates");
    }
    gh.set_fault(REPOS[0], None);
    let child = Running::new(work.start(&gh.url(), TOKEN));
    wait_for(
        "every published event stored",
        Duration::from_secs(120),
        &work,
        || {
            REPOS
                .iter()
                .zip(&published)
                .all(|(r, p)| stored_ids(&work, r) == ids(p))
        },
    )
    .await;
    let status = child.stop();
    assert!(status.success(), "{status:?}\n{}", work.log_text());
    assert_complete(&work.stats_json(), &published);
}

/// A headless ghpulse once it has stored every event of `per_repo` published to each of
/// `REPOS`.
async fn watching_until_read(per_repo: usize) -> (FakeGithub, Workdir, Running) {
    let gh = FakeGithub::start(Options {
        poll_interval_secs: 1,
        ..Options::default()
    })
    .await;
    for (i, repo) in REPOS.iter().enumerate() {
        let events = publish(&gh, repo, i as u64 + 1, per_repo);
        gh.add_repo(repo, i as u64 + 1, events);
    }
    let work = Workdir::new(&REPOS);
    let child = Running::new(work.start(&gh.url(), TOKEN));
    wait_for("both read", Duration::from_secs(60), &work, || {
        std::fs::metadata(work.store()).is_ok()
            && REPOS
                .iter()
                .all(|r| stored_ids(&work, r).len() == gh.timeline_ids(r).len())
    })
    .await;
    (gh, work, child)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_damaged_store_is_read_exactly_or_refused_never_misread() {
    let (_gh, work, child) = watching_until_read(200).await;
    let status = child.stop();
    assert!(status.success(), "{status:?}\n{}", work.log_text());
    let clean = std::fs::read(work.store()).unwrap();
    let expected = work.stats_json()["repositories"].clone();

    let runs = crash_runs().max(12);
    let (mut exact, mut refused) = (0, 0);
    for run in 0..runs {
        let mut bytes = clean.clone();
        let at = fastrand::usize(..bytes.len() - 200);
        for b in &mut bytes[at..at + 200] {
            *b = fastrand::u8(..);
        }
        std::fs::write(work.store(), &bytes).unwrap();
        let out = work.run(&["stats", "--json"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        match out.status.code() {
            Some(0) => {
                let got: Value = serde_json::from_slice(&out.stdout).expect("JSON");
                assert_eq!(
                    got["repositories"], expected,
                    "run {run}: bytes {at}..+200 changed the figures without a word"
                );
                exact += 1;
            }
            Some(1) => {
                assert!(
                    stderr.contains(&work.store().display().to_string()),
                    "run {run}: the message names the store: {stderr}"
                );
                assert!(!stderr.contains("panicked"), "run {run}: {stderr}");
                refused += 1;
            }
            other => panic!("run {run}: bytes {at}..+200: exit {other:?}: {stderr}"),
        }
    }
    eprintln!("{runs} damaged stores: {exact} read exactly, {refused} refused");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_watching_ghpulse_finds_damaged_pages_and_stops_without_writing_one() {
    let (gh, work, child) = watching_until_read(300).await;
    let seal = {
        let mut name = work.store().into_os_string();
        name.push(".checked");
        std::path::PathBuf::from(name)
    };
    wait_for("the check passed", Duration::from_secs(60), &work, || {
        work.log_text().contains("every page passed its checksum")
    })
    .await;
    assert!(!seal.exists(), "no seal while a ghpulse writes");
    let status = child.stop();
    assert!(status.success(), "{status:?}\n{}", work.log_text());
    assert!(
        seal.exists(),
        "a clean stop after a passed check seals the store"
    );
    let clean = std::fs::read(work.store()).unwrap();

    let pages = clean.len() / 4096;
    let (mut stopped, mut passed) = (0, 0);
    // Bytes in the middle of one page at a time: in a leaf, keys or values that only the
    // checksums tell from real ones.
    for page in (1..pages).step_by((pages / 10).max(1)) {
        let mut bytes = clean.clone();
        let at = page * 4096 + 2048;
        bytes[at..at + 16].iter_mut().for_each(|b| *b ^= 0x5a);
        std::fs::write(work.store(), &bytes).unwrap();
        let logged = work.log_text().len();
        let mut child = work.start(&gh.url(), TOKEN);
        let started = std::time::Instant::now();
        let exited = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break Some(status);
            }
            if work.log_text()[logged..].contains("every page passed its checksum") {
                break None;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "page {page}: neither stopped nor passed\n{}",
                &work.log_text()[logged..]
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let Some(status) = exited else {
            // A page no commit uses: ghpulse goes on.
            let status = crate::support::stop(child);
            assert!(status.success(), "page {page}: {status:?}");
            passed += 1;
            continue;
        };
        let log = &work.log_text()[logged..];
        assert_eq!(status.code(), Some(2), "page {page}: {log}");
        assert!(
            log.contains("is damaged") && log.contains(&work.store().display().to_string()),
            "page {page}: the message names the store: {log}"
        );
        assert!(!log.contains("panicked"), "page {page}: {log}");
        // Only redb's flags byte (the file is open) may differ: not a page was written.
        let after = std::fs::read(work.store()).unwrap();
        let changed: Vec<usize> = (0..after.len().max(bytes.len()))
            .filter(|&i| after.get(i) != bytes.get(i))
            .collect();
        assert!(
            changed.iter().all(|&i| i == 9),
            "page {page}: bytes written at {:?}",
            &changed[..changed.len().min(8)]
        );
        assert!(
            !seal.exists(),
            "page {page}: a damaged store is never sealed"
        );
        stopped += 1;
    }
    eprintln!("{stopped} damaged stores stopped ghpulse, {passed} damaged an unused page");
    assert!(stopped > 0, "no damage reached the check");
}
