//! When to poll which repository. Pure: the clock and every input are passed in, so the
//! schedule is tested (and simulated over whole days) without any server.
//!
//! Polls are shared among the repositories in proportion to the square root of their event
//! rates — the split that minimises the mean delay of events for a fixed number of polls
//! (delay of R is interval/2, cost 1/interval; Lagrange gives interval ∝ 1/√rate) — and no
//! repository is polled faster than its `X-Poll-Interval`. Polls a fast repository cannot use
//! go to the others.
//!
//! How many polls there are depends on what a poll costs. Without a token every answer
//! counts, so the remaining budget until the reset is the number of polls. With one, a `304`
//! is free: a poll costs only when it finds something, which a repository with `λ` events a
//! second polled every `T` seconds does with probability `1 − e^(−λT)`, and then costs the
//! counted requests its finding polls have cost lately (pages, retries: learned per
//! repository). The plan takes as many polls as GitHub's secondary limit allows
//! ([`MAX_POLLS_PER_MINUTE`]) when their expected cost fits the budget with a reserve
//! ([`AUTHENTICATED_RESERVE`]), else the most that fit, shared the same way, so the busy
//! repositories keep the larger shares.

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
/// GitHub's secondary rate limit allows no more than 900 requests a minute to one endpoint,
/// `304`s included. Polls start at most this often — two thirds of it, leaving room for the
/// further pages and retries of the polls that find something — and at least
/// [`poll_spacing`] apart, so no minute ever holds a burst.
pub const MAX_POLLS_PER_MINUTE: u32 = 600;
/// With a token, the share of the budget the plan leaves unspent: the expected cost is an
/// estimate, and a burst of events spends more than it said. What is left over shows in the
/// next plan (the budget is what GitHub reports remaining) and is spent then.
pub const AUTHENTICATED_RESERVE: f64 = 0.1;

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
    /// The counted requests a poll that finds something has cost this repository lately
    /// (page 1, further pages, retries): at least one.
    pub counted_per_find: f64,
}

/// The shared budget as GitHub last reported it.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    pub remaining: u32,
    pub reset_at: DateTime<Utc>,
    /// What the next window grants: a plan past the reset is made with it.
    pub limit: u32,
    /// With a token a `304` costs nothing, so a poll costs only when it finds something.
    pub authenticated: bool,
}

/// The shortest gap between the starts of two polls of any repositories.
pub fn poll_spacing() -> TimeDelta {
    TimeDelta::milliseconds(60_000 / i64::from(MAX_POLLS_PER_MINUTE))
}

