//! `ghpulse export` (SPEC section 8): stored events to a writer, oldest first, one JSON object
//! a line exactly as GitHub served it, or CSV; and the time bounds it and the events endpoint
//! accept.

use std::io::Write;

use chrono::{DateTime, TimeDelta, Utc};

use crate::github::event::EventMeta;
use crate::store::{Store, StoreError};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ExportFormat {
    #[default]
    Jsonl,
    Csv,
}

impl ExportFormat {
    /// The names `--format` accepts, in the order of the variants.
    pub const NAMES: [&'static str; 2] = ["jsonl", "csv"];
}

impl std::str::FromStr for ExportFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<ExportFormat, String> {
        match s {
            "jsonl" => Ok(ExportFormat::Jsonl),
            "csv" => Ok(ExportFormat::Csv),
            _ => Err(format!("{s:?} is not a format: jsonl or csv")),
        }
    }
}

/// An instant given as RFC 3339 (`2026-11-22T10:00:00Z`) or as an age before `now` in
/// humantime's syntax (`2h`, `7d`, `1h 30m`).
pub fn parse_instant(input: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let s = input.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    humantime::parse_duration(s)
        .ok()
        .and_then(|age| TimeDelta::from_std(age).ok())
        .and_then(|age| now.checked_sub_signed(age))
        .ok_or_else(|| {
            format!(
                "{input:?} is neither an RFC 3339 time (2026-11-22T10:00:00Z) nor an age like 2h"
            )
        })
}

/// `[since, until)` as the store's inclusive (created_at ms, id) bounds.
pub fn key_bounds(
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
) -> ((i64, u64), (i64, u64)) {
    let from = since.map_or((i64::MIN, 0), |t| (t.timestamp_millis(), 0));
    let to = until.map_or((i64::MAX, u64::MAX), |t| {
        (t.timestamp_millis().saturating_sub(1), u64::MAX)
    });
    (from, to)
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot write: {0}")]
    Write(std::io::Error),
}

/// Writes the events of `repos` ((name as watched, store key) pairs) created in
/// `[since, until)`, oldest first across all of them. Returns how many were written; a reader
/// that closes the pipe ends the export quietly.
pub fn export_events(
    store: &Store,
    repos: &[(String, String)],
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    format: ExportFormat,
    out: &mut impl Write,
) -> Result<u64, ExportError> {
    let keys: Vec<String> = repos.iter().map(|(_, key)| key.clone()).collect();
    let (from, to) = key_bounds(since, until);
    let mut sink = match format {
        ExportFormat::Jsonl => Sink::Jsonl(out),
        ExportFormat::Csv => Sink::Csv(Box::new(csv::Writer::from_writer(out))),
    };
    let mut written = 0u64;
    let mut failure = sink.header().err();
    if failure.is_none() {
        store.scan_events(
            &keys,
            from,
            to,
            false,
            format == ExportFormat::Jsonl,
            |key, meta, raw| match sink.event(name_of(repos, key), &meta, raw.as_deref()) {
                Ok(()) => {
                    written += 1;
                    true
                }
                Err(e) => {
                    failure = Some(e);
                    false
                }
            },
        )?;
    }
    match failure.map_or_else(|| sink.flush(), Err) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(written),
        Err(e) => Err(ExportError::Write(e)),
        Ok(()) => Ok(written),
    }
}

fn name_of<'a>(repos: &'a [(String, String)], key: &'a str) -> &'a str {
    repos
        .iter()
        .find(|(_, k)| k == key)
        .map_or(key, |(name, _)| name.as_str())
}

enum Sink<'w, W: Write> {
    Jsonl(&'w mut W),
    Csv(Box<csv::Writer<&'w mut W>>),
}

impl<W: Write> Sink<'_, W> {
    fn header(&mut self) -> std::io::Result<()> {
        match self {
            Sink::Jsonl(_) => Ok(()),
            Sink::Csv(w) => {
                Ok(w.write_record(["id", "repo", "type", "action", "actor", "created_at"])?)
            }
        }
    }

    fn event(&mut self, repo: &str, meta: &EventMeta, raw: Option<&str>) -> std::io::Result<()> {
        match self {
            Sink::Jsonl(out) => {
                out.write_all(one_line(raw.unwrap_or_default()).as_bytes())?;
                out.write_all(b"\n")
            }
            Sink::Csv(w) => Ok(w.write_record([
                meta.id.to_string().as_str(),
                repo,
                &meta.event_type,
                meta.action.as_deref().unwrap_or(""),
                &meta.actor,
                &meta
                    .created_at
                    .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            ])?),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Sink::Jsonl(out) => out.flush(),
            Sink::Csv(w) => w.flush(),
        }
    }
}

