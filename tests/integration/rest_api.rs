//! The REST API of a headless ghpulse fed by the fake GitHub server: every endpoint, checked
//! against the OpenAPI document the server itself serves, the key rules, and hostile input.

use std::process::Child;
use std::time::Duration;

use crate::support::openapi::{check_against_doc, documented, validate};
use crate::support::{Workdir, stop, wait_for};
use fake_github::{FakeGithub, Fault, Options};
use proptest::prelude::*;
use serde_json::Value;

const KEY: &str = "s3cret-key";
/// What Prometheus 2.x sends when it scrapes.
const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
const REPOS: [&str; 3] = ["sferik/rails_admin", "praw-dev/praw", "github/gitignore"];

struct Running {
    _gh: FakeGithub,
    work: Workdir,
    child: Option<Child>,
    base: String,
    http: reqwest::Client,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(c) = self.child.take() {
            stop(c);
        }
    }
}

async fn start(api_key: Option<&str>) -> Running {
    let gh = FakeGithub::start(Options {
        poll_interval_secs: 1,
        ..Options::default()
    })
    .await;
    for (i, name) in REPOS.iter().enumerate() {
        gh.add_fixture(
            name,
            std::time::SystemTime::now() - Duration::from_secs(120 * (i as u64 + 1)),
            Duration::from_secs(3600 * (40 + 30 * i as u64)),
        );
    }
    // Served but not watched: the API adds it.
    gh.add_fixture(
        "github3py/github3.py",
        std::time::SystemTime::now(),
        Duration::from_secs(3600 * 100),
    );
    let work = Workdir::new(&REPOS);
    let env: Vec<(&str, &str)> = api_key
        .map(|k| ("GHPULSE_API_KEY", k))
        .into_iter()
        .collect();
    let child = work.start_with(&gh.url(), Some("token"), &["--listen", "127.0.0.1:0"], &env);
    let base = crate::support::listening_at(&work).await;
    let r = Running {
        _gh: gh,
        work,
        child: Some(child),
        base,
        http: reqwest::Client::new(),
    };
    // Ready when every repository has been read and answered 304 once.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (_, repos) = r.get("/api/repos").await;
        if repos.as_array().is_some_and(|a| {
            a.len() == 3
                && a.iter()
                    .all(|e| e["status"] == "ok" && e["events_stored"].as_u64() > Some(0))
        }) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not ready: {repos}\n{}",
            r.work.log_text()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    r
}

