//! The part of a GitHub event that ghpulse computes with. The raw JSON is kept in the store.

use chrono::{DateTime, Utc};
use serde_json::Value;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventMeta {
    pub id: u64,
    pub event_type: String,
    pub created_at: DateTime<Utc>,
    pub actor: String,
    pub action: Option<String>,
}

impl EventMeta {
    /// E(R)'s order: by `created_at`, ties by id. Newest first means descending.
    pub fn order_key(&self) -> (i64, u64) {
        (self.created_at.timestamp_millis(), self.id)
    }

    /// Reads one event leniently: `action` and unknown types are free strings, and an event
    /// that lacks what the statistics need is reported rather than failing its whole page.
    pub fn from_json(v: &Value) -> Result<EventMeta, String> {
        let id = match v.get("id") {
            Some(Value::String(s)) => s.parse::<u64>().ok(),
            Some(Value::Number(n)) => n.as_u64(),
            _ => None,
        }
        .ok_or("no numeric id")?;
        let event_type = v.get("type").and_then(Value::as_str).ok_or("no type")?;
        let created_at = v
            .get("created_at")
            .and_then(Value::as_str)
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .ok_or("no RFC 3339 created_at")?
            .with_timezone(&Utc);
        let actor = v
            .get("actor")
            .and_then(|a| a.get("display_login").or_else(|| a.get("login")))
            .and_then(Value::as_str)
            .unwrap_or_default();
        let action = v
            .get("payload")
            .and_then(|p| p.get("action"))
            .and_then(Value::as_str)
            .map(str::to_string);
        Ok(EventMeta {
            id,
            event_type: event_type.to_string(),
            created_at,
            actor: actor.to_string(),
            action,
        })
    }
}
