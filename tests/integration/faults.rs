//! The fault matrix: the real binary, headless, against the fake GitHub server, with every
//! kind of broken answer on page 1, 2 or 3 of a busy repository's poll, beside healthy
//! repositories. Each faulty repository must end with every event GitHub showed, and figures
//! equal to an independent computation, once the fault stops; the healthy ones stay exact all
//! along; nothing is requested faster than `X-Poll-Interval`, and no request ever leaves for
//! another origin.

use std::collections::BTreeSet;
use std::time::{Duration, Instant, SystemTime};

use crate::support::figures::{assert_complete, assert_figures};
use crate::support::{Running, Workdir, get_json, listening_at, wait_for};
use fake_github::{Failures, FakeGithub, Fault, Options, data};
use serde_json::Value;

const TOKEN: Option<&str> = Some("test-token");
/// New events pushed into every repository while the faults are on: a poll then needs three
/// pages (100 + 100 + 50 new, then the first event read before).
const NEW_EVENTS: usize = 250;

fn fault_kinds(elsewhere: &str) -> Vec<(&'static str, Fault)> {
    vec![
        ("500", Fault::ServerError(500)),
        ("502-html", Fault::ServerError(502)),
        (
            "429-retry-after",
            Fault::SecondaryRateLimit {
                retry_after_secs: 1,
            },
        ),
        (
            "403-secondary",
            Fault::SecondaryRateLimitForbidden {
                retry_after_secs: 1,
            },
        ),
        ("malformed", Fault::Malformed),
        ("truncated-json", Fault::TruncatedJson),
        ("cut-connection", Fault::TruncatedClose),
        ("trickle", Fault::Trickle(Duration::from_millis(600))),
        ("slow", Fault::Slow(Duration::from_millis(600))),
        ("foreign-link", Fault::ForeignLink(elsewhere.to_string())),
        ("foreign-redirect", Fault::RedirectTo(elsewhere.to_string())),
    ]
}

/// `n` events of a fixture, renumbered from `first_id`, under `name`, the newest 5 minutes old.
fn events_for(stem: &str, name: &str, repo_id: u64, first_id: u64, n: usize) -> Vec<Value> {
    let mut events = crate::support::fixture_events(stem, name, repo_id, n, first_id);
    data::rescale(
        &mut events,
        SystemTime::now() - Duration::from_secs(300),
        n,
        Duration::from_secs(48 * 3600),
    );
    events
}

/// `n` new events of `name`, ids from `first_id`, one a second up to now, newest first.
fn new_events(template: &[Value], name: &str, repo_id: u64, first_id: u64, n: usize) -> Vec<Value> {
    let now = data::Timestamp::now();
    let mut out: Vec<Value> = template
        .iter()
        .cycle()
        .take(n)
        .enumerate()
        .map(|(i, e)| {
            let mut e = e.clone();
            e["created_at"] = Value::String(data::Timestamp(now.0 - i as i64 * 1000).to_rfc3339());
            e
        })
        .collect();
    data::renumber(&mut out, first_id);
    data::retarget(&mut out, name, repo_id);
    out
}

/// Serves `events` as `repo`; returns what the API shows of them (a recording may hold
/// events it would not list).
fn serve(gh: &FakeGithub, repo: &str, repo_id: u64, events: Vec<Value>) -> Vec<Value> {
    gh.add_repo(repo, repo_id, events.clone());
    let shown: BTreeSet<u64> = gh.timeline_ids(repo).into_iter().collect();
    events
        .into_iter()
        .filter(|e| shown.contains(&id_of(e)))
        .collect()
}

fn stored_ids(store: &ghpulse_core::Store, repo: &str) -> BTreeSet<u64> {
    store
        .recent_events(repo, 10_000, None)
        .map(|v| v.into_iter().map(|e| e.id).collect())
        .unwrap_or_default()
}

fn id_of(event: &Value) -> u64 {
    event["id"].as_str().unwrap().parse().unwrap()
}

fn ids(events: &[Value]) -> BTreeSet<u64> {
    events.iter().map(id_of).collect()
}

