//! When to poll which repository. Pure: the clock and every input are passed in, so the
//! schedule is tested (and simulated over whole days) without any server.
//!
//! The remaining budget until the rate-limit reset is shared among the repositories in
//! proportion to the square root of their event rates — the split that minimises the mean
//! delay of events for a fixed number of polls (delay of R is interval/2, cost 1/interval;
//! Lagrange gives interval ∝ 1/√rate) — and no repository is polled faster than its
//! `X-Poll-Interval`. Budget a fast repository cannot use goes to the others.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use crate::github::bounds::{self, shifted};
use crate::github::event::EventMeta;

pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(60);
/// A quiet repository is still assumed to get an event every ten hours, so it keeps a share.
pub const MIN_EVENTS_PER_HOUR: f64 = 0.1;
/// GitHub's reset instant is rounded to the second and clocks drift: wait a little past it.
pub const RESET_MARGIN: TimeDelta = TimeDelta::seconds(2);
/// The first wait after a failed poll. Short: the poll already retried its page (about
/// 1 + 2 + 4 s), and the next poll still waits `X-Poll-Interval` after the last one.
const MIN_ERROR_BACKOFF: Duration = Duration::from_secs(5);
const MAX_ERROR_BACKOFF: Duration = Duration::from_secs(30 * 60);
pub const NOT_FOUND_RETRY: Duration = Duration::from_secs(60 * 60);
pub const TOKEN_REJECTED_RETRY: Duration = Duration::from_secs(60 * 60);
/// Without a token every answer counts, a `304` too, and the 60 requests an hour are shared
/// by every client behind the same IP: no repository is polled more often than every four
/// minutes (a quarter of the budget), whatever budget is left. A busy repository then costs
/// 15 requests an hour instead of the naive poller's 180; the rest of the budget goes to the
/// other repositories.
pub const UNAUTHENTICATED_MIN_INTERVAL: Duration = Duration::from_secs(240);

/// What the schedule needs to know of one repository.
#[derive(Clone, Debug)]
pub struct RepoTiming {
    pub last_polled_at: Option<DateTime<Utc>>,
    pub poll_interval: Duration,
    /// A longer shortest gap chosen for economy (see `UNAUTHENTICATED_MIN_INTERVAL`); an
    /// urgent poll ignores it, never `poll_interval`.
    pub economy_interval: Option<Duration>,
    /// Set by backoff after errors, a 404 or a rejected token.
    pub not_before: Option<DateTime<Utc>>,
    pub events_per_hour: f64,
    /// The user asked for a poll now: as soon as the poll interval allows.
    pub urgent: bool,
}

/// The shared budget as GitHub last reported it.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    pub remaining: u32,
    pub reset_at: DateTime<Utc>,
    /// What the next window grants: a plan past the reset is made with it.
    pub limit: u32,
}

/// The instant each repository is due, in the order given.
pub fn due_times(now: DateTime<Utc>, repos: &[RepoTiming], budget: Budget) -> Vec<DateTime<Utc>> {
    let after_reset = shifted(budget.reset_at, RESET_MARGIN);
    if budget.remaining == 0 && now < after_reset {
        return repos
            .iter()
            .map(|r| earliest_allowed(r).map_or(after_reset, |t| t.max(after_reset)))
            .collect();
    }
    let until_reset = (budget.reset_at - now).num_milliseconds().max(1000) as f64 / 1000.0;
    let now_rates = share(f64::from(budget.remaining) / until_reset, repos);
    // A scarce budget can push a poll past the reset; from then on the next window's budget
    // applies, so the poll is planned with it (and never later than the scarce plan).
    let fresh_rates = share(f64::from(budget.limit) / 3600.0, repos);
    repos
        .iter()
        .zip(now_rates.into_iter().zip(fresh_rates))
        .map(|(r, (rate, fresh))| {
            let Some(last) = r.last_polled_at else {
                return r.not_before.unwrap_or(now).max(now);
            };
            let mut due = shifted(last, interval(r, rate));
            if due > after_reset {
                due = due.min(shifted(last, interval(r, fresh)).max(after_reset));
            }
            r.not_before.map_or(due, |nb| due.max(nb))
        })
        .collect()
}

/// The gap after the last poll for a share of `rate` polls per second.
fn interval(r: &RepoTiming, rate: f64) -> TimeDelta {
    let secs = if r.urgent {
        r.poll_interval.as_secs_f64()
    } else if rate <= 0.0 {
        shortest_gap(r).as_secs_f64()
    } else {
        (1.0 / rate).max(shortest_gap(r).as_secs_f64())
    };
    // `as` saturates: a rate near zero gives the longest delta, never an overflow.
    TimeDelta::try_milliseconds((secs * 1000.0).round() as i64).unwrap_or(TimeDelta::MAX)
}

