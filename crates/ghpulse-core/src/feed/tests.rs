//! Feed lines and web pages against hand-written expectations: every recorded single event,
//! today's trimmed payloads, and hostile strings.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;

fn web() -> WebOrigin {
    WebOrigin::from_api_url("https://api.github.com")
}

fn repo(name: &str) -> RepoName {
    RepoName::parse(name).unwrap()
}

/// The feed line of a recorded event, read as the store keeps it (the JSON text).
fn recorded(file: &str) -> (FeedLine, RepoName) {
    let path = format!(
        "{}/../../tests/fixtures/single-events/{file}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let raw = std::fs::read_to_string(&path).unwrap();
    let event: Value = serde_json::from_str(&raw).unwrap();
    let name = repo(event["repo"]["name"].as_str().unwrap());
    (feed_line(&raw, &name, &web()), name)
}

struct Want {
    summary: &'static str,
    url: &'static str,
    number: Option<u64>,
    title: Option<&'static str>,
    git_ref: Option<&'static str>,
}

const fn want(summary: &'static str, url: &'static str) -> Want {
    Want {
        summary,
        url,
        number: None,
        title: None,
        git_ref: None,
    }
}

fn check(got: &FeedLine, want: &Want, what: &str) {
    assert_eq!(got.summary, want.summary, "{what}: summary");
    assert_eq!(got.url, want.url, "{what}: url");
    assert_eq!(got.number, want.number, "{what}: number");
    assert_eq!(got.title.as_deref(), want.title, "{what}: title");
    assert_eq!(got.git_ref.as_deref(), want.git_ref, "{what}: ref");
}

#[test]
fn every_recorded_single_event_has_its_line_and_page() {
    let cases = [
        (
            "commit_comment_event",
            want(
                "commented on commit d287fa9",
                "https://github.com/wayofthepie/test-events",
            ),
        ),
        (
            "create_event",
            Want {
                git_ref: Some("url-normalisation"),
                ..want(
                    "created branch url-normalisation",
                    "https://github.com/hypothesis/checkmate/tree/url-normalisation",
                )
            },
        ),
        (
            "delete_event",
            Want {
                git_ref: Some("test2"),
                ..want(
                    "deleted branch test2",
                    "https://github.com/wayofthepie/test-events",
                )
            },
        ),
        (
            "fork_event",
            want(
                "forked to suryatmodulus/RustPython",
                "https://github.com/suryatmodulus/RustPython",
            ),
        ),
        (
            "gollum_event",
            want(
                "created wiki page Home",
                "https://github.com/wayofthepie/test-events",
            ),
        ),
        (
            "issue_comment_event",
            Want {
                number: Some(5),
                title: Some("Test34"),
                ..want(
                    "commented on issue #5 \"Test34\"",
                    "https://github.com/wayofthepie/test-events/issues/5#issuecomment-760203693",
                )
            },
        ),
        (
            "issues_event",
            Want {
                number: Some(6),
                title: Some("Test"),
                ..want(
                    "opened issue #6 \"Test\"",
                    "https://github.com/wayofthepie/test-events/issues/6",
                )
            },
        ),
        (
            "member_event",
            want(
                "added EnzoPolytech as a collaborator",
                "https://github.com/Polytech-Sorbonne/EI-SE5_2020-2021_TrackChip",
            ),
        ),
        (
            "pull_request_event",
            Want {
                number: Some(8),
                title: Some("Add test file ()"),
                ..want(
                    "opened PR #8 \"Add test file ()\"",
                    "https://github.com/wayofthepie/test-events/pull/8",
                )
            },
        ),
        (
            "pull_request_review_comment_event",
            Want {
                number: Some(8),
                title: Some("Add test file ()"),
                ..want(
                    "commented on PR #8 \"Add test file ()\"",
                    "https://github.com/wayofthepie/test-events/pull/8",
                )
            },
        ),
        (
            "pull_request_review_event",
            Want {
                number: Some(218),
                title: Some("New Babel Updates"),
                ..want(
                    "approved PR #218 \"New Babel Updates\"",
                    "https://github.com/LizardByte/RetroArcher/pull/218",
                )
            },
        ),
        (
            "push_event",
            Want {
                git_ref: Some("master"),
                ..want(
                    "pushed to master",
                    "https://github.com/orhanarifoglu/orhanarifoglu/compare/9b2afb3a8e03fb30cc09e5efb64823bde802cf59...eb1a60c03544dcea290f2d57bb66ae188ce25778",
                )
            },
        ),
        (
            "release_event",
            Want {
                title: Some("Last-CI-build"),
                git_ref: Some("Last-CI-build"),
                ..want(
                    "released Last-CI-build",
                    "https://github.com/open-watcom/open-watcom-v2/releases/tag/Last-CI-build",
                )
            },
        ),
        (
            "unknown_event",
            want("AmazingEvent", "https://github.com/perpetualKid/ORTS-MG"),
        ),
        (
            "watch_event",
            want("starred", "https://github.com/wayofthepie/test-events"),
        ),
        // Not an Events API type: an unknown one, a plain line.
        (
            "workflow_run_event",
            want("WorkflowRunEvent", "https://github.com/artichoke/artichoke"),
        ),
    ];
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/single-events"
    );
    let files = std::fs::read_dir(dir).unwrap().count();
    assert_eq!(
        cases.len(),
        files,
        "a case for every file in single-events/"
    );
    for (file, want) in &cases {
        check(&recorded(file).0, want, file);
    }
}

