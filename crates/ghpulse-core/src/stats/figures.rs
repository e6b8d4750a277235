//! The statistics of SPEC section 3, as pure functions of stored events and a clock.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::config::load::Window;
use crate::github::event::EventMeta;

/// A stretch of time in which events may be missing: a poll found no event it already had.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gap {
    pub detected_at: DateTime<Utc>,
    /// Newest stored event before the gap.
    pub from: DateTime<Utc>,
    /// Oldest event the gap-revealing poll could still see.
    pub to: DateTime<Utc>,
    pub estimated_missing: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TypeStats {
    pub event_type: String,
    pub count: u64,
    pub avg_seconds_between: Option<f64>,
    pub median_seconds_between: Option<f64>,
    pub p25_seconds_between: Option<f64>,
    pub p75_seconds_between: Option<f64>,
    pub p90_seconds_between: Option<f64>,
    pub last_event_at: DateTime<Utc>,
    /// Only with `by=action` (SPEC section 3a): the same figures for each action of the type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actions: Option<Vec<ActionStats>>,
}

/// The figures of one action of an event type; `action` is null for events without one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ActionStats {
    pub action: Option<String>,
    pub count: u64,
    pub avg_seconds_between: Option<f64>,
    pub median_seconds_between: Option<f64>,
    pub p25_seconds_between: Option<f64>,
    pub p75_seconds_between: Option<f64>,
    pub p90_seconds_between: Option<f64>,
    pub last_event_at: DateTime<Utc>,
}

/// Which figures a caller lists. None of these changes the window or `events_in_window`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Selection<'a> {
    /// Section 3's `type` filter: which event types are listed.
    pub event_type: Option<&'a str>,
    /// Section 3a's `action` filter: each type's figures cover only its events with this action.
    pub action: Option<&'a str>,
    /// Section 3a's `by=action`: each listed type also carries its figures by action.
    pub by_action: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RepoStats {
    pub repo: String,
    pub events_in_window: u64,
    pub window_start: Option<DateTime<Utc>>,
    pub window_end: Option<DateTime<Utc>>,
    /// Events of the window may be missing from the store: see `partial_reason`.
    pub partial: bool,
    /// Why `partial` (null when it is false).
    pub partial_reason: Option<PartialReason>,
    pub event_types: Vec<TypeStats>,
}

/// Why figures may be computed over an incomplete window (SPEC section 4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PartialReason {
    /// A read is owed: a poll was cut before it reached the events stored before, or the
    /// first read has not gone through yet.
    CatchingUp,
    /// A recorded gap overlaps the window: more events arrived than one poll could read.
    Gap,
}

impl PartialReason {
    pub fn as_str(self) -> &'static str {
        match self {
            PartialReason::CatchingUp => "catching_up",
            PartialReason::Gap => "gap",
        }
    }
}

/// One watched repository's stored events: E(R) newest first (the store's order), or the
/// prefix of it a figure needs (the newest `max_events`, or every event newer than an
/// offset), with what is known to be missing from them.
#[derive(Clone, Copy, Debug)]
pub struct RepoEvents<'a> {
    pub repo: &'a str,
    pub events: &'a [EventMeta],
    pub gaps: &'a [Gap],
    /// A read is owed (`RepoState::catching_up`): events may be missing from the newest on.
    pub catching_up: bool,
}

/// The body of `GET /api/stats` and of `ghpulse stats --json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatsReport {
    pub generated_at: DateTime<Utc>,
    pub window: WindowReport,
    pub repositories: Vec<RepoReport>,
}