/// JSON keeps no raw line break inside a string, so dropping the ones between tokens (a
/// pretty-printed page) leaves the event as served, on one line.
fn one_line(raw: &str) -> std::borrow::Cow<'_, str> {
    if raw.contains(['\n', '\r']) {
        raw.replace(['\n', '\r'], "").into()
    } else {
        raw.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{PollRecord, RepoState};

    fn store_with(events: &[(&str, u64, &str, &str)]) -> Store {
        let store = Store::in_memory().unwrap();
        for (repo, id, at, raw) in events {
            let meta = EventMeta {
                id: *id,
                event_type: "IssuesEvent".into(),
                created_at: at.parse().unwrap(),
                actor: "a, \"quoted\" actor".into(),
                action: Some("opened".into()),
            };
            store
                .record_poll(PollRecord {
                    repo_key: repo,
                    events: &[(meta, raw.to_string())],
                    gap: None,
                    state: RepoState::default(),
                    rate_limit: None,
                    counters: Default::default(),
                })
                .unwrap();
        }
        store
    }

    fn repos() -> Vec<(String, String)> {
        vec![
            ("Owner/A".to_string(), "owner/a".to_string()),
            ("owner/b".to_string(), "owner/b".to_string()),
        ]
    }

    #[test]
    fn jsonl_is_oldest_first_verbatim_one_a_line() {
        let store = store_with(&[
            (
                "owner/a",
                3,
                "2026-11-22T10:00:02Z",
                "{\"id\":\"3\",  \"x\": 1}",
            ),
            (
                "owner/b",
                2,
                "2026-11-22T10:00:01Z",
                "{\n  \"id\": \"2\"\n}",
            ),
            ("owner/a", 1, "2026-11-22T10:00:00Z", "{\"id\":\"1\"}"),
        ]);
        let mut out = Vec::new();
        let n = export_events(&store, &repos(), None, None, ExportFormat::Jsonl, &mut out).unwrap();
        assert_eq!(n, 3);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"id\":\"1\"}\n{  \"id\": \"2\"}\n{\"id\":\"3\",  \"x\": 1}\n"
        );
    }

    #[test]
    fn csv_has_a_header_quotes_and_bounds() {
        let store = store_with(&[
            ("owner/a", 1, "2026-11-22T10:00:00Z", "{}"),
            ("owner/a", 2, "2026-11-22T11:00:00Z", "{}"),
            ("owner/b", 3, "2026-11-22T12:00:00Z", "{}"),
        ]);
        let mut out = Vec::new();
        let since = "2026-11-22T10:00:00Z".parse().ok();
        let until = "2026-11-22T12:00:00Z".parse().ok();
        export_events(&store, &repos(), since, until, ExportFormat::Csv, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "id,repo,type,action,actor,created_at\n\
             1,Owner/A,IssuesEvent,opened,\"a, \"\"quoted\"\" actor\",2026-11-22T10:00:00Z\n\
             2,Owner/A,IssuesEvent,opened,\"a, \"\"quoted\"\" actor\",2026-11-22T11:00:00Z\n"
        );
    }

    struct ClosedAfter(usize);
    impl Write for ClosedAfter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.0 == 0 {
                return Err(std::io::ErrorKind::BrokenPipe.into());
            }
            self.0 -= 1;
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_closed_pipe_ends_quietly_and_other_errors_do_not() {
        let store = store_with(&[
            ("owner/a", 1, "2026-11-22T10:00:00Z", "{}"),
            ("owner/a", 2, "2026-11-22T11:00:00Z", "{}"),
        ]);
        let n = export_events(
            &store,
            &repos(),
            None,
            None,
            ExportFormat::Jsonl,
            &mut ClosedAfter(2),
        )
        .unwrap();
        assert_eq!(n, 1, "the first line, then the pipe closed");
        let mut full = std::io::Cursor::new([0u8; 4]);
        assert!(matches!(
            export_events(&store, &repos(), None, None, ExportFormat::Jsonl, &mut full),
            Err(ExportError::Write(_))
        ));
    }

    #[test]
    fn instants_are_rfc3339_or_an_age() {
        let now: DateTime<Utc> = "2026-11-22T12:00:00Z".parse().unwrap();
        assert_eq!(
            parse_instant("2026-11-22T10:00:00+02:00", now).unwrap(),
            "2026-11-22T08:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(parse_instant("2h", now).unwrap(), now - TimeDelta::hours(2));
        for bad in ["yesterday", "", "-2h", "999999999y"] {
            assert!(parse_instant(bad, now).is_err(), "{bad}");
        }
    }
}