/// An event as GitHub sends it today (section 9: trimmed since 2025-10-07).
fn event(event_type: &str, payload: Value) -> String {
    json!({
        "id": "52000000001",
        "type": event_type,
        "actor": {"id": 1, "login": "alice", "display_login": "alice", "gravatar_id": "",
                  "url": "https://api.github.com/users/alice",
                  "avatar_url": "https://avatars.githubusercontent.com/u/1?"},
        "repo": {"id": 2, "name": "ratatui/ghpulse", "url": "https://api.github.com/repos/ratatui/ghpulse"},
        "payload": payload,
        "public": true,
        "created_at": "2025-10-08T10:00:00Z"
    })
    .to_string()
}

fn line(event_type: &str, payload: Value) -> FeedLine {
    feed_line(
        &event(event_type, payload),
        &repo("ratatui/ghpulse"),
        &web(),
    )
}

/// The minimal pull request of the schema: `id`, `number`, `url`, `head`, `base`.
fn trimmed_pull_request() -> Value {
    json!({
        "id": 2992470303_u64, "number": 812,
        "url": "https://api.github.com/repos/ratatui/ghpulse/pulls/812",
        "head": {"ref": "fix-x", "sha": "7a8f3ac80e2ad2f6842cb86f576d4bfe2c03e300",
                 "repo": {"id": 2, "url": "https://api.github.com/repos/ratatui/ghpulse", "name": "ghpulse"}},
        "base": {"ref": "main", "sha": "883efe034920928c47fe18598c01249d1a9fdabd",
                 "repo": {"id": 2, "url": "https://api.github.com/repos/ratatui/ghpulse", "name": "ghpulse"}}
    })
}

