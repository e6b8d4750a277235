//! A ghpulse started by a benchmark: headless, REST on a free port, with what the figures need
//! (waiting for an ingest, the resident set read from /proc).

#![allow(dead_code)]

use std::process::Child;
use std::time::{Duration, Instant};

use crate::support::{self, Workdir};

pub const TOKEN: &str = "bench-token";

/// Runs a benchmark's `main` future on a runtime with one worker thread: the machine's other
/// core is ghpulse's.
pub fn run_on_one_worker<F: std::future::Future>(main: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a Tokio runtime")
        .block_on(main)
}

/// A knob: the environment variable's number, or `default`.
pub fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

pub struct Ghpulse {
    child: Option<Child>,
    base: String,
    http: reqwest::Client,
}

impl Ghpulse {
    pub async fn start(work: &Workdir, api_url: &str) -> Ghpulse {
        Ghpulse::start_with(work, api_url, &[]).await
    }

    /// With more environment variables.
    pub async fn start_with(work: &Workdir, api_url: &str, env: &[(&str, &str)]) -> Ghpulse {
        let before = work.log_text().len();
        let env: Vec<(&str, &str)> = [("GHPULSE_LOG", "ghpulse=info")]
            .into_iter()
            .chain(env.iter().copied())
            .collect();
        let child = work.start_with(api_url, Some(TOKEN), &["--listen", "127.0.0.1:0"], &env);
        let started = Instant::now();
        let base = loop {
            let log = work.log_text();
            if let Some(at) = log[before.min(log.len())..].find("REST API listening on ") {
                let rest = &log[before + at + "REST API listening on ".len()..];
                break rest.lines().next().unwrap_or_default().trim().to_string();
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "ghpulse did not start:\n{log}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        Ghpulse {
            child: Some(child),
            base,
            http: reqwest::Client::new(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> serde_json::Value {
        match self.http.get(self.url(path)).send().await {
            Ok(r) => r.json().await.unwrap_or_default(),
            Err(_) => serde_json::Value::Null,
        }
    }

    /// Waits until every repository is polled and the stored total reaches `want` (or, without
    /// one, stops changing for three seconds); returns the total.
    pub async fn wait_ingested(&mut self, want: Option<u64>, limit: Duration) -> u64 {
        let started = Instant::now();
        let (mut last, mut since) = (u64::MAX, Instant::now());
        loop {
            let repos = self.get("/api/repos").await;
            let list = repos.as_array().cloned().unwrap_or_default();
            let total: u64 = list
                .iter()
                .map(|r| r["events_stored"].as_u64().unwrap_or(0))
                .sum();
            let polled = !list.is_empty() && list.iter().all(|r| r["status"] == "ok");
            if total != last {
                (last, since) = (total, Instant::now());
            }
            let done = match want {
                Some(w) => total >= w,
                None => polled && since.elapsed() > Duration::from_secs(3),
            };
            if done {
                return total;
            }
            assert!(
                started.elapsed() < limit,
                "ingest stalled at {total} events"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    pub async fn events_in_window(&self) -> u64 {
        let stats = self.get("/api/stats").await;
        stats["repositories"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|r| r["events_in_window"].as_u64().unwrap_or(0))
                    .sum()
            })
            .unwrap_or(0)
    }

    pub fn status_kb(&self, field: &str) -> u64 {
        let Some(child) = &self.child else { return 0 };
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    }

    pub fn rss(&self) -> u64 {
        self.status_kb("VmRSS:")
    }

    pub fn peak_rss(&self) -> u64 {
        self.status_kb("VmHWM:")
    }

    /// The resident set and what it is: anonymous memory (heap, stacks, redb's cache) and
    /// file pages (the binary and libraries).
    pub fn rss_parts(&self) -> String {
        format!(
            "{} ({} anonymous, {} file)",
            mb(self.rss()),
            mb(self.status_kb("RssAnon:")),
            mb(self.status_kb("RssFile:"))
        )
    }

    pub fn stop(&mut self) {
        if let Some(child) = self.child.take() {
            support::stop(child);
        }
    }
}

impl Drop for Ghpulse {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
