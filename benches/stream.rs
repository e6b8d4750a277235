//! `cargo bench --bench stream`: the live stream (`GET /api/events/stream`) of a headless
//! ghpulse fed by the fake GitHub server, with 1 consumer (the baseline) and then
//! `STREAM_BENCH_CLIENTS` (default 200) consumers connected while events arrive: the delay
//! from the poll that read an event to its delivery to each consumer (p50/p99), and the
//! resident memory each connected consumer costs.
//!
//! Knobs: `STREAM_BENCH_CLIENTS`, `STREAM_BENCH_ROUNDS` (batches of 20 events per repository,
//! default 20).

#[path = "../tests/integration/support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fake_github::{FakeGithub, Options, data};
use serde_json::{Value, json};
use support::{Running, Workdir};

const REPOS: usize = 3;
const PER_BATCH: u64 = 20;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    runtime.block_on(run());
}

/// When each event id arrived, per consumer.
type Arrivals = Arc<Mutex<Vec<HashMap<u64, Instant>>>>;

async fn consume(base: String, slot: usize, arrivals: Arrivals) {
    let Ok(mut resp) = reqwest::get(format!("{base}/api/events/stream")).await else {
        return;
    };
    let mut text = String::new();
    while let Ok(Some(chunk)) = resp.chunk().await {
        let now = Instant::now();
        text.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = text.find('\n') {
            let line: String = text.drain(..=end).collect();
            if let Some(id) = line
                .strip_prefix("id: ")
                .and_then(|i| i.trim().parse().ok())
            {
                arrivals.lock().unwrap()[slot].insert(id, now);
            }
        }
    }
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn event(repo: &str, repo_id: u64, id: u64) -> Value {
    let mut e = data::single_event("issues_event");
    e["id"] = json!(id.to_string());
    e["created_at"] = json!(data::Timestamp::now().to_rfc3339());
    e["payload"]["issue"]["number"] = json!(id % 10_000);
    let mut one = [e];
    data::retarget(&mut one, repo, repo_id);
    let [e] = one;
    e
}

/// Publishes `rounds` batches per repository, each once the previous was read; returns, per
/// event id, the arrival of the poll that first read it.
async fn feed(
    gh: &FakeGithub,
    names: &[String],
    rounds: usize,
    first: u64,
) -> HashMap<u64, Instant> {
    let mut read_at = HashMap::new();
    for round in 0..rounds as u64 {
        let published = Instant::now();
        let mut ids = Vec::new();
        for (i, name) in names.iter().enumerate() {
            let start = first + (round * REPOS as u64 + i as u64) * PER_BATCH;
            let events = (start..start + PER_BATCH)
                .rev()
                .map(|id| event(name, 500 + i as u64, id))
                .collect();
            ids.push((name.clone(), start..start + PER_BATCH));
            gh.push_events(name, events);
        }
        loop {
            let requests = gh.requests();
            let reads: Vec<Option<Instant>> = ids
                .iter()
                .map(|(name, _)| {
                    requests
                        .iter()
                        .find(|r| {
                            r.at >= published
                                && r.page == 1
                                && r.status == 200
                                && r.repo.as_deref() == Some(name.as_str())
                        })
                        .map(|r| r.at)
                })
                .collect();
            if reads.iter().all(Option::is_some) {
                for ((_, range), at) in ids.iter().zip(reads) {
                    for id in range.clone() {
                        read_at.insert(id, at.unwrap_or(published));
                    }
                }
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    read_at
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Delays (ms) from the read to each consumer's delivery, and how many deliveries were missed.
fn delays(read_at: &HashMap<u64, Instant>, arrivals: &Arrivals) -> (Vec<f64>, usize) {
    let arrivals = arrivals.lock().unwrap();
    let mut out = Vec::new();
    let mut missed = 0;
    for consumer in arrivals.iter() {
        for (id, read) in read_at {
            match consumer.get(id) {
                Some(at) => out.push(at.saturating_duration_since(*read).as_secs_f64() * 1e3),
                None => missed += 1,
            }
        }
    }
    out.sort_by(f64::total_cmp);
    (out, missed)
}

async fn run() {
    let clients = env_usize("STREAM_BENCH_CLIENTS", 200);
    let rounds = env_usize("STREAM_BENCH_ROUNDS", 20);
    let gh = FakeGithub::start(Options {
        poll_interval_secs: 1,
        auth_limit: 100_000,
        ..Options::default()
    })
    .await;
    let names: Vec<String> = (1..=REPOS).map(|i| format!("bench/stream-{i}")).collect();
    for (i, name) in names.iter().enumerate() {
        gh.add_repo(name, 500 + i as u64, Vec::new());
    }
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let work = Workdir::new(&refs);
    let child = work.start_with(&gh.url(), Some("t"), &["--listen", "127.0.0.1:0"], &[]);
    let pid = child.id();
    let ghpulse = Running::new(child);
    let base = support::listening_at(&work).await;
    tokio::time::sleep(Duration::from_secs(3)).await;

    let mut results = Vec::new();
    let mut first = 1_000_000;
    for n in [1, clients] {
        let rss_before = rss_kib(pid);
        let arrivals: Arrivals = Arc::new(Mutex::new(vec![HashMap::new(); n]));
        let tasks: Vec<_> = (0..n)
            .map(|slot| tokio::spawn(consume(base.clone(), slot, arrivals.clone())))
            .collect();
        tokio::time::sleep(Duration::from_secs(2)).await;
        let rss_connected = rss_kib(pid);
        let read_at = feed(&gh, &names, rounds, first).await;
        first += 10_000_000;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let rss_after = rss_kib(pid);
        let (d, missed) = delays(&read_at, &arrivals);
        for t in tasks {
            t.abort();
        }
        results.push((
            n,
            d,
            missed,
            rss_before,
            rss_connected,
            rss_after,
            read_at.len(),
        ));
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    println!(
        "{:>8} {:>7} {:>10} {:>8} {:>8} {:>7} {:>11} {:>11} {:>11}",
        "clients",
        "events",
        "deliveries",
        "p50 ms",
        "p99 ms",
        "missed",
        "RSS before",
        "connected",
        "after"
    );
    let base_p50 = percentile(&results[0].1, 0.5);
    for (n, d, missed, before, connected, after, events) in &results {
        println!(
            "{n:>8} {events:>7} {:>10} {:>8.1} {:>8.1} {missed:>7} {before:>7} KiB {connected:>7} KiB {after:>7} KiB",
            d.len(),
            percentile(d, 0.5),
            percentile(d, 0.99),
        );
    }
    let (n, _, _, before, connected, after, _) = &results[1];
    let (_, _, _, before1, _, after1, _) = &results[0];
    let growth1 = after1.saturating_sub(*before1) as f64;
    println!(
        "RSS per connected consumer: {:.1} KiB idle, {:.1} KiB after the events (less the growth with 1 consumer)",
        connected.saturating_sub(*before) as f64 / *n as f64,
        (after.saturating_sub(*before) as f64 - growth1).max(0.0) / *n as f64
    );
    let (_, big, ..) = &results[1];
    println!(
        "p50 with {clients} consumers / with 1: {:.2}×",
        percentile(big, 0.5) / base_p50
    );
    assert!(gh.violations().is_empty(), "{:?}", gh.violations());
    ghpulse.stop();
}
