//! Every number GitHub sends — `X-Poll-Interval`, `retry-after`, `x-ratelimit-*`, `Date`, the
//! ETag — is bounded here before anything uses or stores it, and so is the polling plan read
//! back from the store. A header is data from the network: one absurd value must cost at most
//! one bounded wait, never a panic, a silent repository for years, or a store that makes
//! every later start fail.
//!
//! It also holds the saturating time arithmetic the schedule does with these values: an
//! instant plus a wait is at most the last instant chrono can hold, never an overflow.

use std::time::{Duration, SystemTime};

use chrono::{DateTime, TimeDelta, Utc};

use crate::github::rate_limit::RateLimit;
use crate::store::RepoState;

/// The shortest `X-Poll-Interval` obeyed as given (GitHub sends 60; tests use 1).
pub const MIN_POLL_INTERVAL: Duration = Duration::from_secs(1);
/// The longest `X-Poll-Interval` obeyed: GitHub raises it under load, to minutes, not days.
pub const MAX_POLL_INTERVAL: Duration = Duration::from_secs(3600);
/// The longest wait a rate-limit answer can impose (`retry-after`, `x-ratelimit-reset`):
/// GitHub's rate-limit windows are an hour long.
pub const MAX_WAIT: Duration = Duration::from_secs(3600);
/// A server clock further than this from ours (`Date`) is not believed: the reset is then
/// read as if both clocks agreed.
pub const MAX_CLOCK_SKEW: TimeDelta = TimeDelta::days(1);
/// ETags longer than this are not stored, so never sent back: GitHub's are under 100 bytes,
/// and a huge one sent back gets `431 Request Header Fields Too Large` for ever.
pub const MAX_ETAG_BYTES: usize = 8 * 1024;
/// An event created further ahead of its arrival than this counts at its arrival time.
pub const MAX_FUTURE: TimeDelta = TimeDelta::days(1);
/// The furthest ahead a plan made under these bounds can lie: the longest wait plus the
/// margin kept past a reset. A stored plan beyond it was not made by these rules (an older
/// ghpulse obeyed any header) and is made again.
pub const MAX_PLAN_AHEAD: TimeDelta = TimeDelta::seconds(MAX_WAIT.as_secs() as i64 + 60);

/// `X-Poll-Interval` in seconds, within [`MIN_POLL_INTERVAL`, `MAX_POLL_INTERVAL`]. Zero is
/// no interval GitHub sends (it would mean a poll a second): it is ignored, and the previous
/// interval (or the usual 60 s) stays.
pub fn poll_interval(secs: u64) -> Option<Duration> {
    (secs > 0).then(|| Duration::from_secs(secs).clamp(MIN_POLL_INTERVAL, MAX_POLL_INTERVAL))
}

/// Server clock minus ours, from a `Date` header; `None` beyond [`MAX_CLOCK_SKEW`].
pub fn clock_skew(server_date: SystemTime, now: DateTime<Utc>) -> Option<TimeDelta> {
    let skew = instant_of(server_date)?.signed_duration_since(now);
    (skew.abs() <= MAX_CLOCK_SKEW).then_some(skew)
}

/// `retry-after` (RFC 9110 10.2.3): delay-seconds, or an HTTP date read in the server's clock.
/// At most [`MAX_WAIT`]; a date in the past is no wait.
pub fn retry_after(value: &str, now: DateTime<Utc>, skew: TimeDelta) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs).min(MAX_WAIT));
    }
    let at = shifted(instant_of(httpdate::parse_http_date(value).ok()?)?, -skew);
    let wait = at.signed_duration_since(now).to_std().unwrap_or_default();
    Some(wait.min(MAX_WAIT))
}

/// `x-ratelimit-reset` (epoch seconds, the server's clock) in our clock, within
/// [`MAX_WAIT`] of `now` either way: the budget comes back within the hour.
pub fn reset_at(epoch_secs: u64, now: DateTime<Utc>, skew: TimeDelta) -> DateTime<Utc> {
    let server = i64::try_from(epoch_secs)
        .ok()
        .and_then(|s| DateTime::from_timestamp(s, 0))
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    let limit = delta(MAX_WAIT);
    shifted(server, -skew).clamp(shifted(now, -limit), shifted(now, limit))
}