#[test]
fn trimmed_payloads_give_what_they_carry_and_nothing_more() {
    let pr = line(
        "PullRequestEvent",
        json!({"action": "opened", "number": 812, "pull_request": trimmed_pull_request()}),
    );
    check(
        &pr,
        &Want {
            number: Some(812),
            ..want(
                "opened PR #812",
                "https://github.com/ratatui/ghpulse/pull/812",
            )
        },
        "trimmed pull request: no title",
    );
    // Without `merged` a close is a close, not a merge.
    let closed = line(
        "PullRequestEvent",
        json!({"action": "closed", "number": 812, "pull_request": trimmed_pull_request()}),
    );
    assert_eq!(closed.summary, "closed PR #812");
    // Only the number: still its page.
    let bare = line(
        "PullRequestEvent",
        json!({"action": "reopened", "number": 9}),
    );
    check(
        &bare,
        &Want {
            number: Some(9),
            ..want(
                "reopened PR #9",
                "https://github.com/ratatui/ghpulse/pull/9",
            )
        },
        "number only",
    );
    let review = line(
        "PullRequestReviewEvent",
        json!({"action": "created", "review": {"id": 1, "state": "changes_requested"},
               "pull_request": trimmed_pull_request()}),
    );
    assert_eq!(review.summary, "requested changes on PR #812");
    assert_eq!(review.url, "https://github.com/ratatui/ghpulse/pull/812");

    let push = line(
        "PushEvent",
        json!({"repository_id": 2, "push_id": 10115855396_u64, "ref": "refs/heads/main",
               "head": "7a8f3ac80e2ad2f6842cb86f576d4bfe2c03e300",
               "before": "883efe034920928c47fe18598c01249d1a9fdabd"}),
    );
    check(
        &push,
        &Want {
            git_ref: Some("main"),
            ..want(
                "pushed to main",
                "https://github.com/ratatui/ghpulse/compare/883efe034920928c47fe18598c01249d1a9fdabd...7a8f3ac80e2ad2f6842cb86f576d4bfe2c03e300",
            )
        },
        "trimmed push: no commits, no size",
    );
}

#[test]
fn full_payloads_say_more() {
    let push = line(
        "PushEvent",
        json!({"ref": "refs/heads/main", "size": 3, "commits": [{}, {}, {}],
               "head": "7a8f3ac", "before": "883efe0"}),
    );
    assert_eq!(push.summary, "pushed 3 commits to main");
    let old = line(
        "PushEvent",
        json!({"ref": "refs/heads/gh-pages", "commits": [{"sha": "a"}]}),
    );
    assert_eq!(old.summary, "pushed 1 commit to gh-pages");
    assert_eq!(
        old.url, "https://github.com/ratatui/ghpulse",
        "no commits to compare"
    );
    let tag = line("PushEvent", json!({"ref": "refs/tags/v0.4.0"}));
    assert_eq!(
        (tag.summary.as_str(), tag.git_ref.as_deref()),
        ("pushed tag v0.4.0", Some("v0.4.0"))
    );
    // A push that created its branch has nothing to compare with: its head commit.
    let first = line(
        "PushEvent",
        json!({"ref": "refs/heads/fix-x", "before": "0000000000000000000000000000000000000000",
               "head": "7a8f3ac80e2ad2f6842cb86f576d4bfe2c03e300"}),
    );
    assert_eq!(
        first.url,
        "https://github.com/ratatui/ghpulse/commit/7a8f3ac80e2ad2f6842cb86f576d4bfe2c03e300"
    );

    let merged = line(
        "PullRequestEvent",
        json!({"action": "closed", "number": 790,
               "pull_request": {"number": 790, "title": "Add themes", "merged": true}}),
    );
    assert_eq!(merged.summary, "merged PR #790 \"Add themes\"");
    let on_pr = line(
        "IssueCommentEvent",
        json!({"action": "created",
               "issue": {"number": 790, "title": "Add themes", "pull_request": {"url": "x"}},
               "comment": {"id": 42}}),
    );
    assert_eq!(on_pr.summary, "commented on PR #790 \"Add themes\"");
    // Payloads of 2013 and before give every issue a `pull_request` of null links.
    let on_2013_issue = line(
        "IssueCommentEvent",
        json!({"action": "created",
               "issue": {"number": 12, "title": "Crash",
                         "pull_request": {"html_url": null, "diff_url": null, "patch_url": null}},
               "comment": {"id": 7}}),
    );
    assert_eq!(on_2013_issue.summary, "commented on issue #12 \"Crash\"");
    assert_eq!(
        on_pr.url,
        "https://github.com/ratatui/ghpulse/issues/790#issuecomment-42"
    );
    let named = line(
        "ReleaseEvent",
        json!({"action": "published", "release": {"tag_name": "v0.4.0", "name": "Spring"}}),
    );
    assert_eq!(named.summary, "released v0.4.0 \"Spring\"");
    assert_eq!(named.title.as_deref(), Some("Spring"));
    let created_tag = line("CreateEvent", json!({"ref": "v0.4.0", "ref_type": "tag"}));
    assert_eq!(created_tag.summary, "created tag v0.4.0");
    assert_eq!(
        created_tag.url,
        "https://github.com/ratatui/ghpulse/tree/v0.4.0"
    );
    let new_repo = line(
        "CreateEvent",
        json!({"ref": null, "ref_type": "repository"}),
    );
    assert_eq!(new_repo.summary, "created the repository");
    assert_eq!(new_repo.url, "https://github.com/ratatui/ghpulse");
    let draft = line(
        "PullRequestEvent",
        json!({"action": "converted_to_draft", "number": 3}),
    );
    assert_eq!(draft.summary, "converted to draft PR #3");
    let discussion = line(
        "DiscussionEvent",
        json!({"action": "created", "discussion": {"number": 12, "title": "Roadmap"}}),
    );
    assert_eq!(discussion.summary, "started discussion #12 \"Roadmap\"");
    assert_eq!(
        line("PublicEvent", json!({})).summary,
        "made the repository public"
    );
    assert_eq!(
        line("GollumEvent", json!({"pages": [{}, {}]})).summary,
        "updated 2 wiki pages"
    );
}

