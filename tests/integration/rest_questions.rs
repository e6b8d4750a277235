//! SPEC section 3a over REST, `ghpulse stats`'s new flags and `ghpulse export`, against a
//! headless ghpulse fed by the fake GitHub server: every answer is checked against the served
//! OpenAPI document and against figures computed here, independently, from the events the
//! server served.

use std::collections::{BTreeMap, HashMap};
use std::process::Command;
use std::time::{Duration, SystemTime};

use crate::support::BIN;
use crate::support::listening::Listening;
use fake_github::{FakeGithub, Options, data};
use serde_json::{Value, json};

const REPOS: [&str; 3] = [
    "sferik/rails_admin",
    "praw-dev/praw",
    "sigmavirus24/github3.py",
];

async fn start() -> Listening {
    let gh = FakeGithub::start(Options {
        poll_interval_secs: 1,
        ..Options::default()
    })
    .await;
    let mut all = HashMap::new();
    for (i, name) in REPOS.iter().enumerate() {
        let events = gh.add_fixture(
            name,
            SystemTime::now() - Duration::from_secs(600 * (i as u64 + 1)),
            Duration::from_secs(3600 * (30 + 20 * i as u64)),
        );
        all.insert(*name, events);
    }
    // The recordings hold few labels of the default groups: a bug-labelled issue, and a
    // trimmed pull request with a label list beside it, as GitHub serves them since 2025.
    let mut bug = data::single_event("issues_event");
    bug["payload"]["issue"]["number"] = json!(9001);
    bug["payload"]["issue"]["labels"] = json!([{ "name": "Type: Bug" }]);
    let mut pr = data::single_event("pull_request_event");
    pr["payload"] = json!({ "action": "labeled", "number": 9002,
        "pull_request": { "url": "https://api.github.com/repos/praw-dev/praw/pulls/9002" },
        "labels": [{ "name": "PERF" }] });
    for event in [bug, pr] {
        let published = gh.push_live_event("praw-dev/praw", event);
        all.get_mut("praw-dev/praw").unwrap().push(published);
    }
    Listening::start(gh, &all, &REPOS).await
}

fn ms(e: &Value) -> i64 {
    chrono::DateTime::parse_from_rfc3339(e["created_at"].as_str().unwrap())
        .unwrap()
        .timestamp_millis()
}

fn id(e: &Value) -> u64 {
    data::event_id(e).unwrap()
}

fn action(e: &Value) -> Option<&str> {
    e["payload"]["action"].as_str()
}

/// Section 3's figures written out again, over events all inside the window.
fn figures(events: &[&Value]) -> BTreeMap<String, (u64, Option<f64>)> {
    let mut by_type: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for e in events {
        by_type
            .entry(e["type"].as_str().unwrap().to_string())
            .or_default()
            .push(ms(e));
    }
    by_type
        .into_iter()
        .map(|(t, mut times)| {
            times.sort();
            let n = times.len();
            let avg = (n > 1)
                .then(|| ((times[n - 1] - times[0]) as f64 / (n - 1) as f64).round() / 1000.0);
            (t, (n as u64, avg))
        })
        .collect()
}

fn listed(entry: &Value) -> BTreeMap<String, (u64, Option<f64>)> {
    entry["event_types"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["event_type"].as_str().unwrap().to_string(),
                (
                    t["count"].as_u64().unwrap(),
                    t["avg_seconds_between"].as_f64(),
                ),
            )
        })
        .collect()
}

/// Without what moves while ghpulse runs: the time of the answer, and each repository's last
/// poll (a poll may end between the command and the request).
fn without_time(mut v: Value) -> Value {
    v["generated_at"] = Value::Null;
    if v["repositories"][0].get("last_polled_at").is_some() {
        v["repositories"] = crate::support::without_poll_times(&v["repositories"]);
    }
    v
}

