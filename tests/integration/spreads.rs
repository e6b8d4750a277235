//! The spread of the gaps (SPEC section 3's percentiles) and response times (section 3b) over
//! REST and `ghpulse stats`, against a headless ghpulse fed by the fake GitHub server with
//! recorded repositories (full payloads, 2012–2020) and one of trimmed payloads as GitHub
//! serves them since 2025-10-07: every figure is computed here again, independently, from the
//! events the server served, and must equal ghpulse's to the millisecond.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, SystemTime};

use crate::support::listening::Listening;
use chrono::{DateTime, Utc};
use fake_github::{FakeGithub, Options, data};
use serde_json::{Value, json};

const RECORDED: [&str; 3] = [
    "sferik/rails_admin",
    "praw-dev/praw",
    "sigmavirus24/github3.py",
];
const TRIMMED: &str = "trimmed/payloads";

fn at(t: SystemTime) -> String {
    DateTime::<Utc>::from(t).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A repository whose events are shaped as GitHub serves them today: a PullRequestEvent with
/// `number` and a minimal `pull_request`, reviews likewise, a PushEvent without commits. Its
/// story is told in `the_trimmed_repository_reads_as_told`.
fn trimmed_events(now: SystemTime) -> Vec<Value> {
    let t0 = now - Duration::from_secs(6 * 3600);
    let min = |m: u64| at(t0 + Duration::from_secs(m * 60));
    let actor = |login: &str| json!({ "id": 1, "login": login, "display_login": login.trim_end_matches("[bot]") });
    let small_pr = |n: u64| {
        json!({ "id": 1000 + n, "number": n,
            "url": format!("https://api.github.com/repos/{TRIMMED}/pulls/{n}"),
            "head": { "ref": "topic", "sha": "a1" }, "base": { "ref": "main", "sha": "b2" } })
    };
    let pr = |n: u64, action: &str, who: &str, m: u64| {
        json!({ "type": "PullRequestEvent", "actor": actor(who), "created_at": min(m),
            "payload": { "action": action, "number": n, "pull_request": small_pr(n) } })
    };
    let issue = |n: u64, action: &str, who: &str, m: u64| {
        json!({ "type": "IssuesEvent", "actor": actor(who), "created_at": min(m),
            "payload": { "action": action, "issue": { "number": n, "title": format!("Issue {n}") } } })
    };
    let comment = |n: u64, on_pr: bool, who: &str, m: u64| {
        let mut issue = json!({ "number": n, "title": format!("Item {n}") });
        if on_pr {
            issue["pull_request"] =
                json!({ "url": format!("https://api.github.com/repos/{TRIMMED}/pulls/{n}") });
        }
        json!({ "type": "IssueCommentEvent", "actor": actor(who), "created_at": min(m),
            "payload": { "action": "created", "issue": issue, "comment": { "id": 70 + m } } })
    };
    let review = |n: u64, who: &str, m: u64| {
        json!({ "type": "PullRequestReviewEvent", "actor": actor(who), "created_at": min(m),
            "payload": { "action": "created", "review": { "id": 80 + m }, "pull_request": small_pr(n) } })
    };
    let push = |m: u64| {
        json!({ "type": "PushEvent", "actor": actor("alice"), "created_at": min(m),
            "payload": { "repository_id": 990_001, "push_id": m, "ref": "refs/heads/main",
                "head": "c3", "before": "d4" } })
    };
    let mut events = vec![
        // #1, a pull request: its author's own comment and a bot's do not answer it; bob's
        // review 30 minutes after the opening does; closed after two hours.
        pr(1, "opened", "alice", 0),
        comment(1, true, "alice", 1),
        comment(1, true, "ci-helper[bot]", 2),
        review(1, "bob", 30),
        pr(1, "closed", "alice", 120),
        // #2, a pull request nobody answered: waiting since minute 10.
        pr(2, "opened", "carol", 10),
        // #3, an issue answered in the same second it was opened.
        issue(3, "opened", "dave", 20),
        comment(3, false, "erin", 20),
        // #4, an issue its author closed without an answer.
        issue(4, "opened", "dave", 180),
        issue(4, "closed", "dave", 210),
        // #5 was opened before anything here: the comment answers nothing opened in the window.
        comment(5, false, "bob", 200),
        // #6, a pull request answered by a comment on its conversation (an IssueCommentEvent).
        pr(6, "opened", "frank", 240),
        comment(6, true, "alice", 255),
    ];
    for m in [5, 6, 9, 40, 41, 100, 300, 301] {
        events.push(push(m));
    }
    let repo = json!({ "id": 990_001, "name": TRIMMED,
        "url": format!("https://api.github.com/repos/{TRIMMED}") });
    let mut events: Vec<Value> = events
        .into_iter()
        .enumerate()
        .map(|(i, mut e)| {
            e["id"] = json!((52_000_000_000u64 + i as u64).to_string());
            e["repo"] = repo.clone();
            e["public"] = json!(true);
            e
        })
        .collect();
    events.sort_by_key(|e| std::cmp::Reverse(data::event_id(e)));
    events
}

async fn start() -> Listening {
    let gh = FakeGithub::start(Options {
        poll_interval_secs: 1,
        ..Options::default()
    })
    .await;
    let mut all = HashMap::new();
    for (i, name) in RECORDED.iter().enumerate() {
        let events = gh.add_fixture(
            name,
            SystemTime::now() - Duration::from_secs(600 * (i as u64 + 1)),
            Duration::from_secs(3600 * (30 + 20 * i as u64)),
        );
        all.insert(*name, events);
    }
    let trimmed = trimmed_events(SystemTime::now());
    gh.add_repo(TRIMMED, 990_001, trimmed.clone());
    all.insert(TRIMMED, trimmed);
    let mut names = RECORDED.to_vec();
    names.push(TRIMMED);
    Listening::start(gh, &all, &names).await
}

fn ms(e: &Value) -> i64 {
    DateTime::parse_from_rfc3339(e["created_at"].as_str().unwrap())
        .unwrap()
        .timestamp_millis()
}

fn id(e: &Value) -> u64 {
    data::event_id(e).unwrap()
}

/// E(R), newest first, and the ids of its window W(R) as of `now_ms`.
fn timeline(served: &[Value], now_ms: i64) -> (Vec<&Value>, HashSet<u64>) {
    let mut events: Vec<&Value> = served.iter().collect();
    events.sort_by_key(|e| std::cmp::Reverse((ms(e), id(e))));
    events.dedup_by_key(|e| id(e));
    let cutoff = now_ms - 7 * 24 * 3600 * 1000;
    let window = events
        .iter()
        .take(500)
        .filter(|e| ms(e) > cutoff)
        .map(|e| id(e))
        .collect();
    (events, window)
}

/// The textbook percentile, sorting first: rank h = (m-1)·p in floating point, then linear
/// interpolation between the values either side (what numpy.percentile does by default).
fn percentile(values: &[i64], p: f64) -> Option<f64> {
    let mut v = values.to_vec();
    v.sort();
    let last = v.len().checked_sub(1)?;
    let h = last as f64 * p;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(last);
    Some(v[lo] as f64 + (h - h.floor()) * (v[hi] - v[lo]) as f64)
}

/// `got` (seconds, as reported) is `want_ms` rounded to the millisecond.
fn assert_ms(got: &Value, want_ms: Option<f64>, what: &str) {
    match (got.as_f64(), want_ms) {
        (Some(g), Some(w)) => assert!(
            (g * 1000.0 - w).abs() <= 0.5 + 1e-6,
            "{what}: {g} s, computed here {w} ms"
        ),
        (g, w) => assert_eq!(g, w, "{what}"),
    }
}

/// Section 3's percentiles of each type's gaps in the window, checked against `entry`.
fn assert_percentiles(entry: &Value, served: &[Value], now_ms: i64) {
    let (events, window) = timeline(served, now_ms);
    let inside: Vec<&Value> = events
        .into_iter()
        .filter(|e| window.contains(&id(e)))
        .collect();
    assert_window_percentiles(entry, &inside);
}

/// The percentiles of each type's gaps among `window` (any order), checked against `entry`.
fn assert_window_percentiles(entry: &Value, window: &[&Value]) {
    let mut by_type: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    for e in window {
        by_type
            .entry(e["type"].as_str().unwrap())
            .or_default()
            .push(ms(e));
    }
    let types = entry["event_types"].as_array().unwrap();
    assert_eq!(types.len(), by_type.len(), "{}", entry["repo"]);
    for t in types {
        let mut times = by_type[t["event_type"].as_str().unwrap()].clone();
        times.sort();
        let gaps: Vec<i64> = times.windows(2).map(|w| w[1] - w[0]).collect();
        for (field, p) in [
            ("p25_seconds_between", 0.25),
            ("median_seconds_between", 0.5),
            ("p75_seconds_between", 0.75),
            ("p90_seconds_between", 0.9),
        ] {
            let what = format!("{} {} {field}", entry["repo"], t["event_type"]);
            assert_ms(&t[field], percentile(&gaps, p), &what);
        }
    }
}

/// Section 3b written out again: per item kind, (opened, responded, waiting, closed) and the
/// millisecond figures (first response p50/p90, oldest wait, close p50/p90).
#[derive(Debug, Default, PartialEq)]
struct Waits {
    counts: [u64; 4],
    ms: [Option<f64>; 5],
}

fn item_of(e: &Value) -> Option<(&'static str, u64, &'static str)> {
    let p = &e["payload"];
    let num = |item: &Value| item["number"].as_u64().or_else(|| p["number"].as_u64());
    let oc = match p["action"].as_str() {
        Some("opened") => "opened",
        Some("closed") => "closed",
        _ => "other",
    };
    match e["type"].as_str()? {
        "IssuesEvent" => Some(("issues", num(&p["issue"])?, oc)),
        "PullRequestEvent" => Some(("pull_requests", num(&p["pull_request"])?, oc)),
        "IssueCommentEvent" => {
            // Until 2013 every issue had a `pull_request` object; only a pull request's has
            // its links.
            let links = &p["issue"]["pull_request"];
            let kind = if links["html_url"].is_string() || links["url"].is_string() {
                "pull_requests"
            } else {
                "issues"
            };
            Some((kind, p["issue"]["number"].as_u64()?, "answer"))
        }
        "PullRequestReviewEvent" | "PullRequestReviewCommentEvent" => {
            Some(("pull_requests", num(&p["pull_request"])?, "answer"))
        }
        _ => None,
    }
}

fn login(e: &Value) -> &str {
    e["actor"]["login"].as_str().unwrap_or_default()
}

fn expected_waits(served: &[Value], now_ms: i64, kind: &str) -> Waits {
    let (events, window) = timeline(served, now_ms);
    // (number) -> (opening ms, author), the oldest opening in the window.
    let mut opened: BTreeMap<u64, (i64, &str)> = BTreeMap::new();
    for e in events.iter().filter(|e| window.contains(&id(e))) {
        if let Some((k, n, "opened")) = item_of(e)
            && k == kind
        {
            let slot = opened.entry(n).or_insert((ms(e), login(e)));
            if ms(e) < slot.0 {
                *slot = (ms(e), login(e));
            }
        }
    }
    let (mut answers, mut closes, mut waiting) = (Vec::new(), Vec::new(), Vec::new());
    for (&n, &(open, author)) in &opened {
        let after = |what: &str| {
            events
                .iter()
                .filter(|e| ms(e) >= open)
                .filter(|e| item_of(e).is_some_and(|(k, m, a)| k == kind && m == n && a == what))
                .filter(|e| {
                    what != "answer" || (login(e) != author && !login(e).ends_with("[bot]"))
                })
                .map(|e| ms(e))
                .min()
        };
        let (answer, close) = (after("answer"), after("closed"));
        answers.extend(answer.map(|a| a - open));
        closes.extend(close.map(|c| c - open));
        if answer.is_none() && close.is_none() {
            waiting.push(open);
        }
    }
    Waits {
        counts: [
            opened.len() as u64,
            answers.len() as u64,
            waiting.len() as u64,
            closes.len() as u64,
        ],
        ms: [
            percentile(&answers, 0.5),
            percentile(&answers, 0.9),
            waiting.iter().min().map(|o| (now_ms - o) as f64),
            percentile(&closes, 0.5),
            percentile(&closes, 0.9),
        ],
    }
}

fn assert_waits(entry: &Value, served: &[Value], now_ms: i64) {
    for kind in ["issues", "pull_requests"] {
        let want = expected_waits(served, now_ms, kind);
        let f = &entry[kind];
        let what = format!("{} {kind}", entry["repo"]);
        let counts = ["opened", "responded", "waiting", "closed"].map(|c| f[c].as_u64().unwrap());
        assert_eq!(counts, want.counts, "{what}: {f}");
        for (field, w) in [
            "first_response_median_seconds",
            "first_response_p90_seconds",
            "oldest_waiting_seconds",
            "close_median_seconds",
            "close_p90_seconds",
        ]
        .iter()
        .zip(want.ms)
        {
            assert_ms(&f[*field], w, &format!("{what} {field}"));
        }
    }
}

fn generated_ms(body: &Value) -> i64 {
    DateTime::parse_from_rfc3339(body["generated_at"].as_str().unwrap())
        .unwrap()
        .timestamp_millis()
}

#[tokio::test(flavor = "multi_thread")]
async fn percentiles_and_response_times_equal_a_computation_from_the_served_events() {
    let r = start().await;
    let (_, doc) = r.get("/openapi.json").await;
    for path in [
        "/api/response-times?repo=trimmed/payloads",
        "/api/response-times",
    ] {
        let (status, body) = r.get(path).await;
        assert_eq!(status, 200, "{path}: {body}");
        crate::support::openapi::check_against_doc(&doc, "get", path, status, &body);
    }
    for (path, want) in [
        ("/api/response-times?repo=nope", 400),
        ("/api/response-times?repo=someone/else", 404),
    ] {
        let (status, body) = r.get(path).await;
        assert_eq!(status, want, "{path}: {body}");
        assert!(body["error"].is_string(), "{path}: {body}");
        crate::support::openapi::check_against_doc(&doc, "get", path, status, &body);
    }

    let (_, stats) = r.get("/api/stats").await;
    let (_, waits) = r.get("/api/response-times").await;
    let order: Vec<&str> = RECORDED.iter().copied().chain([TRIMMED]).collect();
    for (body, key) in [(&stats, "repositories"), (&waits, "repositories")] {
        let names: Vec<&str> = body[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["repo"].as_str().unwrap())
            .collect();
        assert_eq!(names, order, "config order");
    }
    for (entry, name) in stats["repositories"].as_array().unwrap().iter().zip(&order) {
        assert_percentiles(entry, &r.served[name], generated_ms(&stats));
    }
    for (entry, name) in waits["repositories"].as_array().unwrap().iter().zip(&order) {
        assert_eq!(entry["partial"], false, "{entry}");
        assert_waits(entry, &r.served[name], generated_ms(&waits));
    }
    // The recorded repositories have people answering each other: a test of something.
    let answered: u64 = waits["repositories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["issues"]["responded"].as_u64().unwrap())
        .sum();
    assert!(answered > 0, "{waits}");

    // The other forms of /api/stats carry the percentiles by the same rule.
    let (_, by) = r.get("/api/stats?by=action&combined=true").await;
    let now_ms = generated_ms(&by);
    for (entry, name) in by["repositories"].as_array().unwrap().iter().zip(&order) {
        assert_percentiles(entry, &r.served[name], now_ms);
        let served = &r.served[name];
        let (events, window) = timeline(served, now_ms);
        for t in entry["event_types"].as_array().unwrap() {
            for a in t["actions"].as_array().unwrap() {
                let mut times: Vec<i64> = events
                    .iter()
                    .filter(|e| window.contains(&id(e)) && e["type"] == t["event_type"])
                    .filter(|e| e["payload"]["action"].as_str() == a["action"].as_str())
                    .map(|e| ms(e))
                    .collect();
                times.sort();
                let gaps: Vec<i64> = times.windows(2).map(|w| w[1] - w[0]).collect();
                let what = format!("{name} {} {}", t["event_type"], a["action"]);
                assert_ms(&a["p90_seconds_between"], percentile(&gaps, 0.9), &what);
                assert_ms(&a["p25_seconds_between"], percentile(&gaps, 0.25), &what);
            }
        }
    }
    // `combined`: one timeline, the union of the windows.
    let mut union: Vec<&Value> = Vec::new();
    for name in &order {
        let (events, window) = timeline(&r.served[name], now_ms);
        union.extend(events.into_iter().filter(|e| window.contains(&id(e))));
    }
    assert_window_percentiles(&by["combined"], &union);

    // `ghpulse stats --response-times --json` gives the same body, from the store.
    let cli = r.cli_json(&["stats", "--response-times", "--json"]);
    let without_time = |mut v: Value| {
        v["generated_at"] = Value::Null;
        for e in v["repositories"].as_array_mut().unwrap() {
            for kind in ["issues", "pull_requests"] {
                e[kind]["oldest_waiting_seconds"] = Value::Null;
            }
        }
        v
    };
    assert_eq!(without_time(cli.clone()), without_time(waits.clone()));
    for (entry, name) in cli["repositories"].as_array().unwrap().iter().zip(&order) {
        assert_waits(entry, &r.served[name], generated_ms(&cli));
    }
    let cli = r.cli_json(&["stats", "--json"]);
    for (entry, name) in cli["repositories"].as_array().unwrap().iter().zip(&order) {
        assert_percentiles(entry, &r.served[name], generated_ms(&cli));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_trimmed_repository_reads_as_told() {
    let r = start().await;
    let (_, body) = r.get("/api/response-times?repo=trimmed/payloads").await;
    let e = &body["repositories"][0];
    let now_ms = generated_ms(&body);
    // Issues: #3 answered at once, #4 closed by its author after 30 minutes.
    assert_eq!(
        e["issues"],
        json!({ "opened": 2, "responded": 1, "first_response_median_seconds": 0.0,
            "first_response_p90_seconds": 0.0, "waiting": 0, "oldest_waiting_seconds": null,
            "closed": 1, "close_median_seconds": 1800.0, "close_p90_seconds": 1800.0 })
    );
    // Pull requests: #1 answered by a review after 30 minutes, #6 by a conversation comment
    // after 15; #2 waits; #1 closed after 2 hours.
    let prs = &e["pull_requests"];
    assert_eq!(
        ["opened", "responded", "waiting", "closed"].map(|k| prs[k].as_u64().unwrap()),
        [3, 2, 1, 1],
        "{prs}"
    );
    assert_eq!(prs["first_response_median_seconds"], 1350.0);
    assert_eq!(prs["first_response_p90_seconds"], 1710.0);
    assert_eq!(prs["close_median_seconds"], 7200.0);
    // #2 waits since its opening, to the millisecond of `generated_at`.
    let opening = r.served[TRIMMED]
        .iter()
        .find(|e| e["type"] == "PullRequestEvent" && e["payload"]["number"] == 2)
        .map(ms)
        .unwrap();
    assert_ms(
        &prs["oldest_waiting_seconds"],
        Some((now_ms - opening) as f64),
        "oldest wait",
    );
    // PushEvents at minutes 5, 6, 9, 40, 41, 100, 300, 301: gaps 1, 3, 31, 1, 59, 200, 1 min.
    let (_, stats) = r
        .get("/api/stats?repo=trimmed/payloads&type=PushEvent")
        .await;
    let push = &stats["repositories"][0]["event_types"][0];
    assert_eq!(
        [
            &push["p25_seconds_between"],
            &push["median_seconds_between"],
            &push["p75_seconds_between"],
            &push["p90_seconds_between"]
        ],
        // Sorted 1, 1, 1, 3, 31, 59, 200 minutes: ranks 1.5, 3, 4.5, 5.4.
        [&json!(60.0), &json!(180.0), &json!(2700.0), &json!(6924.0)]
    );
    let text = String::from_utf8(r.work.run(&["stats", "--response-times"]).stdout).unwrap();
    assert!(text.contains("\ntrimmed/payloads\n"), "{text}");
    assert!(text.contains("pull requests"), "{text}");
}
