//! Absurd header values, each sent once on the first answer a repository gets, after which
//! the server behaves: ghpulse neither panics nor exits, and plans the next poll within the
//! bounds (an hour at most); an ETag that matches anything or is huge is never sent back;
//! and a store holding a plan beyond the bounds (what older versions stored after such
//! answers) is polled at once on a restart.

use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use fake_github::{FakeGithub, Fault};
use serde_json::Value;

use crate::support::{
    Running, Workdir, fast_fake, fixture_events, get_json, listening_at, wait_for,
};

const TOKEN: Option<&str> = Some("test-token");

fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A fake server with `repo` holding 50 recent events, polled every second.
async fn serving(repo: &str) -> FakeGithub {
    let gh = fast_fake().await;
    gh.add_repo(
        repo,
        7,
        fixture_events("praw-dev__praw", repo, 7, 50, 30_000_000_000),
    );
    gh
}

fn at(v: &Value) -> DateTime<Utc> {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not a time: {v}"))
}

/// The repository's entry of `/api/repos` once its first poll is done.
async fn after_first_poll(base: &str, work: &Workdir) -> Value {
    let mut entry = Value::Null;
    let start = Instant::now();
    while entry["last_polled_at"].is_null() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no first poll\n{}",
            work.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        entry = get_json(base, "/api/repos").await[0].clone();
    }
    entry
}