#[test]
fn refs_are_split_into_encoded_parts() {
    let branch = line(
        "CreateEvent",
        json!({"ref": "feature/ä b#1", "ref_type": "branch"}),
    );
    assert_eq!(
        branch.url,
        "https://github.com/ratatui/ghpulse/tree/feature/%C3%A4%20b%231"
    );
    // A `..` part names no page of the repository: the repository's own is given.
    let sneaky = line(
        "ReleaseEvent",
        json!({"release": {"tag_name": "../../../evil"}}),
    );
    assert_eq!(sneaky.url, "https://github.com/ratatui/ghpulse");
}

#[test]
fn odd_payloads_lose_details_not_the_line() {
    assert_eq!(line("IssuesEvent", json!(null)).summary, "updated issue");
    assert_eq!(
        line(
            "IssuesEvent",
            json!({"action": 7, "issue": {"number": "12", "title": 5}})
        )
        .url,
        "https://github.com/ratatui/ghpulse"
    );
    let unreadable = feed_line("{not json", &repo("o/r"), &web());
    assert_eq!(unreadable.summary, "an event of no type");
    assert_eq!(unreadable.url, "https://github.com/o/r");
    // Payload text is one clean line: no escape sequences reach a terminal.
    let hostile = line(
        "IssuesEvent",
        json!({"action": "opened",
               "issue": {"number": 1, "title": "a\u{1b}]8;;http://evil\u{7}b\n\tc\u{202e}d"}}),
    );
    assert_eq!(
        hostile.summary,
        "opened issue #1 \"a ]8;;http://evil b c d\""
    );
    let long = line(
        "IssuesEvent",
        json!({"action": "opened", "issue": {"number": 1, "title": "x".repeat(1000)}}),
    );
    let title = long.title.unwrap();
    assert_eq!(title.chars().count(), MAX_TEXT);
    assert!(title.ends_with('…'));
}