impl Running {
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        key: Option<&str>,
        body: Option<String>,
    ) -> (u16, Value, String) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(k) = key {
            req = req.header("Authorization", format!("Bearer {k}"));
        }
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let ctype = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let text = resp.text().await.unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::Null),
            if ctype.starts_with("application/json") {
                text
            } else {
                ctype + "\n" + &text
            },
        )
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let (s, v, _) = self.send(reqwest::Method::GET, path, None, None).await;
        (s, v)
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_endpoint_answers_as_documented() {
    let r = start(Some(KEY)).await;
    let (s, doc) = r.get("/openapi.json").await;
    assert_eq!(s, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/stats",
        "/statistics",
        "/api/repos",
        "/api/repos/{owner}/{name}",
        "/api/repos/{owner}/{name}/events",
        "/api/events/count",
        "/api/events/stream",
        "/api/rate-limit",
        "/metrics",
        "/health",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} documented");
    }
    let schemas = &doc["components"]["schemas"];
    assert!(
        schemas["RepoStats"]["properties"]
            .get("partial_reason")
            .is_some(),
        "partial_reason documented"
    );
    assert_eq!(
        schemas["PartialReason"]["enum"],
        serde_json::json!(["catching_up", "gap"])
    );

    let gets = [
        ("/health", 200),
        ("/api/stats", 200),
        ("/api/stats?limit=2", 200),
        ("/api/stats?repo=PRAW-dev/praw&type=PushEvent", 200),
        ("/api/stats?limit=0", 400),
        ("/api/stats?limit=6", 400),
        ("/api/stats?limit=-1", 400),
        ("/api/stats?limit=ten", 400),
        ("/api/stats?repo=not-a-repo", 400),
        ("/api/stats?repo=someone/else", 404),
        ("/statistics?limit=1", 200),
        ("/statistics?limit=99", 400),
        ("/api/repos", 200),
        ("/api/repos/praw-dev/praw/events", 200),
        (
            "/api/repos/praw-dev/praw/events?type=PushEvent&limit=5",
            200,
        ),
        ("/api/repos/praw-dev/praw/events?limit=1001", 400),
        ("/api/repos/someone/else/events", 404),
        ("/api/repos/bad%20owner/x/events", 400),
        ("/api/events/count?offset=600", 200),
        ("/api/events/count?offset=600&repo=praw-dev/praw", 200),
        ("/api/events/count", 400),
        ("/api/events/count?offset=0", 400),
        ("/api/events/count?offset=600&repo=someone/else", 404),
        ("/api/rate-limit", 200),
    ];
    for (path, want) in gets {
        let (status, body) = r.get(path).await;
        assert_eq!(status, want, "GET {path}: {body}");
        check_against_doc(&doc, "get", path, status, &body);
        if status >= 400 {
            assert!(
                body["error"].is_string(),
                "GET {path}: JSON error body, got {body}"
            );
        }
    }
    let (_, unknown) = r.get("/no/such/path").await;
    assert!(unknown["error"].is_string());

    // Shapes beyond the schema: the figures a script relies on.
    let (_, stats) = r.get("/api/stats?limit=2").await;
    assert_eq!(stats["repositories"].as_array().unwrap().len(), 2);
    assert_eq!(stats["repositories"][0]["repo"], REPOS[0], "config order");
    let (_, typed) = r.get("/api/stats?repo=praw-dev/praw&type=PushEvent").await;
    let t = typed["repositories"][0]["event_types"].as_array().unwrap();
    assert!(t.len() == 1 && t[0]["event_type"] == "PushEvent");
    let (_, events) = r
        .get("/api/repos/praw-dev/praw/events?type=PushEvent&limit=5")
        .await;
    let events = events.as_array().unwrap();
    assert_eq!(events.len(), 5);
    assert!(events.iter().all(|e| e["type"] == "PushEvent"));
    assert!(
        events
            .windows(2)
            .all(|w| w[0]["created_at"].as_str() >= w[1]["created_at"].as_str()),
        "newest first"
    );
    // Each entry has its feed line and its page, on the web origin of the API in use (the
    // fake server's own: any other API URL is its own web origin).
    for e in events {
        assert_eq!(e["repo"], "praw-dev/praw");
        assert!(e["summary"].as_str().unwrap().starts_with("pushed"), "{e}");
        assert!(e["ref"].is_string(), "{e}");
        let url = e["url"].as_str().unwrap();
        assert!(
            url.starts_with(&format!("{}/praw-dev/praw", r._gh.url())),
            "{url}"
        );
        assert!(e["number"].is_null() && e["title"].is_null(), "{e}");
    }
    let (_, issues) = r
        .get("/api/repos/sferik/rails_admin/events?type=IssuesEvent&limit=3")
        .await;
    for e in issues.as_array().unwrap() {
        let n = e["number"].as_u64().expect("an issue number");
        assert!(e["title"].is_string(), "{e}");
        assert!(
            e["url"]
                .as_str()
                .unwrap()
                .ends_with(&format!("/sferik/rails_admin/issues/{n}")),
            "{e}"
        );
        assert!(
            e["summary"]
                .as_str()
                .unwrap()
                .contains(&format!("issue #{n}"))
        );
    }
    let (_, legacy) = r.get("/statistics?limit=1").await;
    let (_, modern) = r.get("/api/stats?limit=1").await;
    assert_eq!(legacy["repositories"], modern["repositories"]);
    let (_, rl) = r.get("/api/rate-limit").await;
    assert_eq!(rl["authenticated"], true);
    assert_eq!(rl["known"], true, "{rl}");
    assert_eq!(rl["limit"], 5000, "the fake server's figures: {rl}");
    assert!(rl["requests"]["total"].as_u64().unwrap() >= 6);
}