/// Every repository's stored ids equal what was published to it.
fn all_exact(
    work: &Workdir,
    cases: &[(String, Option<Fault>, u32)],
    published: &[Vec<Value>],
) -> bool {
    let Ok(store) = ghpulse_core::Store::open_read_only(&work.store()) else {
        return false;
    };
    cases
        .iter()
        .zip(published)
        .all(|((r, _, _), p)| stored_ids(&store, r) == ids(p))
}

/// Like `crate::support::wait_for`, checking once a second: each check reads the whole store.
async fn wait_until(what: &str, limit: Duration, work: &Workdir, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while start.elapsed() < limit {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    wait_for(what, Duration::ZERO, work, check).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_fault_on_every_page_ends_exact_once_it_stops() {
    // 35 repositories at one poll each 5 s keep a debug build busy but not saturated.
    let gh = FakeGithub::start(Options {
        poll_interval_secs: 5,
        auth_limit: 1_000_000,
        ..Options::default()
    })
    .await;
    // Another origin: nothing may ever arrive here, with or without the token.
    let elsewhere = FakeGithub::start(Options::default()).await;
    let stems = [
        "sferik__rails_admin",
        "praw-dev__praw",
        "sigmavirus24__github3.py",
        "github3py__github3.py",
    ];

    // (repo, fault, page); page 0 is a healthy repository.
    let mut cases: Vec<(String, Option<Fault>, u32)> = Vec::new();
    for (label, fault) in fault_kinds(&elsewhere.url()) {
        for page in 1..=3 {
            cases.push((format!("faulty/{label}-p{page}"), Some(fault.clone()), page));
        }
    }
    cases.push(("healthy/one".into(), None, 0));
    cases.push(("healthy/two".into(), None, 0));

    let mut published: Vec<Vec<Value>> = Vec::new();
    let mut next_id = 10_000_000_000u64;
    for (i, (repo, _, _)) in cases.iter().enumerate() {
        let events = events_for(stems[i % stems.len()], repo, 1000 + i as u64, next_id, 150);
        next_id += 1000;
        published.push(serve(&gh, repo, 1000 + i as u64, events));
    }
    let names: Vec<&str> = cases.iter().map(|(r, _, _)| r.as_str()).collect();
    let work = Workdir::new(&names);
    let config = std::fs::read_to_string(work.config()).unwrap();
    std::fs::write(
        work.config(),
        config.replace("max_repositories = 5", "max_repositories = 50"),
    )
    .unwrap();
    let child = Running::new(work.start(&gh.url(), TOKEN));

    wait_until(
        "the first read of every repository",
        Duration::from_secs(400),
        &work,
        || all_exact(&work, &cases, &published),
    )
    .await;

    let pushed_at = Instant::now();
    for (i, (repo, fault, page)) in cases.iter().enumerate() {
        if let Some(f) = fault {
            gh.set_page_fault(repo, *page, Some(f.clone()));
        }
        let fresh = new_events(&published[i], repo, 1000 + i as u64, next_id, NEW_EVENTS);
        next_id += 1000;
        gh.push_events(repo, fresh.clone());
        published[i].extend(fresh);
    }
    wait_until("every fault hit", Duration::from_secs(400), &work, || {
        let seen = gh.requests();
        cases.iter().all(|(repo, fault, page)| {
            fault.is_none()
                || seen.iter().any(|q| {
                    q.at > pushed_at
                        && q.repo.as_deref() == Some(repo)
                        && q.page == *page
                        && q.status != 0
                })
        })
    })
    .await;
    for (repo, fault, page) in &cases {
        if fault.is_some() {
            gh.set_page_fault(repo, *page, None);
        }
    }

    // A page is asked for again within its poll; a poll cut all the same backs off from 5 s.
    wait_until(
        "every repository exact after the faults stopped",
        Duration::from_secs(600),
        &work,
        || all_exact(&work, &cases, &published),
    )
    .await;
    let status = child.stop();
    assert!(status.success(), "{status:?}\n{}", work.log_text());

    let stats = work.stats_json();
    let generated_at = stats["generated_at"].as_str().unwrap().parse().unwrap();
    for ((repo, _, _), events) in cases.iter().zip(&published) {
        let entry = stats["repositories"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["repo"] == repo.as_str())
            .expect("every repository in stats");
        assert_eq!(entry["partial"], false, "{repo}: no gap was real");
        assert_figures(entry, events, generated_at);
    }

    assert_eq!(gh.violations(), Vec::<String>::new(), "protocol violations");
    assert!(gh.max_concurrent() <= 1);
    assert!(
        elsewhere.requests().is_empty(),
        "a request left for another origin: {:?}",
        elsewhere.requests()
    );
    let log = work.log_text();
    assert!(
        !log.contains("test-token"),
        "the token never appears in the log"
    );
    assert!(log.contains("another origin"), "the refusal is logged");
}

/// Two busy repositories, their first read 300 events (three pages), then 15 new events
/// every 3 s (110 twice: two pages) while the API fails as `failures` says, the failures never
/// stopped. Every served event ends stored and the figures exact; `partial` is true only with
/// a reason, never `gap` (no event was really lost), and false at the end.
///
/// One request at a time, and a page retried after about 1, 2 and 4 s: one poll can hold the
/// other repository up for 20 s, so the events arrive slowly enough that no poll falls 300
/// events behind (which would lose events for real, and rightly record a gap).
async fn busy_repositories_under(failures: Failures) {
    let gh = crate::support::fast_fake().await;
    let repos = ["busy/one", "busy/two"];
    let mut published: Vec<Vec<Value>> = Vec::new();
    let mut next_id = 20_000_000_000u64;
    for (i, (repo, stem)) in repos
        .iter()
        .zip(["sferik__rails_admin", "sigmavirus24__github3.py"])
        .enumerate()
    {
        let events = events_for(stem, repo, 1 + i as u64, next_id, 300);
        next_id += 10_000;
        published.push(serve(&gh, repo, 1 + i as u64, events));
    }
    gh.set_failures(Some(failures));
    let work = Workdir::new(&repos);
    let child = Running::new(work.start_with(&gh.url(), TOKEN, &["--listen", "127.0.0.1:0"], &[]));
    let base = listening_at(&work).await;
    for (repo, events) in repos.iter().zip(&published) {
        let start = Instant::now();
        while crate::support::stored_ids(work.store(), repo).await != ids(events) {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "{repo}: the first read\n{}",
                work.log_text()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    let mut reasons = BTreeSet::new();
    let sample = async |reasons: &mut BTreeSet<String>| {
        let stats = get_json(&base, "/api/stats").await;
        for r in stats["repositories"].as_array().into_iter().flatten() {
            let reason = r["partial_reason"].as_str().map(str::to_string);
            assert_eq!(r["partial"], reason.is_some(), "{r}");
            reasons.extend(reason);
        }
    };
    for round in 0..12 {
        tokio::time::sleep(Duration::from_secs(3)).await;
        for (i, repo) in repos.iter().enumerate() {
            let n = if round % 5 == 3 { 110 } else { 15 };
            let fresh = new_events(&published[i], repo, 1 + i as u64, next_id, n);
            next_id += 1000;
            gh.push_events(repo, fresh.clone());
            published[i].extend(fresh);
        }
        sample(&mut reasons).await;
    }
    let start = Instant::now();
    loop {
        let mut exact = true;
        for (repo, events) in repos.iter().zip(&published) {
            exact &= crate::support::stored_ids(work.store(), repo).await == ids(events);
        }
        let stats = get_json(&base, "/api/stats").await;
        sample(&mut reasons).await;
        let whole = stats["repositories"]
            .as_array()
            .is_some_and(|a| a.iter().all(|r| r["partial"] == false));
        if exact && whole {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(180),
            "not every served event stored (or still partial): {stats}\n{}",
            work.log_text()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let status = child.stop();
    assert!(status.success(), "{status:?}\n{}", work.log_text());
    assert!(
        !reasons.contains("gap"),
        "no event was lost, so no gap: {reasons:?}"
    );

    assert_complete(&work.stats_json(), &published);
    let failed = gh.requests().iter().filter(|q| q.status == 502).count();
    assert!(failed >= 5, "the failures were served: {failed}");
    assert_eq!(gh.violations(), Vec::<String>::new(), "protocol violations");
    assert!(gh.max_concurrent() <= 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failure_on_every_third_request_loses_nothing() {
    busy_repositories_under(Failures::EveryNth(3)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn thirty_percent_of_answers_502_at_random_loses_nothing() {
    busy_repositories_under(Failures::Random {
        percent: 30,
        seed: 18,
    })
    .await;
}
