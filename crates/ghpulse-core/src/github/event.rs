//! The part of a GitHub event that ghpulse computes with. The raw JSON is kept in the store.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::Value;
use serde_json::value::RawValue;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventMeta {
    pub id: u64,
    pub event_type: Sym,
    pub created_at: DateTime<Utc>,
    pub actor: Sym,
    pub action: Option<Sym>,
}

/// A short immutable string (an event type, an actor, an action) that events read together
/// share: a snapshot holds up to `window.max_events` events per repository, and their types
/// and actors repeat, so each is allocated once per read instead of once per event (see
/// [`Interner`]). Reads and compares as a `&str`.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Sym(Arc<str>);

impl Sym {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for Sym {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Sym {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for Sym {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Sym {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&*self.0, f)
    }
}

impl std::fmt::Display for Sym {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for Sym {
    fn from(s: &str) -> Sym {
        Sym(Arc::from(s))
    }
}

impl From<String> for Sym {
    fn from(s: String) -> Sym {
        Sym(Arc::from(s))
    }
}

impl From<Cow<'_, str>> for Sym {
    fn from(s: Cow<'_, str>) -> Sym {
        Sym(Arc::from(s))
    }
}

impl PartialEq<str> for Sym {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

impl PartialEq<&str> for Sym {
    fn eq(&self, other: &&str) -> bool {
        &*self.0 == *other
    }
}

impl PartialEq<Sym> for str {
    fn eq(&self, other: &Sym) -> bool {
        self == &*other.0
    }
}

impl PartialEq<Sym> for &str {
    fn eq(&self, other: &Sym) -> bool {
        *self == &*other.0
    }
}

/// Hands out one [`Sym`] per distinct string for the events of one read; dropped with it, so
/// strings no event holds any more are freed with their events.
#[derive(Default)]
pub struct Interner(HashSet<Sym>);

impl Interner {
    pub fn get(&mut self, s: &str) -> Sym {
        match self.0.get(s) {
            Some(sym) => sym.clone(),
            None => {
                let sym = Sym::from(s);
                self.0.insert(sym.clone());
                sym
            }
        }
    }
}

/// The fields read from an event, borrowed from its JSON where no unescaping is needed.
/// Only `id`, `type` and `created_at` are required; anything else of an unexpected shape
/// is read as absent, so an odd event loses a detail rather than its place in the window.
/// `actor` and `payload` are first only delimited (serde_json skips a value without
/// recursing), then read on their own: a payload nested deeper than the parser's recursion
/// limit, or with an unreadable string in it, costs the event its `action` at most.
#[derive(Deserialize)]
struct Fields<'a> {
    id: Id<'a>,
    #[serde(rename = "type", borrow)]
    event_type: Cow<'a, str>,
    #[serde(borrow)]
    created_at: Cow<'a, str>,
    #[serde(default, borrow)]
    actor: Option<&'a RawValue>,
    #[serde(default, borrow)]
    payload: Option<&'a RawValue>,
}

/// GitHub sends ids as strings; older recordings and other servers as numbers.
#[derive(Deserialize)]
#[serde(untagged)]
enum Id<'a> {
    Text(#[serde(borrow)] Cow<'a, str>),
    Number(u64),
}

#[derive(Deserialize)]
struct Actor<'a> {
    #[serde(default, borrow)]
    display_login: Lenient<Cow<'a, str>>,
    #[serde(default, borrow)]
    login: Lenient<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Payload<'a> {
    #[serde(default, borrow)]
    action: Lenient<Cow<'a, str>>,
}

/// A value of the expected shape, or nothing (missing, null or anything else).
#[derive(Deserialize)]
#[serde(untagged)]
enum Lenient<T> {
    Valid(T),
    Other(IgnoredAny),
}

impl<T> Default for Lenient<T> {
    fn default() -> Self {
        Lenient::Other(IgnoredAny)
    }
}

impl<T> Lenient<T> {
    fn valid(self) -> Option<T> {
        match self {
            Lenient::Valid(v) => Some(v),
            Lenient::Other(_) => None,
        }
    }
}

/// `T` read from a delimited part of an event, or nothing if it does not read as one.
fn part<'a, T: Deserialize<'a>>(raw: Option<&'a RawValue>) -> Option<T> {
    serde_json::from_str(raw?.get()).ok()
}

impl EventMeta {
    /// E(R)'s order: by `created_at`, ties by id. Newest first means descending.
    pub fn order_key(&self) -> (i64, u64) {
        (self.created_at.timestamp_millis(), self.id)
    }

