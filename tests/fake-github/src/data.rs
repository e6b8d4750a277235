//! The real fixtures (`tests/fixtures/`) and helpers that reshape their timestamps and ids.
//!
//! Fixture loading panics with a clear message when a file is missing or broken: these are
//! test helpers, and a broken fixture is a bug in the checkout, not a runtime condition.

use std::io::Read;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use serde_json::Value;

/// Where the fixtures live, relative to this crate, so the crate never reads `shared/` at run time.
pub const FIXTURES_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/");

/// A repository whose real events ship in the fixtures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixtureRepo {
    /// `owner/name` as GitHub spelled it in the recordings.
    pub full_name: &'static str,
    /// GitHub's numeric repository id (the one in `link` headers and `repo.id`).
    pub id: u64,
    /// File stem for [`load_events`], e.g. `sferik__rails_admin`.
    pub file_stem: &'static str,
}

/// The five repositories of `replay-index.json`, busiest recording first.
pub const FIXTURE_REPOS: [FixtureRepo; 5] = [
    FixtureRepo {
        full_name: "sferik/rails_admin",
        id: 810796,
        file_stem: "sferik__rails_admin",
    },
    FixtureRepo {
        full_name: "sigmavirus24/github3.py",
        id: 3710711,
        file_stem: "sigmavirus24__github3.py",
    },
    FixtureRepo {
        full_name: "praw-dev/praw",
        id: 847957,
        file_stem: "praw-dev__praw",
    },
    FixtureRepo {
        full_name: "github/gitignore",
        id: 1062897,
        file_stem: "github__gitignore",
    },
    FixtureRepo {
        full_name: "github3py/github3.py",
        id: 4464822,
        file_stem: "github3py__github3.py",
    },
];

/// Looks a fixture repository up by name (case-insensitive) or by file stem.
pub fn fixture_repo(name_or_stem: &str) -> Option<FixtureRepo> {
    FIXTURE_REPOS.iter().copied().find(|r| {
        r.full_name.eq_ignore_ascii_case(name_or_stem)
            || r.file_stem.eq_ignore_ascii_case(name_or_stem)
    })
}

fn fixture_path(relative: &str) -> PathBuf {
    PathBuf::from(FIXTURES_DIR).join(relative)
}

fn read_gz_json(relative: &str) -> Value {
    let path = fixture_path(relative);
    let gz = std::fs::read(&path)
        .unwrap_or_else(|e| panic!("fixture {} cannot be read: {e}", path.display()));
    gz_json(&gz, &path.display().to_string())
}

fn read_json(relative: &str) -> Value {
    let path = fixture_path(relative);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("fixture {} cannot be read: {e}", path.display()));
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("fixture {} is not valid JSON: {e}", path.display()))
}

fn into_array(value: Value, what: &str) -> Vec<Value> {
    match value {
        Value::Array(items) => items,
        _ => panic!("fixture {what} is not a JSON array"),
    }
}

/// The recorded events of [`FIXTURE_REPOS`], inside the crate: `ghpulse demo` replays them
/// wherever its binary was copied to.
const EMBEDDED_EVENTS: [(&str, &[u8]); 5] = [
    (
        "sferik__rails_admin",
        include_bytes!("../../fixtures/sferik__rails_admin.events.json.gz"),
    ),
    (
        "sigmavirus24__github3.py",
        include_bytes!("../../fixtures/sigmavirus24__github3.py.events.json.gz"),
    ),
    (
        "praw-dev__praw",
        include_bytes!("../../fixtures/praw-dev__praw.events.json.gz"),
    ),
    (
        "github__gitignore",
        include_bytes!("../../fixtures/github__gitignore.events.json.gz"),
    ),
    (
        "github3py__github3.py",
        include_bytes!("../../fixtures/github3py__github3.py.events.json.gz"),
    ),
];