/// One repository of a [`StatsReport`]: its figures, and how its polling stands, so that
/// "0 events" can be told apart from "never polled" or "the last poll failed".
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RepoReport {
    #[serde(flatten)]
    pub figures: RepoStats,
    /// When its last poll ended, successful or not (null: never polled).
    pub last_polled_at: Option<DateTime<Utc>>,
    /// Why its last poll failed (null when it succeeded or none has run).
    pub last_error: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WindowReport {
    pub max_age_seconds: u64,
    pub max_events: u64,
}

impl From<Window> for WindowReport {
    fn from(w: Window) -> Self {
        WindowReport {
            max_age_seconds: w.max_age.as_secs(),
            max_events: w.max_events as u64,
        }
    }
}

/// Truncates to the millisecond: every figure is reported at that precision.
pub fn to_millis(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap_or(t)
}

/// W(R): `events` is E(R) (or a prefix of it holding at least `max_events`), newest first by
/// `created_at`, ties by larger id first, as the store returns it.
pub fn window_events<'a>(
    events: &'a [EventMeta],
    now: DateTime<Utc>,
    w: &Window,
) -> &'a [EventMeta] {
    debug_assert!(
        events
            .windows(2)
            .all(|p| p[0].order_key() >= p[1].order_key())
    );
    let newest = &events[..events.len().min(w.max_events)];
    // An age beyond what a date can hold (config refuses them, but never panic) is no limit.
    let oldest_allowed = TimeDelta::from_std(w.max_age)
        .ok()
        .and_then(|age| now.checked_sub_signed(age))
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    // Newest first, so the events inside the age limit form a prefix.
    let inside = newest.partition_point(|e| e.created_at > oldest_allowed);
    &newest[..inside]
}

/// The figures of one repository; `type_filter` only chooses which types are listed.
pub fn repo_stats(
    r: &RepoEvents<'_>,
    now: DateTime<Utc>,
    w: &Window,
    type_filter: Option<&str>,
) -> RepoStats {
    let selection = Selection {
        event_type: type_filter,
        ..Selection::default()
    };
    selected_repo_stats(r, now, w, &selection)
}

/// The figures of one repository, listed as `selection` asks.
pub fn selected_repo_stats(
    r: &RepoEvents<'_>,
    now: DateTime<Utc>,
    w: &Window,
    selection: &Selection<'_>,
) -> RepoStats {
    let win = window_events(r.events, now, w);
    window_stats(r.repo, win, partial_reason(r, win, now), selection)
}

/// Why events of the window `win` (newest first) of `r` may be missing, if they may: a read
/// is owed, or a recorded gap overlaps the window.
pub fn partial_reason(
    r: &RepoEvents<'_>,
    win: &[EventMeta],
    now: DateTime<Utc>,
) -> Option<PartialReason> {
    let gap = win.last().is_some_and(|start| {
        r.gaps
            .iter()
            .any(|g| g.to > start.created_at && g.from <= now)
    });
    if r.catching_up {
        Some(PartialReason::CatchingUp)
    } else if gap {
        Some(PartialReason::Gap)
    } else {
        None
    }
}

/// The figures over a window already cut — W(R), or the union of windows of section 3a's
/// `combined` — newest first.
pub fn window_stats(
    repo: &str,
    win: &[EventMeta],
    partial: Option<PartialReason>,
    selection: &Selection<'_>,
) -> RepoStats {
    let mut by_type: std::collections::BTreeMap<&str, Vec<&EventMeta>> = Default::default();
    for e in win {
        if selection.event_type.is_none_or(|t| t == e.event_type)
            && selection
                .action
                .is_none_or(|a| e.action.as_deref() == Some(a))
        {
            by_type.entry(&e.event_type).or_default().push(e);
        }
    }
    let event_types = by_type
        .into_iter()
        .map(|(t, events)| {
            let mut stats = type_stats(t, &ascending_times(&events));
            if selection.by_action {
                stats.actions = Some(action_stats(&events));
            }
            stats
        })
        .collect();
    RepoStats {
        repo: repo.to_string(),
        events_in_window: win.len() as u64,
        window_start: win.last().map(|e| e.created_at),
        window_end: win.first().map(|e| e.created_at),
        partial: partial.is_some(),
        partial_reason: partial,
        event_types,
    }
}

fn ascending_times(events: &[&EventMeta]) -> Vec<i64> {
    let mut times: Vec<i64> = events
        .iter()
        .map(|e| e.created_at.timestamp_millis())
        .collect();
    times.sort_unstable();
    times
}

/// By action name, null last.
fn action_stats(events: &[&EventMeta]) -> Vec<ActionStats> {
    let mut by_action: std::collections::BTreeMap<(bool, &str), Vec<&EventMeta>> =
        Default::default();
    for &e in events {
        let key = match e.action.as_deref() {
            Some(a) => (false, a),
            None => (true, ""),
        };
        by_action.entry(key).or_default().push(e);
    }
    by_action
        .into_iter()
        .map(|((none, name), events)| {
            let t = type_stats(name, &ascending_times(&events));
            ActionStats {
                action: (!none).then(|| name.to_string()),
                count: t.count,
                avg_seconds_between: t.avg_seconds_between,
                median_seconds_between: t.median_seconds_between,
                p25_seconds_between: t.p25_seconds_between,
                p75_seconds_between: t.p75_seconds_between,
                p90_seconds_between: t.p90_seconds_between,
                last_event_at: t.last_event_at,
            }
        })
        .collect()
}

