//! A real Prometheus scraping headless ghpulses fed by the fake GitHub server — one instance,
//! then two on disjoint watch lists — and the shipped rules checked by promtool. Skipped, said
//! past the capture, where the binaries are absent (Debian package `prometheus`; `.ci/run`
//! installs it; under `CI` a failure).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use crate::support::{Workdir, listening_at, required_program, stop};
use fake_github::{FakeGithub, Options};
use serde_json::Value;

const REPOS: [&str; 2] = ["sferik/rails_admin", "praw-dev/praw"];

/// Two disjoint shards of the five recorded repositories, the two github3.py recordings (one
/// project before and after a move) on different sides.
const SHARD_A: [&str; 3] = [
    "sferik/rails_admin",
    "sigmavirus24/github3.py",
    "github/gitignore",
];
const SHARD_B: [&str; 2] = ["praw-dev/praw", "github3py/github3.py"];

/// Long enough for a cold start of two ghpulses and a Prometheus on a loaded 2-core machine;
/// a healthy run agrees within a few seconds.
const AGREE_WITHIN: Duration = Duration::from_secs(120);

/// Relative difference allowed between float seconds that went through two encoders (JSON,
/// the exposition format) and Prometheus' float64s.
const FLOAT_TOLERANCE: f64 = 1e-9;

fn contrib(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("contrib/prometheus")
        .join(file)
}