/// The shortest gap between two scheduled polls of a repository.
fn shortest_gap(r: &RepoTiming) -> Duration {
    r.economy_interval
        .map_or(r.poll_interval, |e| e.max(r.poll_interval))
}

/// The earliest instant a repository may be polled whatever the budget.
fn earliest_allowed(r: &RepoTiming) -> Option<DateTime<Utc>> {
    let by_interval = r.last_polled_at.map(|t| bounds::after(t, r.poll_interval));
    match (by_interval, r.not_before) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// Water-filling: polls per second for each repository, proportional to √rate, capped at
/// one per shortest gap, summing to at most `total`.
fn share(total: f64, repos: &[RepoTiming]) -> Vec<f64> {
    let weights: Vec<f64> = repos
        .iter()
        .map(|r| r.events_per_hour.max(MIN_EVENTS_PER_HOUR).sqrt())
        .collect();
    let caps: Vec<f64> = repos
        .iter()
        .map(|r| 1.0 / shortest_gap(r).as_secs_f64().max(1.0))
        .collect();
    let mut rates = vec![0.0; repos.len()];
    let mut open: Vec<usize> = (0..repos.len()).collect();
    let mut left = total;
    // Each round either fits every open repository under its cap or caps at least one.
    while !open.is_empty() && left > 0.0 {
        let weight_sum: f64 = open.iter().map(|&i| weights[i]).sum();
        let k = left / weight_sum;
        let (capped, free): (Vec<usize>, Vec<usize>) =
            open.iter().partition(|&&i| k * weights[i] >= caps[i]);
        if capped.is_empty() {
            for &i in &free {
                rates[i] = k * weights[i];
            }
            break;
        }
        for &i in &capped {
            rates[i] = caps[i];
            left -= caps[i];
        }
        open = free;
    }
    rates
}

/// Events per hour lately, from a repository's newest events: the busier of the last three
/// hours and the last day, so a burst is followed at once and a lull is not forgotten.
pub fn events_per_hour(newest_first: &[EventMeta], now: DateTime<Utc>) -> f64 {
    let count_since = |h: i64| {
        newest_first
            .iter()
            .take_while(|e| e.created_at > shifted(now, -TimeDelta::hours(h)))
            .count() as f64
    };
    (count_since(3) / 3.0).max(count_since(24) / 24.0)
}

/// Wait after the n-th consecutive failed poll (n >= 1): exponential from five seconds, at
/// most 30 minutes, with up to half again of jitter so that clients do not retry in step.
/// The schedule never polls sooner than the poll interval after the last poll either way.
/// `unit` is a random number in [0, 1).
pub fn error_backoff(consecutive_errors: u32, unit: f64) -> Duration {
    let exp = consecutive_errors.saturating_sub(1).min(16);
    MIN_ERROR_BACKOFF
        .saturating_mul(1 << exp)
        .mul_f64(1.0 + 0.5 * unit.clamp(0.0, 1.0))
        .min(MAX_ERROR_BACKOFF)
}

/// How long to stay silent after GitHub said "rate limited": `retry-after` when given, the
/// reset when the budget is spent, else a minute doubling with each repeat.
pub fn rate_limited_until(
    now: DateTime<Utc>,
    retry_after: Option<Duration>,
    budget: Option<Budget>,
    consecutive: u32,
) -> DateTime<Utc> {
    if let Some(wait) = retry_after {
        return bounds::after(now, wait);
    }
    if let Some(b) = budget.filter(|b| b.remaining == 0 && b.reset_at > now) {
        return shifted(b.reset_at, RESET_MARGIN);
    }
    let exp = consecutive.saturating_sub(1).min(6);
    shifted(now, TimeDelta::minutes(1 << exp))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> DateTime<Utc> {
        "2026-11-22T12:00:00Z".parse().unwrap()
    }

    fn repo(rate: f64, last_secs_ago: Option<i64>) -> RepoTiming {
        RepoTiming {
            last_polled_at: last_secs_ago.map(|s| t0() - TimeDelta::seconds(s)),
            poll_interval: DEFAULT_POLL_INTERVAL,
            economy_interval: None,
            not_before: None,
            events_per_hour: rate,
            urgent: false,
        }
    }

    fn budget(remaining: u32, secs_to_reset: i64) -> Budget {
        Budget {
            remaining,
            reset_at: t0() + TimeDelta::seconds(secs_to_reset),
            limit: 60,
        }
    }

    #[test]
    fn a_plentiful_budget_polls_at_the_poll_interval() {
        let repos = [repo(100.0, Some(10)), repo(0.0, Some(10))];
        let due = due_times(t0(), &repos, budget(4000, 3600));
        assert_eq!(due, [t0() + TimeDelta::seconds(50); 2]);
    }

    #[test]
    fn never_polled_repositories_are_due_now() {
        assert_eq!(
            due_times(t0(), &[repo(0.0, None)], budget(60, 3600)),
            [t0()]
        );
    }

    #[test]
    fn a_spent_budget_waits_for_the_reset() {
        let due = due_times(
            t0(),
            &[repo(50.0, None), repo(1.0, Some(3600))],
            budget(0, 600),
        );
        assert_eq!(due, [t0() + TimeDelta::seconds(600) + RESET_MARGIN; 2]);
    }

    #[test]
    fn a_scarce_budget_favours_busy_repositories_by_square_root() {
        // 40 polls left for an hour, rates 100 and 1 per hour: shares 10:1.
        let rates = share(40.0 / 3600.0, &[repo(100.0, Some(0)), repo(1.0, Some(0))]);
        let per_hour: Vec<f64> = rates.iter().map(|r| r * 3600.0).collect();
        assert!((per_hour[0] - 400.0 / 11.0).abs() < 1e-6, "{per_hour:?}");
        assert!((per_hour[1] - 40.0 / 11.0).abs() < 1e-6, "{per_hour:?}");
    }

    #[test]
    fn a_capped_repository_leaves_its_share_to_the_others() {
        // 100 polls/hour: the busy one is capped at 60 (every 60 s), the rest is shared.
        let rates = share(
            100.0 / 3600.0,
            &[
                repo(10_000.0, Some(0)),
                repo(1.0, Some(0)),
                repo(1.0, Some(0)),
            ],
        );
        let per_hour: Vec<f64> = rates.iter().map(|r| r * 3600.0).collect();
        assert!(
            (per_hour[0] - 60.0).abs() < 1e-6 && (per_hour[1] - 20.0).abs() < 1e-6,
            "{per_hour:?}"
        );
        assert!((per_hour.iter().sum::<f64>() - 100.0).abs() < 1e-6);
    }

    #[test]
    fn the_whole_budget_is_never_planned_past_the_reset() {
        // Five repositories, unauthenticated: the planned polls until reset fit the budget.
        let repos: Vec<_> = [50.0, 10.0, 1.0, 0.1, 0.0]
            .iter()
            .map(|&r| repo(r, Some(0)))
            .collect();
        for remaining in [1u32, 7, 30, 60] {
            let rates = share(f64::from(remaining) / 3600.0, &repos);
            let planned: f64 = rates.iter().map(|r| r * 3600.0).sum();
            assert!(
                planned <= f64::from(remaining) + 1e-9,
                "{remaining}: {planned}"
            );
        }
    }

    #[test]
    fn without_a_token_no_repository_is_polled_faster_than_the_economy_interval() {
        // A full unauthenticated budget for one busy repository: one poll per 240 s, not 60 s;
        // the budget it leaves goes to the others.
        let mut busy = repo(500.0, Some(0));
        busy.economy_interval = Some(UNAUTHENTICATED_MIN_INTERVAL);
        let due = due_times(t0(), &[busy.clone()], budget(60, 3600));
        assert_eq!(due, [t0() + TimeDelta::seconds(240)]);
        let mut quiet = repo(1.0, Some(0));
        quiet.economy_interval = Some(UNAUTHENTICATED_MIN_INTERVAL);
        let rates = share(60.0 / 3600.0, &[busy.clone(), quiet]);
        let per_hour: Vec<f64> = rates.iter().map(|r| r * 3600.0).collect();
        assert!((per_hour[0] - 15.0).abs() < 1e-6, "{per_hour:?}");
        assert!((per_hour[1] - 15.0).abs() < 1e-6, "{per_hour:?}");
        // A poll the user asked for waits only for the poll interval.
        busy.urgent = true;
        let due = due_times(t0(), &[busy], budget(60, 3600));
        assert_eq!(due, [t0() + TimeDelta::seconds(60)]);
    }

    #[test]
    fn backoff_and_urgency_respect_the_poll_interval() {
        let mut r = repo(0.0, Some(5));
        r.urgent = true;
        assert_eq!(
            due_times(t0(), &[r.clone()], budget(60, 3600)),
            [t0() + TimeDelta::seconds(55)]
        );
        r.not_before = Some(t0() + TimeDelta::seconds(300));
        assert_eq!(
            due_times(t0(), &[r], budget(60, 3600)),
            [t0() + TimeDelta::seconds(300)]
        );
        // A backoff shorter than the poll interval still waits for the interval.
        let mut failed = repo(0.0, Some(5));
        failed.not_before = Some(t0() + TimeDelta::seconds(5));
        assert_eq!(
            due_times(t0(), &[failed], budget(60, 3600)),
            [t0() + TimeDelta::seconds(55)]
        );
    }

    #[test]
    fn error_backoff_starts_short_and_grows_to_half_an_hour() {
        // The poll's own retries already spaced its requests: no minute floor.
        assert_eq!(error_backoff(1, 0.0), Duration::from_secs(5));
        assert_eq!(error_backoff(2, 0.0), Duration::from_secs(10));
        assert_eq!(error_backoff(3, 0.999_999).as_secs(), 29);
        let mut previous = Duration::ZERO;
        for n in 1..=40 {
            let wait = error_backoff(n, 0.0);
            assert!(wait >= previous, "{n}: {wait:?} after {previous:?}");
            previous = wait;
            for unit in [0.0, 0.25, 0.5, 0.999_999] {
                let wait = error_backoff(n, unit);
                assert!(wait >= MIN_ERROR_BACKOFF, "{n} {unit}: {wait:?}");
                assert!(wait <= MAX_ERROR_BACKOFF, "{n} {unit}: {wait:?}");
            }
        }
        assert_eq!(error_backoff(40, 0.0), MAX_ERROR_BACKOFF);
        assert!(error_backoff(1, 0.999_999) < Duration::from_secs(8));
    }

    #[test]
    fn no_plan_overflows_whatever_the_stored_times_and_budget() {
        let max = DateTime::<Utc>::MAX_UTC;
        let mut r = repo(1.0, None);
        r.last_polled_at = Some(max - TimeDelta::seconds(1));
        r.poll_interval = Duration::from_secs(100_000_000_000_000_000);
        r.not_before = Some(max);
        for b in [
            Budget {
                remaining: 0,
                reset_at: max,
                limit: 60,
            },
            Budget {
                remaining: 1,
                reset_at: max,
                limit: 0,
            },
            budget(60, 3600),
        ] {
            assert_eq!(due_times(t0(), &[r.clone()], b), [max], "{b:?}");
        }
        assert_eq!(
            rate_limited_until(max, Some(Duration::from_secs(u64::MAX)), None, 1),
            max
        );
        assert_eq!(
            rate_limited_until(
                t0(),
                None,
                Some(Budget {
                    remaining: 0,
                    reset_at: max,
                    limit: 60
                }),
                1
            ),
            max
        );
        assert_eq!(rate_limited_until(max, None, None, 40), max);
    }

    #[test]
    fn a_scarce_budget_plans_past_the_reset_with_the_next_window() {
        // 8 requests an hour, 4 left, the reset in 50 minutes, five quiet repositories polled
        // just now: the 4 left would space them 62.5 minutes apart, 12.5 minutes past the
        // reset. The new window's 8 requests give each a poll every 37.5 minutes, which has
        // passed by the reset: each is due at the reset.
        let repos: Vec<_> = (0..5).map(|_| repo(0.1, Some(0))).collect();
        let b = Budget {
            remaining: 4,
            reset_at: t0() + TimeDelta::minutes(50),
            limit: 8,
        };
        for due in due_times(t0(), &repos, b) {
            assert_eq!(due, b.reset_at + RESET_MARGIN);
        }
        // A plentiful next window does not pull a poll before the reset.
        let b = Budget { limit: 5000, ..b };
        for due in due_times(t0(), &repos, b) {
            assert_eq!(due, b.reset_at + RESET_MARGIN);
        }
        // With budget enough before the reset, nothing changes.
        let plenty = Budget { remaining: 60, ..b };
        for due in due_times(t0(), &repos, plenty) {
            assert!(due < b.reset_at, "{due}");
        }
    }

    #[test]
    fn rate_limited_waits_follow_github() {
        let now = t0();
        assert_eq!(
            rate_limited_until(now, Some(Duration::from_secs(30)), None, 1),
            now + TimeDelta::seconds(30)
        );
        assert_eq!(
            rate_limited_until(now, None, Some(budget(0, 100)), 1),
            now + TimeDelta::seconds(100) + RESET_MARGIN
        );
        assert_eq!(
            rate_limited_until(now, None, Some(budget(5, 100)), 3),
            now + TimeDelta::minutes(4)
        );
    }

    #[test]
    fn event_rate_takes_the_busier_of_recent_and_daily() {
        let ev = |mins: i64| EventMeta {
            id: 1,
            event_type: "X".into(),
            created_at: t0() - TimeDelta::minutes(mins),
            actor: Default::default(),
            action: None,
        };
        let burst: Vec<_> = (0..30).map(ev).collect();
        assert_eq!(events_per_hour(&burst, t0()), 10.0);
        let spread: Vec<_> = (0..48).map(|i| ev(60 * 4 + i * 20)).collect();
        assert_eq!(events_per_hour(&spread, t0()), 2.0);
    }
}
