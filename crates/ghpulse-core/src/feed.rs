//! The event feed (SPEC section 9): what an event did, in one line, and the web page to open,
//! both built by [`feed_line`] from the event's stored JSON and its repository. The dashboard,
//! the REST events list and the live stream all use it.
//!
//! Payload strings are untrusted. A line shows them cleaned (no control or bidi characters,
//! bounded length); a URL is built from the web origin and percent-encoded path parts, never
//! copied from the payload, so nothing in an event can choose its scheme or host.

use chrono::{DateTime, Utc};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::github::event::names_a_pull_request;

use crate::github::event::EventMeta;
use crate::github::repo_name::RepoName;

/// The longest payload text a line shows, in characters (GitHub's titles stop at 256).
const MAX_TEXT: usize = 256;

/// Everything but RFC 3986's unreserved characters is encoded in a path part.
const PATH_PART: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Where the web pages of a GitHub (or GitHub Enterprise Server) instance live, derived from
/// its API URL: `https://api.github.com` -> `https://github.com`, `https://HOST/api/v3` ->
/// `https://HOST`, any other API URL -> its own origin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebOrigin(String);

impl Default for WebOrigin {
    fn default() -> Self {
        WebOrigin("https://github.com".into())
    }
}

impl WebOrigin {
    /// The web origin of an API URL. An unparsable one (the config refuses those) gives
    /// github.com's.
    pub fn from_api_url(api_url: &str) -> WebOrigin {
        let Ok(url) = url::Url::parse(api_url) else {
            return WebOrigin::default();
        };
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return WebOrigin::default();
        }
        if url.host_str() == Some("api.github.com") {
            return WebOrigin::default();
        }
        // `/api/v3` (GitHub Enterprise Server) and any other path give the bare origin.
        WebOrigin(url.origin().ascii_serialization())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `{origin}/{part}/{part}…` with each part percent-encoded, and `#{fragment}` when given
    /// (fragments are built from numbers only).
    fn page(&self, parts: &[&str], fragment: Option<String>) -> String {
        let mut url = self.0.clone();
        for part in parts {
            url.push('/');
            url.extend(utf8_percent_encode(part, PATH_PART));
        }
        if let Some(f) = fragment {
            url.push('#');
            url.push_str(&f);
        }
        url
    }

    /// `{origin}/{owner}/{name}` followed by `more`.
    fn repo_page(&self, repo: &RepoName, more: &[&str], fragment: Option<String>) -> String {
        let mut parts = vec![repo.owner(), repo.name()];
        parts.extend_from_slice(more);
        self.page(&parts, fragment)
    }
}

/// What one event did and where to see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeedLine {
    /// "opened issue #812 \"Panic on empty config\"", "pushed to main", "starred".
    pub summary: String,
    /// The event's web page (section 9's rules).
    pub url: String,
    /// The issue, pull request or discussion number, when the payload carries one.
    pub number: Option<u64>,
    /// Its title, or a release's name; `None` when the payload has none (a trimmed pull request).
    pub title: Option<String>,
    /// The branch or tag a push, create, delete or release names.
    pub git_ref: Option<String>,
}

/// One stored event as the views list it: the figures the store keeps, and its feed line and
/// web page. The body of each `GET /api/repos/{owner}/{name}/events` entry and of each
/// `github-event` of the stream.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EventEntry {
    /// The watched repository, as the config spells it.
    pub repo: String,
    /// GitHub's event id (a string, as GitHub writes it).
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub action: Option<String>,
    pub actor: String,
    pub created_at: DateTime<Utc>,
    /// The issue, pull request or discussion number, null when the payload carries none.
    pub number: Option<u64>,
    /// The item's title or the release's name, null when the payload has none.
    pub title: Option<String>,
    /// The branch or tag of a push, create, delete or release.
    #[serde(rename = "ref")]
    pub git_ref: Option<String>,
    /// The event's web page, built from the fields (never copied from the payload).
    pub url: String,
    /// The feed line: what the actor did, e.g. `opened issue #812 "Panic on empty config"`.
    pub summary: String,
}

impl EventEntry {
    /// The entry of a stored event of `repo` (its figures and raw JSON).
    pub fn new(repo: &RepoName, meta: &EventMeta, raw: &str, web: &WebOrigin) -> EventEntry {
        let line = feed_line(raw, repo, web);
        EventEntry {
            repo: repo.as_str().to_string(),
            id: meta.id.to_string(),
            event_type: meta.event_type.to_string(),
            action: meta.action.as_deref().map(str::to_string),
            actor: meta.actor.to_string(),
            created_at: meta.created_at,
            number: line.number,
            title: line.title,
            git_ref: line.git_ref,
            url: line.url,
            summary: line.summary,
        }
    }
}

