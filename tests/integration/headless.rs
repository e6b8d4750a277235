//! End-to-end: the real binary, headless, against the fake GitHub server built from real data.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

use crate::support::figures::expected_figures;
use crate::support::{Workdir, stop, wait_for};
use chrono::{DateTime, Utc};
use fake_github::{FakeGithub, Fault, Options, data};
use serde_json::Value;

const TOKEN: Option<&str> = Some("test-token");

async fn fake(poll_interval_secs: u64) -> FakeGithub {
    FakeGithub::start(Options {
        poll_interval_secs,
        ..Options::default()
    })
    .await
}

/// Serves a fixture repository under its own name with recent timestamps.
fn serve(gh: &FakeGithub, stem: &str, newest_minutes_ago: u64, span_hours: u64) -> Vec<Value> {
    let repo = data::fixture_repo(stem).expect("fixture");
    let mut events = data::load_events(repo.file_stem);
    let now = SystemTime::now() - Duration::from_secs(newest_minutes_ago * 60);
    data::rescale(
        &mut events,
        now,
        300,
        Duration::from_secs(span_hours * 3600),
    );
    gh.add_repo(repo.full_name, repo.id, events.clone());
    events
}

fn shown_events(gh: &FakeGithub, all: &[Value], repo: &str) -> Vec<Value> {
    let ids: std::collections::HashSet<u64> = gh.timeline_ids(repo).into_iter().collect();
    all.iter()
        .filter(|e| ids.contains(&e["id"].as_str().unwrap().parse::<u64>().unwrap()))
        .cloned()
        .collect()
}

fn repo_entry<'a>(stats: &'a Value, repo: &str) -> &'a Value {
    stats["repositories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["repo"] == repo)
        .expect("repo in stats")
}

