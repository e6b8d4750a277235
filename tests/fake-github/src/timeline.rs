//! One repository's timeline and how a page of it is cut, linked and tagged.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::Fault;
use crate::data::{self, Timestamp};

#[derive(Debug)]
pub(crate) struct StoredEvent {
    pub id: u64,
    pub created_at: Option<Timestamp>,
    /// When the event became visible in the API (for measuring a client's delay).
    pub visible_since: Instant,
    pub json: Value,
}

#[derive(Debug)]
pub(crate) struct Repo {
    /// Current `owner/name` (changes on a rename).
    pub full_name: String,
    /// Every event ever published, newest (highest id) first. Only the first `timeline_cap`
    /// are visible, like GitHub's 300-event timeline.
    pub events: Vec<StoredEvent>,
    pub fault: Option<Fault>,
    /// Faults of one page only (1-based), over `fault`.
    pub page_faults: std::collections::HashMap<u32, Fault>,
    /// A fault for the next request only, over the others.
    pub once: Option<Fault>,
}

impl Repo {
    /// The fault that applies to a request for `page`.
    pub fn fault_on(&self, page: u32) -> Option<&Fault> {
        self.once
            .as_ref()
            .or(self.page_faults.get(&page))
            .or(self.fault.as_ref())
    }

    pub fn new(full_name: &str) -> Self {
        Repo {
            full_name: full_name.to_string(),
            events: Vec::new(),
            fault: None,
            page_faults: Default::default(),
            once: None,
        }
    }

    /// Publishes events. The timeline is ordered by numeric id, not by `created_at` (GitHub
    /// orders by publication, and ids grow with it); an id already present is ignored.
    pub fn publish(&mut self, events: Vec<Value>, now: Instant) {
        for json in events {
            let id = data::event_id(&json)
                .unwrap_or_else(|| panic!("event without a numeric id: {json}"));
            if self.events.iter().any(|e| e.id == id) {
                continue;
            }
            let created_at = data::created_at(&json);
            self.events.push(StoredEvent {
                id,
                created_at,
                visible_since: now,
                json,
            });
        }
        self.events.sort_by_key(|e| std::cmp::Reverse(e.id));
    }

    pub fn max_id(&self) -> Option<u64> {
        self.events.first().map(|e| e.id)
    }

    /// What the API shows: the `cap` newest events, optionally only those younger than `max_age`.
    pub fn visible(
        &self,
        cap: usize,
        max_age: Option<Duration>,
        now: Timestamp,
    ) -> Vec<&StoredEvent> {
        let oldest_allowed = max_age.map(|age| now.0 - age.as_secs() as i64);
        self.events
            .iter()
            .filter(|e| match (oldest_allowed, e.created_at) {
                (Some(limit), Some(t)) => t.0 >= limit,
                _ => true,
            })
            .take(cap)
            .collect()
    }
}

/// `page` and `per_page` as GitHub reads them: missing or unreadable values fall back to the
/// defaults, `per_page` is clamped to 1..=100, `page` starts at 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PageRequest {
    pub page: u32,
    pub per_page: usize,
    /// Whether the client named `per_page`; GitHub repeats it in `link` URLs only then.
    pub per_page_given: bool,
}

pub(crate) const MAX_PER_PAGE: usize = 100;