/// The feed line and web page of an event of `repo`, from its JSON as GitHub served it. What
/// the payload does not carry is left out, never invented; an unknown type gets its type as
/// its line and the repository's page.
pub fn feed_line(raw: &str, repo: &RepoName, web: &WebOrigin) -> FeedLine {
    let event: Value = serde_json::from_str(raw).unwrap_or(Value::Null);
    let p = Payload(event.get("payload").unwrap_or(&Value::Null));
    let event_type = event.get("type").and_then(Value::as_str).unwrap_or("");
    let action = p.text(&["action"]);
    let mut line = FeedLine {
        summary: String::new(),
        url: web.repo_page(repo, &[], None),
        number: None,
        title: None,
        git_ref: None,
    };
    match event_type {
        "IssuesEvent" => {
            line.number = p.number(&["issue", "number"]);
            line.title = p.text(&["issue", "title"]);
            let verb = action.as_deref().map_or("updated".into(), verb_of_action);
            line.summary = format!("{verb} {}", item("issue", line.number, &line.title));
            line.url = issue_page(web, repo, line.number, None);
        }
        "IssueCommentEvent" => {
            line.number = p.number(&["issue", "number"]);
            line.title = p.text(&["issue", "title"]);
            // GitHub files pull request conversations as issues.
            let kind = if p
                .at(&["issue", "pull_request"])
                .is_some_and(names_a_pull_request)
            {
                "PR"
            } else {
                "issue"
            };
            line.summary = format!(
                "{} {}",
                comment_verb(action.as_deref(), "comment"),
                item(kind, line.number, &line.title)
            );
            let comment = p.number(&["comment", "id"]);
            line.url = issue_page(web, repo, line.number, comment);
        }
        "PullRequestEvent" => {
            line.number = p
                .number(&["number"])
                .or_else(|| p.number(&["pull_request", "number"]));
            line.title = p.text(&["pull_request", "title"]);
            let merged = p.0.pointer("/pull_request/merged") == Some(&Value::Bool(true));
            let verb = match action.as_deref() {
                Some("closed") if merged => "merged".to_string(),
                Some("synchronize") => "pushed to".to_string(),
                Some(a) => verb_of_action(a),
                None => "updated".to_string(),
            };
            line.summary = format!("{verb} {}", item("PR", line.number, &line.title));
            line.url = pull_page(web, repo, line.number);
        }
        "PullRequestReviewEvent" => {
            line.number = p.number(&["pull_request", "number"]);
            line.title = p.text(&["pull_request", "title"]);
            let verb = match p.text(&["review", "state"]).as_deref() {
                Some("approved") => "approved",
                Some("changes_requested") => "requested changes on",
                Some("dismissed") => "dismissed a review of",
                _ => "reviewed",
            };
            line.summary = format!("{verb} {}", item("PR", line.number, &line.title));
            line.url = pull_page(web, repo, line.number);
        }
        "PullRequestReviewCommentEvent" => {
            line.number = p.number(&["pull_request", "number"]);
            line.title = p.text(&["pull_request", "title"]);
            line.summary = format!(
                "{} {}",
                comment_verb(action.as_deref(), "review comment"),
                item("PR", line.number, &line.title)
            );
            line.url = pull_page(web, repo, line.number);
        }
        "PullRequestReviewThreadEvent" => {
            line.number = p.number(&["pull_request", "number"]);
            line.title = p.text(&["pull_request", "title"]);
            let verb = match action.as_deref() {
                Some("unresolved") => "reopened a review thread on",
                _ => "resolved a review thread on",
            };
            line.summary = format!("{verb} {}", item("PR", line.number, &line.title));
            line.url = pull_page(web, repo, line.number);
        }
        "PushEvent" => {
            let (kind, name) = match p.text(&["ref"]) {
                Some(r) => split_ref(&r),
                None => (RefKind::Other, None),
            };
            let commits = p
                .number(&["size"])
                .or_else(|| p.0.get("commits")?.as_array().map(|c| c.len() as u64));
            line.summary = match (&kind, &name, commits) {
                (RefKind::Tag, Some(tag), _) => format!("pushed tag {tag}"),
                (_, Some(branch), Some(n)) => format!("pushed {} to {branch}", plural(n, "commit")),
                (_, Some(branch), None) => format!("pushed to {branch}"),
                (_, None, Some(n)) => format!("pushed {}", plural(n, "commit")),
                (_, None, None) => "pushed".to_string(),
            };
            line.git_ref = name;
            line.url = push_page(web, repo, p.text(&["before"]), p.text(&["head"]));
        }
        "CreateEvent" | "DeleteEvent" => {
            let created = event_type == "CreateEvent";
            let verb = if created { "created" } else { "deleted" };
            let ref_type = p.text(&["ref_type"]);
            line.git_ref = p.text(&["ref"]);
            line.summary = match (ref_type.as_deref(), &line.git_ref) {
                (Some("repository"), _) | (None, None) => format!("{verb} the repository"),
                (Some(kind), Some(name)) => format!("{verb} {kind} {name}"),
                (Some(kind), None) => format!("{verb} a {kind}"),
                (None, Some(name)) => format!("{verb} {name}"),
            };
            let is_ref = matches!(ref_type.as_deref(), Some("branch" | "tag"));
            if created
                && is_ref
                && let Some(name) = &line.git_ref
            {
                line.url = ref_page(web, repo, &["tree"], name);
            }
        }
        "ForkEvent" => {
            let fork = p.text(&["forkee", "full_name"]).or_else(|| {
                let owner = p.text(&["forkee", "owner", "login"])?;
                Some(format!("{owner}/{}", p.text(&["forkee", "name"])?))
            });
            line.summary = match &fork {
                Some(f) => format!("forked to {f}"),
                None => "forked the repository".to_string(),
            };
            // Only a well-formed name: anything else could not be a repository page.
            if let Some(f) = fork.and_then(|f| RepoName::parse(&f).ok()) {
                line.url = web.page(&[f.owner(), f.name()], None);
            }
        }
        "ReleaseEvent" => {
            line.git_ref = p.text(&["release", "tag_name"]);
            line.title = p.text(&["release", "name"]).filter(|n| !n.is_empty());
            let what = match &line.git_ref {
                Some(tag) => tag.clone(),
                None => "a release".to_string(),
            };
            line.summary = match action.as_deref() {
                Some("published" | "released" | "created") | None => format!("released {what}"),
                Some("prereleased") => format!("pre-released {what}"),
                Some(a) => format!("{} release {what}", verb_of_action(a)),
            };
            if let Some(name) = line
                .title
                .as_ref()
                .filter(|n| Some(*n) != line.git_ref.as_ref())
            {
                line.summary.push_str(&format!(" \"{name}\""));
            }
            if let Some(tag) = &line.git_ref {
                line.url = ref_page(web, repo, &["releases", "tag"], tag);
            }
        }
        "WatchEvent" => line.summary = "starred".to_string(),
        "MemberEvent" => {
            let member = p.text(&["member", "login"]);
            let who = member.as_deref().unwrap_or("a collaborator");
            line.summary = match action.as_deref() {
                Some("removed") => format!("removed {who} as a collaborator"),
                Some("edited") => format!("changed the permissions of {who}"),
                _ => format!("added {who} as a collaborator"),
            };
        }
        "PublicEvent" => line.summary = "made the repository public".to_string(),
        "GollumEvent" => {
            let pages = p.0.get("pages").and_then(Value::as_array);
            line.summary = match pages.map(Vec::as_slice) {
                Some([page]) => {
                    let p = Payload(page);
                    let verb = p.text(&["action"]).unwrap_or_else(|| "updated".into());
                    match p.text(&["title"]).or_else(|| p.text(&["page_name"])) {
                        Some(title) => format!("{verb} wiki page {title}"),
                        None => format!("{verb} a wiki page"),
                    }
                }
                Some(pages) if !pages.is_empty() => format!("updated {} wiki pages", pages.len()),
                _ => "updated the wiki".to_string(),
            };
        }
        "CommitCommentEvent" => {
            let sha = p
                .text(&["comment", "commit_id"])
                .filter(|s| s.len() >= 7 && s.bytes().all(|b| b.is_ascii_hexdigit()));
            line.summary = match sha {
                Some(sha) => format!("commented on commit {}", &sha[..7]),
                None => "commented on a commit".to_string(),
            };
        }
        "DiscussionEvent" => {
            line.number = p.number(&["discussion", "number"]);
            line.title = p.text(&["discussion", "title"]);
            let verb = match action.as_deref() {
                Some("created") | None => "started".to_string(),
                Some(a) => verb_of_action(a),
            };
            line.summary = format!("{verb} {}", item("discussion", line.number, &line.title));
        }
        "SponsorshipEvent" => {
            line.summary = match action.as_deref() {
                Some("created") | None => "started sponsoring".to_string(),
                Some("cancelled") => "stopped sponsoring".to_string(),
                Some(a) => format!("{} a sponsorship", verb_of_action(a)),
            };
        }
        other => {
            line.summary = match clean(other) {
                t if t.is_empty() => "an event of no type".to_string(),
                t => t,
            };
        }
    }
    line
}