fn assert_clean(gh: &FakeGithub) {
    assert_eq!(gh.violations(), Vec::<String>::new(), "protocol violations");
    assert!(
        gh.max_concurrent() <= 1,
        "concurrent requests: {}",
        gh.max_concurrent()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn figures_equal_the_spec_and_a_restart_rereads_nothing() {
    let gh = fake(1).await;
    let repos = [
        ("sigmavirus24/github3.py", 2, 30),
        ("sferik/rails_admin", 5, 200),
        ("github/gitignore", 30, 400),
    ];
    let mut all = BTreeMap::new();
    for (name, ago, span) in repos {
        all.insert(name, serve(&gh, name, ago, span));
    }
    let work = Workdir::new(&repos.map(|r| r.0));
    let child = work.start(&gh.url(), TOKEN);
    let polled = |gh: &FakeGithub| {
        repos.iter().all(|(r, ..)| {
            gh.requests()
                .iter()
                .any(|q| q.repo.as_deref() == Some(*r) && q.status == 304)
        })
    };
    wait_for(
        "a 304 for every repository",
        Duration::from_secs(30),
        &work,
        || polled(&gh),
    )
    .await;

    // The store can be read while ghpulse runs.
    let live = work.stats_json();
    assert_eq!(live["repositories"].as_array().unwrap().len(), 3);
    assert!(stop(child).success(), "clean exit on SIGTERM");

    let stats = work.stats_json();
    let generated_at: DateTime<Utc> = stats["generated_at"].as_str().unwrap().parse().unwrap();
    assert!(stats["generated_at"].as_str().unwrap().ends_with('Z'));
    for (name, ..) in repos {
        let got = repo_entry(&stats, name);
        let (in_window, expected) =
            expected_figures(&shown_events(&gh, &all[name], name), generated_at);
        assert!(
            in_window > 0,
            "{name}: the test data must put events in the window"
        );
        assert_eq!(got["events_in_window"], in_window, "{name}");
        assert_eq!(got["partial"], false, "{name}");
        let types = got["event_types"].as_array().unwrap();
        assert_eq!(types.len(), expected.len(), "{name}: types");
        for t in types {
            let (n, avg2, med2, last) = expected[t["event_type"].as_str().unwrap()];
            let ms2 = |v: &Value| v.as_f64().map(|s| (s * 2000.0).round() as i64);
            assert_eq!(t["count"], n, "{name} {t}");
            // Figures are rounded to the millisecond: within half a millisecond of the exact value.
            for (got, want) in [
                (ms2(&t["avg_seconds_between"]), avg2),
                (ms2(&t["median_seconds_between"]), med2),
            ] {
                match (got, want) {
                    (Some(g), Some(w)) => {
                        assert!((g - w).abs() <= 1, "{name} {t}: {g} vs {w} (half-ms)")
                    }
                    (g, w) => assert_eq!(g, w, "{name} {t}"),
                }
            }
            let last_got: DateTime<Utc> = t["last_event_at"].as_str().unwrap().parse().unwrap();
            assert_eq!(last_got.timestamp_millis(), last, "{name} {t}");
        }
    }
    // The window cut by age binds for the slow repository, by count for none here (<= 300 shown).
    assert!(
        repo_entry(&stats, "github/gitignore")["events_in_window"]
            .as_u64()
            .unwrap()
            < 154
    );

    // Restart: every repository is answered 304 to its stored ETag; nothing is read twice.
    gh.clear_records();
    let child = work.start(&gh.url(), TOKEN);
    wait_for(
        "a poll of every repository after restart",
        Duration::from_secs(30),
        &work,
        || polled(&gh),
    )
    .await;
    assert!(stop(child).success());
    let reqs = gh.requests();
    let first_polls: Vec<_> = repos
        .iter()
        .map(|(r, ..)| {
            reqs.iter()
                .find(|q| q.repo.as_deref() == Some(*r))
                .expect("polled")
                .clone()
        })
        .collect();
    for q in &first_polls {
        assert!(q.if_none_match.is_some(), "restart sent no ETag: {q:?}");
        assert_eq!(q.status, 304, "restart re-read {q:?}");
    }
    assert!(
        reqs.iter().all(|q| q.page == 1),
        "no later page after restart"
    );
    assert!(reqs.iter().all(|q| {
        q.user_agent
            .as_deref()
            .is_some_and(|ua| ua.starts_with("ghpulse/"))
    }));
    assert_eq!(
        crate::support::without_poll_times(&work.stats_json()["repositories"]),
        crate::support::without_poll_times(&stats["repositories"]),
        "same figures after restart (same events)"
    );
    assert_clean(&gh);
}

#[tokio::test(flavor = "multi_thread")]
async fn new_events_are_picked_up_by_id_and_pages_stop_at_a_known_event() {
    let gh = fake(1).await;
    serve(&gh, "sferik/rails_admin", 5, 100);
    let work = Workdir::new(&["sferik/rails_admin"]);
    let child = work.start(&gh.url(), TOKEN);
    let stored = |w: &Workdir| {
        w.stats_json()["repositories"][0]["events_in_window"]
            .as_u64()
            .unwrap_or(0)
    };
    wait_for("the first read", Duration::from_secs(30), &work, || {
        gh.requests().iter().any(|q| q.status == 304)
    })
    .await;
    let before = stored(&work);
    let first_read_pages = gh.requests().iter().filter(|q| q.status == 200).count();
    assert_eq!(first_read_pages, 3, "a first read is 3 pages of 100");

    // 150 new events: page 1 holds only new ones, page 2 reaches known ones, page 3 is not read.
    gh.clear_records();
    let template = data::single_event("push_event");
    for _ in 0..150 {
        gh.push_live_event("sferik/rails_admin", template.clone());
    }
    wait_for(
        "150 new events stored",
        Duration::from_secs(30),
        &work,
        || stored(&work) >= before + 150,
    )
    .await;
    assert!(stop(child).success());
    let pages: Vec<u32> = gh
        .requests()
        .iter()
        .filter(|q| q.status == 200)
        .map(|q| q.page)
        .collect();
    assert_eq!(
        pages,
        [1, 2],
        "paging stops at the page with a stored event"
    );
    assert_clean(&gh);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_kill_mid_poll_loses_nothing_and_duplicates_nothing() {
    let gh = fake(1).await;
    let all = serve(&gh, "praw-dev/praw", 5, 100);
    let work = Workdir::new(&["praw-dev/praw"]);
    // Every answer takes 1.5 s: a kill lands inside a request.
    gh.set_fault(
        "praw-dev/praw",
        Some(Fault::Slow(Duration::from_millis(1500))),
    );
    let mut child = work.start(&gh.url(), TOKEN);
    wait_for(
        "a request in flight",
        Duration::from_secs(10),
        &work,
        || gh.requests().iter().any(|q| q.status == 0),
    )
    .await;
    child.kill().expect("SIGKILL");
    let _ = child.wait();

    gh.set_fault("praw-dev/praw", None);
    let child = work.start(&gh.url(), TOKEN);
    wait_for(
        "a 304 after the restart",
        Duration::from_secs(30),
        &work,
        || gh.requests().iter().any(|q| q.status == 304),
    )
    .await;
    assert!(stop(child).success());

    let store =
        ghpulse_core::Store::open_read_only(&work.store()).expect("store opens after a kill");
    let stored = store.recent_events("praw-dev/praw", 10_000, None).unwrap();
    let mut ids: Vec<u64> = stored.iter().map(|e| e.id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), stored.len(), "no duplicates");
    let mut shown: Vec<u64> = shown_events(&gh, &all, "praw-dev/praw")
        .iter()
        .map(|e| e["id"].as_str().unwrap().parse().unwrap())
        .collect();
    shown.sort();
    assert_eq!(ids, shown, "every shown event stored");
    assert_eq!(
        store
            .repo_state("praw-dev/praw")
            .unwrap()
            .unwrap()
            .events_stored,
        shown.len() as u64
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn each_fault_stays_with_its_repository() {
    let gh = fake(1).await;
    let faults = [
        ("sferik/rails_admin", Fault::NotFound),
        ("sigmavirus24/github3.py", Fault::ServerError(502)),
        ("praw-dev/praw", Fault::Malformed),
        ("github/gitignore", Fault::TruncatedJson),
    ];
    for (name, _) in &faults {
        serve(&gh, name, 5, 100);
    }
    serve(&gh, "github3py/github3.py", 5, 100);
    for (name, fault) in &faults {
        gh.set_fault(name, Some(fault.clone()));
    }
    let names: Vec<&str> = faults
        .iter()
        .map(|f| f.0)
        .chain(["github3py/github3.py"])
        .collect();
    let work = Workdir::new(&names);
    let mut child = work.start(&gh.url(), TOKEN);
    // The failing pages are each asked four times (about 7 s) before the healthy one's turn.
    wait_for(
        "the healthy repository polled twice",
        Duration::from_secs(60),
        &work,
        || {
            gh.requests()
                .iter()
                .filter(|q| q.repo.as_deref() == Some("github3py/github3.py") && q.page == 1)
                .count()
                >= 2
        },
    )
    .await;
    assert!(child.try_wait().unwrap().is_none(), "still running");
    assert!(stop(child).success());

    let store = ghpulse_core::Store::open_read_only(&work.store()).unwrap();
    let state = |r: &str| store.repo_state(r).unwrap().expect("state recorded");
    use ghpulse_core::RepoStatus;
    assert_eq!(state("sferik/rails_admin").status, RepoStatus::NotFound);
    for r in [
        "sigmavirus24/github3.py",
        "praw-dev/praw",
        "github/gitignore",
    ] {
        let s = state(r);
        assert_eq!(s.status, RepoStatus::Backoff, "{r}");
        assert!(
            s.backoff_until.unwrap() >= s.last_polled_at.unwrap() + chrono::TimeDelta::seconds(5),
            "{r}: backoff of at least 5 s"
        );
        assert!(s.last_error.is_some(), "{r}");
    }
    assert_eq!(state("github3py/github3.py").status, RepoStatus::Ok);
    assert!(state("github3py/github3.py").events_stored > 0);
    // No hammering: a failing page is asked for again within its poll after about 1, 2 and
    // 4 s (a 404 is not: a retry cannot mend it), then the repository backs off, 5 s at least.
    for (name, fault) in &faults {
        let at: Vec<Instant> = gh
            .requests()
            .iter()
            .filter(|q| q.repo.as_deref() == Some(*name))
            .map(|q| q.at)
            .collect();
        let first_poll = if *fault == Fault::NotFound { 1 } else { 4 };
        assert!(at.len() >= first_poll, "{name} asked {} times", at.len());
        for (pair, about) in at[..first_poll].windows(2).zip([1.0, 2.0, 4.0]) {
            let gap = (pair[1] - pair[0]).as_secs_f64();
            assert!(
                (0.75 * about..=1.25 * about + 0.5).contains(&gap),
                "{name}: a retry {gap:.3} s after the last, about {about} s expected"
            );
        }
        if let Some(next) = at.get(first_poll) {
            let gap = *next - at[first_poll - 1];
            assert!(
                gap >= Duration::from_millis(4900),
                "{name}: polled again {gap:?} after a failed poll"
            );
        }
    }
    assert_clean(&gh);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_small_budget_is_never_overspent() {
    // Unauthenticated, 8 requests per 6-second window, three repositories, poll interval 1 s.
    let gh = FakeGithub::start(Options {
        poll_interval_secs: 1,
        unauth_limit: 8,
        rate_window: Duration::from_secs(6),
        ..Options::default()
    })
    .await;
    for (name, ago, span) in [
        ("sferik/rails_admin", 1, 50),
        ("praw-dev/praw", 3, 100),
        ("github/gitignore", 20, 400),
    ] {
        serve(&gh, name, ago, span);
    }
    let work = Workdir::new(&["sferik/rails_admin", "praw-dev/praw", "github/gitignore"]);
    let child = work.start(&gh.url(), None);
    tokio::time::sleep(Duration::from_secs(14)).await;
    let template = data::single_event("watch_event");
    gh.push_live_event("praw-dev/praw", template);
    tokio::time::sleep(Duration::from_secs(7)).await;
    assert!(stop(child).success());
    let reqs = gh.requests();
    assert!(
        reqs.len() >= 8,
        "the budget was used: {} requests",
        reqs.len()
    );
    assert!(
        reqs.iter().all(|q| q.status != 403 && q.status != 429),
        "no rate-limit answer"
    );
    assert_clean(&gh);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rejected_token_is_not_hammered() {
    let gh = FakeGithub::start(Options {
        poll_interval_secs: 1,
        valid_tokens: vec!["good".into()],
        ..Options::default()
    })
    .await;
    serve(&gh, "sferik/rails_admin", 5, 100);
    serve(&gh, "praw-dev/praw", 5, 100);
    let work = Workdir::new(&["sferik/rails_admin", "praw-dev/praw"]);
    let child = work.start(&gh.url(), Some("bad"));
    wait_for("a 401", Duration::from_secs(10), &work, || {
        gh.requests().iter().any(|q| q.status == 401)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(stop(child).success());
    assert_eq!(gh.requests().len(), 1, "one 401, then silence");
    let log = work.log_text();
    assert!(log.contains("rejected the token"), "{log}");
    assert!(
        !log.contains("bad\n") && !log.contains("Bearer"),
        "the token never appears in logs"
    );
    assert_eq!(log.matches("rejected the token").count(), 1, "said once");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_secondary_rate_limit_pauses_everything_for_retry_after() {
    let gh = fake(1).await;
    serve(&gh, "sferik/rails_admin", 5, 100);
    serve(&gh, "praw-dev/praw", 5, 100);
    let work = Workdir::new(&["sferik/rails_admin", "praw-dev/praw"]);
    let child = work.start(&gh.url(), TOKEN);
    // First learn the 1-second poll interval (until then ghpulse assumes GitHub's usual 60 s).
    wait_for("a 304", Duration::from_secs(30), &work, || {
        gh.requests().iter().any(|q| q.status == 304)
    })
    .await;
    gh.set_fault(
        "sferik/rails_admin",
        Some(Fault::SecondaryRateLimit {
            retry_after_secs: 4,
        }),
    );
    wait_for("a 429", Duration::from_secs(10), &work, || {
        gh.requests().iter().any(|q| q.status == 429)
    })
    .await;
    gh.set_fault("sferik/rails_admin", None);
    let limited_at = || gh.requests().iter().find(|q| q.status == 429).map(|q| q.at);
    wait_for("polling resumed", Duration::from_secs(15), &work, || {
        let t = limited_at();
        gh.requests()
            .iter()
            .any(|q| q.repo.as_deref() == Some("sferik/rails_admin") && Some(q.at) > t)
    })
    .await;
    assert!(stop(child).success());
    let reqs = gh.requests();
    let limited_at = reqs.iter().find(|q| q.status == 429).unwrap().at;
    let next = reqs
        .iter()
        .find(|q| q.at > limited_at)
        .expect("a later request");
    assert!(
        next.at.duration_since(limited_at) >= Duration::from_millis(3900),
        "waited retry-after: {:?}",
        next.at.duration_since(limited_at)
    );
    assert_clean(&gh);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_renamed_repository_is_followed() {
    let gh = fake(1).await;
    serve(&gh, "sferik/rails_admin", 5, 100);
    gh.set_fault(
        "sferik/rails_admin",
        Some(Fault::RenamedTo("railsadminteam/rails_admin".into())),
    );
    let work = Workdir::new(&["sferik/rails_admin"]);
    let child = work.start(&gh.url(), TOKEN);
    wait_for(
        "a 304 after the redirect",
        Duration::from_secs(30),
        &work,
        || gh.requests().iter().any(|q| q.status == 304),
    )
    .await;
    assert!(stop(child).success());
    assert!(
        work.stats_json()["repositories"][0]["events_in_window"]
            .as_u64()
            .unwrap()
            > 0
    );
    assert!(
        work.log_text().contains("renamed or moved"),
        "{}",
        work.log_text()
    );
}

#[test]
fn a_second_ghpulse_on_the_same_store_gets_a_clear_error() {
    let work = Workdir::new(&["a/b"]);
    let first = work.start("http://127.0.0.1:9", None);
    std::thread::sleep(Duration::from_millis(800));
    let second = std::process::Command::new(crate::support::BIN)
        .args(["--headless", "-c"])
        .arg(work.config())
        .arg("-d")
        .arg(work.store())
        .arg("--api-url")
        .arg("http://127.0.0.1:9")
        .output()
        .unwrap();
    assert!(stop(first).success());
    assert_eq!(second.status.code(), Some(1));
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(err.contains("in use by another ghpulse"), "{err}");
}

#[test]
fn bad_config_exits_2_naming_file_line_and_key() {
    let work = Workdir::new(&[]);
    std::fs::write(
        work.config(),
        "repositories = [\n  \"ok/one\",\n  \"not a repo\",\n]\n",
    )
    .unwrap();
    let out = work.run(&["stats"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("repositories.toml:3: repositories[1]:"),
        "{err}"
    );
}

#[test]
fn repos_commands_edit_the_file_in_place() {
    let work = Workdir::new(&["a/b"]);
    assert!(work.run(&["repos", "add", "c/d"]).status.success());
    assert_eq!(
        work.run(&["repos", "add", "C/D"]).status.code(),
        Some(2),
        "duplicate"
    );
    assert_eq!(
        work.run(&["repos", "add", "no"]).status.code(),
        Some(2),
        "malformed"
    );
    assert!(work.run(&["repos", "remove", "a/b"]).status.success());
    let listed = work.run(&["repos", "list"]);
    assert_eq!(String::from_utf8_lossy(&listed.stdout), "c/d\n");
    let text = std::fs::read_to_string(work.config()).unwrap();
    assert!(text.starts_with("# test watch list\n"), "{text}");
}

#[test]
fn a_store_of_another_schema_version_is_refused() {
    let work = Workdir::new(&["a/b"]);
    {
        let db = redb::Database::create(work.store()).unwrap();
        let txn = db.begin_write().unwrap();
        txn.open_table(redb::TableDefinition::<&str, &str>::new("meta"))
            .unwrap()
            .insert("schema_version", "99")
            .unwrap();
        txn.commit().unwrap();
    }
    let out = work.run(&["stats"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("schema version 99"), "{err}");
}