/// A repository's real events, newest first, e.g. `load_events("sferik__rails_admin")`.
/// Also accepts the `owner/name` of a [`FIXTURE_REPOS`] entry.
pub fn load_events(file_stem: &str) -> Vec<Value> {
    let stem = fixture_repo(file_stem).map_or(file_stem, |r| r.file_stem);
    let relative = format!("{stem}.events.json.gz");
    match EMBEDDED_EVENTS.iter().find(|(s, _)| *s == stem) {
        Some((_, gz)) => into_array(gz_json(gz, &relative), &relative),
        None => into_array(read_gz_json(&relative), &relative),
    }
}

fn gz_json(gz: &[u8], what: &str) -> Value {
    let mut text = String::new();
    flate2::read::GzDecoder::new(gz)
        .read_to_string(&mut text)
        .unwrap_or_else(|e| panic!("fixture {what} is not valid gzip/UTF-8: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("fixture {what} is not valid JSON: {e}"))
}

/// Real recorded response sequences (`request`, `status`, `headers`, `body`) in time order.
/// Exists for `sferik__rails_admin` and `sigmavirus24__github3.py`.
pub fn load_recorded_polls(file_stem: &str) -> Vec<Value> {
    let relative = format!("{file_stem}.recorded-polls.json.gz");
    into_array(read_gz_json(&relative), &relative)
}

/// One event of a kind from `single-events/`, e.g. `single_event("push_event")`;
/// `"unknown_event"` has a type no client knows (`AmazingEvent`).
pub fn single_event(name: &str) -> Value {
    let name = name.strip_suffix(".json").unwrap_or(name);
    read_json(&format!("single-events/{name}.json"))
}

/// GitHub's official example response of the endpoint (today's trimmed payloads).
pub fn openapi_example() -> Vec<Value> {
    into_array(
        read_json("openapi-example-repo-events.json"),
        "openapi example",
    )
}

/// A point in time for [`rebase`] and [`rescale`], in whole seconds (what `created_at` holds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn now() -> Self {
        SystemTime::now().into()
    }

    /// Parses RFC 3339 (`2020-04-21T09:31:21Z`, offsets accepted).
    pub fn parse(text: &str) -> Option<Self> {
        DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|t| Timestamp(t.timestamp()))
    }

    /// `YYYY-MM-DDTHH:MM:SSZ`, the shape GitHub uses for `created_at`.
    pub fn to_rfc3339(self) -> String {
        match DateTime::<Utc>::from_timestamp(self.0, 0) {
            Some(t) => t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            None => "1970-01-01T00:00:00Z".to_string(),
        }
    }

    /// `Tue, 21 Apr 2020 09:31:21 GMT`, the shape of `date` and `last-modified`.
    pub fn to_http_date(self) -> String {
        match DateTime::<Utc>::from_timestamp(self.0, 0) {
            Some(t) => t.format("%a, %d %b %Y %H:%M:%S GMT").to_string(),
            None => "Thu, 01 Jan 1970 00:00:00 GMT".to_string(),
        }
    }
}

impl From<SystemTime> for Timestamp {
    fn from(t: SystemTime) -> Self {
        match t.duration_since(UNIX_EPOCH) {
            Ok(d) => Timestamp(d.as_secs() as i64),
            Err(e) => Timestamp(-(e.duration().as_secs() as i64)),
        }
    }
}

/// Panics on text that is not RFC 3339: this conversion is for literals in tests.
impl From<&str> for Timestamp {
    fn from(text: &str) -> Self {
        Timestamp::parse(text).unwrap_or_else(|| panic!("{text:?} is not an RFC 3339 time"))
    }
}

impl From<&String> for Timestamp {
    fn from(text: &String) -> Self {
        Timestamp::from(text.as_str())
    }
}

/// An event's `created_at` in epoch seconds, if it has a readable one.
pub fn created_at(event: &Value) -> Option<Timestamp> {
    event
        .get("created_at")
        .and_then(Value::as_str)
        .and_then(Timestamp::parse)
}

