//! SPEC section 3 computed independently of ghpulse's code, for comparing with its output.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::Value;

/// SPEC section 3 computed here, independently of ghpulse's code: E(R) from the events the API
/// showed, the window, and per type count / mean / median gap / last time, in milliseconds.
/// Per type: count, mean gap and median gap (both doubled, in ms), last time (ms).
pub type Expected = BTreeMap<String, (u64, Option<i64>, Option<i64>, i64)>;

pub fn expected_figures(shown: &[Value], generated_at: DateTime<Utc>) -> (u64, Expected) {
    let mut events: Vec<(i64, u64, String)> = shown
        .iter()
        .map(|e| {
            let t: DateTime<Utc> = e["created_at"].as_str().unwrap().parse().unwrap();
            (
                t.timestamp_millis(),
                e["id"].as_str().unwrap().parse::<u64>().unwrap(),
                e["type"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    events.sort_by_key(|e| std::cmp::Reverse((e.0, e.1)));
    events.dedup_by_key(|e| e.1);
    let cutoff = generated_at.timestamp_millis() - 7 * 24 * 3600 * 1000;
    let window: Vec<_> = events
        .into_iter()
        .take(500)
        .filter(|e| e.0 > cutoff)
        .collect();
    let mut by_type: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for (t, _, ty) in &window {
        by_type.entry(ty.clone()).or_default().push(*t);
    }
    let figures = by_type
        .into_iter()
        .map(|(ty, mut ts)| {
            ts.sort();
            let n = ts.len();
            let mut gaps: Vec<i64> = ts.windows(2).map(|w| w[1] - w[0]).collect();
            gaps.sort();
            // Twice the values, to keep half-milliseconds exact.
            let avg2 =
                (n > 1).then(|| (2 * (ts[n - 1] - ts[0]) + (n as i64 - 1) / 2) / (n as i64 - 1));
            let med2 = (n > 1).then(|| {
                let k = gaps.len();
                if k % 2 == 1 {
                    2 * gaps[k / 2]
                } else {
                    gaps[k / 2 - 1] + gaps[k / 2]
                }
            });
            (ty, (n as u64, avg2, med2, ts[n - 1]))
        })
        .collect();
    (window.len() as u64, figures)
}

/// Asserts that one repository's entry of `stats --json` (or `/api/stats`) equals section 3
/// computed from `events` (E(R) before de-duplication) as of the report's `generated_at`.
pub fn assert_figures(entry: &Value, events: &[Value], generated_at: DateTime<Utc>) {
    let name = entry["repo"].as_str().unwrap_or("?");
    let (in_window, expected) = expected_figures(events, generated_at);
    let spreads = window_gaps(events, generated_at);
    assert_eq!(entry["events_in_window"], in_window, "{name}");
    let types = entry["event_types"].as_array().expect("event_types");
    assert_eq!(types.len(), expected.len(), "{name}: types");
    for t in types {
        let (n, avg2, med2, last) = expected[t["event_type"].as_str().unwrap()];
        let ms2 = |v: &Value| v.as_f64().map(|s| (s * 2000.0).round() as i64);
        assert_eq!(t["count"], n, "{name} {t}");
        // Rounded to the millisecond: within half a millisecond of the exact value.
        for (got, want) in [
            (ms2(&t["avg_seconds_between"]), avg2),
            (ms2(&t["median_seconds_between"]), med2),
        ] {
            match (got, want) {
                (Some(g), Some(w)) => assert!((g - w).abs() <= 1, "{name} {t}: {g} vs {w}"),
                (g, w) => assert_eq!(g, w, "{name} {t}"),
            }
        }
        let last_got: DateTime<Utc> = t["last_event_at"].as_str().unwrap().parse().unwrap();
        assert_eq!(last_got.timestamp_millis(), last, "{name} {t}");
        let gaps = &spreads[t["event_type"].as_str().unwrap()];
        for (field, hundredths) in [
            ("p25_seconds_between", 25),
            ("p75_seconds_between", 75),
            ("p90_seconds_between", 90),
        ] {
            let got = t[field].as_f64().map(|s| (s * 100_000.0).round() as i64);
            let want = percentile_x100(gaps, hundredths);
            match (got, want) {
                // In hundredths of a millisecond: within half a millisecond.
                (Some(g), Some(w)) => {
                    assert!((g - w).abs() <= 50, "{name} {t} {field}: {g} vs {w}")
                }
                (g, w) => assert_eq!(g, w, "{name} {t} {field}"),
            }
        }
    }
}

/// Each type's gaps in the window, sorted, in milliseconds.
fn window_gaps(shown: &[Value], generated_at: DateTime<Utc>) -> BTreeMap<String, Vec<i64>> {
    let mut events: Vec<(i64, u64, String)> = shown
        .iter()
        .map(|e| {
            let t: DateTime<Utc> = e["created_at"].as_str().unwrap().parse().unwrap();
            let id = e["id"].as_str().unwrap().parse::<u64>().unwrap();
            (
                t.timestamp_millis(),
                id,
                e["type"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    events.sort_by_key(|e| std::cmp::Reverse((e.0, e.1)));
    events.dedup_by_key(|e| e.1);
    let cutoff = generated_at.timestamp_millis() - 7 * 24 * 3600 * 1000;
    let mut by_type: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for (t, _, ty) in events.into_iter().take(500).filter(|e| e.0 > cutoff) {
        by_type.entry(ty).or_default().push(t);
    }
    by_type
        .into_iter()
        .map(|(ty, mut ts)| {
            ts.sort();
            let mut gaps: Vec<i64> = ts.windows(2).map(|w| w[1] - w[0]).collect();
            gaps.sort();
            (ty, gaps)
        })
        .collect()
}

/// Section 3's percentile of sorted `gaps` in hundredths of a millisecond, exactly: the rank
/// (m-1)·p/100 split into whole and hundredths.
fn percentile_x100(gaps: &[i64], pct: i64) -> Option<i64> {
    let m = gaps.len() as i64;
    if m == 0 {
        return None;
    }
    let rank = (m - 1) * pct;
    let (lo, frac) = ((rank / 100) as usize, rank % 100);
    let hi = (lo + 1).min(gaps.len() - 1);
    Some(100 * gaps[lo] + frac * (gaps[hi] - gaps[lo]))
}

/// Asserts that every repository of a `stats --json` report (in config order) is complete —
/// not partial, no reason — and equals section 3 computed from the events published to it.
pub fn assert_complete(stats: &Value, published: &[Vec<Value>]) {
    let generated_at = stats["generated_at"].as_str().unwrap().parse().unwrap();
    let entries = stats["repositories"].as_array().expect("repositories");
    assert_eq!(entries.len(), published.len());
    for (entry, events) in entries.iter().zip(published) {
        assert_eq!(
            (&entry["partial"], &entry["partial_reason"]),
            (&Value::Bool(false), &Value::Null),
            "{}",
            entry["repo"]
        );
        assert_figures(entry, events, generated_at);
    }
}