/// A payload object, read leniently: a field of an unexpected type reads as absent.
struct Payload<'a>(&'a Value);

impl Payload<'_> {
    fn at(&self, path: &[&str]) -> Option<&Value> {
        path.iter().try_fold(self.0, |v, key| v.get(key))
    }

    /// A non-empty string, cleaned for display.
    fn text(&self, path: &[&str]) -> Option<String> {
        Some(clean(self.at(path)?.as_str()?)).filter(|s| !s.is_empty())
    }

    fn number(&self, path: &[&str]) -> Option<u64> {
        self.at(path)?.as_u64()
    }
}

/// Payload text made safe for one line: control and bidirectional-override characters become
/// spaces, runs of white space one, and it stops at [`MAX_TEXT`] characters.
fn clean(text: &str) -> String {
    let bidi = |c: char| matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}');
    let mut out = String::with_capacity(text.len().min(MAX_TEXT * 4));
    let mut count = 0;
    for word in text
        .split(|c: char| c.is_whitespace() || c.is_control() || bidi(c))
        .filter(|w| !w.is_empty())
    {
        if !out.is_empty() {
            out.push(' ');
            count += 1;
        }
        for c in word.chars() {
            if count == MAX_TEXT {
                out.pop();
                out.push('…');
                return out;
            }
            out.push(c);
            count += 1;
        }
    }
    out
}