/// The `x-ratelimit-*` figures as numbers a budget can be planned with: each fits a `u32`,
/// and nothing remains or is used beyond the limit.
pub fn rate_limit(
    limit: u64,
    remaining: u64,
    used: Option<u64>,
    reset_at: DateTime<Utc>,
) -> RateLimit {
    let limit = u32::try_from(limit).unwrap_or(u32::MAX);
    let remaining = u32::try_from(remaining).unwrap_or(u32::MAX).min(limit);
    let used = used.map_or(limit - remaining, |u| u32::try_from(u).unwrap_or(u32::MAX));
    RateLimit {
        limit,
        remaining,
        used: used.min(limit),
        reset_at,
        assumed: false,
    }
}

/// An ETag worth sending back: not `*` (which matches anything, so every poll would be a
/// `304`), not empty, at most [`MAX_ETAG_BYTES`].
pub fn etag(value: &str) -> Option<String> {
    let value = value.trim();
    (!value.is_empty() && value != "*" && value.len() <= MAX_ETAG_BYTES).then(|| value.to_string())
}

/// When an event counts: its `created_at`, unless that lies more than [`MAX_FUTURE`] past
/// its arrival — no event is published before it is created, so such a date is wrong, and
/// taken as given it would never leave the window nor be pruned.
pub fn counted_at(created_at: DateTime<Utc>, arrived: DateTime<Utc>) -> DateTime<Utc> {
    if created_at > shifted(arrived, MAX_FUTURE) {
        arrived
    } else {
        created_at
    }
}

/// A repository's polling state as read back from the store, within today's bounds: a plan
/// beyond [`MAX_PLAN_AHEAD`], an interval or an ETag out of bounds were not made by these
/// rules (an older ghpulse obeyed any header) and are dropped, so the schedule makes them
/// again (the usual 60 s until GitHub says otherwise); a last poll in the future is now.
pub fn stored_state(mut state: RepoState, now: DateTime<Utc>) -> RepoState {
    let furthest = shifted(now, MAX_PLAN_AHEAD);
    let bounds = MIN_POLL_INTERVAL.as_secs()..=MAX_POLL_INTERVAL.as_secs();
    state.last_polled_at = state.last_polled_at.map(|t| t.min(now));
    state.next_poll_at = state.next_poll_at.filter(|&t| t <= furthest);
    state.backoff_until = state.backoff_until.filter(|&t| t <= furthest);
    state.poll_interval_secs = state.poll_interval_secs.filter(|s| bounds.contains(s));
    state.etag = state.etag.as_deref().and_then(etag);
    state
}

/// The rate-limit figures as read back from the store, within today's bounds.
pub fn stored_rate_limit(rl: RateLimit, now: DateTime<Utc>) -> RateLimit {
    let reset_at = rl.reset_at.min(shifted(now, delta(MAX_WAIT)));
    rate_limit(
        rl.limit.into(),
        rl.remaining.into(),
        Some(rl.used.into()),
        reset_at,
    )
}