/// `times` ascending, in milliseconds, never empty.
fn type_stats(event_type: &str, times: &[i64]) -> TypeStats {
    let n = times.len();
    let first = times[0];
    let last = times[n - 1];
    let mut gaps: Vec<i64> = times.windows(2).map(|p| p[1] - p[0]).collect();
    gaps.sort_unstable();
    let at = |pct| percentile_ms(&gaps, pct).map(ms_to_seconds);
    let avg = (n >= 2).then(|| ms_to_seconds((last - first) as f64 / (n - 1) as f64));
    TypeStats {
        event_type: event_type.to_string(),
        count: n as u64,
        avg_seconds_between: avg,
        median_seconds_between: at(50),
        p25_seconds_between: at(25),
        p75_seconds_between: at(75),
        p90_seconds_between: at(90),
        last_event_at: DateTime::from_timestamp_millis(last).unwrap_or_default(),
        actions: None,
    }
}

/// The `pct`th percentile (0..=100) of `sorted` (ascending, in milliseconds) by section 3's
/// rule — linear interpolation between closest ranks, numpy's default — or None when empty.
/// The rank h = (m-1)·pct/100 is split into whole and hundredths in integers, so a rank that
/// is whole (p50 of an odd count, p90 of 11 values) never lands a float's width below it.
pub fn percentile_ms(sorted: &[i64], pct: u32) -> Option<f64> {
    debug_assert!(pct <= 100 && sorted.windows(2).all(|p| p[0] <= p[1]));
    let m = sorted.len() as u64;
    let scaled = m.checked_sub(1)? * u64::from(pct.min(100));
    let (whole, hundredths) = ((scaled / 100) as usize, scaled % 100);
    let low = sorted[whole];
    Some(match sorted.get(whole + 1) {
        Some(&high) if hundredths > 0 => {
            low as f64 + (high - low) as f64 * hundredths as f64 / 100.0
        }
        _ => low as f64,
    })
}

fn ms_to_seconds(ms: f64) -> f64 {
    ms.round() / 1000.0
}

/// The gap chart of one type: for each event of `event_type` in the window `win` but the
/// first, in time order, its time (ms since the epoch) and the seconds since the previous one
/// of that type — the gaps whose mean and median [`window_stats`] reports.
pub fn type_gaps(win: &[EventMeta], event_type: &str) -> Vec<(i64, f64)> {
    let events: Vec<&EventMeta> = win.iter().filter(|e| e.event_type == event_type).collect();
    ascending_times(&events)
        .windows(2)
        .map(|p| (p[1], ms_to_seconds((p[1] - p[0]) as f64)))
        .collect()
}

