//! Response times (SPEC section 3b): how long the issues and pull requests opened in the
//! window waited for a first answer from someone else, and to be closed. Pure functions of
//! what stored events say and a clock.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::figures::{PartialReason, percentile_ms};
use super::labels::ItemKind;
use crate::github::event::names_a_pull_request;

/// What an event does to an issue or pull request, for response times.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Act {
    Opened,
    Closed,
    /// A comment or a review: an answer, unless its actor is the author or a bot.
    Answered,
}

/// One event's part in section 3b, read from its stored JSON.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Touch {
    pub id: u64,
    /// `created_at`, ms since the epoch.
    pub at: i64,
    /// The actor's `login` (a bot's ends in `[bot]`; its `display_login` does not).
    pub actor: String,
    pub kind: ItemKind,
    pub number: u64,
    pub act: Act,
}

/// Reads an event as GitHub served it, full (2012–2021) or trimmed (since 2025-10-07); None
/// for an event that plays no part in response times or names no item.
pub fn touch(raw: &Value, id: u64, at: DateTime<Utc>) -> Option<Touch> {
    let payload = raw.get("payload")?;
    let number_of = |item: Option<&Value>| {
        item.and_then(|i| i.get("number"))
            .or_else(|| payload.get("number"))
            .and_then(Value::as_u64)
    };
    let action = payload.get("action").and_then(Value::as_str);
    let opened_or_closed = || match action {
        Some("opened") => Some(Act::Opened),
        Some("closed") => Some(Act::Closed),
        _ => None,
    };
    let (kind, number, act) = match raw.get("type")?.as_str()? {
        "IssuesEvent" => (
            ItemKind::Issue,
            number_of(payload.get("issue"))?,
            opened_or_closed()?,
        ),
        "PullRequestEvent" => (
            ItemKind::PullRequest,
            number_of(payload.get("pull_request"))?,
            opened_or_closed()?,
        ),
        "IssueCommentEvent" => {
            let issue = payload.get("issue")?;
            // GitHub files a comment on a pull request's conversation under its issue.
            let kind = if issue.get("pull_request").is_some_and(names_a_pull_request) {
                ItemKind::PullRequest
            } else {
                ItemKind::Issue
            };
            (kind, issue.get("number")?.as_u64()?, Act::Answered)
        }
        "PullRequestReviewEvent" | "PullRequestReviewCommentEvent" => (
            ItemKind::PullRequest,
            number_of(payload.get("pull_request"))?,
            Act::Answered,
        ),
        _ => return None,
    };
    let actor = raw.get("actor")?;
    let actor = actor
        .get("login")
        .or_else(|| actor.get("display_login"))
        .and_then(Value::as_str)?;
    Some(Touch {
        id,
        at: at.timestamp_millis(),
        actor: actor.to_string(),
        kind,
        number,
        act,
    })
}

/// Section 3b's figures for the issues, or the pull requests, of one repository.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ResponseFigures {
    /// Items opened in the window.
    pub opened: u64,
    /// Of those, the ones someone other than the author and bots answered.
    pub responded: u64,
    /// First answer − opening, over the responded items; null when none.
    pub first_response_median_seconds: Option<f64>,
    pub first_response_p90_seconds: Option<f64>,
    /// Opened, not answered, not closed.
    pub waiting: u64,
    /// now − the opening of the oldest waiting item; null when none waits.
    pub oldest_waiting_seconds: Option<f64>,
    /// Of the opened items, the ones closed since.
    pub closed: u64,
    /// First close − opening, over the closed items; null when none.
    pub close_median_seconds: Option<f64>,
    pub close_p90_seconds: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RepoResponseTimes {
    pub repo: String,
    /// Events of the window may be missing from the store, as in `/api/stats`.
    pub partial: bool,
    pub partial_reason: Option<PartialReason>,
    pub issues: ResponseFigures,
    pub pull_requests: ResponseFigures,
}

/// The body of `GET /api/response-times` and of `ghpulse stats --response-times --json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ResponseTimesReport {
    pub generated_at: DateTime<Utc>,
    pub repositories: Vec<RepoResponseTimes>,
}

