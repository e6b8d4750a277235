//! How ghpulse's cost grows with its work, in one run: the watch list (5, 25, 100 and 200
//! repositories with a token, the economy simulation's in-memory GitHub, `SCALE_HOURS`
//! simulated hours) and the store (50,000 and 500,000 events, written through the store's own
//! poll transaction). `cargo bench --bench scale`; `SCALE_HOURS`, `SCALE_EVENTS`
//! (comma-separated sizes) change the run.
//!
//! Per watch list: counted requests an hour against the floor (SPEC section 7), the delay
//! p95, the most requests sent in a minute, and the fetcher's CPU per simulated hour (the
//! planner and the poll code as the engine runs them, the model's share included).
//! Per store: the bytes per event against the raw JSON, the time from opening the store to
//! the statistics the first frame draws (what the dashboard does before it draws), the
//! check of every page the engine runs after it, `ghpulse stats --json` end to end with its
//! peak resident set (GNU time's `%M`: the `time` package) on the sealed store and with the
//! seal removed, pruning the oldest tenth in slices, and the compaction at close.

#[path = "../crates/ghpulse-core/benches/sim/mod.rs"]
mod sim;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use fake_github::data;
use ghpulse_core::{
    Config, EventMeta, PRUNE_SLICE_EVENTS, PollRecord, RepoState, RepoStatus, Snapshot, Store,
};

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// CPU time of this process so far (user + system).
#[allow(unsafe_code)]
fn cpu_time() -> Duration {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given; RUSAGE_SELF is always valid.
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr());
        usage.assume_init()
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

fn watch_lists(hours: i64) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    println!(
        "| repositories (token, X-Poll-Interval 60 s) | events/h | floor/h | counted/h | counted/floor | 403s | delay p95 (s) | max sent/min | fetcher CPU per hour |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for n in [5, 25, 100, 200] {
        let scenario = sim::mixed(n, sim::POLL_INTERVAL_SECS);
        let world = match sim::world(&scenario.profiles, sim::start(), hours, 42, 60) {
            Ok(w) => Arc::new(w),
            Err(e) => {
                eprintln!("scale: {e}");
                std::process::exit(2);
            }
        };
        let cpu = cpu_time();
        let g = rt.block_on(sim::run_ghpulse(world.clone(), true, TimeDelta::hours(1)));
        let cpu = cpu_time().saturating_sub(cpu);
        let per_hour = |x: u64| x as f64 / hours as f64;
        let floor = sim::floor(&world);
        println!(
            "| {n} | {:.0} | {:.0} | {:.0} | {:.2} | {} | {:.0} | {} | {:.0} ms ({:.3} % of a core) |",
            per_hour(sim::visible_during(&world)),
            per_hour(floor),
            per_hour(g.counted),
            g.counted as f64 / floor.max(1) as f64,
            g.forbidden,
            g.delay_pct(0.95).unwrap_or(0.0),
            g.max_sent_per_minute,
            cpu.as_secs_f64() * 1000.0 / hours as f64,
            cpu.as_secs_f64() / (hours as f64 * 3600.0) * 100.0,
        );
    }
}

/// The recorded repositories.
fn repo_names() -> [&'static str; 5] {
    data::FIXTURE_REPOS.map(|r| r.full_name)
}

/// A store of `total` events of five repositories over the last 30 days, written a poll
/// (100 events) at a time; returns the bytes of raw JSON written.
fn build_store(path: &std::path::Path, total: usize, now: DateTime<Utc>) -> u64 {
    let templates: Vec<serde_json::Value> = repo_names()
        .iter()
        .flat_map(|r| data::load_events(data::fixture_repo(r).expect("fixture").file_stem))
        .collect();
    let store = Store::open(path).expect("store");
    let per_repo = total / repo_names().len();
    let spacing_ms = (30 * 86_400_000 / per_repo.max(1)) as i64;
    let mut json_bytes = 0u64;
    for (r, repo) in repo_names().iter().enumerate() {
        let mut batch = Vec::with_capacity(100);
        for i in 0..per_repo {
            let mut event = templates[(r * per_repo + i) % templates.len()].clone();
            let id = 10_000_000_000u64 + (r * per_repo + i) as u64;
            let at = now - TimeDelta::milliseconds((per_repo - i) as i64 * spacing_ms + r as i64);
            event["id"] = id.to_string().into();
            event["created_at"] = at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true).into();
            let meta = EventMeta::from_json(&event).expect("a readable event");
            let raw = event.to_string();
            json_bytes += raw.len() as u64;
            batch.push((meta, raw));
            if batch.len() == 100 || i + 1 == per_repo {
                // A poll's page, newest first, as the fetcher hands it over.
                batch.reverse();
                store
                    .record_poll(PollRecord {
                        repo_key: repo,
                        events: &batch,
                        gap: None,
                        state: RepoState {
                            status: RepoStatus::Ok,
                            last_polled_at: Some(now),
                            ..RepoState::default()
                        },
                        rate_limit: None,
                        counters: Default::default(),
                    })
                    .expect("write");
                batch.clear();
            }
        }
    }
    json_bytes
}

