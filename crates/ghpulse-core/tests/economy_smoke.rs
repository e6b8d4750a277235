//! The economy simulation (benches/economy.rs) over two simulated hours, with its invariants
//! asserted on simulated counts: never a request once the budget is spent, never a 403, never
//! a poll faster than `X-Poll-Interval`, and at least ten times fewer counted requests than
//! the naive poller. Skipped with a message when the real event data is not beside the repo.

#[path = "../benches/sim/mod.rs"]
mod sim;

use std::io::Write;

use chrono::TimeDelta;

fn check(authenticated: bool, window: TimeDelta) {
    if !sim::data_dir().is_dir() {
        // Straight to stderr, past the harness's capture: a skip must show in `cargo test`.
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: no event data at {}",
            sim::data_dir().display()
        );
        return;
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for scenario in sim::scenarios() {
        let row = rt
            .block_on(sim::run_row(&scenario, authenticated, 2, 7, window))
            .unwrap();
        let g = &row.ghpulse;
        let what = format!("{} auth={authenticated}: {g:?}", scenario.label)
            .chars()
            .take(600)
            .collect::<String>();
        assert_eq!(g.violations.after_budget_spent, 0, "{what}");
        assert_eq!(g.violations.faster_than_poll_interval, 0, "{what}");
        assert_eq!(g.forbidden, 0, "{what}");
        let limit = if authenticated { 5000 } else { 60 };
        assert!(g.max_counted_per_window <= limit, "{what}");
        assert!(
            g.counted * 10 <= row.naive.counted + row.naive.forbidden,
            "{what}; naive {}",
            row.naive.counted
        );
        assert!(g.events_stored > 0, "{what}");
        if authenticated {
            assert_eq!(g.missed, 0, "{what}");
        }
    }
}

#[test]
fn authenticated_two_hours() {
    check(true, TimeDelta::hours(1));
}

#[test]
fn unauthenticated_two_hours() {
    check(false, TimeDelta::hours(1));
}

#[test]
fn unauthenticated_with_a_short_rate_window() {
    // A GitHub imitation with a ten-minute window: the budget resets six times an hour.
    check(false, TimeDelta::minutes(10));
}