    /// Reads one event, as GitHub served it, leniently: `action` and unknown types are free
    /// strings, and an event that lacks what the statistics need is reported rather than
    /// failing its whole page.
    pub fn from_raw(raw: &str) -> Result<EventMeta, String> {
        let fields = serde_json::from_str::<Fields>(raw).map_err(|e| e.to_string())?;
        fields.into_meta()
    }

    /// `from_raw` for an event already held as a JSON value.
    pub fn from_json(v: &Value) -> Result<EventMeta, String> {
        EventMeta::from_raw(&v.to_string())
    }
}

impl Fields<'_> {
    fn into_meta(self) -> Result<EventMeta, String> {
        let id = match self.id {
            Id::Text(s) => s.parse::<u64>().ok(),
            Id::Number(n) => Some(n),
        }
        .ok_or("no numeric id")?;
        let created_at = DateTime::parse_from_rfc3339(&self.created_at)
            .map_err(|_| "no RFC 3339 created_at")?
            .with_timezone(&Utc);
        let actor = part::<Actor>(self.actor)
            .and_then(|a| a.display_login.valid().or_else(|| a.login.valid()))
            .unwrap_or_default();
        let action = part::<Payload>(self.payload).and_then(|p| p.action.valid());
        Ok(EventMeta {
            id,
            event_type: self.event_type.into(),
            created_at,
            actor: actor.into(),
            action: action.map(Sym::from),
        })
    }
}

