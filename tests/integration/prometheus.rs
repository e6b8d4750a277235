//! A real Prometheus scraping a headless ghpulse fed by the fake GitHub server, and the
//! shipped rules checked by promtool. Skipped, said past the capture, where the binaries are absent
//! (Debian package `prometheus`; `.ci/run` installs it; under `CI` a failure).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{Workdir, required_program, stop};
use fake_github::{FakeGithub, Options};
use serde_json::Value;

const REPOS: [&str; 2] = ["sferik/rails_admin", "praw-dev/praw"];

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

struct Prometheus(Option<Child>);

impl Drop for Prometheus {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
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

async fn query(http: &reqwest::Client, prometheus: &str, promql: &str) -> Vec<Value> {
    let url =
        reqwest::Url::parse_with_params(&format!("{prometheus}/api/v1/query"), [("query", promql)])
            .expect("a query URL");
    let answer: Value = match http.get(url).send().await {
        Ok(resp) => resp.json().await.unwrap_or(Value::Null),
        Err(_) => Value::Null,
    };
    answer["data"]["result"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn sample(v: &Value) -> f64 {
    v["value"][1]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(f64::NAN)
}

#[tokio::test(flavor = "multi_thread")]
async fn prometheus_scrapes_the_same_figures_as_api_stats() {
    let Some(prometheus) = required_program("prometheus", "prometheus") else {
        return;
    };
    let gh = FakeGithub::start(Options {
        poll_interval_secs: 1,
        ..Options::default()
    })
    .await;
    for (i, name) in REPOS.iter().enumerate() {
        let newest = std::time::SystemTime::now() - Duration::from_secs(300 * (i as u64 + 1));
        gh.add_fixture(name, newest, Duration::from_secs(3600 * 48));
    }
    let work = Workdir::new(&REPOS);
    let child = work.start_with(&gh.url(), Some("token"), &["--listen", "127.0.0.1:0"], &[]);
    let ghpulse = crate::support::listening_at(&work).await;
    let target = ghpulse.trim_start_matches("http://").to_string();

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             rule_files:\n  - {}\n\
             scrape_configs:\n  - job_name: ghpulse\n    static_configs:\n      - targets: [\"{target}\"]\n",
            contrib("ghpulse.rules.yml").display()
        ),
    )
    .unwrap();
    let port = free_port();
    let prom = Prometheus(Some(
        Command::new(prometheus)
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
            .expect("start prometheus"),
    ));
    let prom_url = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();

    // Compared once ghpulse has read every repository and Prometheus has scraped since.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let stats: Value = match http.get(format!("{ghpulse}/api/stats")).send().await {
            Ok(resp) => resp.json().await.unwrap_or(Value::Null),
            Err(_) => Value::Null,
        };
        let mut expected: Vec<(String, String, f64)> = Vec::new();
        for repo in stats["repositories"].as_array().into_iter().flatten() {
            for t in repo["event_types"].as_array().into_iter().flatten() {
                if let Some(avg) = t["avg_seconds_between"].as_f64() {
                    let name = repo["repo"].as_str().unwrap_or_default();
                    let kind = t["event_type"].as_str().unwrap_or_default();
                    expected.push((name.into(), kind.into(), avg));
                }
            }
        }
        expected.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        let series = query(&http, &prom_url, "ghpulse_avg_seconds_between_events").await;
        let mut scraped: Vec<(String, String, f64)> = series
            .iter()
            .map(|s| {
                let label = |k: &str| s["metric"][k].as_str().unwrap_or_default().to_string();
                (label("repo"), label("event_type"), sample(s))
            })
            .collect();
        scraped.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        let every_repo_read = stats["repositories"].as_array().is_some_and(|r| {
            r.len() == REPOS.len() && r.iter().all(|r| r["events_in_window"].as_u64() > Some(0))
        });
        if every_repo_read && !expected.is_empty() && scraped == expected {
            break;
        }
        if Instant::now() > deadline {
            let prom_log =
                std::fs::read_to_string(dir.path().join("prometheus.log")).unwrap_or_default();
            panic!(
                "Prometheus never showed /api/stats' averages\napi/stats: {expected:?}\nprometheus: {scraped:?}\n--- prometheus ---\n{prom_log}\n--- ghpulse ---\n{}",
                work.log_text()
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // The scrape itself was healthy, and the recording rule derives from the same series.
    let up = query(&http, &prom_url, "up{job=\"ghpulse\"}").await;
    assert_eq!(up.len(), 1, "{up:?}");
    assert_eq!(sample(&up[0]), 1.0);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let per_hour = query(
            &http,
            &prom_url,
            "repo_event_type:ghpulse_events_per_hour:window",
        )
        .await;
        let avg = query(&http, &prom_url, "ghpulse_avg_seconds_between_events").await;
        if !per_hour.is_empty() && per_hour.len() == avg.len() {
            for s in &per_hour {
                let twin = avg
                    .iter()
                    .find(|a| {
                        a["metric"]["repo"] == s["metric"]["repo"]
                            && a["metric"]["event_type"] == s["metric"]["event_type"]
                    })
                    .expect("an average for each rate");
                assert!(
                    (sample(s) - 3600.0 / sample(twin)).abs() < 1e-6,
                    "{s} {twin}"
                );
            }
            break;
        }
        assert!(Instant::now() < deadline, "no recorded rule: {per_hour:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    drop(prom);
    assert!(stop(child).success());
}