#[tokio::test(flavor = "multi_thread")]
async fn before_github_answers_the_rate_limit_is_unknown_not_invented() {
    let gh = FakeGithub::start(Options::default()).await;
    // Nothing watched: no request is sent, so no answer carries the figures.
    let work = Workdir::new(&[]);
    let child = work.start_with(&gh.url(), None, &["--listen", "127.0.0.1:0"], &[]);
    let base = crate::support::listening_at(&work).await;
    let rl: Value = reqwest::get(format!("{base}/api/rate-limit"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let metrics = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    stop(child);
    assert_eq!(rl["known"], false, "{rl}");
    for field in ["limit", "remaining", "used", "reset_at"] {
        assert!(rl[field].is_null(), "{field}: {rl}");
    }
    assert_eq!(rl["requests"]["total"], 0, "{rl}");
    assert!(!metrics.contains("ghpulse_rate_limit_"), "{metrics}");
    assert!(gh.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_figures_equal_ghpulse_stats_json_and_the_metrics() {
    let r = start(Some(KEY)).await;
    let (_, api) = r.get("/api/stats").await;
    let cli = r.work.stats_json();
    // Recent data, fewer than 500 events: the figures do not depend on the instant.
    assert_eq!(api["repositories"], cli["repositories"]);
    assert_eq!(api["window"], cli["window"]);

    let resp = r
        .http
        .get(format!("{}/metrics", r.base))
        .header("accept", PROMETHEUS_ACCEPT)
        .send()
        .await
        .unwrap();
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    let text = resp.text().await.unwrap();
    assert!(
        text.trim_end().ends_with("# EOF"),
        "OpenMetrics ends with # EOF"
    );
    let scrape =
        prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).expect("parses");
    let value = |name: &str, labels: &[(&str, &str)]| {
        scrape
            .samples
            .iter()
            .find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
            .map(|s| match s.value {
                prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Untyped(v) => v,
                _ => f64::NAN,
            })
            .unwrap_or_else(|| panic!("{name} {labels:?} in\n{text}"))
    };
    for repo in api["repositories"].as_array().unwrap() {
        let name = repo["repo"].as_str().unwrap();
        assert_eq!(
            value("ghpulse_events_in_window", &[("repo", name)]),
            repo["events_in_window"].as_f64().unwrap()
        );
        for t in repo["event_types"].as_array().unwrap() {
            if let Some(avg) = t["avg_seconds_between"].as_f64() {
                let got = value(
                    "ghpulse_avg_seconds_between_events",
                    &[
                        ("repo", name),
                        ("event_type", t["event_type"].as_str().unwrap()),
                    ],
                );
                assert!((got - avg).abs() < 1e-9, "{name} {t}");
            }
        }
    }
    let (_, rl) = r.get("/api/rate-limit").await;
    let ok = value("ghpulse_github_requests_total", &[("outcome", "ok")]);
    assert!(ok >= 1.0 && ok <= rl["requests"]["ok"].as_f64().unwrap());
    assert!(value("ghpulse_rate_limit_remaining", &[]) > 0.0);
}

fn stats_entry(stats: &Value, name: &str) -> Value {
    stats["repositories"]
        .as_array()
        .and_then(|a| a.iter().find(|e| e["repo"] == name).cloned())
        .unwrap_or(Value::Null)
}

fn polled_at(entry: &Value) -> Option<chrono::DateTime<chrono::Utc>> {
    entry["last_polled_at"]
        .as_str()
        .and_then(|t| t.parse().ok())
}

/// `repo`'s entry of `/api/stats`, checked against `/api/repos` asked just before: what that
/// shows, the stats show too, or something newer.
async fn fresh_stats(r: &Running, repo: &str) -> Value {
    let (_, repos) = r.get("/api/repos").await;
    let (_, stats) = r.get("/api/stats").await;
    for listed in repos.as_array().expect("a list") {
        let name = listed["repo"].as_str().expect("a name");
        let served = stats_entry(&stats, name);
        assert!(
            polled_at(&served) >= polled_at(listed),
            "{name}: /api/stats {served} older than /api/repos {listed}"
        );
        if polled_at(&served) == polled_at(listed) {
            assert_eq!(served["last_error"], listed["last_error"], "{name}");
        }
    }
    stats_entry(&stats, repo)
}

/// `/api/stats` keeps its whole body with the snapshot (each repository's `last_polled_at` and
/// `last_error` included): every poll, a 304 too, and every failure must still show in the
/// next answer, never an older one's.
#[tokio::test(flavor = "multi_thread")]
async fn every_poll_and_failure_shows_in_the_next_stats_answer() {
    let r = start(None).await;
    let repo = REPOS[1];
    let first = fresh_stats(&r, repo).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    // Polled every second (X-Poll-Interval: 1), answered 304: the figures stay, the poll
    // time moves.
    loop {
        let now = fresh_stats(&r, repo).await;
        if polled_at(&now) > polled_at(&first) {
            assert_eq!(now["events_in_window"], first["events_in_window"]);
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{now}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    r._gh.set_fault(repo, Some(Fault::ServerError(500)));
    let deadline = std::time::Instant::now() + Duration::from_secs(40);
    loop {
        let now = fresh_stats(&r, repo).await;
        if let Some(error) = now["last_error"].as_str() {
            assert!(error.contains("500"), "{error}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{now}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    r._gh.set_fault(repo, None);
    let deadline = std::time::Instant::now() + Duration::from_secs(40);
    loop {
        let now = fresh_stats(&r, repo).await;
        if now["last_error"].is_null() {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{now}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn changes_need_the_key_and_edit_the_config_like_the_dashboard() {
    let r = start(Some(KEY)).await;
    let (_, doc) = r.get("/openapi.json").await;
    let post = |key: Option<&'static str>, body: &str| {
        r.send(
            reqwest::Method::POST,
            "/api/repos",
            key,
            Some(body.to_string()),
        )
    };
    let body = r#"{"repo": "github3py/github3.py"}"#;

    for (key, want) in [
        (None, 401),
        (Some("wrong"), 401),
        (Some("s3cret-ke"), 401),
        (Some("s3cret-key2"), 401),
    ] {
        let (s, v, _) = post(key, body).await;
        assert_eq!(s, want, "{key:?}: {v}");
        check_against_doc(&doc, "post", "/api/repos", s, &v);
    }
    let (s, v, _) = post(Some(KEY), body).await;
    assert_eq!(s, 201, "{v}");
    check_against_doc(&doc, "post", "/api/repos", s, &v);
    assert_eq!(v["repo"], "github3py/github3.py");
    let (s, _, _) = post(Some(KEY), r#"{"repo": "GITHUB3PY/github3.py"}"#).await;
    assert_eq!(s, 409, "duplicate, compared without case");
    let (s, _, _) = post(Some(KEY), r#"{"repo": "ghpulse-demo/missing"}"#).await;
    assert_eq!(s, 201, "fifth repository");
    let (s, v, _) = post(Some(KEY), r#"{"repo": "one/too-many"}"#).await;
    assert_eq!(s, 422, "{v}");
    for bad in [
        r#"{"repo": "no slash"}"#,
        r#"{"repo": 5}"#,
        "{",
        "",
        r#"{"other": "a/b"}"#,
    ] {
        let (s, v, _) = post(Some(KEY), bad).await;
        assert_eq!(s, 400, "{bad:?}: {v}");
        assert!(v["error"].is_string());
    }
    let big = format!(r#"{{"repo": "{}"}}"#, "a".repeat(70 * 1024));
    let raw = r
        .http
        .post(format!("{}/api/repos", r.base))
        .header("Authorization", format!("Bearer {KEY}"))
        .body(big.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 413);
    assert_eq!(
        raw.headers()
            .get("connection")
            .and_then(|v| v.to_str().ok()),
        Some("close"),
        "the unread body ends the connection"
    );
    // Several in a row: a connection left half-read must never be reused for the next request.
    for _ in 0..5 {
        let (s, v, _) = post(Some(KEY), &big).await;
        assert_eq!(s, 413, "{v}");
        assert!(v["error"].is_string());
        assert_eq!(r.get("/health").await.0, 200);
    }

    // The new repository is polled at once, and the 404 one shows its error.
    wait_for(
        "the added repositories polled",
        Duration::from_secs(20),
        &r.work,
        || {
            let text = std::fs::read_to_string(r.work.config()).unwrap_or_default();
            text.contains("github3py/github3.py")
        },
    )
    .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (_, repos) = r.get("/api/repos").await;
        let find = |n: &str| {
            repos
                .as_array()
                .unwrap()
                .iter()
                .find(|e| e["repo"] == n)
                .cloned()
                .unwrap_or(Value::Null)
        };
        if find("github3py/github3.py")["status"] == "ok"
            && find("ghpulse-demo/missing")["status"] == "not_found"
        {
            assert!(
                find("ghpulse-demo/missing")["last_error"]
                    .as_str()
                    .unwrap()
                    .contains("404")
            );
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{repos}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let delete = |key: Option<&'static str>, path: &'static str| {
        r.send(reqwest::Method::DELETE, path, key, None)
    };
    assert_eq!(delete(None, "/api/repos/praw-dev/praw").await.0, 401);
    let (s, v, _) = delete(Some(KEY), "/api/repos/PRAW-DEV/praw").await;
    assert_eq!(s, 204, "{v}");
    assert_eq!(delete(Some(KEY), "/api/repos/praw-dev/praw").await.0, 404);
    assert_eq!(delete(Some(KEY), "/api/repos/a/b").await.0, 404);
    let text = std::fs::read_to_string(r.work.config()).unwrap();
    assert!(
        text.starts_with("# test watch list\n"),
        "comments kept: {text}"
    );
    assert!(
        !text.contains("praw-dev/praw") && text.contains("github3py/github3.py"),
        "{text}"
    );
    let (_, stats) = r.get("/api/stats").await;
    let names: Vec<&str> = stats["repositories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["repo"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "sferik/rails_admin",
            "github/gitignore",
            "github3py/github3.py",
            "ghpulse-demo/missing"
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_configured_key_changes_are_forbidden() {
    let r = start(None).await;
    let (s, v, _) = r
        .send(
            reqwest::Method::POST,
            "/api/repos",
            Some("anything"),
            Some(r#"{"repo":"a/b"}"#.into()),
        )
        .await;
    assert_eq!(s, 403, "{v}");
    let (s, _, _) = r
        .send(
            reqwest::Method::DELETE,
            "/api/repos/praw-dev/praw",
            None,
            None,
        )
        .await;
    assert_eq!(s, 403);
}

fn hostile_request() -> impl Strategy<Value = (String, String, Option<String>, bool)> {
    let segment = prop_oneof![
        Just("api".to_string()),
        Just("stats".to_string()),
        Just("repos".to_string()),
        Just("events".to_string()),
        Just("count".to_string()),
        Just("praw-dev".to_string()),
        Just("praw".to_string()),
        Just("..".to_string()),
        Just("%00".to_string()),
        Just("%FF%FE".to_string()),
        "[a-zA-Z0-9._~-]{0,12}",
    ];
    let value = prop_oneof![
        Just("".to_string()),
        Just("-1".to_string()),
        Just("0".to_string()),
        Just("1".to_string()),
        Just("18446744073709551616".to_string()),
        Just("praw-dev/praw".to_string()),
        Just("%E2%80%8B".to_string()),
        "[ -~]{0,20}".prop_map(|s| s.replace(['&', '#', ' '], "%20")),
    ];
    let query = prop::collection::vec(
        (
            prop_oneof![
                Just("repo"),
                Just("type"),
                Just("limit"),
                Just("offset"),
                Just("x")
            ],
            value,
        ),
        0..4,
    )
    .prop_map(|kv| {
        kv.into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&")
    });
    let method = prop_oneof![
        Just("GET"),
        Just("POST"),
        Just("DELETE"),
        Just("PUT"),
        Just("PATCH")
    ];
    let body = prop::option::of(prop_oneof![
        "[ -~]{0,40}",
        Just(r#"{"repo":"praw-dev/praw"}"#.to_string()),
        Just(r#"{"repo":null}"#.to_string()),
        Just(r#"[1,2,3]"#.to_string()),
    ]);
    (
        method,
        prop::collection::vec(segment, 1..6),
        query,
        body,
        any::<bool>(),
    )
        .prop_map(|(m, segs, q, body, with_key)| {
            let path = format!(
                "/{}{}",
                segs.join("/"),
                if q.is_empty() {
                    String::new()
                } else {
                    format!("?{q}")
                }
            );
            (m.to_string(), path, body, with_key)
        })
}

#[test]
fn hostile_requests_get_json_4xx_and_never_5xx() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let r = rt.block_on(start(Some(KEY)));
    let doc = rt.block_on(r.get("/openapi.json")).1;
    let config_before = std::fs::read_to_string(r.work.config()).unwrap();
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 400,
        ..ProptestConfig::default()
    });
    runner
        .run(&hostile_request(), |(method, path, body, with_key)| {
            let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
            let (status, value, raw) = rt.block_on(r.send(m, &path, with_key.then_some(KEY), body));
            prop_assert!(status < 500, "{method} {path} -> {status}: {raw}");
            let not_json = ["/metrics", "/docs"].iter().any(|p| path.starts_with(p));
            if not_json && status == 200 {
                return Ok(());
            }
            if status != 204 {
                prop_assert!(
                    !value.is_null(),
                    "{method} {path} -> {status}: not JSON: {raw}"
                );
            }
            if status >= 400 {
                prop_assert!(
                    value["error"].is_string(),
                    "{method} {path} -> {status}: {raw}"
                );
            } else if let Some(resp) = documented(&doc, &method.to_lowercase(), &path, status)
                && let Some(schema) = resp.pointer("/content/application~1json/schema")
            {
                let checked = validate(&doc, schema, &value, "body");
                prop_assert!(checked.is_ok(), "{method} {path}: {checked:?}");
            }
            Ok(())
        })
        .unwrap();
    // Whatever was added or removed along the way went through the config file, which still loads.
    let after = std::fs::read_to_string(r.work.config()).unwrap();
    assert!(
        after.starts_with("# test watch list"),
        "{config_before} -> {after}"
    );
    assert!(r.work.run(&["repos", "list"]).status.success());
    drop(r);
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_answer_the_format_the_accept_header_asks_for() {
    let r = start(None).await;
    let scrape = |accept: Option<&'static str>| {
        let mut req = r.http.get(format!("{}/metrics", r.base));
        if let Some(a) = accept {
            req = req.header("accept", a);
        }
        async move {
            let resp = req.send().await.unwrap();
            let ctype = resp.headers()["content-type"].to_str().unwrap().to_string();
            (ctype, resp.text().await.unwrap())
        }
    };
    let (ctype, om) = scrape(Some(PROMETHEUS_ACCEPT)).await;
    assert_eq!(
        ctype,
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    assert!(om.ends_with("# EOF\n"), "{om}");
    for accept in [None, Some("text/plain;version=0.0.4"), Some("*/*")] {
        let (ctype, text) = scrape(accept).await;
        assert_eq!(
            ctype, "text/plain; version=0.0.4; charset=utf-8",
            "{accept:?}"
        );
        assert!(!text.contains("# EOF"), "{accept:?}: {text}");
        // The same window figures, in the same order, in both formats (the request
        // counters may move between two scrapes).
        let series = |t: &str| -> Vec<String> {
            t.lines()
                .filter(|l| {
                    l.starts_with("ghpulse_events_in_window") || l.starts_with("ghpulse_avg")
                })
                .map(str::to_string)
                .collect()
        };
        assert_eq!(series(&text), series(&om), "{accept:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn docs_is_swagger_ui_served_whole_by_ghpulse_over_the_openapi_document() {
    let r = start(None).await;
    let resp = r.http.get(format!("{}/docs", r.base)).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.url().path(), "/docs/", "/docs leads to the page");
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = resp.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    // Every script and style the page names is a file of ghpulse's, none from another host.
    let assets: Vec<&str> = html
        .split(['"', '\''])
        .filter(|s| s.ends_with(".js") || s.ends_with(".css"))
        .collect();
    assert!(assets.len() >= 3, "{assets:?}");
    for asset in &assets {
        assert!(!asset.contains("//"), "{asset} is not served by ghpulse");
        let resp = r
            .http
            .get(format!(
                "{}/docs/{}",
                r.base,
                asset.trim_start_matches("./")
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200, "{asset}");
        assert!(resp.headers().get("content-encoding").is_none(), "{asset}");
        let body = resp.bytes().await.unwrap();
        // Not asked for gzip (reqwest here sends no Accept-Encoding): served unpacked.
        assert!(
            body.len() > 100 && !body.starts_with(&[0x1f, 0x8b]),
            "{asset}"
        );
    }
    // A browser, which takes gzip, gets the stored gzip as it is.
    let packed = r
        .http
        .get(format!("{}/docs/swagger-ui-bundle.js", r.base))
        .header("accept-encoding", "gzip, deflate, br")
        .send()
        .await
        .unwrap();
    assert_eq!(packed.headers()["content-encoding"], "gzip");
    assert!(packed.bytes().await.unwrap().starts_with(&[0x1f, 0x8b]));
    // The page reads the very document /openapi.json serves.
    let init = r
        .http
        .get(format!("{}/docs/swagger-initializer.js", r.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(init.contains("\"/openapi.json\""), "{init}");
    let (status, missing) = r.get("/docs/no-such-file.js").await;
    assert_eq!(status, 404);
    assert!(missing["error"].is_string(), "{missing}");
}
