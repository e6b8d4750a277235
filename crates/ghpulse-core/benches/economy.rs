//! Request economy over 24 simulated hours: ghpulse's real Planner and fetcher against an
//! in-memory GitHub (SPEC section 4) fed with real event timings, beside the naive poller and
//! the floor, then with a token on 25, 100 and 200 repositories. `cargo bench --bench economy`;
//! `ECONOMY_HOURS` and `ECONOMY_SEED` change the run, `ECONOMY_SCALE=0` leaves out the larger
//! watch lists.

#[path = "sim/mod.rs"]
mod sim;

use std::time::Instant;

use chrono::TimeDelta;

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn secs(v: Option<f64>) -> String {
    v.map_or("-".into(), |s| format!("{s:.0}"))
}

fn main() {
    let hours = env_num("ECONOMY_HOURS", 24) as i64;
    let seed = env_num("ECONOMY_SEED", 42);
    let started = Instant::now();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let mut rows = Vec::new();
    let mut runs: Vec<(sim::Scenario, bool)> = Vec::new();
    for scenario in sim::scenarios() {
        runs.push((scenario.clone(), true));
        runs.push((scenario, false));
    }
    if env_num("ECONOMY_SCALE", 1) != 0 {
        runs.extend(sim::scale_scenarios().into_iter().map(|s| (s, true)));
    }
    for (scenario, auth) in &runs {
        match rt.block_on(sim::run_row(
            scenario,
            *auth,
            hours,
            seed,
            TimeDelta::hours(1),
        )) {
            Ok(row) => rows.push(row),
            Err(e) => {
                eprintln!("economy: {e}");
                std::process::exit(2);
            }
        }
    }
    println!(
        "ghpulse request economy: {hours} simulated hours, seed {seed}, X-Poll-Interval 60 s unless said, {} ms per request",
        sim::REQUEST_MS
    );
    println!(
        "profiles from real event timings: busy {}/day, medium {}/day, bursty {}/day, quiet {}/day, silent",
        sim::BUSY.events_per_day,
        sim::MEDIUM.events_per_day,
        sim::BURSTY.events_per_day,
        sim::QUIET.events_per_day
    );
    println!();
    println!(
        "| scenario | auth | events | sent | counted | 304s | 403s | violations | gaps | missed | delay p50 / p95 / max (s) | peak used/window | max sent/min | naive counted | naive 403s | floor | counted/floor | naive/counted |"
    );
    println!(
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|"
    );
    for r in &rows {
        let g = &r.ghpulse;
        let v = g.violations;
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} / {} / {} | {} | {} | {} | {} | {} | {:.2} | {:.1}x |",
            r.scenario,
            if r.authenticated {
                "token 5000/h"
            } else {
                "none 60/h"
            },
            r.events,
            g.sent,
            g.counted,
            g.not_modified,
            g.forbidden,
            v.after_budget_spent + v.faster_than_poll_interval,
            g.gaps_recorded,
            g.missed,
            secs(g.delay_pct(0.5)),
            secs(g.delay_pct(0.95)),
            secs(g.delay_pct(1.0)),
            g.max_counted_per_window,
            g.max_sent_per_minute,
            r.naive.counted + r.naive.forbidden,
            r.naive.forbidden,
            r.floor,
            g.counted as f64 / r.floor.max(1) as f64,
            (r.naive.counted + r.naive.forbidden) as f64 / g.counted.max(1) as f64,
        );
    }
    println!();
    println!("naive poller delay p50 / p95 (s), missed:");
    for r in &rows {
        println!(
            "  {} {}: {} / {}, missed {}",
            r.scenario,
            if r.authenticated { "token" } else { "none" },
            secs(r.naive.delay_pct(0.5)),
            secs(r.naive.delay_pct(0.95)),
            r.naive.missed
        );
    }
    println!();
    println!("real time: {:.1} s", started.elapsed().as_secs_f64());
}