/// A wait as a chrono delta; one too long for chrono is the longest it holds.
pub fn delta(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

/// `t + d`, saturating at the first and last instants chrono can hold.
pub fn shifted(t: DateTime<Utc>, d: TimeDelta) -> DateTime<Utc> {
    t.checked_add_signed(d).unwrap_or(if d < TimeDelta::zero() {
        DateTime::<Utc>::MIN_UTC
    } else {
        DateTime::<Utc>::MAX_UTC
    })
}

/// `t + d` for a wait, saturating.
pub fn after(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    shifted(t, delta(d))
}

/// A `SystemTime` as a chrono instant, if chrono can hold it.
fn instant_of(t: SystemTime) -> Option<DateTime<Utc>> {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(since) => {
            let secs = i64::try_from(since.as_secs()).ok()?;
            DateTime::from_timestamp(secs, since.subsec_nanos())
        }
        Err(before) => {
            let secs = i64::try_from(before.duration().as_secs()).ok()?;
            DateTime::from_timestamp(-secs, 0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-11-22T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn poll_intervals_are_clamped_and_zero_is_ignored() {
        assert_eq!(poll_interval(60), Some(Duration::from_secs(60)));
        assert_eq!(poll_interval(1), Some(MIN_POLL_INTERVAL));
        assert_eq!(poll_interval(0), None, "0 would mean a poll a second");
        for absurd in [
            999_999,
            10_000_000_000_000,
            100_000_000_000_000_000,
            u64::MAX,
        ] {
            assert_eq!(poll_interval(absurd), Some(MAX_POLL_INTERVAL), "{absurd}");
        }
    }

    #[test]
    fn retry_after_is_at_most_an_hour_in_seconds_or_as_a_date() {
        let skew = TimeDelta::zero();
        assert_eq!(
            retry_after("30", now(), skew),
            Some(Duration::from_secs(30))
        );
        for absurd in ["10000000000000", "1000000000", "18446744073709551615"] {
            assert_eq!(retry_after(absurd, now(), skew), Some(MAX_WAIT), "{absurd}");
        }
        assert_eq!(
            retry_after("Fri, 31 Dec 9999 23:59:59 GMT", now(), skew),
            Some(MAX_WAIT)
        );
        assert_eq!(
            retry_after("Thu, 01 Jan 1970 00:00:00 GMT", now(), skew),
            Some(Duration::ZERO),
            "a date in the past is no wait"
        );
        let in_two_minutes = httpdate::fmt_http_date((now() + TimeDelta::minutes(2)).into());
        assert_eq!(
            retry_after(&in_two_minutes, now(), skew),
            Some(Duration::from_secs(120))
        );
        // The server's clock runs a minute ahead: its date is a minute later than ours.
        assert_eq!(
            retry_after(&in_two_minutes, now(), TimeDelta::minutes(1)),
            Some(Duration::from_secs(60))
        );
        assert_eq!(retry_after("soon", now(), skew), None);
        assert_eq!(retry_after("-5", now(), skew), None);
    }

    #[test]
    fn resets_lie_within_an_hour_of_now_whatever_the_header_and_the_date() {
        let hour = TimeDelta::hours(1);
        let in_ten_minutes = (now() + TimeDelta::minutes(10)).timestamp() as u64;
        assert_eq!(
            reset_at(in_ten_minutes, now(), TimeDelta::zero()),
            now() + TimeDelta::minutes(10)
        );
        let chrono_max = DateTime::<Utc>::MAX_UTC.timestamp() as u64;
        let billion_ahead = now().timestamp() as u64 + 1_000_000_000;
        for (reset, skew) in [
            (billion_ahead, TimeDelta::zero()),
            (chrono_max, TimeDelta::zero()),
            // A reset near the maximum with a `Date` in the past: the largest skew there is.
            (chrono_max, -MAX_CLOCK_SKEW),
            (u64::MAX, MAX_CLOCK_SKEW),
        ] {
            assert_eq!(reset_at(reset, now(), skew), now() + hour, "{reset} {skew}");
        }
        assert_eq!(reset_at(0, now(), TimeDelta::zero()), now() - hour);
    }

    #[test]
    fn a_date_far_from_our_clock_is_not_believed() {
        let at = |t: DateTime<Utc>| SystemTime::from(t);
        assert_eq!(
            clock_skew(at(now() + TimeDelta::seconds(3)), now()),
            Some(TimeDelta::seconds(3))
        );
        assert_eq!(clock_skew(at(now() - TimeDelta::days(2)), now()), None);
        assert_eq!(clock_skew(SystemTime::UNIX_EPOCH, now()), None);
        let year_9999 = httpdate::parse_http_date("Fri, 31 Dec 9999 23:59:59 GMT").unwrap();
        assert_eq!(clock_skew(year_9999, now()), None);
    }

    #[test]
    fn rate_limit_figures_fit_their_types() {
        let rl = rate_limit(u64::MAX, u64::MAX, None, now());
        assert_eq!((rl.limit, rl.remaining, rl.used), (u32::MAX, u32::MAX, 0));
        let rl = rate_limit(60, 5_000_000_000, Some(10), now());
        assert_eq!((rl.limit, rl.remaining, rl.used), (60, 60, 10));
        let rl = rate_limit(60, 41, None, now());
        assert_eq!((rl.limit, rl.remaining, rl.used), (60, 41, 19));
    }

    #[test]
    fn only_etags_worth_sending_back_are_kept() {
        assert_eq!(etag("W/\"abc\"").as_deref(), Some("W/\"abc\""));
        assert_eq!(etag("*"), None);
        assert_eq!(etag(" * "), None);
        assert_eq!(etag(""), None);
        assert!(etag(&"x".repeat(MAX_ETAG_BYTES)).is_some());
        assert_eq!(etag(&"x".repeat(MAX_ETAG_BYTES + 1)), None);
        assert_eq!(etag(&"x".repeat(100 * 1024)), None);
    }

    #[test]
    fn an_event_from_the_far_future_counts_at_its_arrival() {
        let year_9999: DateTime<Utc> = "9999-12-31T23:59:59Z".parse().unwrap();
        assert_eq!(counted_at(year_9999, now()), now());
        let soon = now() + TimeDelta::hours(23);
        assert_eq!(
            counted_at(soon, now()),
            soon,
            "a fast clock is not a wrong date"
        );
        let old: DateTime<Utc> = "2012-03-01T00:00:00Z".parse().unwrap();
        assert_eq!(counted_at(old, now()), old);
        assert_eq!(
            counted_at(DateTime::<Utc>::MAX_UTC, DateTime::<Utc>::MAX_UTC),
            DateTime::<Utc>::MAX_UTC
        );
    }

    #[test]
    fn a_stored_plan_beyond_the_bounds_is_made_again() {
        let year_2058: DateTime<Utc> = "2058-01-01T00:00:00Z".parse().unwrap();
        let absurd = RepoState {
            last_polled_at: Some(DateTime::<Utc>::MAX_UTC),
            next_poll_at: Some(year_2058),
            backoff_until: Some(DateTime::<Utc>::MAX_UTC),
            poll_interval_secs: Some(100_000_000_000_000_000),
            etag: Some("*".into()),
            ..RepoState::default()
        };
        let s = stored_state(absurd, now());
        assert_eq!(s.last_polled_at, Some(now()));
        assert_eq!((s.next_poll_at, s.backoff_until), (None, None));
        assert_eq!(
            s.poll_interval_secs, None,
            "the usual interval until GitHub says"
        );
        assert_eq!(s.etag, None);

        let sane = RepoState {
            last_polled_at: Some(now() - TimeDelta::seconds(30)),
            next_poll_at: Some(now() + TimeDelta::seconds(30)),
            backoff_until: Some(now() + TimeDelta::minutes(59)),
            poll_interval_secs: Some(60),
            etag: Some("W/\"a\"".into()),
            ..RepoState::default()
        };
        assert_eq!(stored_state(sane.clone(), now()), sane, "kept as it was");

        let rl = RateLimit {
            limit: 60,
            remaining: 0,
            used: 60,
            reset_at: DateTime::<Utc>::MAX_UTC,
            assumed: false,
        };
        assert_eq!(
            stored_rate_limit(rl, now()).reset_at,
            now() + TimeDelta::hours(1)
        );
    }

    #[test]
    fn time_arithmetic_saturates() {
        assert_eq!(
            after(DateTime::<Utc>::MAX_UTC, Duration::from_secs(1)),
            DateTime::<Utc>::MAX_UTC
        );
        assert_eq!(
            after(now(), Duration::from_secs(u64::MAX)),
            DateTime::<Utc>::MAX_UTC
        );
        assert_eq!(
            shifted(DateTime::<Utc>::MIN_UTC, -TimeDelta::days(1)),
            DateTime::<Utc>::MIN_UTC
        );
        assert_eq!(delta(Duration::from_secs(u64::MAX)), TimeDelta::MAX);
    }
}