#[test]
fn the_shipped_rules_pass_promtool() {
    let Some(promtool) = required_program("promtool", "prometheus") else {
        return;
    };
    for args in [
        vec!["check", "rules"],
        vec!["test", "rules"],
        vec!["check", "config"],
    ] {
        let file = match args[0] {
            "test" => contrib("ghpulse.rules.test.yml"),
            _ if args[1] == "config" => contrib("prometheus.yml"),
            _ => contrib("ghpulse.rules.yml"),
        };
        let out = Command::new(&promtool)
            .args(&args)
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "promtool {args:?} {}:\n{}{}",
            file.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The fake GitHub serving `repos` from the recordings, each ending a few minutes apart and
/// spanning two days (inside the week's window), announcing a 1 s poll interval.
async fn serve_fixtures(repos: &[&str]) -> FakeGithub {
    let gh = FakeGithub::start(Options {
        poll_interval_secs: 1,
        ..Options::default()
    })
    .await;
    for (i, name) in repos.iter().enumerate() {
        let newest = SystemTime::now() - Duration::from_secs(300 * (i as u64 + 1));
        gh.add_fixture(name, newest, Duration::from_secs(3600 * 48));
    }
    gh
}

/// One `ghpulse --headless --listen 127.0.0.1:0` with its own config file and store.
struct Instance {
    work: Workdir,
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`.
    url: String,
    /// `127.0.0.1:PORT`: the scrape target, and so the `instance` label.
    target: String,
    repos: Vec<String>,
}

impl Instance {
    async fn start(gh: &FakeGithub, repos: &[&str], token: &str) -> Instance {
        let work = Workdir::new(repos);
        let child = work.start_with(&gh.url(), Some(token), &["--listen", "127.0.0.1:0"], &[]);
        let url = listening_at(&work).await;
        let target = url.trim_start_matches("http://").to_string();
        Instance {
            work,
            child: Some(child),
            url,
            target,
            repos: repos.iter().map(|r| r.to_string()).collect(),
        }
    }

    /// The body of `GET path`, `Null` when there is none (yet).
    async fn get(&self, http: &reqwest::Client, path: &str) -> Value {
        match http.get(format!("{}{path}", self.url)).send().await {
            Ok(resp) => resp.json().await.unwrap_or(Value::Null),
            Err(_) => Value::Null,
        }
    }

    async fn stats(&self, http: &reqwest::Client) -> Value {
        self.get(http, "/api/stats").await
    }

    /// Whether `stats` lists every repository of the watch list, each polled and holding events.
    fn has_read_all(&self, stats: &Value) -> bool {
        let Some(entries) = stats["repositories"].as_array() else {
            return false;
        };
        entries.len() == self.repos.len()
            && entries.iter().all(|r| {
                r["events_in_window"].as_u64() > Some(0) && r["last_polled_at"].is_string()
            })
    }

    /// Its answers and the end of its log, for a failure message.
    async fn describe(&self, http: &reqwest::Client) -> String {
        let log = self.work.log_text();
        let tail: Vec<&str> = log.lines().rev().take(60).collect();
        format!(
            "--- ghpulse {} ({}) ---\n/api/stats: {}\n/api/rate-limit: {}\nlog (last lines):\n{}\n",
            self.target,
            self.repos.join(", "),
            self.stats(http).await,
            self.get(http, "/api/rate-limit").await,
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        )
    }

    fn stop(mut self) {
        if let Some(child) = self.child.take() {
            assert!(stop(child).success(), "{}", self.work.log_text());
        }
    }
}

impl Drop for Instance {
    // A failed assertion must not leave the process running past the test.
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A real Prometheus scraping `targets` every second in one job `ghpulse`, evaluating the
/// shipped `ghpulse.rules.yml` every second.
struct Prometheus {
    child: Option<Child>,
    dir: tempfile::TempDir,
    url: String,
}

impl Prometheus {
    fn start(binary: &Path, targets: &[&str]) -> Prometheus {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("prometheus.yml");
        let targets = targets
            .iter()
            .map(|t| format!("\"{t}\""))
            .collect::<Vec<_>>()
            .join(", ");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
                 rule_files:\n  - {}\n\
                 scrape_configs:\n  - job_name: ghpulse\n    static_configs:\n      - targets: [{targets}]\n",
                contrib("ghpulse.rules.yml").display()
            ),
        )
        .unwrap();
        let port = free_port();
        let child = Command::new(binary)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("prometheus.log")).unwrap())
            .spawn()
            .expect("start prometheus");
        Prometheus {
            child: Some(child),
            dir,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    /// An instant query's result vector; an error (Prometheus not up yet, a bad query) is
    /// its answer, for the failure message.
    async fn query(&self, http: &reqwest::Client, promql: &str) -> Result<Vec<Value>, String> {
        let url = reqwest::Url::parse_with_params(
            &format!("{}/api/v1/query", self.url),
            [("query", promql)],
        )
        .map_err(|e| e.to_string())?;
        let answer: Value = http
            .get(url)
            .send()
            .await
            .map_err(|e| format!("{promql}: {e}"))?
            .json()
            .await
            .map_err(|e| format!("{promql}: {e}"))?;
        answer["data"]["result"]
            .as_array()
            .cloned()
            .ok_or_else(|| format!("{promql}: {answer}"))
    }

    /// `promql`'s samples by the values of `labels`.
    async fn series(
        &self,
        http: &reqwest::Client,
        promql: &str,
        labels: &[&str],
    ) -> Result<BTreeMap<Vec<String>, f64>, String> {
        let result = self.query(http, promql).await?;
        let mut by = BTreeMap::new();
        for s in &result {
            let key = labels
                .iter()
                .map(|l| s["metric"][*l].as_str().unwrap_or_default().to_string())
                .collect();
            if by.insert(key, sample(s)).is_some() {
                return Err(format!(
                    "{promql}: two series for one {labels:?}: {result:?}"
                ));
            }
        }
        Ok(by)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A port nobody listens on right now; Prometheus binds it a moment later.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn sample(v: &Value) -> f64 {
    v["value"][1]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(f64::NAN)
}

/// Tries `attempt` every half second until it gives a value or `limit` passes; then the last
/// attempt's reason is the error.
async fn poll<T>(
    limit: Duration,
    mut attempt: impl AsyncFnMut() -> Result<T, String>,
) -> Result<T, String> {
    let deadline = Instant::now() + limit;
    loop {
        match attempt().await {
            Ok(v) => return Ok(v),
            Err(why) if Instant::now() > deadline => return Err(why),
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}

/// Why a poll gave up, with Prometheus' log and every instance's answers.
async fn failure(
    what: &str,
    why: String,
    prom: &Prometheus,
    instances: &[&Instance],
    http: &reqwest::Client,
) -> String {
    let mut text = format!("{what}\n{why}\n--- prometheus log ---\n{}\n", prom.log());
    for i in instances {
        text.push_str(&i.describe(http).await);
    }
    text
}

/// The same keys, and values within [`FLOAT_TOLERANCE`] of each other (or equal: a type whose
/// events share one second has an average gap of 0, and 3600 / 0 events an hour is +Inf).
fn close<K: Ord>(a: &BTreeMap<K, f64>, b: &BTreeMap<K, f64>) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|((ka, va), (kb, vb))| {
            ka == kb && (va == vb || (va - vb).abs() <= FLOAT_TOLERANCE * va.abs().max(vb.abs()))
        })
}

/// The figures of one or more `/api/stats` bodies that `/metrics` exposes per repository,
/// keyed by `[repo]` or `[repo, event_type]`.
#[derive(Debug, Default, PartialEq)]
struct StatsFigures {
    in_window: BTreeMap<Vec<String>, f64>,
    by_type: BTreeMap<Vec<String>, f64>,
    avg_gap: BTreeMap<Vec<String>, f64>,
}

impl StatsFigures {
    fn add(&mut self, stats: &Value) {
        for repo in stats["repositories"].as_array().into_iter().flatten() {
            let name = repo["repo"].as_str().unwrap_or_default().to_string();
            if let Some(n) = repo["events_in_window"].as_f64() {
                self.in_window.insert(vec![name.clone()], n);
            }
            for t in repo["event_types"].as_array().into_iter().flatten() {
                let key = vec![
                    name.clone(),
                    t["event_type"].as_str().unwrap_or_default().to_string(),
                ];
                if let Some(n) = t["count"].as_f64() {
                    self.by_type.insert(key.clone(), n);
                }
                // A type seen once has no average, and no series.
                if let Some(avg) = t["avg_seconds_between"].as_f64() {
                    self.avg_gap.insert(key, avg);
                }
            }
        }
    }

    /// Counts exactly (whole numbers are exact in a float64), gaps within the tolerance.
    fn agrees_with(&self, other: &StatsFigures) -> bool {
        self.in_window == other.in_window
            && self.by_type == other.by_type
            && close(&self.avg_gap, &other.avg_gap)
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn prometheus_scrapes_the_same_figures_as_api_stats() {
    let Some(binary) = required_program("prometheus", "prometheus") else {
        return;
    };
    let gh = serve_fixtures(&REPOS).await;
    let ghpulse = Instance::start(&gh, &REPOS, "token").await;
    let prom = Prometheus::start(&binary, &[&ghpulse.target]);
    let http = reqwest::Client::new();

    // Compared once ghpulse has read every repository and Prometheus has scraped since.
    let agreed = poll(AGREE_WITHIN, async || {
        let stats = ghpulse.stats(&http).await;
        if !ghpulse.has_read_all(&stats) {
            return Err("not every repository read yet".to_string());
        }
        let mut want = StatsFigures::default();
        want.add(&stats);
        let got = prom
            .series(
                &http,
                "ghpulse_avg_seconds_between_events",
                &["repo", "event_type"],
            )
            .await?;
        if !want.avg_gap.is_empty() && close(&got, &want.avg_gap) {
            Ok(())
        } else {
            Err(format!(
                "api/stats: {:?}\nprometheus: {got:?}",
                want.avg_gap
            ))
        }
    })
    .await;
    if let Err(why) = agreed {
        panic!(
            "{}",
            failure(
                "Prometheus never showed /api/stats' averages",
                why,
                &prom,
                &[&ghpulse],
                &http,
            )
            .await
        );
    }

    // The scrape itself was healthy, and the recording rule derives from the same series.
    let up = prom
        .series(&http, "up{job=\"ghpulse\"}", &["instance"])
        .await;
    assert_eq!(
        up,
        Ok(BTreeMap::from([(vec![ghpulse.target.clone()], 1.0)]))
    );
    let derived = poll(AGREE_WITHIN, async || {
        let per_hour = prom
            .series(
                &http,
                "repo_event_type:ghpulse_events_per_hour:window",
                &["repo", "event_type"],
            )
            .await?;
        let avg = prom
            .series(
                &http,
                "ghpulse_avg_seconds_between_events",
                &["repo", "event_type"],
            )
            .await?;
        let want: BTreeMap<_, _> = avg.into_iter().map(|(k, v)| (k, 3600.0 / v)).collect();
        if !want.is_empty() && close(&per_hour, &want) {
            Ok(())
        } else {
            Err(format!("recorded: {per_hour:?}\n3600 / average: {want:?}"))
        }
    })
    .await;
    if let Err(why) = derived {
        panic!(
            "{}",
            failure("no recorded rule", why, &prom, &[&ghpulse], &http).await
        );
    }
    drop(prom);
    ghpulse.stop();
}

/// Two ghpulses on disjoint watch lists, scraped by one Prometheus: queries over both give
/// the union of their `/api/stats`, the shipped recording rules evaluate over both, and each
/// repository is under exactly one `instance`.
#[tokio::test(flavor = "multi_thread")]
async fn two_instances_on_disjoint_lists_add_up_in_one_prometheus() {
    let Some(binary) = required_program("prometheus", "prometheus") else {
        return;
    };
    let all: Vec<&str> = SHARD_A.iter().chain(&SHARD_B).copied().collect();
    let gh = serve_fixtures(&all).await;
    let a = Instance::start(&gh, &SHARD_A, "token-a").await;
    let b = Instance::start(&gh, &SHARD_B, "token-b").await;
    let instances = [&a, &b];
    let prom = Prometheus::start(&binary, &[&a.target, &b.target]);
    let http = reqwest::Client::new();

    // (1) Over both instances, the union of both /api/stats, and each instance with as many
    // repositories as its list. Polled until both have read everything and Prometheus has
    // scraped since.
    let union = poll(AGREE_WITHIN, async || {
        let mut want = StatsFigures::default();
        let mut stats_of = BTreeMap::new();
        for i in instances {
            let stats = i.stats(&http).await;
            if !i.has_read_all(&stats) {
                return Err(format!("{} has not read every repository yet", i.target));
            }
            want.add(&stats);
            stats_of.insert(i.target.clone(), stats);
        }
        let want_repos_by_instance: BTreeMap<Vec<String>, f64> = instances
            .iter()
            .map(|i| (vec![i.target.clone()], i.repos.len() as f64))
            .collect();
        let repos_by_instance = prom
            .series(&http, "count by (instance) (ghpulse_events_in_window)", &["instance"])
            .await?;
        // With each repository under one instance, dropping the label loses nothing: a
        // repository scraped from both would be counted twice here, and caught in (3).
        let got = StatsFigures {
            in_window: prom
                .series(&http, "sum without (instance) (ghpulse_events_in_window)", &["repo"])
                .await?,
            by_type: prom
                .series(
                    &http,
                    "sum without (instance) (ghpulse_events_in_window_by_type)",
                    &["repo", "event_type"],
                )
                .await?,
            avg_gap: prom
                .series(
                    &http,
                    "max without (instance) (ghpulse_avg_seconds_between_events)",
                    &["repo", "event_type"],
                )
                .await?,
        };
        if repos_by_instance == want_repos_by_instance && got.agrees_with(&want) {
            Ok((want, stats_of))
        } else {
            Err(format!(
                "repositories by instance: prometheus {repos_by_instance:?}, lists {want_repos_by_instance:?}\n\
                 union of /api/stats: {want:?}\nprometheus: {got:?}"
            ))
        }
    })
    .await;
    let (union, stats_of) = match union {
        Ok(v) => v,
        Err(why) => {
            panic!(
                "{}",
                failure(
                    "Prometheus never showed both instances' figures",
                    why,
                    &prom,
                    &instances,
                    &http,
                )
                .await
            )
        }
    };
    assert_eq!(union.in_window.len(), SHARD_A.len() + SHARD_B.len());

    // Both targets up.
    let up = prom
        .series(&http, "up{job=\"ghpulse\"}", &["instance"])
        .await;
    let both_up: BTreeMap<Vec<String>, f64> = instances
        .iter()
        .map(|i| (vec![i.target.clone()], 1.0))
        .collect();
    assert_eq!(up, Ok(both_up));

    // (3) Each repository under exactly one instance label: the one whose list has it.
    let owners = prom
        .query(&http, "ghpulse_events_in_window")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut owner_of: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for s in &owners {
        let label = |k: &str| s["metric"][k].as_str().unwrap_or_default().to_string();
        owner_of
            .entry(label("repo"))
            .or_default()
            .push(label("instance"));
    }
    let want_owners: BTreeMap<String, Vec<String>> = instances
        .iter()
        .flat_map(|i| i.repos.iter().map(|r| (r.clone(), vec![i.target.clone()])))
        .collect();
    assert_eq!(owner_of, want_owners, "{owners:?}");
    let per_repo = prom
        .series(
            &http,
            "count by (repo) (count by (repo, instance) (ghpulse_events_in_window))",
            &["repo"],
        )
        .await;
    assert!(
        per_repo
            .as_ref()
            .is_ok_and(|m| m.len() == union.in_window.len() && m.values().all(|n| *n == 1.0)),
        "{per_repo:?}"
    );

    // (2) The shipped recording rules over both instances. Events per hour by repository and
    // type, per instance, from each instance's own /api/stats (3600 / its average gap).
    let mut want_per_hour = BTreeMap::new();
    for (target, stats) in &stats_of {
        let mut figures = StatsFigures::default();
        figures.add(stats);
        for (key, avg) in figures.avg_gap {
            let mut k = vec![target.clone()];
            k.extend(key);
            want_per_hour.insert(k, 3600.0 / avg);
        }
    }
    let per_hour = poll(AGREE_WITHIN, async || {
        let got = prom
            .series(
                &http,
                "repo_event_type:ghpulse_events_per_hour:window",
                &["instance", "repo", "event_type"],
            )
            .await?;
        if close(&got, &want_per_hour) {
            Ok(())
        } else {
            Err(format!(
                "recorded: {got:?}\nfrom /api/stats: {want_per_hour:?}"
            ))
        }
    })
    .await;
    if let Err(why) = per_hour {
        panic!(
            "{}",
            failure(
                "the events-per-hour rule never matched /api/stats",
                why,
                &prom,
                &instances,
                &http,
            )
            .await
        );
    }

    // The share of the rate limit spent, per instance, from its own /api/rate-limit. The
    // figure moves with each counted request, so it is compared until a scrape and an answer
    // fall between two of them (once every repository is read, polls are 304s, which GitHub
    // does not count).
    let spent = poll(AGREE_WITHIN, async || {
        let got = prom
            .series(
                &http,
                "instance:ghpulse_rate_limit_used:ratio",
                &["instance"],
            )
            .await?;
        let mut want = BTreeMap::new();
        for i in instances {
            let rl = i.get(&http, "/api/rate-limit").await;
            match (rl["remaining"].as_f64(), rl["limit"].as_f64()) {
                (Some(remaining), Some(limit)) if limit > 0.0 => {
                    want.insert(vec![i.target.clone()], 1.0 - remaining / limit);
                }
                _ => return Err(format!("{}: no rate limit yet: {rl}", i.target)),
            }
        }
        if close(&got, &want) {
            Ok(())
        } else {
            Err(format!("recorded: {got:?}\nfrom /api/rate-limit: {want:?}"))
        }
    })
    .await;
    if let Err(why) = spent {
        panic!(
            "{}",
            failure(
                "the rate-limit rule never matched /api/rate-limit",
                why,
                &prom,
                &instances,
                &http,
            )
            .await
        );
    }

    drop(prom);
    a.stop();
    b.stop();
}