/// "issue #812 \"Panic on empty config\"", "PR #8", "issue".
fn item(kind: &str, number: Option<u64>, title: &Option<String>) -> String {
    let mut text = kind.to_string();
    if let Some(n) = number {
        text.push_str(&format!(" #{n}"));
    }
    if let Some(t) = title {
        text.push_str(&format!(" \"{t}\""));
    }
    text
}

/// An action as a verb: "opened", "converted to draft".
fn verb_of_action(action: &str) -> String {
    action.replace('_', " ")
}

fn comment_verb(action: Option<&str>, what: &str) -> String {
    match action {
        Some("edited") => format!("edited a {what} on"),
        Some("deleted") => format!("deleted a {what} on"),
        _ => "commented on".to_string(),
    }
}

fn plural(n: u64, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

enum RefKind {
    Branch,
    Tag,
    Other,
}

/// `refs/heads/main` -> a branch `main`, `refs/tags/v1` -> a tag `v1`.
fn split_ref(full: &str) -> (RefKind, Option<String>) {
    let (kind, name) = if let Some(b) = full.strip_prefix("refs/heads/") {
        (RefKind::Branch, b)
    } else if let Some(t) = full.strip_prefix("refs/tags/") {
        (RefKind::Tag, t)
    } else {
        (RefKind::Other, full)
    };
    (kind, Some(name.to_string()).filter(|n| !n.is_empty()))
}

fn issue_page(web: &WebOrigin, repo: &RepoName, n: Option<u64>, comment: Option<u64>) -> String {
    match n {
        Some(n) => web.repo_page(
            repo,
            &["issues", &n.to_string()],
            comment.map(|c| format!("issuecomment-{c}")),
        ),
        None => web.repo_page(repo, &[], None),
    }
}

fn pull_page(web: &WebOrigin, repo: &RepoName, n: Option<u64>) -> String {
    match n {
        Some(n) => web.repo_page(repo, &["pull", &n.to_string()], None),
        None => web.repo_page(repo, &[], None),
    }
}

/// `compare/{before}...{head}`; a push that created its branch (`before` all zeros) has
/// nothing to compare with, so it shows its head commit. Only commit ids: anything else in
/// those fields is no commit.
fn push_page(
    web: &WebOrigin,
    repo: &RepoName,
    before: Option<String>,
    head: Option<String>,
) -> String {
    let sha =
        |s: Option<String>| s.filter(|s| s.len() >= 7 && s.bytes().all(|b| b.is_ascii_hexdigit()));
    match (sha(before), sha(head)) {
        (Some(before), Some(head)) if before.bytes().all(|b| b == b'0') => {
            web.repo_page(repo, &["commit", &head], None)
        }
        (Some(before), Some(head)) => {
            web.repo_page(repo, &["compare", &format!("{before}...{head}")], None)
        }
        _ => web.repo_page(repo, &[], None),
    }
}

/// `{repo}/{prefix}/{ref}`, a ref's `/`-separated parts each encoded (as GitHub writes
/// `tree/feature/x`); a ref with an empty, `.` or `..` part names no page, so the repository's
/// is given.
fn ref_page(web: &WebOrigin, repo: &RepoName, prefix: &[&str], name: &str) -> String {
    let parts: Vec<&str> = name.split('/').collect();
    if parts.iter().any(|p| matches!(*p, "" | "." | "..")) {
        return web.repo_page(repo, &[], None);
    }
    let mut path = prefix.to_vec();
    path.extend(parts);
    web.repo_page(repo, &path, None)
}

#[cfg(test)]
mod tests;