/// Without a token: the average gap between two polls of each of `repos` repositories that a
/// budget of `limit` requests an hour allows (never less than the economy interval).
pub fn unauthenticated_gap(repos: usize, limit: u32) -> Duration {
    let spread = Duration::from_secs(3600)
        .mul_f64(repos as f64 / f64::from(limit.max(1)))
        .min(Duration::from_secs(100 * 24 * 3600));
    spread.max(UNAUTHENTICATED_MIN_INTERVAL)
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
    let now_rates = plan(
        f64::from(budget.remaining) / until_reset,
        repos,
        budget.authenticated,
    );
    // A scarce budget can push a poll past the reset; from then on the next window's budget
    // applies, so the poll is planned with it (and never later than the scarce plan).
    let fresh_rates = plan(
        f64::from(budget.limit) / 3600.0,
        repos,
        budget.authenticated,
    );
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

/// Polls per second for each repository when `budget` counted requests a second may be spent.
fn plan(budget: f64, repos: &[RepoTiming], authenticated: bool) -> Vec<f64> {
    let most = f64::from(MAX_POLLS_PER_MINUTE) / 60.0;
    let by_rate: Vec<f64> = repos.iter().map(|r| rate_of(r).sqrt()).collect();
    if !authenticated {
        return share(budget.min(most), repos, &by_rate);
    }
    let affordable = budget * (1.0 - AUTHENTICATED_RESERVE);
    let fastest = share(most, repos, &by_rate);
    if expected_cost(repos, &fastest) <= affordable {
        return fastest;
    }
    // Events arriving at `λ`, polled `r` times a second, wait `λ/2r` in all, and cost `C(r)`
    // counted requests a second. The least delay for the budget gives each repository the `r`
    // that minimises `λ/2r + μ·C(r)`, for the one `μ` at which the costs fit. `C` is not
    // convex (a quiet repository's polls are free until they find something), so each
    // repository's best `r` is looked for over its whole range; a larger `μ` never picks a
    // costlier `r`, so `μ` is found by bisection.
    let pick = |mu: f64| -> Vec<f64> {
        repos
            .iter()
            .map(|r| best_rate(r, mu, 1.0 / shortest_gap(r).as_secs_f64().max(1.0)))
            .collect()
    };
    // 24 halvings of 18 decades find `μ` to a few parts in a million: the plan runs for
    // every poll and every published snapshot, so it is kept to a few milliseconds.
    let (mut cheap, mut dear) = (1e-6_f64, 1e12_f64);
    for _ in 0..24 {
        let mu = (cheap * dear).sqrt();
        if expected_cost(repos, &pick(mu)) <= affordable {
            dear = mu;
        } else {
            cheap = mu;
        }
    }
    let rates = pick(dear);
    // Fewer polls cost less: above the secondary limit's share they are cut in proportion.
    if rates.iter().sum::<f64>() > most {
        return share(most, repos, &rates);
    }
    rates
}

/// The `r` in `(0, cap]` that minimises `λ/2r + μ·C(r)`: the best of a geometric grid over
/// 16 halvings of the cap, refined between its neighbours.
fn best_rate(r: &RepoTiming, mu: f64, cap: f64) -> f64 {
    const STEPS: i32 = 24;
    let lambda = rate_of(r);
    let score = |rate: f64| lambda / (2.0 * rate) + mu * rate * poll_cost(r, rate);
    let at = |k: i32| cap * 2f64.powf(-16.0 * f64::from(k) / f64::from(STEPS));
    let best = (0..=STEPS)
        .min_by(|&a, &b| score(at(a)).total_cmp(&score(at(b))))
        .unwrap_or(0);
    let (mut lo, mut hi) = (at((best + 1).min(STEPS)), at((best - 1).max(0)));
    for _ in 0..12 {
        let (a, b) = (lo + (hi - lo) / 3.0, hi - (hi - lo) / 3.0);
        if score(a) <= score(b) {
            hi = b;
        } else {
            lo = a;
        }
    }
    let refined = (lo + hi) / 2.0;
    if score(refined) < score(at(best)) {
        refined
    } else {
        at(best)
    }
}

/// Events a second, with the quiet repositories' floor.
fn rate_of(r: &RepoTiming) -> f64 {
    r.events_per_hour.max(MIN_EVENTS_PER_HOUR) / 3600.0
}

/// The counted requests one poll of `r` is expected to cost when polled `rate` times a
/// second, with a token: only a poll that finds something counts.
fn poll_cost(r: &RepoTiming, rate: f64) -> f64 {
    if rate <= 0.0 {
        return r.counted_per_find.max(1.0);
    }
    (1.0 - (-rate_of(r) / rate).exp()) * r.counted_per_find.max(1.0)
}

/// Counted requests a second that polling each repository at `rates` polls a second is
/// expected to cost, with a token.
fn expected_cost(repos: &[RepoTiming], rates: &[f64]) -> f64 {
    repos
        .iter()
        .zip(rates)
        .map(|(r, &rate)| rate * poll_cost(r, rate))
        .sum()
}

/// Water-filling: polls per second for each repository, proportional to its weight, capped
/// at one per shortest gap, summing to at most `total`.
fn share(total: f64, repos: &[RepoTiming], weights: &[f64]) -> Vec<f64> {
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
            counted_per_find: 1.0,
        }
    }

    fn budget(remaining: u32, secs_to_reset: i64) -> Budget {
        Budget {
            remaining,
            reset_at: t0() + TimeDelta::seconds(secs_to_reset),
            limit: 60,
            authenticated: false,
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
        let rates = share_by_rate(40.0 / 3600.0, &[repo(100.0, Some(0)), repo(1.0, Some(0))]);
        let per_hour: Vec<f64> = rates.iter().map(|r| r * 3600.0).collect();
        assert!((per_hour[0] - 400.0 / 11.0).abs() < 1e-6, "{per_hour:?}");
        assert!((per_hour[1] - 40.0 / 11.0).abs() < 1e-6, "{per_hour:?}");
    }

    #[test]
    fn a_capped_repository_leaves_its_share_to_the_others() {
        // 100 polls/hour: the busy one is capped at 60 (every 60 s), the rest is shared.
        let rates = share_by_rate(
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
            let rates = share_by_rate(f64::from(remaining) / 3600.0, &repos);
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
        let rates = share_by_rate(60.0 / 3600.0, &[busy.clone(), quiet]);
        let per_hour: Vec<f64> = rates.iter().map(|r| r * 3600.0).collect();
        assert!((per_hour[0] - 15.0).abs() < 1e-6, "{per_hour:?}");
        assert!((per_hour[1] - 15.0).abs() < 1e-6, "{per_hour:?}");
        // A poll the user asked for waits only for the poll interval.
        busy.urgent = true;
        let due = due_times(t0(), &[busy], budget(60, 3600));
        assert_eq!(due, [t0() + TimeDelta::seconds(60)]);
    }

    fn share_by_rate(total: f64, repos: &[RepoTiming]) -> Vec<f64> {
        let weights: Vec<f64> = repos.iter().map(|r| rate_of(r).sqrt()).collect();
        share(total, repos, &weights)
    }

    fn authenticated(remaining: u32, secs_to_reset: i64) -> Budget {
        Budget {
            limit: 5000,
            authenticated: true,
            ..budget(remaining, secs_to_reset)
        }
    }

    /// Polls an hour of each repository as planned.
    fn polls_per_hour(repos: &[RepoTiming], b: Budget) -> Vec<f64> {
        due_times(t0(), repos, b)
            .iter()
            .zip(repos)
            .map(|(due, r)| {
                let last = r.last_polled_at.unwrap_or(t0());
                3600.0 / ((*due - last).num_milliseconds() as f64 / 1000.0)
            })
            .collect()
    }

    #[test]
    fn with_a_token_free_304s_let_every_repository_be_polled_at_its_poll_interval() {
        // 100 repositories of 20 events an hour with X-Poll-Interval 10 s: 36,000 polls an
        // hour, of which about 2,000 find something. As if every poll counted, the 5,000 left
        // would poll each once every 72 s.
        let repos: Vec<_> = (0..100)
            .map(|_| RepoTiming {
                poll_interval: Duration::from_secs(10),
                ..repo(20.0, Some(10))
            })
            .collect();
        assert_eq!(
            due_times(t0(), &repos, authenticated(5000, 3600)),
            vec![t0(); 100]
        );
        // Without a token every 304 counts: the budget is the number of polls.
        let unauth = polls_per_hour(&repos, budget(5000, 3600));
        assert!(unauth.iter().all(|p| (p - 50.0).abs() < 0.1), "{unauth:?}");
    }

    #[test]
    fn polls_stay_well_under_the_secondary_limit() {
        // 200 repositories with X-Poll-Interval 10 s would be 1,200 polls a minute.
        let repos: Vec<_> = (0..200)
            .map(|k| RepoTiming {
                poll_interval: Duration::from_secs(10),
                ..repo(if k < 20 { 60.0 } else { 1.0 }, Some(10))
            })
            .collect();
        let per_hour = polls_per_hour(&repos, authenticated(5000, 3600));
        let per_minute = per_hour.iter().sum::<f64>() / 60.0;
        assert!(
            (per_minute - f64::from(MAX_POLLS_PER_MINUTE)).abs() < 1.0,
            "{per_minute}"
        );
        assert!(
            per_hour[0] > 2.0 * per_hour[199],
            "busy ones more often: {per_hour:?}"
        );
        assert_eq!(poll_spacing(), TimeDelta::milliseconds(100));
    }

    #[test]
    fn with_a_token_a_scarce_budget_fits_the_expected_cost_with_the_reserve() {
        // 1,000 requests left for the hour (others spend the token too); X-Poll-Interval 10 s;
        // 20 busy repositories (60 events an hour) and 80 quiet ones (one an hour). At their
        // poll interval they would cost about 1,180 counted requests an hour.
        let mut repos: Vec<_> = (0..20)
            .map(|_| RepoTiming {
                poll_interval: Duration::from_secs(10),
                ..repo(60.0, Some(0))
            })
            .collect();
        repos.extend((0..80).map(|_| RepoTiming {
            poll_interval: Duration::from_secs(10),
            ..repo(1.0, Some(0))
        }));
        let per_hour = polls_per_hour(&repos, authenticated(1000, 3600));
        let cost: f64 = per_hour
            .iter()
            .zip(&repos)
            .map(|(p, r)| p * (1.0 - (-r.events_per_hour / p).exp()))
            .sum();
        assert!(cost <= 900.0 + 0.5, "the reserve is kept: {cost}");
        assert!(cost >= 890.0, "the rest is spent: {cost}");
        // Far more polls than requests: most find nothing and are free.
        let polls: f64 = per_hour.iter().sum();
        assert!(polls > 5.0 * 1000.0, "{polls}");
        // Every repository is polled more often than if every poll counted.
        let as_if_counted = share_by_rate(900.0 / 3600.0, &repos);
        for (p, old) in per_hour.iter().zip(&as_if_counted) {
            assert!(*p > old * 3600.0, "{p} {}", old * 3600.0);
        }
        // A quiet one's polls are nearly free: it is polled at its poll interval, and the
        // budget is spent where the polls find events.
        assert!(
            per_hour[20..].iter().all(|p| (p - 360.0).abs() < 0.1),
            "{per_hour:?}"
        );
        assert!(per_hour[..20].iter().all(|p| *p < 100.0), "{per_hour:?}");
    }

    #[test]
    fn without_a_token_the_gap_per_repository_follows_the_budget() {
        assert_eq!(unauthenticated_gap(5, 60), Duration::from_secs(300));
        assert_eq!(unauthenticated_gap(1, 60), UNAUTHENTICATED_MIN_INTERVAL);
        assert_eq!(unauthenticated_gap(200, 60), Duration::from_secs(12_000));
        assert_eq!(unauthenticated_gap(200, 0), Duration::from_secs(720_000));
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
                authenticated: false,
            },
            Budget {
                remaining: 1,
                reset_at: max,
                limit: 0,
                authenticated: true,
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
                    limit: 60,
                    authenticated: false,
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
            authenticated: false,
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