/// Events per hour over the last `hours` hours of the window, oldest bucket first.
pub fn hourly_counts(window: &[EventMeta], now: DateTime<Utc>, hours: usize) -> Vec<u64> {
    let mut buckets = vec![0u64; hours];
    for e in window {
        let age_h = (now - e.created_at).num_hours();
        if (0..hours as i64).contains(&age_h) {
            buckets[hours - 1 - age_h as usize] += 1;
        }
    }
    buckets
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn ev(id: u64, ty: &str, at: &str) -> EventMeta {
        EventMeta {
            id,
            event_type: ty.into(),
            created_at: t(at),
            actor: "someone".into(),
            action: None,
        }
    }

    fn sorted(mut v: Vec<EventMeta>) -> Vec<EventMeta> {
        v.sort_by_key(|e| std::cmp::Reverse(e.order_key()));
        v
    }

    const NOW: &str = "2026-11-22T12:00:00Z";

    fn of<'a>(events: &'a [EventMeta], gaps: &'a [Gap]) -> RepoEvents<'a> {
        RepoEvents {
            repo: "o/r",
            events,
            gaps,
            catching_up: false,
        }
    }

    fn stats(events: &[EventMeta], gaps: &[Gap], w: Window) -> RepoStats {
        repo_stats(&of(events, gaps), t(NOW), &w, None)
    }

    #[test]
    fn an_age_beyond_any_date_is_no_limit_not_a_panic() {
        let e = sorted(vec![
            ev(1, "PushEvent", "1990-01-01T00:00:00Z"),
            ev(2, "PushEvent", "2026-11-22T11:00:00Z"),
        ]);
        for secs in [u64::MAX, 300_000 * 365 * 86_400] {
            let w = Window {
                max_age: std::time::Duration::from_secs(secs),
                ..Window::default()
            };
            assert_eq!(stats(&e, &[], w).events_in_window, 2, "{secs}");
        }
    }

    #[test]
    fn one_event_of_a_type_has_null_averages() {
        let s = stats(
            &[ev(1, "PushEvent", "2026-11-22T11:00:00Z")],
            &[],
            Window::default(),
        );
        assert_eq!(s.events_in_window, 1);
        let p = &s.event_types[0];
        assert_eq!(
            (p.count, p.avg_seconds_between, p.median_seconds_between),
            (1, None, None)
        );
        assert_eq!(p.last_event_at, t("2026-11-22T11:00:00Z"));
    }

    #[test]
    fn mean_and_median_of_consecutive_gaps() {
        let e = sorted(vec![
            ev(1, "PushEvent", "2026-11-22T10:00:00Z"),
            ev(2, "PushEvent", "2026-11-22T10:00:10Z"),
            ev(3, "PushEvent", "2026-11-22T10:00:20Z"),
            ev(4, "PushEvent", "2026-11-22T10:01:20Z"),
            ev(5, "WatchEvent", "2026-11-22T10:00:05Z"),
            ev(6, "WatchEvent", "2026-11-22T10:00:06Z"),
        ]);
        let s = stats(&e, &[], Window::default());
        assert_eq!(s.events_in_window, 6);
        let push = &s.event_types[0];
        assert_eq!(push.event_type, "PushEvent");
        // Gaps 10, 10, 60: mean 80/3, median 10.
        assert_eq!(push.avg_seconds_between, Some(26.667));
        assert_eq!(push.median_seconds_between, Some(10.0));
        let watch = &s.event_types[1];
        assert_eq!(
            (watch.avg_seconds_between, watch.median_seconds_between),
            (Some(1.0), Some(1.0))
        );
        assert_eq!(s.window_start, Some(t("2026-11-22T10:00:00Z")));
        assert_eq!(s.window_end, Some(t("2026-11-22T10:01:20Z")));
    }

    #[test]
    fn even_number_of_gaps_takes_the_middle_pair() {
        let e = sorted(vec![
            ev(1, "X", "2026-11-22T10:00:00Z"),
            ev(2, "X", "2026-11-22T10:00:01Z"),
            ev(3, "X", "2026-11-22T10:00:04Z"),
            ev(4, "X", "2026-11-22T10:00:14Z"),
            ev(5, "X", "2026-11-22T10:00:34Z"),
        ]);
        // Gaps 1, 3, 10, 20 -> median 6.5.
        assert_eq!(
            stats(&e, &[], Window::default()).event_types[0].median_seconds_between,
            Some(6.5)
        );
    }

    #[test]
    fn equal_timestamps_give_zero_gaps() {
        let e = sorted(vec![
            ev(1, "X", "2026-11-22T10:00:00Z"),
            ev(2, "X", "2026-11-22T10:00:00Z"),
        ]);
        let s = stats(&e, &[], Window::default());
        assert_eq!(s.event_types[0].avg_seconds_between, Some(0.0));
        assert_eq!(s.event_types[0].median_seconds_between, Some(0.0));
    }

    #[test]
    fn ties_on_created_at_cut_by_larger_id_first() {
        // Three events at the same instant, window of two: the two larger ids are kept.
        let e = sorted(vec![
            ev(10, "A", "2026-11-22T10:00:00Z"),
            ev(12, "B", "2026-11-22T10:00:00Z"),
            ev(11, "C", "2026-11-22T10:00:00Z"),
        ]);
        assert_eq!(e.iter().map(|e| e.id).collect::<Vec<_>>(), [12, 11, 10]);
        let w = Window {
            max_events: 2,
            ..Window::default()
        };
        let types: Vec<_> = stats(&e, &[], w)
            .event_types
            .into_iter()
            .map(|s| s.event_type)
            .collect();
        assert_eq!(types, ["B", "C"]);
    }

    #[test]
    fn the_event_count_cut_binds() {
        let e: Vec<_> = (0..600u64)
            .rev()
            .map(|i| EventMeta {
                created_at: t(NOW) - TimeDelta::minutes(600 - i as i64),
                ..ev(i, "X", NOW)
            })
            .collect();
        let s = stats(&e, &[], Window::default());
        assert_eq!(s.events_in_window, 500);
        assert_eq!(s.window_start, Some(t(NOW) - TimeDelta::minutes(500)));
        assert_eq!(s.event_types[0].avg_seconds_between, Some(60.0));
    }

    #[test]
    fn the_age_cut_binds() {
        let e = sorted(vec![
            ev(1, "X", "2026-11-14T12:00:00Z"),
            ev(2, "X", "2026-11-15T12:00:00Z"), // exactly 7 days: outside (strictly newer only)
            ev(3, "X", "2026-11-15T12:00:01Z"),
            ev(4, "X", "2026-11-22T11:00:00Z"),
        ]);
        let s = stats(&e, &[], Window::default());
        assert_eq!(s.events_in_window, 2);
        assert_eq!(s.window_start, Some(t("2026-11-15T12:00:01Z")));
    }

    #[test]
    fn an_empty_window_has_no_bounds() {
        let old = [ev(1, "X", "2026-01-01T00:00:00Z")];
        for events in [&[][..], &old[..]] {
            let s = stats(events, &[], Window::default());
            assert_eq!(
                (s.events_in_window, s.window_start, s.window_end, s.partial),
                (0, None, None, false)
            );
            assert!(s.event_types.is_empty());
        }
    }

    #[test]
    fn a_gap_in_the_window_makes_figures_partial_until_it_leaves() {
        let e = sorted(vec![
            ev(1, "X", "2026-11-20T00:00:00Z"),
            ev(2, "X", "2026-11-22T00:00:00Z"),
        ]);
        let gap = Gap {
            detected_at: t("2026-11-21T00:00:00Z"),
            from: t("2026-11-20T00:00:00Z"),
            to: t("2026-11-20T06:00:00Z"),
            estimated_missing: 40,
        };
        let s = stats(&e, std::slice::from_ref(&gap), Window::default());
        assert_eq!(
            (s.partial, s.partial_reason),
            (true, Some(PartialReason::Gap))
        );
        // With a window of one event, the window starts after the gap: not partial.
        let w = Window {
            max_events: 1,
            ..Window::default()
        };
        let s = stats(&e, std::slice::from_ref(&gap), w);
        assert_eq!((s.partial, s.partial_reason), (false, None));
    }

    #[test]
    fn an_owed_read_makes_figures_partial_whatever_the_window() {
        let e = sorted(vec![ev(1, "X", "2026-11-22T10:00:00Z")]);
        for events in [&e[..], &[][..]] {
            let owed = RepoEvents {
                catching_up: true,
                ..of(events, &[])
            };
            let s = repo_stats(&owed, t(NOW), &Window::default(), None);
            assert_eq!(
                (s.partial, s.partial_reason),
                (true, Some(PartialReason::CatchingUp))
            );
        }
        let json = serde_json::to_value(stats(&e, &[], Window::default())).unwrap();
        assert_eq!(
            (&json["partial"], &json["partial_reason"]),
            (&serde_json::json!(false), &serde_json::Value::Null),
            "null when not partial"
        );
        assert_eq!(
            serde_json::to_value(PartialReason::CatchingUp).unwrap(),
            "catching_up"
        );
    }

    #[test]
    fn a_type_filter_lists_fewer_types_but_counts_all() {
        let e = sorted(vec![
            ev(1, "A", "2026-11-22T10:00:00Z"),
            ev(2, "B", "2026-11-22T10:00:01Z"),
        ]);
        let s = repo_stats(&of(&e, &[]), t(NOW), &Window::default(), Some("B"));
        assert_eq!(s.events_in_window, 2);
        assert_eq!(s.event_types.len(), 1);
    }

    #[test]
    fn an_action_filter_keeps_the_window_and_lists_types_with_that_action() {
        let with = |id, ty: &str, action: Option<&str>, at| EventMeta {
            action: action.map(crate::github::event::Sym::from),
            ..ev(id, ty, at)
        };
        let e = sorted(vec![
            with(
                1,
                "PullRequestEvent",
                Some("opened"),
                "2026-11-22T10:00:00Z",
            ),
            with(
                2,
                "PullRequestEvent",
                Some("closed"),
                "2026-11-22T10:00:05Z",
            ),
            with(
                3,
                "PullRequestEvent",
                Some("opened"),
                "2026-11-22T10:01:00Z",
            ),
            with(4, "PushEvent", None, "2026-11-22T10:02:00Z"),
            with(5, "PullRequestEvent", None, "2026-11-22T10:03:00Z"),
        ]);
        let opened = selected_repo_stats(
            &of(&e, &[]),
            t(NOW),
            &Window::default(),
            &Selection {
                action: Some("opened"),
                ..Selection::default()
            },
        );
        assert_eq!(opened.events_in_window, 5);
        assert_eq!(opened.window_start, Some(t("2026-11-22T10:00:00Z")));
        assert_eq!(opened.event_types.len(), 1, "PushEvent has no opened event");
        let pr = &opened.event_types[0];
        assert_eq!(
            (pr.count, pr.avg_seconds_between, pr.actions.is_none()),
            (2, Some(60.0), true)
        );

        let by = selected_repo_stats(
            &of(&e, &[]),
            t(NOW),
            &Window::default(),
            &Selection {
                by_action: true,
                ..Selection::default()
            },
        );
        let actions = by.event_types[0].actions.as_ref().unwrap();
        let names: Vec<_> = actions.iter().map(|a| a.action.as_deref()).collect();
        assert_eq!(names, [Some("closed"), Some("opened"), None], "null last");
        assert_eq!(
            (actions[1].count, actions[1].median_seconds_between),
            (2, Some(60.0))
        );
        assert_eq!(actions[2].last_event_at, t("2026-11-22T10:03:00Z"));
        assert_eq!(by.event_types[1].actions.as_ref().unwrap()[0].action, None);
    }

    #[test]
    fn the_gap_chart_has_the_gaps_whose_mean_and_median_are_reported() {
        let e = sorted(vec![
            ev(1, "PushEvent", "2026-11-22T10:00:00Z"),
            ev(2, "WatchEvent", "2026-11-22T10:30:00Z"),
            ev(3, "PushEvent", "2026-11-22T11:00:00Z"),
            ev(4, "PushEvent", "2026-11-22T11:00:00Z"),
            ev(5, "PushEvent", "2026-11-22T11:30:00Z"),
        ]);
        let win = window_events(&e, t(NOW), &Window::default());
        let gaps = type_gaps(win, "PushEvent");
        let secs: Vec<f64> = gaps.iter().map(|g| g.1).collect();
        assert_eq!(secs, vec![3600.0, 0.0, 1800.0]);
        assert_eq!(gaps[0].0, t("2026-11-22T11:00:00Z").timestamp_millis());
        let s = stats(&e, &[], Window::default());
        let push = &s.event_types[0];
        assert_eq!(
            push.avg_seconds_between,
            Some(secs.iter().sum::<f64>() / 3.0)
        );
        assert_eq!(push.median_seconds_between, Some(1800.0));
        assert!(type_gaps(win, "WatchEvent").is_empty());
        assert!(type_gaps(&[], "PushEvent").is_empty());
    }

    #[test]
    fn percentiles_interpolate_between_closest_ranks() {
        let e = sorted(vec![
            ev(1, "X", "2026-11-22T10:00:00Z"),
            ev(2, "X", "2026-11-22T10:00:01Z"),
            ev(3, "X", "2026-11-22T10:00:04Z"),
            ev(4, "X", "2026-11-22T10:00:14Z"),
            ev(5, "X", "2026-11-22T10:00:34Z"),
        ]);
        // Gaps 1, 3, 10, 20 (m = 4): p25 at rank 0.75 -> 1 + 0.75·2 = 2.5; p75 at 2.25 ->
        // 10 + 0.25·10 = 12.5; p90 at 2.7 -> 10 + 0.7·10 = 17; numpy.percentile agrees.
        let x = &stats(&e, &[], Window::default()).event_types[0];
        assert_eq!(
            (
                x.p25_seconds_between,
                x.median_seconds_between,
                x.p75_seconds_between,
                x.p90_seconds_between
            ),
            (Some(2.5), Some(6.5), Some(12.5), Some(17.0))
        );
        let one = stats(&e[..1], &[], Window::default());
        let t = &one.event_types[0];
        assert_eq!(
            (
                t.p25_seconds_between,
                t.p75_seconds_between,
                t.p90_seconds_between
            ),
            (None, None, None)
        );
    }

    #[test]
    fn percentile_edges_and_whole_ranks() {
        assert_eq!(percentile_ms(&[], 50), None);
        assert_eq!(percentile_ms(&[7], 90), Some(7.0));
        assert_eq!(percentile_ms(&[1, 2], 0), Some(1.0));
        assert_eq!(percentile_ms(&[1, 2], 100), Some(2.0));
        // m = 11: p90's rank is exactly 9, whatever 10 × 0.9 gives in floating point.
        let v: Vec<i64> = (0..11).map(|i| i * 1000).collect();
        assert_eq!(percentile_ms(&v, 90), Some(9000.0));
        // A millisecond between two gaps: p25 of [0, 1] is 0.25 ms, reported as 0.
        let e = sorted(vec![
            ev(1, "X", "2026-11-22T10:00:00.000Z"),
            ev(2, "X", "2026-11-22T10:00:00.000Z"),
            ev(3, "X", "2026-11-22T10:00:00.001Z"),
        ]);
        let x = &stats(&e, &[], Window::default()).event_types[0];
        assert_eq!(x.p25_seconds_between, Some(0.0));
        assert_eq!(x.p75_seconds_between, Some(0.001));
    }

    #[test]
    fn action_entries_carry_the_percentiles_too() {
        let opened = |id, at| EventMeta {
            action: Some(crate::github::event::Sym::from("opened")),
            ..ev(id, "IssuesEvent", at)
        };
        let e = sorted(vec![
            opened(1, "2026-11-22T10:00:00Z"),
            opened(2, "2026-11-22T10:00:10Z"),
            opened(3, "2026-11-22T10:00:40Z"),
        ]);
        let by = selected_repo_stats(
            &of(&e, &[]),
            t(NOW),
            &Window::default(),
            &Selection {
                by_action: true,
                ..Selection::default()
            },
        );
        let a = &by.event_types[0].actions.as_ref().unwrap()[0];
        // Gaps 10, 30.
        assert_eq!(
            (
                a.p25_seconds_between,
                a.median_seconds_between,
                a.p75_seconds_between,
                a.p90_seconds_between
            ),
            (Some(15.0), Some(20.0), Some(25.0), Some(28.0))
        );
    }

    mod properties {
        use super::super::percentile_ms;
        use proptest::prelude::*;

        /// Sort, then the textbook formula in floating point, h = (m-1)·p.
        fn brute_force(values: &[i64], p: f64) -> f64 {
            let mut v = values.to_vec();
            v.sort();
            let h = (v.len() - 1) as f64 * p;
            let lo = h.floor() as usize;
            let hi = (lo + 1).min(v.len() - 1);
            v[lo] as f64 + (h - h.floor()) * (v[hi] - v[lo]) as f64
        }

        proptest! {
            #[test]
            fn percentiles_are_monotone_bounded_and_match_a_sort(
                mut gaps in prop::collection::vec(0i64..40 * 86_400_000, 1..300)
            ) {
                gaps.sort_unstable();
                let at = |pct| percentile_ms(&gaps, pct).unwrap();
                let (p25, p50, p75, p90) = (at(25), at(50), at(75), at(90));
                prop_assert!(gaps[0] as f64 <= p25);
                prop_assert!(p25 <= p50 && p50 <= p75 && p75 <= p90);
                prop_assert!(p90 <= gaps[gaps.len() - 1] as f64);
                let k = gaps.len();
                let median = if k % 2 == 1 {
                    gaps[k / 2] as f64
                } else {
                    (gaps[k / 2 - 1] + gaps[k / 2]) as f64 / 2.0
                };
                prop_assert_eq!(p50, median);
                for (pct, got) in [(25, p25), (75, p75), (90, p90)] {
                    let want = brute_force(&gaps, f64::from(pct) / 100.0);
                    // Floating-point rank error is far below the millisecond reported.
                    prop_assert!((got - want).abs() < 1e-3, "p{} {} vs {}", pct, got, want);
                }
            }
        }
    }

    #[test]
    fn hourly_counts_put_newest_last() {
        let e = sorted(vec![
            ev(1, "A", "2026-11-22T11:30:00Z"),
            ev(2, "A", "2026-11-22T09:30:00Z"),
        ]);
        assert_eq!(hourly_counts(&e, t(NOW), 4), [0, 1, 0, 1]);
    }
}
