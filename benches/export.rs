//! `ghpulse export` of a 50,000-event store (SPEC section 8: "about a second"): real recorded
//! events (tests/fixtures, full 2012–2020 payloads) repeated with fresh ids across five
//! repositories, written to a redb file; then the export timed in-process (jsonl and csv into
//! a byte counter) and end to end (the ghpulse binary, store opened read-only, stdout to
//! /dev/null). `cargo bench --bench export`; `EXPORT_EVENTS` changes the size.

use std::io::Write;
use std::time::Instant;

use chrono::{DateTime, TimeDelta, Utc};
use fake_github::data;
use ghpulse_core::{EventMeta, ExportFormat, PollRecord, RepoState, Store, export_events};

/// The recorded repositories.
fn repo_names() -> [&'static str; 5] {
    data::FIXTURE_REPOS.map(|r| r.full_name)
}

/// Counts bytes, so the figure is the export's, not a disk's.
struct Counter(u64);

impl Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn main() {
    let total: usize = std::env::var("EXPORT_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("ghpulse.redb");
    let templates: Vec<serde_json::Value> = repo_names()
        .iter()
        .flat_map(|r| data::load_events(data::fixture_repo(r).expect("fixture").file_stem))
        .collect();
    let now: DateTime<Utc> = Utc::now();
    let started = Instant::now();
    {
        let store = Store::open(&path).expect("store");
        let per_repo = total / repo_names().len();
        let mut written = 0usize;
        for (r, repo) in repo_names().iter().enumerate() {
            let mut batch = Vec::with_capacity(1000);
            for i in 0..per_repo {
                let mut event = templates[(r * per_repo + i) % templates.len()].clone();
                let id = 10_000_000_000u64 + (r * per_repo + i) as u64;
                let at = now - TimeDelta::seconds((per_repo - i) as i64 * 30 + r as i64);
                event["id"] = id.to_string().into();
                event["created_at"] = at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true).into();
                let meta = EventMeta::from_json(&event).expect("a readable event");
                batch.push((meta, event.to_string()));
                if batch.len() == 1000 || i + 1 == per_repo {
                    written += store
                        .record_poll(PollRecord {
                            repo_key: repo,
                            events: &batch,
                            gap: None,
                            state: RepoState::default(),
                            rate_limit: None,
                            counters: Default::default(),
                        })
                        .expect("write") as usize;
                    batch.clear();
                }
            }
        }
        println!(
            "store: {written} events, {:.1} MB, built in {:.1} s",
            std::fs::metadata(&path).map_or(0, |m| m.len()) as f64 / 1e6,
            started.elapsed().as_secs_f64()
        );
    }
    let repos: Vec<(String, String)> = repo_names()
        .iter()
        .map(|r| (r.to_string(), r.to_string()))
        .collect();
    let store = Store::open_read_only(&path).expect("read-only store");
    for format in [ExportFormat::Jsonl, ExportFormat::Csv] {
        for run in 1..=3 {
            let mut out = Counter(0);
            let t = Instant::now();
            let n = export_events(&store, &repos, None, None, format, &mut out).expect("export");
            println!(
                "in-process {format:?} run {run}: {n} events, {:.1} MB in {:.3} s",
                out.0 as f64 / 1e6,
                t.elapsed().as_secs_f64()
            );
        }
    }
    drop(store);
    let config = dir.path().join("repositories.toml");
    let list: Vec<String> = repo_names().iter().map(|r| format!("\"{r}\"")).collect();
    std::fs::write(&config, format!("repositories = [{}]\n", list.join(", "))).expect("config");
    for format in ["jsonl", "csv"] {
        let t = Instant::now();
        let status = std::process::Command::new(env!("CARGO_BIN_EXE_ghpulse"))
            .arg("-c")
            .arg(&config)
            .arg("-d")
            .arg(&path)
            .args(["export", "--format", format])
            .stdout(std::process::Stdio::null())
            .status()
            .expect("run ghpulse export");
        assert!(status.success());
        println!(
            "ghpulse export --format {format} > /dev/null: {:.3} s",
            t.elapsed().as_secs_f64()
        );
    }
}