impl PageRequest {
    pub fn parse(query: Option<&str>, default_per_page: usize) -> Self {
        let mut req = PageRequest {
            page: 1,
            per_page: default_per_page.clamp(1, MAX_PER_PAGE),
            per_page_given: false,
        };
        for pair in query.unwrap_or("").split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match key {
                "page" => {
                    if let Ok(page) = value.parse::<u32>() {
                        req.page = page.max(1);
                    }
                }
                "per_page" => {
                    if let Ok(n) = value.parse::<usize>() {
                        req.per_page = n.clamp(1, MAX_PER_PAGE);
                        req.per_page_given = true;
                    }
                }
                _ => {}
            }
        }
        req
    }

    /// Index of the page's first event in the timeline.
    pub fn offset(&self) -> usize {
        (self.page as usize - 1).saturating_mul(self.per_page)
    }

    fn url(&self, base: &str, repo_id: u64, page: u32) -> String {
        if self.per_page_given {
            format!(
                "{base}/repositories/{repo_id}/events?per_page={}&page={page}",
                self.per_page
            )
        } else {
            format!("{base}/repositories/{repo_id}/events?page={page}")
        }
    }

    /// GitHub's `link` header: always `/repositories/{id}/events` URLs, in the order
    /// next, last, first, prev; none at all when everything fits on page 1.
    pub fn link_header(&self, base: &str, repo_id: u64, total: usize) -> Option<String> {
        let last = total.div_ceil(self.per_page).max(1) as u32;
        let mut rels = Vec::new();
        if self.page < last {
            rels.push((self.page + 1, "next"));
            rels.push((last, "last"));
        }
        if self.page > 1 {
            rels.push((1, "first"));
            rels.push((self.page - 1, "prev"));
        }
        if rels.is_empty() {
            return None;
        }
        let parts: Vec<String> = rels
            .into_iter()
            .map(|(page, rel)| format!("<{}>; rel=\"{rel}\"", self.url(base, repo_id, page)))
            .collect();
        Some(parts.join(", "))
    }
}

/// A weak ETag for one exact URL and the ids it shows: the same URL with the same events gives
/// the same tag, and any new event on that page changes it. 32 hex digits, like GitHub's.
pub(crate) fn etag(path_and_query: &str, ids: &[u64]) -> String {
    let mut halves = [0u64; 2];
    for (seed, half) in halves.iter_mut().enumerate() {
        let mut h = DefaultHasher::new();
        seed.hash(&mut h);
        path_and_query.hash(&mut h);
        ids.hash(&mut h);
        *half = h.finish();
    }
    format!("W/\"{:016x}{:016x}\"", halves[0], halves[1])
}

/// `If-None-Match` uses weak comparison (RFC 9110 §13.1.2): `W/` is ignored, lists and `*` work.
pub(crate) fn etag_matches(if_none_match: &str, etag: &str) -> bool {
    let opaque = |t: &str| t.trim().trim_start_matches("W/").to_string();
    let current = opaque(etag);
    if_none_match
        .split(',')
        .any(|candidate| candidate.trim() == "*" || opaque(candidate) == current)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_request_defaults_and_clamps() {
        let d = PageRequest::parse(None, 30);
        assert_eq!((d.page, d.per_page, d.per_page_given), (1, 30, false));
        let r = PageRequest::parse(Some("per_page=500&page=0"), 30);
        assert_eq!((r.page, r.per_page, r.per_page_given), (1, 100, true));
        let junk = PageRequest::parse(Some("page=abc&per_page=-3&x"), 30);
        assert_eq!((junk.page, junk.per_page), (1, 30));
    }

    #[test]
    fn links_follow_github_order() {
        let base = "http://h";
        let p1 = PageRequest::parse(Some("per_page=100"), 30);
        assert_eq!(
            p1.link_header(base, 7, 300).as_deref(),
            Some(
                "<http://h/repositories/7/events?per_page=100&page=2>; rel=\"next\", \
                 <http://h/repositories/7/events?per_page=100&page=3>; rel=\"last\""
            )
        );
        let p3 = PageRequest::parse(Some("page=3"), 30);
        let l3 = p3.link_header(base, 7, 300).expect("links");
        assert!(
            l3.starts_with("<http://h/repositories/7/events?page=4>; rel=\"next\""),
            "{l3}"
        );
        assert!(
            l3.ends_with("<http://h/repositories/7/events?page=2>; rel=\"prev\""),
            "{l3}"
        );
        assert_eq!(p1.link_header(base, 7, 100), None);
    }

    #[test]
    fn etags_are_weak_and_compare_weakly() {
        let a = etag("/repos/a/b/events", &[3, 2, 1]);
        assert!(a.starts_with("W/\"") && a.len() == 36, "{a}");
        assert_ne!(a, etag("/repos/a/b/events?per_page=100", &[3, 2, 1]));
        assert_ne!(a, etag("/repos/a/b/events", &[4, 3, 2]));
        assert!(etag_matches(&a, &a));
        assert!(etag_matches(a.trim_start_matches("W/"), &a));
        assert!(etag_matches(&format!("\"x\", {a}"), &a));
        assert!(!etag_matches("\"x\"", &a));
    }
}
