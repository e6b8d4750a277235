//! Issue and pull-request label KPIs (SPEC section 3a): which items the window names, and
//! the share of them carrying a label of each `[labels]` group.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::load::LabelGroups;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ItemKind {
    Issue,
    PullRequest,
}

/// What an IssuesEvent or PullRequestEvent says about its issue or pull request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ItemFacts {
    pub kind: ItemKind,
    pub number: u64,
    /// Lowercased label names; None when this event carries no label list (trimmed payloads
    /// often do not).
    pub labels: Option<Vec<String>>,
}

/// Reads an event as GitHub served it; None for other event types or an event that names no
/// issue or pull request.
pub fn item_facts(raw: &Value) -> Option<ItemFacts> {
    let payload = raw.get("payload")?;
    let (kind, item) = match raw.get("type")?.as_str()? {
        "IssuesEvent" => (ItemKind::Issue, payload.get("issue")),
        "PullRequestEvent" => (ItemKind::PullRequest, payload.get("pull_request")),
        _ => return None,
    };
    let number = item
        .and_then(|i| i.get("number"))
        .or_else(|| payload.get("number"))
        .and_then(Value::as_u64)?;
    let list = item
        .and_then(|i| i.get("labels"))
        .and_then(Value::as_array)
        .or_else(|| payload.get("labels").and_then(Value::as_array));
    let labels = list.map(|labels| {
        labels
            .iter()
            .filter_map(|l| l.get("name").unwrap_or(l).as_str())
            .map(str::to_lowercase)
            .collect()
    });
    Some(ItemFacts {
        kind,
        number,
        labels,
    })
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GroupKpi {
    pub group: String,
    pub issues: u64,
    /// Of the issues seen; null when none was seen.
    pub issue_share: Option<f64>,
    pub pull_requests: u64,
    /// Of the pull requests seen; null when none was seen.
    pub pull_request_share: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RepoLabels {
    pub repo: String,
    pub issues_seen: u64,
    pub pull_requests_seen: u64,
    pub groups: Vec<GroupKpi>,
}

/// The body of `GET /api/labels` and of `ghpulse stats --labels --json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LabelsReport {
    pub generated_at: DateTime<Utc>,
    pub repositories: Vec<RepoLabels>,
}

/// The label KPIs of one repository. `facts` are those of the IssuesEvents and
/// PullRequestEvents of W(R), newest first: an item's labels are those of its newest event
/// that carries a label list.
pub fn label_kpis(
    repo: &str,
    facts: impl IntoIterator<Item = ItemFacts>,
    groups: &LabelGroups,
) -> RepoLabels {
    let mut items: HashMap<(ItemKind, u64), Option<Vec<String>>> = HashMap::new();
    for f in facts {
        let labels = items.entry((f.kind, f.number)).or_default();
        if labels.is_none() {
            *labels = f.labels;
        }
    }
    let seen = |kind| items.keys().filter(|(k, _)| *k == kind).count() as u64;
    let (issues_seen, pull_requests_seen) = (seen(ItemKind::Issue), seen(ItemKind::PullRequest));
    let share = |n: u64, of: u64| (of > 0).then(|| n as f64 / of as f64);
    let groups = groups
        .0
        .iter()
        .map(|(group, names)| {
            let in_group = |kind| {
                items
                    .iter()
                    .filter(|((k, _), labels)| {
                        *k == kind
                            && labels
                                .as_ref()
                                .is_some_and(|ls| ls.iter().any(|l| names.contains(l)))
                    })
                    .count() as u64
            };
            let (issues, pull_requests) =
                (in_group(ItemKind::Issue), in_group(ItemKind::PullRequest));
            GroupKpi {
                group: group.clone(),
                issues,
                issue_share: share(issues, issues_seen),
                pull_requests,
                pull_request_share: share(pull_requests, pull_requests_seen),
            }
        })
        .collect();
    RepoLabels {
        repo: repo.to_string(),
        issues_seen,
        pull_requests_seen,
        groups,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn issue(number: u64, labels: Option<&[&str]>) -> Value {
        let mut issue = json!({ "number": number });
        if let Some(ls) = labels {
            issue["labels"] = ls.iter().map(|l| json!({ "name": l })).collect();
        }
        json!({ "type": "IssuesEvent", "payload": { "action": "opened", "issue": issue } })
    }

    #[test]
    fn item_facts_read_full_and_trimmed_payloads() {
        assert_eq!(
            item_facts(&issue(7, Some(&["Bug", "UI"]))),
            Some(ItemFacts {
                kind: ItemKind::Issue,
                number: 7,
                labels: Some(vec!["bug".into(), "ui".into()])
            })
        );
        // Trimmed pull request: the number beside a small pull_request, labels at the top.
        let trimmed = json!({ "type": "PullRequestEvent", "payload": {
            "action": "labeled", "number": 12, "pull_request": { "url": "u" },
            "labels": [{ "name": "perf" }] } });
        assert_eq!(
            item_facts(&trimmed),
            Some(ItemFacts {
                kind: ItemKind::PullRequest,
                number: 12,
                labels: Some(vec!["perf".into()])
            })
        );
        // An older pull request object without labels carries no label list.
        let old = json!({ "type": "PullRequestEvent", "payload": {
            "action": "opened", "number": 3, "pull_request": { "number": 3 } } });
        assert_eq!(item_facts(&old).unwrap().labels, None);
        assert_eq!(
            item_facts(&json!({ "type": "PushEvent", "payload": {} })),
            None
        );
        assert_eq!(
            item_facts(&json!({ "type": "IssuesEvent", "payload": {} })),
            None
        );
    }

    #[test]
    fn label_kpis_take_the_newest_label_list_of_each_item() {
        // Newest first.
        let facts = [
            issue(1, None),                        // newest for #1, no list: look further
            issue(1, Some(&["Type: Bug"])),        // #1 is a bug
            issue(1, Some(&["question"])),         // older, ignored
            issue(2, Some(&["question"])),         // newest for #2: not a bug any more
            issue(2, Some(&["bug"])),              // older, ignored
            issue(3, Some(&["PERF", "kind/bug"])), // both groups
            issue(4, None),                        // never labelled
        ];
        let facts = facts.iter().filter_map(item_facts).chain([ItemFacts {
            kind: ItemKind::PullRequest,
            number: 5,
            labels: Some(vec!["perf".into()]),
        }]);
        let k = label_kpis("o/r", facts, &LabelGroups::default());
        assert_eq!((k.issues_seen, k.pull_requests_seen), (4, 1));
        let bug = &k.groups[0];
        assert_eq!(
            (
                bug.group.as_str(),
                bug.issues,
                bug.issue_share,
                bug.pull_requests
            ),
            ("bug", 2, Some(0.5), 0)
        );
        assert_eq!(bug.pull_request_share, Some(0.0));
        let perf = &k.groups[1];
        assert_eq!(
            (
                perf.issues,
                perf.issue_share,
                perf.pull_requests,
                perf.pull_request_share
            ),
            (1, Some(0.25), 1, Some(1.0))
        );
        let none = label_kpis("o/r", [], &LabelGroups::default());
        assert_eq!(none.groups[0].issue_share, None);
        assert_eq!(none.groups[0].pull_request_share, None);
    }
}