/// An event's id as a number. GitHub sends ids as decimal strings that pass 10^10;
/// a bare JSON number is accepted too.
pub fn event_id(event: &Value) -> Option<u64> {
    match event.get("id")? {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_u64(),
        _ => None,
    }
}

fn newest_created_at(events: &[Value]) -> Option<Timestamp> {
    events.iter().filter_map(created_at).max()
}

/// Shifts every `created_at` by one constant so the newest equals `newest_at`; the gaps between
/// events (and any out-of-order pairs) are kept exactly. Output format `YYYY-MM-DDTHH:MM:SSZ`.
/// Events without a readable `created_at` are left alone.
pub fn rebase(events: &mut [Value], newest_at: impl Into<Timestamp>) {
    let target = newest_at.into();
    let Some(newest) = newest_created_at(events) else {
        return;
    };
    let shift = target.0 - newest.0;
    for event in events.iter_mut() {
        if let Some(t) = created_at(event) {
            event["created_at"] = Value::String(Timestamp(t.0 + shift).to_rfc3339());
        }
    }
}

/// Moves the newest event to `newest_at` and scales every gap by one factor so that the
/// `first_n` newest events span `span` (older events follow with the same factor). Relative
/// spacing — bursts, quiet nights, out-of-order pairs — is kept; only the tempo changes.
/// Used to turn years-old recordings into a plausible "last few days".
pub fn rescale(
    events: &mut [Value],
    newest_at: impl Into<Timestamp>,
    first_n: usize,
    span: Duration,
) {
    let target = newest_at.into();
    let mut times: Vec<i64> = events.iter().filter_map(created_at).map(|t| t.0).collect();
    if times.is_empty() {
        return;
    }
    times.sort_unstable_by(|a, b| b.cmp(a));
    let newest = times[0];
    let nth = times[first_n.clamp(1, times.len()) - 1];
    let factor = if newest > nth {
        span.as_secs_f64() / (newest - nth) as f64
    } else {
        1.0
    };
    for event in events.iter_mut() {
        if let Some(t) = created_at(event) {
            let age = ((newest - t.0) as f64 * factor).round() as i64;
            event["created_at"] = Value::String(Timestamp(target.0 - age).to_rfc3339());
        }
    }
}

/// Gives fresh ids that grow with publication: the slice is newest first, so its last element
/// gets `first_id` and the first gets `first_id + len - 1`. Ids are written as strings, as
/// GitHub does.
pub fn renumber(events: &mut [Value], first_id: u64) {
    let len = events.len() as u64;
    for (i, event) in events.iter_mut().enumerate() {
        event["id"] = Value::String((first_id + len - 1 - i as u64).to_string());
    }
}

/// Points every event's `repo` at another repository (`id`, `name`, `url`), for tests that
/// serve fixture events under a made-up name.
pub fn retarget(events: &mut [Value], full_name: &str, repo_id: u64) {
    for event in events.iter_mut() {
        event["repo"] = repo_json(full_name, repo_id);
    }
}

pub(crate) fn repo_json(full_name: &str, repo_id: u64) -> Value {
    serde_json::json!({
        "id": repo_id,
        "name": full_name,
        "url": format!("https://api.github.com/repos/{full_name}"),
    })
}

/// How the demo data set spreads each fixture repository over recent time: the newest event
/// is `newest_minutes_ago` before "now" and the 300 newest (or all, if fewer) span `span_hours`.
/// Different tempos give the dashboard a busy, a moderate and a quiet repository.
pub const DEMO_LAYOUT: [(&str, u64, u64); 5] = [
    // (full_name, newest_minutes_ago, span_hours)
    ("sigmavirus24/github3.py", 2, 30),
    ("sferik/rails_admin", 4, 60),
    ("praw-dev/praw", 7, 100),
    ("github/gitignore", 11, 140),
    ("github3py/github3.py", 16, 168),
];