#[tokio::test(flavor = "multi_thread")]
async fn each_absurd_header_costs_at_most_a_bounded_wait() {
    let hour = TimeDelta::hours(1);
    let chrono_max = DateTime::<Utc>::MAX_UTC.timestamp().to_string();
    let billion_ahead = (Utc::now().timestamp() + 1_000_000_000).to_string();
    let spent = |reset: &str, date: Option<&str>| {
        let mut h = headers(&[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", reset)]);
        if let Some(d) = date {
            h.push(("date".into(), d.into()));
        }
        Fault::Headers {
            status: 200,
            headers: h,
        }
    };
    let limited = |retry_after: &str| Fault::Headers {
        status: 429,
        headers: headers(&[("retry-after", retry_after)]),
    };
    let interval = |secs: &str| Fault::Headers {
        status: 200,
        headers: headers(&[("x-poll-interval", secs)]),
    };
    // (what was sent, the fault, the shortest and longest wait from the poll to the next)
    let cases: Vec<(&str, Fault, TimeDelta, TimeDelta)> = vec![
        (
            "X-Poll-Interval 10^17",
            interval("100000000000000000"),
            hour,
            hour,
        ),
        ("X-Poll-Interval 999999", interval("999999"), hour, hour),
        (
            "X-Poll-Interval 0 (the usual minute, not a poll a second)",
            interval("0"),
            TimeDelta::seconds(60),
            TimeDelta::seconds(60),
        ),
        (
            "a spent budget, reset 10^9 s ahead",
            spent(&billion_ahead, None),
            hour - TimeDelta::minutes(1),
            hour + TimeDelta::seconds(3),
        ),
        (
            "a spent budget, reset near chrono's last instant",
            spent(&chrono_max, None),
            hour - TimeDelta::minutes(1),
            hour + TimeDelta::seconds(3),
        ),
        (
            "a spent budget, reset near the maximum, Date in the past",
            spent(&chrono_max, Some("Thu, 01 Jan 1970 00:00:00 GMT")),
            hour - TimeDelta::minutes(1),
            hour + TimeDelta::seconds(3),
        ),
        (
            "429 retry-after 10^13",
            limited("10000000000000"),
            hour - TimeDelta::minutes(1),
            hour + TimeDelta::seconds(1),
        ),
        (
            "429 retry-after 10^9",
            limited("1000000000"),
            hour - TimeDelta::minutes(1),
            hour + TimeDelta::seconds(1),
        ),
        (
            "429 retry-after an HTTP date in 9999",
            limited("Fri, 31 Dec 9999 23:59:59 GMT"),
            hour - TimeDelta::minutes(1),
            hour + TimeDelta::seconds(1),
        ),
    ];
    for (what, fault, shortest, longest) in cases {
        let repo = "absurd/headers";
        let gh = serving(repo).await;
        gh.set_fault_once(repo, fault);
        let work = Workdir::new(&[repo]);
        let mut child =
            Running::new(work.start_with(&gh.url(), TOKEN, &["--listen", "127.0.0.1:0"], &[]));
        let base = listening_at(&work).await;
        let entry = after_first_poll(&base, &work).await;
        let wait = at(&entry["next_poll_at"]) - at(&entry["last_polled_at"]);
        assert!(
            shortest - TimeDelta::seconds(1) <= wait && wait <= longest,
            "{what}: the next poll {wait} after the last: {entry}\n{}",
            work.log_text()
        );
        assert_eq!(
            get_json(&base, "/health").await["status"],
            "ok",
            "{what}: the fetcher runs"
        );
        assert!(
            child.running(),
            "{what}: ghpulse exited\n{}",
            work.log_text()
        );
        let status = child.stop();
        assert!(status.success(), "{what}: {status:?}\n{}", work.log_text());
        assert!(!work.log_text().contains("panicked"), "{what}");
        assert_eq!(gh.violations(), Vec::<String>::new(), "{what}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_etag_that_matches_anything_or_is_huge_is_never_sent_back() {
    let repo = "odd/etags";
    let gh = serving(repo).await;
    let huge = format!("W/\"{}\"", "x".repeat(100 * 1024));
    for etag in ["*", huge.as_str()] {
        gh.set_fault_once(
            repo,
            Fault::Headers {
                status: 200,
                headers: headers(&[("etag", etag)]),
            },
        );
        let work = Workdir::new(&[repo]);
        let child = Running::new(work.start(&gh.url(), TOKEN));
        // The answers after it carry ordinary ETags: sent back, answered 304.
        wait_for("a 304", Duration::from_secs(30), &work, || {
            gh.requests().iter().any(|q| q.status == 304)
        })
        .await;
        assert!(child.stop().success());
        for q in gh.requests() {
            let sent = q.if_none_match.unwrap_or_default();
            assert!(sent != "*" && sent.len() <= 8192, "sent back: {sent:.40}…");
        }
        gh.clear_records();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_store_holding_a_plan_beyond_the_bounds_is_polled_at_once() {
    let repo = "absurd/plan";
    let gh = serving(repo).await;
    let work = Workdir::new(&[repo]);
    let child = Running::new(work.start(&gh.url(), TOKEN));
    wait_for("the first read", Duration::from_secs(30), &work, || {
        gh.requests().iter().any(|q| q.status == 200)
    })
    .await;
    assert!(child.stop().success());

    // What an older ghpulse stored after obeying absurd headers, restarted ten minutes
    // later: a poll interval of 10^17 s, a next poll and a backoff in 2058, a reset at
    // chrono's last instant. It panicked at every start on such a store, or waited until 2058.
    {
        let store = ghpulse_core::Store::open(&work.store()).unwrap();
        let year_2058: DateTime<Utc> = "2058-01-01T00:00:00Z".parse().unwrap();
        let state = ghpulse_core::RepoState {
            last_polled_at: Some(Utc::now() - TimeDelta::minutes(10)),
            next_poll_at: Some(year_2058),
            backoff_until: Some(year_2058),
            poll_interval_secs: Some(100_000_000_000_000_000),
            ..store.repo_state(repo).unwrap().unwrap()
        };
        store
            .record_poll(ghpulse_core::PollRecord {
                repo_key: repo,
                events: &[],
                gap: None,
                state,
                rate_limit: Some(ghpulse_core::RateLimit {
                    limit: 5000,
                    remaining: 4000,
                    used: 1000,
                    reset_at: DateTime::<Utc>::MAX_UTC,
                    assumed: false,
                }),
                counters: store.counters().unwrap(),
            })
            .unwrap();
    }
    gh.clear_records();
    let started = Instant::now();
    let child = Running::new(work.start(&gh.url(), TOKEN));
    wait_for(
        "a poll after the restart",
        Duration::from_secs(15),
        &work,
        || !gh.requests().is_empty(),
    )
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "polled {:?} after the start",
        started.elapsed()
    );
    assert!(child.stop().success(), "{}", work.log_text());
    assert!(!work.log_text().contains("panicked"));
}