#[test]
fn the_web_origin_follows_the_api_url() {
    for (api, web) in [
        ("https://api.github.com", "https://github.com"),
        ("https://api.github.com/", "https://github.com"),
        ("https://ghe.example.com/api/v3", "https://ghe.example.com"),
        (
            "https://ghe.example.com:8443/api/v3/",
            "https://ghe.example.com:8443",
        ),
        ("http://127.0.0.1:5005", "http://127.0.0.1:5005"),
        ("http://[::1]:8080/some/path", "http://[::1]:8080"),
        ("not a url", "https://github.com"),
    ] {
        assert_eq!(WebOrigin::from_api_url(api).as_str(), web, "{api}");
    }
    let ghe = WebOrigin::from_api_url("https://ghe.example.com/api/v3");
    let issue = feed_line(
        &event(
            "IssuesEvent",
            json!({"action": "closed", "issue": {"number": 4}}),
        ),
        &repo("Team/App"),
        &ghe,
    );
    assert_eq!(issue.url, "https://ghe.example.com/Team/App/issues/4");
}

/// Strings an attacker could put in a payload.
fn hostile() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("javascript:alert(1)".to_string()),
        Just("https://evil.example/x".to_string()),
        Just("//evil.example".to_string()),
        Just("evil.example/../..".to_string()),
        Just("user@evil.example".to_string()),
        Just("..".to_string()),
        Just("a/b#c?d".to_string()),
        Just("\\\\evil\\x".to_string()),
        Just("%2F%2Fevil.example".to_string()),
        Just("data:text/html,<script>".to_string()),
        "[a-z:/@#?.\\\\%]{0,20}",
        "\\PC{0,24}",
        any::<String>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// Whatever a payload holds, the page is on the web origin, under the watched repository
    /// or a well-formed fork's name.
    #[test]
    fn no_payload_string_becomes_a_scheme_or_origin(
        s in hostile(),
        n in any::<u64>(),
        ty in prop::sample::select(vec![
            "IssuesEvent", "IssueCommentEvent", "PullRequestEvent", "PullRequestReviewEvent",
            "PullRequestReviewCommentEvent", "PushEvent", "CreateEvent", "DeleteEvent",
            "ForkEvent", "ReleaseEvent", "WatchEvent", "MemberEvent", "GollumEvent",
            "CommitCommentEvent", "DiscussionEvent", "AmazingEvent",
        ]),
        enterprise in any::<bool>(),
    ) {
        let item = json!({"number": n, "title": s, "html_url": s, "url": s,
                          "pull_request": {"html_url": s}, "merged": true});
        let payload = json!({
            "action": s, "number": n, "ref": s, "ref_type": "branch", "head": s, "before": s,
            "html_url": s, "issue": item, "pull_request": item, "discussion": item,
            "comment": {"id": n, "html_url": s, "commit_id": s},
            "review": {"state": s, "html_url": s},
            "forkee": {"full_name": s, "html_url": s, "name": s, "owner": {"login": s}},
            "release": {"tag_name": s, "name": s, "html_url": s},
            "member": {"login": s, "html_url": s},
            "pages": [{"page_name": s, "title": s, "html_url": s}],
        });
        let raw = event(ty, payload);
        let web = if enterprise {
            WebOrigin::from_api_url("https://ghe.example.com/api/v3")
        } else {
            web()
        };
        let got = feed_line(&raw, &repo("ratatui/ghpulse"), &web);
        let url = url::Url::parse(&got.url).expect("a URL");
        let origin = url::Url::parse(web.as_str()).unwrap();
        prop_assert_eq!(url.scheme(), origin.scheme());
        prop_assert_eq!(url.host_str(), origin.host_str());
        prop_assert_eq!(url.port(), origin.port());
        prop_assert!(url.username().is_empty() && url.password().is_none());
        let path = url.path();
        if ty == "ForkEvent" {
            let fork = RepoName::parse(&s).ok();
            let fork_path = fork.map(|f| format!("/{}", f.as_str()));
            prop_assert!(
                path == "/ratatui/ghpulse" || Some(path) == fork_path.as_deref(),
                "{}", got.url
            );
        } else {
            prop_assert!(path.starts_with("/ratatui/ghpulse"), "{}", got.url);
        }
        prop_assert!(!got.summary.chars().any(|c| c.is_control()));
    }
}
