//! `cargo bench --bench rest`: ghpulse's REST listener against a bare axum "hello" endpoint
//! (`examples/hello.rs`) in the same run, on a small store and on a 50,000-event store that
//! ghpulse's own fetcher fills from the fake GitHub server, with wrk as the load generator;
//! each `/api/stats` also against the same bare axum answering the very bytes that ghpulse
//! answered, from memory (measured before and after it), so what ghpulse's own work costs
//! shows apart from what the body's size costs; then memory (RSS after ingest, peak, after
//! load) and store size against the raw JSON.
//!
//! Knobs: `REST_BENCH_SECONDS` (each wrk run, default 10), `REST_BENCH_EVENTS` (per
//! repository, default 10000). Needs `wrk` on the PATH (Debian: `apt-get install wrk`).

#[path = "common/ghpulse.rs"]
mod ghpulse;
#[path = "../examples/hello.rs"]
mod hello;
#[path = "../tests/integration/support/mod.rs"]
mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use fake_github::synthetic::SyntheticTimeline;
use fake_github::{FakeGithub, Options};
use ghpulse::{Ghpulse, env_u64, mb, run_on_one_worker};
use support::Workdir;

/// Set in the environment of the copy of this program that serves the hello baseline, so the
/// baseline is its own process, built with the same profile.
const ROLE: &str = "GHPULSE_BENCH_ROLE";
const REPOS: usize = 5;

fn main() {
    if std::env::var(ROLE).as_deref() == Ok("hello") {
        if let Err(e) = hello::main() {
            eprintln!("hello: {e}");
            std::process::exit(1);
        }
        return;
    }
    if Command::new("wrk").arg("--version").output().is_err() {
        eprintln!("rest bench: wrk is not on the PATH (Debian: apt-get install wrk)");
        std::process::exit(2);
    }
    run_on_one_worker(run());
}