/// One repository's response times. `touches` are read from the events of E(R) created at or
/// after the window's start (any order): no answer or close can precede an opening inside the
/// window. An opening counts when its (created_at ms, id) is at or after `window_from`, the
/// oldest event of W(R); with an empty window (None) nothing was opened.
pub fn response_times(
    touches: &[Touch],
    window_from: Option<(i64, u64)>,
    now: DateTime<Utc>,
) -> (ResponseFigures, ResponseFigures) {
    struct Item<'a> {
        opened: i64,
        author: &'a str,
        answered: Option<i64>,
        closed: Option<i64>,
    }
    let mut items: HashMap<(ItemKind, u64), Item<'_>> = HashMap::new();
    for t in touches {
        if t.act != Act::Opened || window_from.is_none_or(|from| (t.at, t.id) < from) {
            continue;
        }
        let item = items.entry((t.kind, t.number)).or_insert(Item {
            opened: t.at,
            author: &t.actor,
            answered: None,
            closed: None,
        });
        // Opened twice in the window: it counts from its oldest opening, by that author.
        if t.at < item.opened {
            (item.opened, item.author) = (t.at, &t.actor);
        }
    }
    let first = |slot: &mut Option<i64>, at: i64| *slot = Some(slot.map_or(at, |s| s.min(at)));
    for t in touches {
        let Some(item) = items.get_mut(&(t.kind, t.number)) else {
            continue;
        };
        if t.at < item.opened {
            continue;
        }
        match t.act {
            Act::Answered if t.actor != item.author && !t.actor.ends_with("[bot]") => {
                first(&mut item.answered, t.at);
            }
            Act::Closed => first(&mut item.closed, t.at),
            _ => {}
        }
    }
    let now_ms = now.timestamp_millis();
    let figures = |kind: ItemKind| {
        let of_kind: Vec<&Item<'_>> = items
            .iter()
            .filter(|((k, _), _)| *k == kind)
            .map(|(_, item)| item)
            .collect();
        let mut to_answer: Vec<i64> = of_kind
            .iter()
            .filter_map(|i| Some(i.answered? - i.opened))
            .collect();
        let mut to_close: Vec<i64> = of_kind
            .iter()
            .filter_map(|i| Some(i.closed? - i.opened))
            .collect();
        to_answer.sort_unstable();
        to_close.sort_unstable();
        let waiting: Vec<i64> = of_kind
            .iter()
            .filter(|i| i.answered.is_none() && i.closed.is_none())
            .map(|i| i.opened)
            .collect();
        let secs = |v: Option<f64>| v.map(|ms| ms.round() / 1000.0);
        ResponseFigures {
            opened: of_kind.len() as u64,
            responded: to_answer.len() as u64,
            first_response_median_seconds: secs(percentile_ms(&to_answer, 50)),
            first_response_p90_seconds: secs(percentile_ms(&to_answer, 90)),
            waiting: waiting.len() as u64,
            oldest_waiting_seconds: secs(
                waiting
                    .iter()
                    .min()
                    .map(|&opened| now_ms.saturating_sub(opened).max(0) as f64),
            ),
            closed: to_close.len() as u64,
            close_median_seconds: secs(percentile_ms(&to_close, 50)),
            close_p90_seconds: secs(percentile_ms(&to_close, 90)),
        }
    };
    (figures(ItemKind::Issue), figures(ItemKind::PullRequest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: &str = "2026-11-22T12:00:00Z";

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn ms(s: &str) -> i64 {
        t(s).timestamp_millis()
    }

    fn touch_at(id: u64, at: &str, actor: &str, kind: ItemKind, number: u64, act: Act) -> Touch {
        Touch {
            id,
            at: ms(at),
            actor: actor.into(),
            kind,
            number,
            act,
        }
    }

    use Act::{Answered, Closed, Opened};
    use ItemKind::{Issue, PullRequest};

    fn from(at: &str, id: u64) -> Option<(i64, u64)> {
        Some((ms(at), id))
    }

    #[test]
    fn the_authors_own_comment_and_a_bots_are_no_answer() {
        let touches = [
            touch_at(1, "2026-11-22T10:00:00Z", "alice", Issue, 5, Opened),
            touch_at(2, "2026-11-22T10:01:00Z", "alice", Issue, 5, Answered),
            touch_at(3, "2026-11-22T10:02:00Z", "stale[bot]", Issue, 5, Answered),
            touch_at(4, "2026-11-22T10:30:00Z", "bob", Issue, 5, Answered),
            touch_at(5, "2026-11-22T11:00:00Z", "carol", Issue, 5, Answered),
        ];
        let (issues, prs) = response_times(&touches, from("2026-11-22T10:00:00Z", 1), t(NOW));
        assert_eq!(
            issues,
            ResponseFigures {
                opened: 1,
                responded: 1,
                first_response_median_seconds: Some(1800.0),
                first_response_p90_seconds: Some(1800.0),
                ..ResponseFigures::default()
            }
        );
        assert_eq!(prs, ResponseFigures::default());
    }

    #[test]
    fn only_the_author_and_bots_answered_so_it_waits() {
        let touches = [
            touch_at(1, "2026-11-22T09:00:00Z", "alice", Issue, 5, Opened),
            touch_at(2, "2026-11-22T09:01:00Z", "alice", Issue, 5, Answered),
            touch_at(
                3,
                "2026-11-22T09:02:00Z",
                "dependabot[bot]",
                Issue,
                5,
                Answered,
            ),
        ];
        let (issues, _) = response_times(&touches, from("2026-11-22T09:00:00Z", 1), t(NOW));
        assert_eq!(
            (
                issues.responded,
                issues.waiting,
                issues.oldest_waiting_seconds
            ),
            (0, 1, Some(3.0 * 3600.0))
        );
        assert_eq!(issues.first_response_median_seconds, None);
    }

    #[test]
    fn a_comment_before_the_opening_or_an_opening_before_the_window_counts_nothing() {
        let touches = [
            // #5 was opened before the window starts: not opened in the window.
            touch_at(1, "2026-11-22T08:00:00Z", "alice", Issue, 5, Opened),
            touch_at(2, "2026-11-22T09:00:00Z", "bob", Issue, 5, Answered),
            // #6: bob's comment precedes its (re)opening in the window.
            touch_at(3, "2026-11-22T09:30:00Z", "bob", Issue, 6, Answered),
            touch_at(4, "2026-11-22T10:00:00Z", "alice", Issue, 6, Opened),
        ];
        let (issues, _) = response_times(&touches, from("2026-11-22T09:00:00Z", 2), t(NOW));
        assert_eq!((issues.opened, issues.responded, issues.waiting), (1, 0, 1));
        assert_eq!(issues.oldest_waiting_seconds, Some(7200.0));
        let (nothing, _) = response_times(&touches, None, t(NOW));
        assert_eq!(nothing, ResponseFigures::default());
    }

    #[test]
    fn closed_without_an_answer_is_closed_not_waiting() {
        let touches = [
            touch_at(1, "2026-11-22T10:00:00Z", "alice", PullRequest, 7, Opened),
            touch_at(2, "2026-11-22T10:10:00Z", "alice", PullRequest, 7, Closed),
            touch_at(3, "2026-11-22T10:20:00Z", "bob", PullRequest, 7, Closed),
            touch_at(4, "2026-11-22T10:00:00Z", "alice", PullRequest, 8, Opened),
            touch_at(5, "2026-11-22T11:00:00Z", "bob", PullRequest, 8, Closed),
        ];
        let (_, prs) = response_times(&touches, from("2026-11-22T10:00:00Z", 1), t(NOW));
        assert_eq!(
            prs,
            ResponseFigures {
                opened: 2,
                closed: 2,
                // Closes after 600 s and 3600 s: median 2100, p90 600 + 0.9 × 3000.
                close_median_seconds: Some(2100.0),
                close_p90_seconds: Some(3300.0),
                ..ResponseFigures::default()
            }
        );
    }

    #[test]
    fn an_item_opened_twice_counts_once_from_its_oldest_opening() {
        let touches = [
            touch_at(1, "2026-11-22T10:00:00Z", "alice", Issue, 5, Opened),
            touch_at(2, "2026-11-22T10:05:00Z", "alice", Issue, 5, Closed),
            touch_at(3, "2026-11-22T10:20:00Z", "alice", Issue, 5, Opened),
            touch_at(4, "2026-11-22T10:40:00Z", "bob", Issue, 5, Answered),
        ];
        let (issues, _) = response_times(&touches, from("2026-11-22T10:00:00Z", 1), t(NOW));
        assert_eq!(
            (
                issues.opened,
                issues.first_response_median_seconds,
                issues.close_median_seconds
            ),
            (1, Some(2400.0), Some(300.0))
        );
    }

    #[test]
    fn an_answer_at_the_opening_instant_counts_with_zero_wait() {
        let touches = [
            touch_at(2, "2026-11-22T10:00:00Z", "bob", Issue, 5, Answered),
            touch_at(1, "2026-11-22T10:00:00Z", "alice", Issue, 5, Opened),
            touch_at(3, "2026-11-22T10:00:00Z", "carol", Issue, 5, Closed),
        ];
        let (issues, _) = response_times(&touches, from("2026-11-22T10:00:00Z", 1), t(NOW));
        assert_eq!(
            (
                issues.responded,
                issues.first_response_median_seconds,
                issues.closed,
                issues.close_p90_seconds,
                issues.waiting
            ),
            (1, Some(0.0), 1, Some(0.0), 0)
        );
    }

    #[test]
    fn a_pull_request_comment_arrives_as_an_issue_comment() {
        let opened = json!({ "type": "PullRequestEvent", "actor": { "login": "alice" },
            "payload": { "action": "opened", "number": 7, "pull_request": { "number": 7 } } });
        let comment = json!({ "type": "IssueCommentEvent",
            "actor": { "login": "bob", "display_login": "bob" },
            "payload": { "action": "created", "issue": { "number": 7,
                "pull_request": { "url": "https://api.github.com/repos/o/r/pulls/7" } } } });
        let a = touch(&opened, 1, t("2026-11-22T10:00:00Z")).unwrap();
        let b = touch(&comment, 2, t("2026-11-22T10:15:00Z")).unwrap();
        assert_eq!((b.kind, b.number, b.act), (PullRequest, 7, Answered));
        let (issues, prs) = response_times(&[a, b], from("2026-11-22T10:00:00Z", 1), t(NOW));
        assert_eq!(issues.opened, 0);
        assert_eq!(
            (prs.opened, prs.responded, prs.first_response_p90_seconds),
            (1, 1, Some(900.0))
        );
    }

    #[test]
    fn touches_read_full_and_trimmed_payloads() {
        let at = t("2026-11-22T10:00:00Z");
        // Trimmed since 2025-10-07: the number beside a minimal pull_request.
        let trimmed = json!({ "type": "PullRequestEvent", "actor": { "login": "a" },
            "payload": { "action": "opened", "number": 12,
                "pull_request": { "id": 1, "url": "u", "head": {}, "base": {} } } });
        assert_eq!(
            touch(&trimmed, 1, at).map(|t| (t.kind, t.number, t.act)),
            Some((PullRequest, 12, Opened))
        );
        let review = json!({ "type": "PullRequestReviewEvent", "actor": { "login": "b" },
            "payload": { "action": "created", "pull_request": { "number": 12 } } });
        assert_eq!(
            touch(&review, 2, at).map(|t| (t.kind, t.number, t.act)),
            Some((PullRequest, 12, Answered))
        );
        // A bot is told by its login: its display_login drops the suffix.
        let bot = json!({ "type": "IssueCommentEvent",
            "actor": { "login": "renovate[bot]", "display_login": "renovate" },
            "payload": { "action": "created", "issue": { "number": 3 } } });
        assert_eq!(touch(&bot, 3, at).unwrap().actor, "renovate[bot]");
        // 2013: a plain issue's comment carries a pull_request object of null links.
        let old_issue = json!({ "type": "IssueCommentEvent", "actor": { "login": "d" },
            "payload": { "action": "created", "issue": { "number": 9, "pull_request": {
                "html_url": null, "diff_url": null, "patch_url": null } } } });
        assert_eq!(touch(&old_issue, 6, at).map(|t| t.kind), Some(Issue));
        let old_pr = json!({ "type": "IssueCommentEvent", "actor": { "login": "d" },
            "payload": { "action": "created", "issue": { "number": 9, "pull_request": {
                "html_url": "https://github.com/o/r/pull/9", "diff_url": null } } } });
        assert_eq!(touch(&old_pr, 7, at).map(|t| t.kind), Some(PullRequest));
        let full = json!({ "type": "IssuesEvent", "actor": { "login": "c" },
            "payload": { "action": "closed", "issue": { "number": 4, "title": "x" } } });
        assert_eq!(
            touch(&full, 4, at).map(|t| (t.kind, t.number, t.act)),
            Some((Issue, 4, Closed))
        );
        for other in [
            json!({ "type": "IssuesEvent", "actor": { "login": "c" },
                "payload": { "action": "labeled", "issue": { "number": 4 } } }),
            json!({ "type": "PushEvent", "actor": { "login": "c" }, "payload": {} }),
            json!({ "type": "IssueCommentEvent", "actor": { "login": "c" }, "payload": {} }),
            json!({ "type": "IssuesEvent", "payload": { "action": "opened",
                "issue": { "number": 4 } } }),
        ] {
            assert_eq!(touch(&other, 5, at), None, "{other}");
        }
    }
}