/// Whether an issue's `pull_request` value says it is one. Payloads of 2013 and before give
/// every issue a `pull_request` object whose links are all null; only one with a link (or any
/// other value) is a pull request.
pub(crate) fn names_a_pull_request(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Object(fields) => fields.values().any(|f| !f.is_null()),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_trimmed_2025_event_and_a_full_older_one() {
        let trimmed = r#"{"id":"52000000001","type":"PullRequestEvent","actor":{"id":1,"login":"octo","display_login":"octo-cat"},"repo":{"id":2,"name":"o/r"},"payload":{"action":"opened","number":7,"pull_request":{"url":"u"}},"public":true,"created_at":"2025-09-01T10:00:00Z"}"#;
        let meta = EventMeta::from_raw(trimmed).unwrap();
        assert_eq!(meta.id, 52_000_000_001);
        assert_eq!(meta.event_type, "PullRequestEvent");
        assert_eq!(meta.actor, "octo-cat");
        assert_eq!(meta.action.as_deref(), Some("opened"));
        assert_eq!(meta.created_at.to_rfc3339(), "2025-09-01T10:00:00+00:00");

        let push = r#"{"id":3966929160,"type":"PushEvent","actor":{"login":"a\"b"},"payload":{"push_id":1,"commits":[{"sha":"x"}]},"created_at":"2016-11-22T23:51:57Z"}"#;
        let meta = EventMeta::from_raw(push).unwrap();
        assert_eq!((meta.id, meta.actor.as_str()), (3_966_929_160, "a\"b"));
        assert_eq!(meta.action, None);
        assert_eq!(
            EventMeta::from_json(&serde_json::from_str(push).unwrap()),
            Ok(meta)
        );
    }

    #[test]
    fn odd_details_are_read_as_absent() {
        for odd in [
            r#"{"id":"1","type":"NewKindOfEvent","created_at":"2025-01-01T00:00:00Z"}"#,
            r#"{"id":"1","type":"X","actor":null,"payload":null,"created_at":"2025-01-01T00:00:00Z"}"#,
            r#"{"id":"1","type":"X","actor":"ghost","payload":[1],"created_at":"2025-01-01T00:00:00Z"}"#,
            r#"{"id":"1","type":"X","actor":{"login":5},"payload":{"action":{"a":1}},"created_at":"2025-01-01T00:00:00Z"}"#,
        ] {
            let meta = EventMeta::from_raw(odd).unwrap_or_else(|e| panic!("{odd}: {e}"));
            assert_eq!((meta.actor.as_str(), meta.action), ("", None), "{odd}");
        }
    }

    #[test]
    fn a_payload_deeper_than_the_parser_goes_or_with_a_broken_string_costs_only_its_action() {
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        for payload in [
            format!(r#"{{"action":"opened","x":{deep}}}"#),
            format!(r#"{{"action":{deep}}}"#),
            r#"{"action":"opened","title":"\ud800 lone"}"#.to_string(),
        ] {
            let raw = format!(
                r#"{{"id":"7","type":"IssuesEvent","actor":{{"login":"octo"}},"payload":{payload},"created_at":"2025-01-01T00:00:00Z"}}"#
            );
            let meta = EventMeta::from_raw(&raw).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!((meta.id, meta.actor.as_str()), (7, "octo"));
        }
        let odd_actor = format!(
            r#"{{"id":"8","type":"X","actor":{{"login":"\udc00","x":{deep}}},"created_at":"2025-01-01T00:00:00Z"}}"#
        );
        let meta = EventMeta::from_raw(&odd_actor).unwrap();
        assert_eq!((meta.id, meta.actor.as_str()), (8, ""));
    }

    #[test]
    fn an_event_without_what_the_statistics_need_is_refused() {
        for bad in [
            r#"{"type":"X","created_at":"2025-01-01T00:00:00Z"}"#,
            r#"{"id":"abc","type":"X","created_at":"2025-01-01T00:00:00Z"}"#,
            r#"{"id":"1","created_at":"2025-01-01T00:00:00Z"}"#,
            r#"{"id":"1","type":7,"created_at":"2025-01-01T00:00:00Z"}"#,
            r#"{"id":"1","type":"X","created_at":"yesterday"}"#,
            r#"{"id":"1","type":"X"}"#,
            r#"[1,2]"#,
        ] {
            assert!(EventMeta::from_raw(bad).is_err(), "{bad}");
        }
    }

    /// The reading before the derived struct, kept as the reference for "behaviour unchanged".
    fn walked(v: &Value) -> Option<EventMeta> {
        let id = match v.get("id")? {
            Value::String(s) => s.parse::<u64>().ok(),
            Value::Number(n) => n.as_u64(),
            _ => None,
        }?;
        let created_at = DateTime::parse_from_rfc3339(v.get("created_at")?.as_str()?).ok()?;
        Some(EventMeta {
            id,
            event_type: v.get("type")?.as_str()?.into(),
            created_at: created_at.with_timezone(&Utc),
            actor: v
                .get("actor")
                .and_then(|a| a.get("display_login").or_else(|| a.get("login")))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .into(),
            action: v
                .get("payload")
                .and_then(|p| p.get("action"))
                .and_then(Value::as_str)
                .map(Sym::from),
        })
    }

    #[test]
    fn every_recorded_event_reads_as_it_did_before() {
        use std::io::Read;
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures");
        let mut seen = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if !path.to_string_lossy().ends_with(".events.json.gz") {
                continue;
            }
            let mut text = String::new();
            flate2::read::GzDecoder::new(std::fs::File::open(&path).unwrap())
                .read_to_string(&mut text)
                .unwrap();
            let raws: Vec<&serde_json::value::RawValue> = serde_json::from_str(&text).unwrap();
            for raw in raws {
                let value: Value = serde_json::from_str(raw.get()).unwrap();
                assert_eq!(
                    EventMeta::from_raw(raw.get()).ok(),
                    walked(&value),
                    "{}",
                    raw.get()
                );
                seen += 1;
            }
        }
        assert!(seen > 1000, "only {seen} recorded events");
    }
}