async fn run() {
    let secs = env_u64("REST_BENCH_SECONDS", 10);
    let per_repo = env_u64("REST_BENCH_EVENTS", 10_000);

    let mut hello = start_hello(None);
    let hello_url = format!("{}/", hello.1);

    let gh = FakeGithub::start(Options {
        poll_interval_secs: 1,
        ..Options::default()
    })
    .await;
    let now = SystemTime::now();
    gh.add_demo_repos(now);

    // The small store: the five demo repositories.
    let demo: Vec<&str> = fake_github::data::FIXTURE_REPOS
        .iter()
        .map(|r| r.full_name)
        .collect();
    let small = Workdir::new(&demo);
    let mut small_proc = Ghpulse::start(&small, &gh.url()).await;
    let small_events = small_proc
        .wait_ingested(None, Duration::from_secs(120))
        .await;
    eprintln!("small store: {small_events} events");

    // The big store: synthetic timelines fed through the 300-event API.
    let names: Vec<String> = (1..=REPOS).map(|i| format!("bench/repo-{i}")).collect();
    let timelines: Vec<SyntheticTimeline> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            SyntheticTimeline::new(
                name,
                900_000 + i as u64,
                1_000_000_000 * (i as u64 + 1),
                per_repo,
                now - Duration::from_secs(60),
                Duration::from_secs(25 * 24 * 3600),
            )
        })
        .collect();
    for t in &timelines {
        gh.add_synthetic(t);
    }
    let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let big = Workdir::new(&name_refs);
    let mut big_proc = Ghpulse::start(&big, &gh.url()).await;
    let ingest_started = Instant::now();
    let feeds = timelines
        .iter()
        .map(|t| gh.feed(t, 100, Duration::from_secs(1800)));
    let fed = futures::future::join_all(feeds).await;
    assert!(fed.iter().all(Option::is_some), "the feed timed out");
    let total = per_repo * REPOS as u64;
    let stored = big_proc
        .wait_ingested(Some(total), Duration::from_secs(300))
        .await;
    let ingest_secs = ingest_started.elapsed().as_secs_f64();
    // Quiet from now on: no more 1-s polls during the measurements.
    gh.set_poll_interval(60);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let rss_ingest = big_proc.rss_parts();
    let peak_ingest = big_proc.peak_rss();
    let store_bytes = file_len(&big.store());
    let raw_bytes: u64 = timelines.iter().map(SyntheticTimeline::json_bytes).sum();
    eprintln!("big store: {stored} events in {ingest_secs:.0} s");

    let mut rows = Vec::new();
    let base = wrk(&hello_url, 2, 32, secs, None).await;
    rows.push(Row::new("bare axum hello `GET /`", base.clone()));
    rows.extend(
        against_same_bytes(
            &small_proc,
            &format!("`/api/stats`, small store ({small_events} events)"),
            secs,
        )
        .await,
    );
    small_proc.stop();
    rows.extend(
        against_same_bytes(
            &big_proc,
            &format!("`/api/stats`, {stored}-event store, default window"),
            secs,
        )
        .await,
    );
    rows.push(Row::new(
        &format!("`/api/events/count?offset=43200`, {stored}-event store"),
        wrk(
            &big_proc.url("/api/events/count?offset=43200"),
            2,
            32,
            secs,
            None,
        )
        .await,
    ));
    let rss_default_load = big_proc.rss_parts();
    big_proc.stop();

    // The same store with a window holding every event.
    std::fs::write(
        big.config(),
        format!(
            "repositories = [{}]\nmax_repositories = 5\n\n[window]\nmax_age = \"30d\"\nmax_events = 100000\n",
            names
                .iter()
                .map(|n| format!("\"{n}\""))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    )
    .expect("write the config");
    let log_before = big.log_text().len();
    let mut wide = Ghpulse::start(&big, &gh.url()).await;
    let in_window = wide.events_in_window().await;
    // The start-up pruning compacts a file with more than a quarter of free pages, in the
    // background: wait for it to say so.
    let compacted_at = Instant::now();
    while !big
        .log_text()
        .get(log_before..)
        .is_some_and(|l| l.contains("store compacted"))
        && compacted_at.elapsed() < Duration::from_secs(60)
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let store_bytes_reopened = file_len(&big.store());
    rows.extend(
        against_same_bytes(
            &wide,
            &format!("`/api/stats`, window 30 d / 100k ({in_window} events in window)"),
            secs,
        )
        .await,
    );
    let health_idle = wrk(&wide.url("/health"), 1, 1, secs, None).await;
    let health_loaded = wrk(
        &wide.url("/health"),
        1,
        1,
        secs,
        Some(&wide.url("/api/stats")),
    )
    .await;
    let rss_wide_load = wide.rss_parts();
    let peak_wide = wide.peak_rss();
    let base_end = wrk(&hello_url, 2, 32, secs, None).await;
    rows.push(Row::new("bare axum hello `GET /` (last)", base_end.clone()));
    wide.stop();
    let _ = hello.0.kill();
    let _ = hello.0.wait();

    println!();
    println!(
        "wrk -t2 -c32 -d{secs}s; hello measured first and last in this run: {:.0} and {:.0} req/s",
        base.rps, base_end.rps
    );
    let hello_rps = (base.rps + base_end.rps) / 2.0;
    println!();
    println!("| figure | req/s | share of hello | × same bytes | p50 | p99 |");
    println!("|---|---:|---:|---:|---:|---:|");
    for Row {
        name,
        load: r,
        same_bytes,
    } in &rows
    {
        let ratio = same_bytes.map_or(String::new(), |s| format!("{:.2}×", r.rps / s));
        println!(
            "| {name} | {:.0} | {:.1} % | {ratio} | {} | {} |",
            r.rps,
            100.0 * r.rps / hello_rps,
            ms(r.p50),
            ms(r.p99)
        );
    }
    println!(
        "| `/health`, one client, idle | | | | {} | {} |",
        ms(health_idle.p50),
        ms(health_idle.p99)
    );
    println!(
        "| `/health`, one client, while 16 clients hit `/api/stats` (30 d window) | | | | {} | {} |",
        ms(health_loaded.p50),
        ms(health_loaded.p99)
    );
    println!();
    println!("| memory and size | value |");
    println!("|---|---:|");
    println!("| ingest: {stored} events through the fetcher | {ingest_secs:.0} s |");
    println!("| RSS after ingest | {rss_ingest} |");
    println!("| peak RSS during ingest (VmHWM) | {} |", mb(peak_ingest));
    println!("| RSS after load, default window | {rss_default_load} |");
    println!("| RSS after load, 30 d / 100k window | {rss_wide_load} |");
    println!(
        "| peak RSS, 30 d / 100k window (VmHWM) | {} |",
        mb(peak_wide)
    );
    println!(
        "| store file, right after the ingest | {} = {:.2}× the raw JSON ({}); {:.0} bytes per event |",
        mb(store_bytes),
        store_bytes as f64 / raw_bytes.max(1) as f64,
        mb(raw_bytes),
        store_bytes as f64 / stored.max(1) as f64
    );
    println!(
        "| store file, reopened | {} = {:.2}× the raw JSON; {:.0} bytes per event |",
        mb(store_bytes_reopened),
        store_bytes_reopened as f64 / raw_bytes.max(1) as f64,
        store_bytes_reopened as f64 / stored.max(1) as f64
    );
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn file_len(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

/// A line of the table: with `same_bytes`, the req/s of the bare server answering the same
/// body (the mean of its runs before and after).
struct Row {
    name: String,
    load: Load,
    same_bytes: Option<f64>,
}

impl Row {
    fn new(name: &str, load: Load) -> Row {
        Row {
            name: name.to_string(),
            load,
            same_bytes: None,
        }
    }
}

/// `/api/stats` of `proc`, between two runs of the bare axum server answering the bytes
/// `proc` answered just before, from memory: the same body, none of the work.
async fn against_same_bytes(proc: &Ghpulse, name: &str, secs: u64) -> Vec<Row> {
    let url = proc.url("/api/stats");
    let body = reqwest::get(&url)
        .await
        .expect("GET /api/stats")
        .bytes()
        .await
        .expect("the /api/stats body");
    let file = tempfile::NamedTempFile::new().expect("a temporary file");
    std::fs::write(file.path(), &body).expect("write the body");
    let mut same = start_hello(Some(file.path()));
    let same_url = format!("{}/body", same.1);
    let served = reqwest::get(&same_url)
        .await
        .expect("GET /body")
        .bytes()
        .await
        .expect("the same body");
    assert_eq!(served.len(), body.len(), "the same-bytes server's body");
    let before = wrk(&same_url, 2, 32, secs, None).await;
    let ghpulse = wrk(&url, 2, 32, secs, None).await;
    let after = wrk(&same_url, 2, 32, secs, None).await;
    let _ = same.0.kill();
    let _ = same.0.wait();
    let same_rps = (before.rps + after.rps) / 2.0;
    let same_name = format!("bare axum, the same {} bytes from memory", body.len());
    vec![
        Row::new(&format!("{same_name} (before)"), before),
        Row {
            name: name.to_string(),
            load: ghpulse,
            same_bytes: Some(same_rps),
        },
        Row::new(&format!("{same_name} (after)"), after),
    ]
}

/// This program again, as the hello server (answering `body`'s bytes at `/body` when given);
/// returns it and its base URL.
fn start_hello(body: Option<&Path>) -> (Child, String) {
    let exe = std::env::current_exe().expect("the bench's own path");
    let mut child = Command::new(exe)
        .arg("127.0.0.1:0")
        .args(body)
        .env(ROLE, "hello")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start hello");
    let mut line = String::new();
    if let Some(out) = child.stdout.take() {
        let _ = BufReader::new(out).read_line(&mut line);
    }
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("hello said {line:?}"))
        .to_string();
    (child, url)
}

#[derive(Clone, Debug, Default)]
struct Load {
    rps: f64,
    p50: Duration,
    p99: Duration,
}

/// One wrk run with `--latency`; with `background`, 16 connections hammer that URL meanwhile
/// (the figure is then the latency of `url` under that load).
async fn wrk(url: &str, threads: u32, conns: u32, secs: u64, background: Option<&str>) -> Load {
    let run = |url: &str, threads: u32, conns: u32, secs: u64| {
        Command::new("wrk")
            .args([
                format!("-t{threads}"),
                format!("-c{conns}"),
                format!("-d{secs}s"),
                "--latency".to_string(),
                url.to_string(),
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start wrk")
    };
    let bg = background.map(|u| run(u, 1, 16, secs + 2));
    if bg.is_some() {
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let main = run(url, threads, conns, secs);
    let out = tokio::task::spawn_blocking(move || main.wait_with_output())
        .await
        .expect("wrk task")
        .expect("wrk output");
    if let Some(mut bg) = bg {
        let _ = bg.wait();
    }
    parse_wrk(&String::from_utf8_lossy(&out.stdout))
}

fn parse_wrk(text: &str) -> Load {
    let mut load = Load::default();
    let mut in_dist = false;
    for line in text.lines().map(str::trim) {
        if let Some(v) = line.strip_prefix("Requests/sec:") {
            load.rps = v.trim().parse().unwrap_or(0.0);
        }
        if line.starts_with("Latency Distribution") {
            in_dist = true;
            continue;
        }
        if in_dist {
            let mut parts = line.split_whitespace();
            match (parts.next(), parts.next()) {
                (Some("50%"), Some(v)) => load.p50 = duration(v),
                (Some("99%"), Some(v)) => {
                    load.p99 = duration(v);
                    in_dist = false;
                }
                _ => {}
            }
        }
    }
    load
}

/// wrk's `1.23ms`, `456.00us`, `1.02s`, `2.00m`.
fn duration(v: &str) -> Duration {
    let split = v.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(v.len());
    let (n, unit) = v.split_at(split);
    let n: f64 = n.parse().unwrap_or(0.0);
    let secs = match unit {
        "us" => n / 1e6,
        "ms" => n / 1e3,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => 0.0,
    };
    Duration::from_secs_f64(secs)
}