#[tokio::test(flavor = "multi_thread")]
async fn section_3a_answers_as_documented_and_as_computed_here() {
    let r = start().await;
    let (_, doc) = r.get("/openapi.json").await;
    for path in ["/api/repos/active", "/api/repos/with-events", "/api/labels"] {
        assert!(doc["paths"].get(path).is_some(), "{path} documented");
    }
    let gets = [
        ("/api/stats?action=opened", 200),
        ("/api/stats?by=action", 200),
        ("/api/stats?combined=true", 200),
        (
            "/api/stats?combined=true&by=action&action=opened&repo=praw-dev/praw",
            200,
        ),
        ("/api/stats?combined=false&limit=1", 200),
        ("/api/stats?by=type", 400),
        ("/api/stats?action=", 400),
        ("/api/stats?combined=yes", 400),
        ("/api/stats?combined=true&limit=0", 400),
        ("/api/stats?action=opened&repo=someone/else", 404),
        ("/api/repos/active?offset=60", 200),
        ("/api/repos/active?offset=43200&limit=2", 200),
        ("/api/repos/active", 400),
        ("/api/repos/active?offset=0", 400),
        ("/api/repos/active?offset=43201", 400),
        ("/api/repos/active?offset=60&limit=9", 400),
        ("/api/repos/active?offset=-5", 400),
        ("/api/repos/with-events?type=PushEvent", 200),
        (
            "/api/repos/with-events?type=PushEvent&more_than=0&offset=600",
            200,
        ),
        ("/api/repos/with-events", 400),
        ("/api/repos/with-events?type=PushEvent&more_than=-1", 400),
        ("/api/repos/with-events?type=PushEvent&offset=0", 400),
        ("/api/labels", 200),
        ("/api/labels?repo=SIGMAVIRUS24/github3.py", 200),
        ("/api/labels?repo=nope", 400),
        ("/api/labels?repo=someone/else", 404),
        ("/api/repos/praw-dev/praw/events?action=opened&limit=3", 200),
        ("/api/repos/praw-dev/praw/events?raw=true&limit=2", 200),
        ("/api/repos/praw-dev/praw/events?since=2h&until=1h", 200),
        (
            "/api/repos/praw-dev/praw/events?since=2020-01-01T00:00:00Z",
            200,
        ),
        ("/api/repos/praw-dev/praw/events?since=yesterday", 400),
        ("/api/repos/praw-dev/praw/events?raw=maybe", 400),
        ("/api/repos/praw-dev/praw/events?cursor=x", 400),
        ("/api/repos/praw-dev/praw/events?cursor=1_", 400),
        ("/api/repos/praw-dev/praw/events?action=", 400),
        ("/api/events/count?offset=600&action=opened", 200),
        (
            "/api/events/count?offset=600&action=opened&repo=praw-dev/praw",
            200,
        ),
        ("/api/events/count?offset=600&action=", 400),
        ("/api/events/count?action=opened", 400),
    ];
    for (path, want) in gets {
        let (status, body) = r.get(path).await;
        assert_eq!(status, want, "GET {path}: {body}");
        crate::support::openapi::check_against_doc(&doc, "get", path, status, &body);
        if status >= 400 {
            assert!(body["error"].is_string(), "GET {path}: {body}");
        }
    }

    // Hostile values in every new parameter: a JSON answer, never a 5xx.
    {
        use proptest::strategy::{Strategy, ValueTree};
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        let value = proptest::string::string_regex(
            "(-?[0-9]{0,25}|[a-zA-Z%/._~ -]{0,20}|%[0-9A-F]{2}|true|2h|9999999999y|2026-11-22T10:00:00Z)",
        )
        .unwrap();
        let targets = [
            "/api/stats?action=",
            "/api/stats?by=",
            "/api/stats?combined=",
            "/api/repos/active?offset=",
            "/api/repos/active?offset=60&limit=",
            "/api/repos/with-events?type=PushEvent&more_than=",
            "/api/repos/with-events?type=",
            "/api/repos/with-events?type=PushEvent&offset=",
            "/api/labels?repo=",
            "/api/repos/praw-dev/praw/events?since=",
            "/api/repos/praw-dev/praw/events?until=",
            "/api/repos/praw-dev/praw/events?raw=",
            "/api/repos/praw-dev/praw/events?cursor=",
            "/api/repos/praw-dev/praw/events?action=",
            "/api/events/count?offset=60&action=",
        ];
        for i in 0..300 {
            let v = value.new_tree(&mut runner).unwrap().current();
            let encoded: String = v
                .chars()
                .map(|c| match c {
                    ' ' => "%20".to_string(),
                    '&' | '#' | '+' => format!("%{:02X}", c as u32),
                    c => c.to_string(),
                })
                .collect();
            let path = format!("{}{encoded}", targets[i % targets.len()]);
            let (status, body) = r.get(&path).await;
            assert!(status < 500, "GET {path}: {status} {body}");
            assert!(
                body.is_object() || body.is_array(),
                "GET {path}: JSON, got {body}"
            );
            if status >= 400 {
                assert!(body["error"].is_string(), "GET {path}: {body}");
            }
        }
    }

    // Every figure below is computed from what the server served. The events span hours,
    // well inside the 7-day, 500-event window, so each window is every stored event.
    let served: Vec<&Value> = REPOS.iter().flat_map(|n| &r.served[n]).collect();

    // combined: one timeline over every repository.
    let (_, body) = r.get("/api/stats?combined=true").await;
    let combined = &body["combined"];
    assert_eq!(combined["events_in_window"], served.len());
    assert_eq!(listed(combined), figures(&served));
    assert_eq!(body["repositories"].as_array().unwrap().len(), 3);

    // action filter: the window is unchanged, figures cover the action's events only.
    let (_, body) = r
        .get("/api/stats?action=opened&repo=sigmavirus24/github3.py")
        .await;
    let repo = &body["repositories"][0];
    let mine: Vec<&Value> = r.served["sigmavirus24/github3.py"].iter().collect();
    assert_eq!(repo["events_in_window"], mine.len());
    let opened: Vec<&Value> = mine
        .iter()
        .copied()
        .filter(|e| action(e) == Some("opened"))
        .collect();
    assert!(!opened.is_empty());
    assert_eq!(listed(repo), figures(&opened));

    // by=action: each type's actions, null last, counts summing to the type's.
    let (_, body) = r
        .get("/api/stats?by=action&repo=sigmavirus24/github3.py")
        .await;
    for t in body["repositories"][0]["event_types"].as_array().unwrap() {
        let actions = t["actions"].as_array().unwrap();
        let sum: u64 = actions.iter().map(|a| a["count"].as_u64().unwrap()).sum();
        assert_eq!(sum, t["count"].as_u64().unwrap(), "{t}");
        let names: Vec<Option<&str>> = actions.iter().map(|a| a["action"].as_str()).collect();
        let mut want: Vec<Option<&str>> = mine
            .iter()
            .filter(|e| e["type"] == t["event_type"])
            .map(|e| action(e))
            .collect();
        want.sort_by_key(|a| (a.is_none(), *a));
        want.dedup();
        assert_eq!(names, want, "{t}");
    }

    // Most active over 30 days: every stored event; more than N of a type in the window.
    let (_, active) = r.get("/api/repos/active?offset=43200").await;
    let mut want: Vec<(&str, usize)> = REPOS.iter().map(|n| (*n, r.served[n].len())).collect();
    want.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
    let got: Vec<(&str, usize)> = active
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["repo"].as_str().unwrap(),
                a["events"].as_u64().unwrap() as usize,
            )
        })
        .collect();
    assert_eq!(got, want);
    let pushes = |n: &str| {
        r.served[n]
            .iter()
            .filter(|e| e["type"] == "PushEvent")
            .count() as u64
    };
    let threshold = pushes("praw-dev/praw");
    let (_, with) = r
        .get(&format!(
            "/api/repos/with-events?type=PushEvent&more_than={threshold}"
        ))
        .await;
    let want: Vec<Value> = REPOS
        .iter()
        .filter(|n| pushes(n) > threshold)
        .map(|n| json!({"repo": n, "count": pushes(n)}))
        .collect();
    assert_eq!(with, Value::Array(want));

    // Counts by action over 30 days.
    let (_, counts) = r
        .get("/api/events/count?offset=43200&action=closed&repo=praw-dev/praw")
        .await;
    let mut want: BTreeMap<String, u64> = BTreeMap::new();
    for e in &r.served["praw-dev/praw"] {
        if action(e) == Some("closed") {
            *want.entry(e["type"].as_str().unwrap().into()).or_default() += 1;
        }
    }
    assert_eq!(counts["counts"], json!(want));

    // Labels: each item's newest label list, groups matched without case.
    let (_, labels) = r.get("/api/labels?repo=praw-dev/praw").await;
    let entry = &labels["repositories"][0];
    let mut newest_first: Vec<&Value> = r.served["praw-dev/praw"].iter().collect();
    newest_first.sort_by_key(|e| std::cmp::Reverse((ms(e), id(e))));
    let mut items: BTreeMap<(String, u64), Option<Vec<String>>> = BTreeMap::new();
    for e in newest_first {
        let (kind, item) = match e["type"].as_str() {
            Some("IssuesEvent") => ("issue", &e["payload"]["issue"]),
            Some("PullRequestEvent") => ("pr", &e["payload"]["pull_request"]),
            _ => continue,
        };
        let number = item["number"]
            .as_u64()
            .or(e["payload"]["number"].as_u64())
            .unwrap();
        let list = item["labels"]
            .as_array()
            .or(e["payload"]["labels"].as_array())
            .map(|ls| {
                ls.iter()
                    .map(|l| l["name"].as_str().unwrap().to_lowercase())
                    .collect::<Vec<_>>()
            });
        let slot = items.entry((kind.into(), number)).or_insert(None);
        if slot.is_none() {
            *slot = list;
        }
    }
    let issues = items.keys().filter(|(k, _)| k == "issue").count() as u64;
    let bugs = items
        .iter()
        .filter(|((k, _), ls)| {
            k == "issue"
                && ls.as_ref().is_some_and(|ls| {
                    ls.iter()
                        .any(|l| ["bug", "type: bug", "kind/bug"].contains(&l.as_str()))
                })
        })
        .count() as u64;
    assert!(bugs > 0, "the recording has bug-labelled issues");
    assert_eq!(entry["issues_seen"], issues);
    assert_eq!(entry["groups"][0]["group"], "bug");
    assert_eq!(entry["groups"][0]["issues"], bugs);
    let share = entry["groups"][0]["issue_share"].as_f64().unwrap();
    assert!((share - bugs as f64 / issues as f64).abs() < 1e-9);
    let prs = items.keys().filter(|(k, _)| k == "pr").count() as u64;
    assert_eq!(entry["pull_requests_seen"], prs);
    assert_eq!(entry["groups"][1]["group"], "performance");
    assert_eq!(
        entry["groups"][1]["pull_requests"], 1,
        "the trimmed payload's labels"
    );

    // The events list: raw pages linked like GitHub's, together exactly what was served.
    let mut want: Vec<&Value> = r.served["praw-dev/praw"].iter().collect();
    want.sort_by_key(|e| std::cmp::Reverse((ms(e), id(e))));
    let mut got: Vec<Value> = Vec::new();
    let mut next = Some("/api/repos/praw-dev/praw/events?raw=true&limit=70".to_string());
    let mut pages = 0;
    while let Some(url) = next.take() {
        let (status, body, link) = r.get_full(&url).await;
        assert_eq!(status, 200, "{url}: {body}");
        got.extend(body.as_array().unwrap().iter().cloned());
        pages += 1;
        next = link.map(|l| {
            assert!(l.ends_with("; rel=\"next\""), "{l}");
            assert!(l.starts_with("<http://"), "absolute, like GitHub's: {l}");
            l.trim_start_matches('<')
                .split('>')
                .next()
                .unwrap()
                .to_string()
        });
        assert!(pages < 20, "paging ends");
    }
    assert_eq!(pages, want.len().div_ceil(70));
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g, *w, "raw=true gives the event as served");
    }
    // An age in `since` is fixed as an instant in the next page's link.
    let (_, _, link) = r
        .get_full("/api/repos/praw-dev/praw/events?limit=1&since=30d")
        .await;
    let link = link.expect("more than one event since 30 days ago");
    assert!(
        link.contains("since=20") && link.contains("cursor="),
        "{link}"
    );
    // since/until select [since, until); action filters.
    let (t1, t2) = (ms(want[want.len() / 2]), ms(want[10]));
    let rfc = |t: i64| {
        chrono::DateTime::from_timestamp_millis(t)
            .unwrap()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    };
    let (_, page) = r
        .get(&format!(
            "/api/repos/praw-dev/praw/events?since={}&until={}&limit=1000",
            rfc(t1),
            rfc(t2)
        ))
        .await;
    let want_ids: Vec<String> = want
        .iter()
        .filter(|e| ms(e) >= t1 && ms(e) < t2)
        .map(|e| id(e).to_string())
        .collect();
    let got_ids: Vec<String> = page
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(got_ids, want_ids);

    // `ghpulse stats --json` with the new flags prints the REST body.
    for (args, path) in [
        (
            &["stats", "--json", "--combined"][..],
            "/api/stats?combined=true",
        ),
        (
            &["stats", "--json", "--by-action", "--action", "opened"][..],
            "/api/stats?by=action&action=opened",
        ),
        (&["stats", "--json", "--labels"][..], "/api/labels"),
        (
            &["stats", "--json", "--labels", "--repo", "praw-dev/praw"][..],
            "/api/labels?repo=praw-dev/praw",
        ),
    ] {
        let cli = r.cli_json(args);
        let (_, rest) = r.get(path).await;
        assert_eq!(without_time(cli), without_time(rest), "{args:?} vs {path}");
    }
    let table = r.cli(&["stats", "--labels"]);
    assert!(table.status.success());
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.contains("sigmavirus24/github3.py:") && text.contains("bug"),
        "{text}"
    );
    let bad = r.cli(&["stats", "--labels", "--combined"]);
    assert_eq!(bad.status.code(), Some(2));

    // Export: oldest first, every event exactly as served.
    let out = r.cli(&["export"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("one event a line"))
        .collect();
    let mut want: Vec<&Value> = served.clone();
    want.sort_by_key(|e| (ms(e), id(e)));
    assert_eq!(lines.len(), want.len());
    for (g, w) in lines.iter().zip(&want) {
        assert_eq!((ms(g), id(g)), (ms(w), id(w)), "oldest first");
        assert_eq!(g, *w, "exactly as served");
    }
    let csv = r.cli(&[
        "export",
        "--repo",
        "praw-dev/praw",
        "--format",
        "csv",
        "--since",
        &rfc(t1),
        "--until",
        &rfc(t2),
    ]);
    let text = String::from_utf8(csv.stdout).unwrap();
    let rows: Vec<&str> = text.lines().collect();
    assert_eq!(rows[0], "id,repo,type,action,actor,created_at");
    assert_eq!(rows.len() - 1, want_ids.len());
    assert!(rows[1].starts_with(&format!("{},praw-dev/praw,", want_ids.last().unwrap())));
    let bad = r.cli(&["export", "--since", "soon"]);
    assert_eq!(bad.status.code(), Some(2));

    // A closed pipe ends the export quietly.
    let piped = Command::new("bash")
        .arg("-o")
        .arg("pipefail")
        .arg("-c")
        .arg(format!(
            "'{BIN}' -c '{}' -d '{}' export | head -1",
            r.work.config().display(),
            r.work.store().display()
        ))
        .output()
        .unwrap();
    assert!(piped.status.success(), "{piped:?}");
    assert!(
        piped.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&piped.stderr)
    );
    let first: Value = serde_json::from_slice(&piped.stdout).unwrap();
    assert_eq!(&first, want[0]);
}