/// The demo data set the `fake-github` binary serves, for `now`: each [`FIXTURE_REPOS`] entry,
/// rescaled per [`DEMO_LAYOUT`]. Deterministic for a given `now`, so snapshot tests can use it
/// with a fixed clock.
pub fn demo_dataset(now: SystemTime) -> Vec<(FixtureRepo, Vec<Value>)> {
    let now = Timestamp::from(now);
    DEMO_LAYOUT
        .iter()
        .map(|&(name, minutes_ago, span_hours)| {
            let repo = fixture_repo(name).expect("DEMO_LAYOUT names a fixture repository");
            let mut events = load_events(repo.file_stem);
            let newest = Timestamp(now.0 - (minutes_ago * 60) as i64);
            rescale(
                &mut events,
                newest,
                300,
                Duration::from_secs(span_hours * 3600),
            );
            (repo, events)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn times(events: &[Value]) -> Vec<i64> {
        events
            .iter()
            .map(|e| created_at(e).expect("created_at").0)
            .collect()
    }

    #[test]
    fn every_fixture_repo_loads_newest_first() {
        for repo in FIXTURE_REPOS {
            let events = load_events(repo.file_stem);
            assert!(
                events.len() > 100,
                "{} has {} events",
                repo.full_name,
                events.len()
            );
            assert!(events.iter().all(|e| event_id(e).is_some()));
            assert!(
                events
                    .iter()
                    .all(|e| e["repo"]["id"].as_u64() == Some(repo.id))
            );
        }
        assert_eq!(load_events("sferik/rails_admin").len(), 400);
    }

    #[test]
    fn single_events_and_polls_load() {
        assert_eq!(single_event("push_event")["type"], "PushEvent");
        assert_eq!(single_event("unknown_event.json")["type"], "AmazingEvent");
        assert_eq!(openapi_example().len(), 2);
        let polls = load_recorded_polls("sferik__rails_admin");
        assert!(
            polls
                .iter()
                .all(|p| p["headers"]["x-poll-interval"] == "60")
        );
    }

    #[test]
    fn rebase_keeps_gaps_and_moves_newest() {
        let mut events = load_events("sigmavirus24__github3.py");
        let before = times(&events);
        rebase(&mut events, "2030-01-02T03:04:05Z");
        let after = times(&events);
        assert_eq!(
            after.iter().max(),
            Some(&Timestamp::from("2030-01-02T03:04:05Z").0)
        );
        let shift = after[0] - before[0];
        assert!(before.iter().zip(&after).all(|(b, a)| a - b == shift));
        let text = events[5]["created_at"].as_str().expect("string");
        assert!(text.len() == 20 && text.ends_with('Z'), "{text}");
    }

    #[test]
    fn rebase_accepts_system_time() {
        let mut events = load_events("praw-dev__praw");
        let now = SystemTime::now();
        rebase(&mut events, now);
        assert_eq!(newest_created_at(&events), Some(Timestamp::from(now)));
    }

    #[test]
    fn rescale_spans_requested_window() {
        let mut events = load_events("sferik__rails_admin");
        rescale(
            &mut events,
            "2030-01-10T00:00:00Z",
            300,
            Duration::from_secs(2 * 86400),
        );
        let mut t = times(&events);
        t.sort_unstable_by(|a, b| b.cmp(a));
        assert_eq!(t[0], Timestamp::from("2030-01-10T00:00:00Z").0);
        let span = t[0] - t[299];
        assert!((span - 2 * 86400).abs() <= 1, "span {span}");
    }

    #[test]
    fn renumber_grows_with_publication() {
        let mut events = load_events("github__gitignore");
        renumber(&mut events, 50_000_000_000);
        let ids: Vec<u64> = events.iter().map(|e| event_id(e).expect("id")).collect();
        assert_eq!(*ids.last().expect("last"), 50_000_000_000);
        assert!(ids.windows(2).all(|w| w[0] == w[1] + 1));
        assert!(events[0]["id"].is_string());
    }

    #[test]
    fn http_date_format() {
        assert_eq!(
            Timestamp::from("2020-04-21T09:31:21Z").to_http_date(),
            "Tue, 21 Apr 2020 09:31:21 GMT"
        );
    }
}