/// `ghpulse stats --json` end to end: its wall time and peak resident set (GNU time's `%M`,
/// from time's own wait: a child forked from this process would start with its pages counted).
fn timed_stats(config: &std::path::Path, store: &std::path::Path) -> (Duration, f64) {
    let t = Instant::now();
    let out = std::process::Command::new("/usr/bin/time")
        .args(["-f", "%M"])
        .arg(env!("CARGO_BIN_EXE_ghpulse"))
        .arg("-c")
        .arg(config)
        .arg("-d")
        .arg(store)
        .args(["stats", "--json"])
        .stdout(std::process::Stdio::null())
        .output()
        .expect("run /usr/bin/time ghpulse stats (apt-get install time)");
    let took = t.elapsed();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let peak_kb: f64 = String::from_utf8_lossy(&out.stderr)
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(f64::NAN);
    (took, peak_kb * 1024.0 / 1e6)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn stores(sizes: &[usize]) {
    println!(
        "| stored events | store bytes/event | store / raw JSON | open to first frame's figures | check after it | `ghpulse stats --json`, sealed | its peak RSS | unsealed (every page checked) | pruning 10 %: slices, longest | compaction at close |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for &total in sizes {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("ghpulse.redb");
        let config = dir.path().join("repositories.toml");
        let list: Vec<String> = repo_names().iter().map(|r| format!("\"{r}\"")).collect();
        std::fs::write(&config, format!("repositories = [{}]\n", list.join(", "))).expect("config");
        let now = Utc::now();
        let built = Instant::now();
        let json = build_store(&path, total, now);
        eprintln!(
            "scale: {total} events written in {:.1} s",
            built.elapsed().as_secs_f64()
        );
        let bytes = std::fs::metadata(&path).map_or(0, |m| m.len());

        // What the dashboard does before its first frame: open for writing, the snapshot
        // from the store, its statistics; then, as the engine does, the check of every page.
        let t = Instant::now();
        let store = Store::open(&path).expect("open");
        let cfg = Config::load(&config).expect("config");
        let snapshot = Snapshot::from_store(&cfg, &store, true, Utc::now()).expect("snapshot");
        let cached = snapshot.stats_cache(Utc::now());
        assert!(cached.repo(0).is_some());
        let first_frame = t.elapsed();
        let t = Instant::now();
        store.verify().expect("a sound store");
        let check = t.elapsed();
        drop(snapshot);
        drop(store); // sealed: its check passed

        let (sealed, peak_mb) = timed_stats(&config, &path);
        let mut seal = path.clone().into_os_string();
        seal.push(".checked");
        std::fs::remove_file(&seal).expect("the store was sealed");
        let (unsealed, _) = timed_stats(&config, &path);

        // The events are spread over 30 days: a 27-day retention prunes the oldest tenth.
        let store = Store::open(&path).expect("open");
        store.verify().expect("a sound store");
        let cutoff = now - TimeDelta::days(27);
        let (mut slices, mut longest) = (0, Duration::ZERO);
        loop {
            let t = Instant::now();
            let removed = store
                .prune_slice(cutoff, PRUNE_SLICE_EVENTS)
                .expect("prune")
                .events;
            longest = longest.max(t.elapsed());
            slices += 1;
            if removed < PRUNE_SLICE_EVENTS as u64 {
                break;
            }
        }
        let t = Instant::now();
        drop(store);
        let close = t.elapsed();
        println!(
            "| {total} | {:.0} | {:.2}× | {:.0} ms | {:.0} ms | {:.0} ms | {peak_mb:.1} MB | {:.0} ms | {slices}, {:.0} ms | {:.1} s |",
            bytes as f64 / total as f64,
            bytes as f64 / json as f64,
            ms(first_frame),
            ms(check),
            ms(sealed),
            ms(unsealed),
            ms(longest),
            close.as_secs_f64(),
        );
    }
}

fn main() {
    let hours = env_num("SCALE_HOURS", 6) as i64;
    let sizes: Vec<usize> = std::env::var("SCALE_EVENTS")
        .unwrap_or_else(|_| "50000,500000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let started = Instant::now();
    println!("ghpulse at scale: {hours} simulated hours, seed 42");
    println!();
    watch_lists(hours);
    println!();
    stores(&sizes);
    println!();
    println!("real time: {:.1} s", started.elapsed().as_secs_f64());
}
