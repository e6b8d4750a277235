//! One request to GitHub's repository events endpoint: conditional headers out, rate-limit
//! headers, poll interval, `Link` and errors in. No policy lives here: the fetcher decides.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::{self, HeaderMap};
use serde_json::value::RawValue;

use crate::github::bounds;
use crate::github::event::EventMeta;
use crate::github::rate_limit::RateLimit;
use crate::github::repo_name::RepoName;

pub const DEFAULT_API_URL: &str = "https://api.github.com";
const USER_AGENT: &str = concat!("ghpulse/", env!("CARGO_PKG_VERSION"));
/// A page of 100 events is well under 1 MiB; anything far larger is not an events page.
const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const MAX_REDIRECTS: usize = 10;

/// Why a redirect was refused; found again in reqwest's error chain.
#[derive(Debug, thiserror::Error)]
#[error("redirect to another origin ({0})")]
struct ForeignRedirect(String);

/// Whether `url` has the scheme, host and port of `api_url` (the only place the token goes).
pub fn same_origin(url: &str, api_url: &str) -> bool {
    match (reqwest::Url::parse(url), reqwest::Url::parse(api_url)) {
        (Ok(a), Ok(b)) => a.origin() == b.origin() && a.origin().is_tuple(),
        _ => false,
    }
}

/// `scheme://host:port` of a URL, for messages: never its path or query.
pub fn origin_of(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => u.origin().ascii_serialization(),
        Err(_) => "an unreadable URL".into(),
    }
}

/// A GitHub token. Its `Debug` and `Display` never show it, so no log line can leak it.
#[derive(Clone)]
pub struct Token(String);

impl Token {
    pub fn new(s: String) -> Option<Token> {
        let s = s.trim().to_string();
        (!s.is_empty()).then_some(Token(s))
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(hidden)")
    }
}

/// What every answer told us, whatever its status, each number within `bounds`.
#[derive(Clone, Debug, Default)]
pub struct ResponseMeta {
    pub status: u16,
    pub rate_limit: Option<RateLimit>,
    /// `X-Poll-Interval`, 1 s to an hour.
    pub poll_interval: Option<Duration>,
    /// `retry-after`, at most an hour.
    pub retry_after: Option<Duration>,
    /// Server clock minus ours, from the `Date` header: used to read `x-ratelimit-reset`.
    pub clock_skew: Option<chrono::TimeDelta>,
}

#[derive(Debug)]
pub struct EventsPage {
    /// Parsed events with their raw JSON, in the order GitHub listed them.
    pub events: Vec<(EventMeta, String)>,
    /// Events that could not be read (no id, no type, bad date); they are logged and skipped.
    pub skipped: Vec<Skipped>,
    pub next: Option<String>,
    pub etag: Option<String>,
    /// Where the answer came from after redirects: differs from the request for renamed repos.
    pub final_url: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("not found (HTTP {0})")]
    NotFound(u16),
    #[error("token rejected (HTTP 401); check GITHUB_TOKEN / GH_TOKEN")]
    Unauthorized,
    #[error("rate limited (HTTP {0})")]
    RateLimited(u16),
    #[error("forbidden (HTTP 403): {0}")]
    Forbidden(String),
    #[error("server error (HTTP {0})")]
    Server(u16),
    #[error("unexpected answer (HTTP {0})")]
    Unexpected(u16),
    #[error("timed out")]
    Timeout,
    #[error("network error: {0}")]
    Network(String),
    #[error("malformed answer: {0}")]
    Malformed(String),
    /// A `Link` or a redirect pointed off the API's origin: not followed, the token stays home.
    #[error("refused to follow a link to another origin ({0})")]
    ForeignOrigin(String),
    /// The poll's events could not be committed (disk full, I/O error).
    #[error("{0}")]
    Store(String),
}

#[derive(Debug)]
pub enum Outcome {
    NotModified,
    Page(EventsPage),
    Failed(FetchError),
}

#[derive(Debug)]
pub struct Answer {
    /// `None` when no HTTP answer arrived (network error, timeout).
    pub meta: Option<ResponseMeta>,
    pub outcome: Outcome,
}

/// Where pages come from: GitHub over HTTP, or a model of it in a simulation.
pub trait Transport: Send + Sync + 'static {
    /// The API root, e.g. `https://api.github.com`, without a trailing slash.
    fn api_url(&self) -> &str;

    fn first_page_url(&self, repo: &RepoName) -> String {
        format!(
            "{}/repos/{}/{}/events?per_page=100",
            self.api_url(),
            repo.owner(),
            repo.name()
        )
    }

    fn get(
        &self,
        url: &str,
        etag: Option<&str>,
    ) -> impl std::future::Future<Output = Answer> + Send;

    /// Waits before asking again for a page that failed. A simulation moves its own clock
    /// instead of sleeping.
    fn pause(&self, wait: Duration) -> impl std::future::Future<Output = ()> + Send {
        tokio::time::sleep(wait)
    }
}

impl Transport for Client {
    fn api_url(&self) -> &str {
        &self.api_url
    }

    fn get(
        &self,
        url: &str,
        etag: Option<&str>,
    ) -> impl std::future::Future<Output = Answer> + Send {
        self.send(url.to_string(), etag.map(str::to_string))
    }
}

#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    api_url: String,
    token: Option<Token>,
}

fn is_loopback(api_url: &str) -> bool {
    reqwest::Url::parse(api_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
        .is_some_and(|host| {
            host == "localhost"
                || host
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        })
}

impl Client {
    pub fn new(api_url: &str, token: Option<Token>) -> Result<Client, String> {
        let api_url = api_url.trim_end_matches('/').to_string();
        let home = reqwest::Url::parse(&api_url)
            .map_err(|e| format!("API URL {api_url:?}: {e}"))?
            .origin();
        // Renamed repositories redirect within the API; anything else is refused before a
        // request (and the token) leaves for it.
        let redirects = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.url().origin() != home {
                let to = origin_of(attempt.url().as_str());
                attempt.error(ForeignRedirect(to))
            } else if attempt.previous().len() >= MAX_REDIRECTS {
                attempt.error("too many redirects")
            } else {
                attempt.follow()
            }
        });
        // reqwest takes the process's default provider; the first client installs ring (a
        // later call finds it installed, which is no failure).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(Duration::from_secs(10))
            .redirect(redirects);
        // An API on this machine (`ghpulse demo`, a local mirror) is never reached through
        // the proxy that `HTTPS_PROXY`/`ALL_PROXY` name for the outside world.
        if is_loopback(&api_url) {
            builder = builder.no_proxy();
        }
        let http = builder
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Client {
            http,
            api_url,
            token,
        })
    }

    pub fn authenticated(&self) -> bool {
        self.token.is_some()
    }

    /// Sends one GET. `etag` makes it conditional; later pages are fetched without one.
    async fn send(&self, url: String, etag: Option<String>) -> Answer {
        if !same_origin(&url, &self.api_url) {
            return Answer {
                meta: None,
                outcome: Outcome::Failed(FetchError::ForeignOrigin(origin_of(&url))),
            };
        }
        let mut req = self
            .http
            .get(&url)
            .header(header::ACCEPT, "application/vnd.github+json")
            .header("X-GitHub-Api-Version", "2022-11-28");
        if let Some(Token(t)) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(tag) = &etag {
            req = req.header(header::IF_NONE_MATCH, tag.as_str());
        }
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => {
                return Answer {
                    meta: None,
                    outcome: Outcome::Failed(transport_error(&e)),
                };
            }
        };
        let meta = response_meta(resp.status().as_u16(), resp.headers(), Utc::now());
        let outcome = read_outcome(resp, &meta).await;
        Answer {
            meta: Some(meta),
            outcome,
        }
    }
}

async fn read_outcome(resp: reqwest::Response, meta: &ResponseMeta) -> Outcome {
    let status = meta.status;
    let headers = resp.headers().clone();
    let final_url = resp.url().to_string();
    let body = match read_capped(resp).await {
        Ok(b) => b,
        Err(e) => return Outcome::Failed(e),
    };
    match status {
        304 => Outcome::NotModified,
        200 => match parse_events(&body) {
            Ok((events, skipped)) => Outcome::Page(EventsPage {
                events,
                skipped,
                next: next_link(&headers, &final_url),
                etag: header_text(&headers, header::ETAG.as_str()).and_then(bounds::etag),
                final_url,
            }),
            Err(e) => Outcome::Failed(e),
        },
        401 => Outcome::Failed(FetchError::Unauthorized),
        404 | 410 => Outcome::Failed(FetchError::NotFound(status)),
        429 => Outcome::Failed(FetchError::RateLimited(status)),
        403 => {
            let message = error_message(&body);
            let exhausted = meta.rate_limit.as_ref().is_some_and(|r| r.remaining == 0);
            if exhausted
                || meta.retry_after.is_some()
                || message.to_ascii_lowercase().contains("rate limit")
            {
                Outcome::Failed(FetchError::RateLimited(status))
            } else {
                Outcome::Failed(FetchError::Forbidden(message))
            }
        }
        500..=599 => Outcome::Failed(FetchError::Server(status)),
        _ => Outcome::Failed(FetchError::Unexpected(status)),
    }
}

async fn read_capped(mut resp: reqwest::Response) -> Result<Vec<u8>, FetchError> {
    let mut body = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > MAX_BODY_BYTES {
                    return Err(FetchError::Malformed(format!(
                        "body over {MAX_BODY_BYTES} bytes"
                    )));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            Err(e) => return Err(transport_error(&e)),
        }
    }
}

fn transport_error(e: &reqwest::Error) -> FetchError {
    if e.is_timeout() {
        return FetchError::Timeout;
    }
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        if let Some(ForeignRedirect(to)) = c.downcast_ref::<ForeignRedirect>() {
            return FetchError::ForeignOrigin(to.clone());
        }
        cause = c.source();
    }
    // reqwest's top-level message is generic ("error sending request"); the cause is below it.
    let mut msg = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg = format!("{msg}: {s}");
        source = s.source();
    }
    FetchError::Network(msg)
}

/// An event of a page that could not be read, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    /// A hash of its JSON: the same odd event listed again by later polls is told apart
    /// from a new one, so it is reported once.
    pub fingerprint: u64,
    pub why: String,
}

/// Events of a page with their raw JSON, and the unreadable ones.
pub type ParsedPage = (Vec<(EventMeta, String)>, Vec<Skipped>);

/// Reads a page leniently: one odd event never fails the page, a body that is not an array
/// does. Bytes that are not UTF-8 (JSON must be) become U+FFFD, so the event they sit in
/// is kept with the rest of its bytes as served instead of failing the whole page.
pub fn parse_events(body: &[u8]) -> Result<ParsedPage, FetchError> {
    let text = String::from_utf8_lossy(body);
    let raws: Vec<&RawValue> = serde_json::from_str(&text)
        .map_err(|e| FetchError::Malformed(format!("not a JSON array of events: {e}")))?;
    let mut events = Vec::with_capacity(raws.len());
    let mut skipped = Vec::new();
    for raw in raws {
        match EventMeta::from_raw(raw.get()) {
            Ok(meta) => events.push((meta, raw.get().to_string())),
            Err(why) => skipped.push(Skipped {
                fingerprint: fingerprint(raw.get()),
                why,
            }),
        }
    }
    Ok((events, skipped))
}

fn fingerprint(raw: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    raw.hash(&mut h);
    h.finish()
}

fn error_message(body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v.get("message")
                .and_then(|m| m.as_str())
                .map(str::to_string)
        })
        .unwrap_or_default()
}

fn header_text<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    Some(headers.get(name)?.to_str().ok()?.trim())
}

fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    header_text(headers, name)?.parse().ok()
}

/// What the answer's headers say, every number bounded (see `bounds`) as of `now`.
pub fn response_meta(status: u16, headers: &HeaderMap, now: DateTime<Utc>) -> ResponseMeta {
    let clock_skew = header_text(headers, header::DATE.as_str())
        .and_then(|d| httpdate::parse_http_date(d).ok())
        .and_then(|d| bounds::clock_skew(d, now));
    let skew = clock_skew.unwrap_or_default();
    let rate_limit = match (
        header_u64(headers, "x-ratelimit-limit"),
        header_u64(headers, "x-ratelimit-remaining"),
        header_u64(headers, "x-ratelimit-reset"),
    ) {
        (Some(limit), Some(remaining), Some(reset)) => Some(bounds::rate_limit(
            limit,
            remaining,
            header_u64(headers, "x-ratelimit-used"),
            // In our clock: a fast or slow local clock must not make us poll early.
            bounds::reset_at(reset, now, skew),
        )),
        _ => None,
    };
    ResponseMeta {
        status,
        rate_limit,
        poll_interval: header_u64(headers, "x-poll-interval").and_then(bounds::poll_interval),
        retry_after: header_text(headers, "retry-after")
            .and_then(|v| bounds::retry_after(v, now, skew)),
        clock_skew,
    }
}

/// The `rel="next"` target of a `Link` header, used as given (a relative reference is
/// resolved against the URL that answered).
pub fn next_link(headers: &HeaderMap, base: &str) -> Option<String> {
    headers
        .get_all(header::LINK)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| parse_link_header::parse_with_rel(v).ok())
        .find_map(|links| links.get("next").map(|l| l.raw_uri.clone()))
        .and_then(|raw| {
            let base = reqwest::Url::parse(base).ok()?;
            Some(base.join(&raw).ok()?.to_string())
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn only_an_api_on_this_machine_bypasses_the_proxy() {
        for url in [
            "http://127.0.0.1:5000",
            "http://localhost:8080/api",
            "http://[::1]:9000",
            "http://127.8.9.1",
        ] {
            assert!(is_loopback(url), "{url}");
        }
        for url in [
            "https://api.github.com",
            "https://localhost.example.com",
            "http://10.0.0.1",
            "not a url",
        ] {
            assert!(!is_loopback(url), "{url}");
        }
    }

    #[test]
    fn finds_next_in_real_link_headers() {
        let mut h = HeaderMap::new();
        h.insert(header::LINK, HeaderValue::from_static(
            "<https://api.github.com/repositories/810796/events?page=3&per_page=100>; rel=\"next\", <https://api.github.com/repositories/810796/events?page=3&per_page=100>; rel=\"last\", <https://api.github.com/repositories/810796/events?page=1&per_page=100>; rel=\"first\"",
        ));
        let base = "https://api.github.com/repos/o/r/events?per_page=100";
        assert_eq!(
            next_link(&h, base).as_deref(),
            Some("https://api.github.com/repositories/810796/events?page=3&per_page=100")
        );
        h.insert(
            header::LINK,
            HeaderValue::from_static(
                "<https://x/events?page=1>; rel=\"first\", <https://x/events?page=2>; rel=\"prev\"",
            ),
        );
        assert_eq!(next_link(&h, base), None);
        h.insert(
            header::LINK,
            HeaderValue::from_static("</repositories/1/events?page=2>; rel=\"next\""),
        );
        assert_eq!(
            next_link(&h, base).as_deref(),
            Some("https://api.github.com/repositories/1/events?page=2"),
            "a relative reference resolves against the answering URL"
        );
    }

    #[test]
    fn reads_rate_limit_and_poll_interval() {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("x-ratelimit-limit", "60"),
            ("x-ratelimit-remaining", "41"),
            ("x-ratelimit-reset", "1475143315"),
            ("x-poll-interval", "60"),
            ("retry-after", "30"),
        ] {
            h.insert(k, HeaderValue::from_static(v));
        }
        let m = response_meta(200, &h, Utc::now());
        let rl = m.rate_limit.unwrap();
        assert_eq!((rl.limit, rl.remaining, rl.used), (60, 41, 19));
        assert_eq!(m.poll_interval, Some(Duration::from_secs(60)));
        assert_eq!(m.retry_after, Some(Duration::from_secs(30)));
    }

    #[test]
    fn absurd_headers_are_read_into_bounded_values() {
        let now = Utc::now();
        let header_map = |pairs: &[(&'static str, String)]| {
            let mut h = HeaderMap::new();
            for (k, v) in pairs {
                h.insert(*k, HeaderValue::from_str(v).unwrap());
            }
            h
        };
        let chrono_max = DateTime::<Utc>::MAX_UTC.timestamp().to_string();
        let hour = chrono::TimeDelta::hours(1);
        let limits = |reset: &str| {
            vec![
                ("x-ratelimit-limit", "5000".to_string()),
                ("x-ratelimit-remaining", "4999".to_string()),
                ("x-ratelimit-reset", reset.to_string()),
            ]
        };
        for interval in ["100000000000000000", "10000000000000", "999999"] {
            let m = response_meta(
                200,
                &header_map(&[("x-poll-interval", interval.into())]),
                now,
            );
            assert_eq!(
                m.poll_interval,
                Some(bounds::MAX_POLL_INTERVAL),
                "{interval}"
            );
        }
        let m = response_meta(200, &header_map(&[("x-poll-interval", "0".into())]), now);
        assert_eq!(m.poll_interval, None, "0 keeps the interval in force");
        for retry in [
            "10000000000000",
            "1000000000",
            "Fri, 31 Dec 9999 23:59:59 GMT",
        ] {
            let m = response_meta(429, &header_map(&[("retry-after", retry.into())]), now);
            assert_eq!(m.retry_after, Some(bounds::MAX_WAIT), "{retry}");
        }
        let billion_ahead = (now.timestamp() + 1_000_000_000).to_string();
        for reset in [billion_ahead.as_str(), chrono_max.as_str()] {
            let m = response_meta(200, &header_map(&limits(reset)), now);
            let rl = m.rate_limit.unwrap();
            assert!(rl.reset_at <= now + hour, "{reset}: {}", rl.reset_at);
        }
        // A reset near the maximum with a `Date` in the past.
        let mut pairs = limits(&chrono_max);
        pairs.push(("date", "Thu, 01 Jan 1970 00:00:00 GMT".into()));
        let m = response_meta(200, &header_map(&pairs), now);
        assert_eq!(m.clock_skew, None, "a date 56 years off is not believed");
        assert!(m.rate_limit.unwrap().reset_at <= now + hour);
    }

    #[test]
    fn one_odd_event_does_not_fail_the_page() {
        let body = br#"[{"id":"12345678901","type":"NewKindEvent","actor":{"login":"a"},"payload":{},"created_at":"2026-11-22T10:00:00Z"},
                        {"id":"x","type":"PushEvent"}, {"type":"PushEvent","created_at":"2026-11-22T10:00:00Z"}]"#;
        let (events, skipped) = parse_events(body).unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].0.id, 12_345_678_901);
        assert_eq!(events[0].0.event_type, "NewKindEvent");
        assert!(
            events[0].1.starts_with("{\"id\":\"12345678901\""),
            "raw JSON kept verbatim"
        );
        assert_eq!(skipped.len(), 2);
        assert_ne!(skipped[0].fingerprint, skipped[1].fingerprint);
        assert!(matches!(
            parse_events(b"{\"oops\":true}"),
            Err(FetchError::Malformed(_))
        ));
        assert!(matches!(
            parse_events(b"[{\"id\":"),
            Err(FetchError::Malformed(_))
        ));
    }

    #[test]
    fn bytes_that_are_not_utf8_cost_no_event() {
        let mut body = br#"[{"id":"1","type":"IssuesEvent","payload":{"action":"opened","issue":{"title":"caf"#.to_vec();
        body.extend_from_slice(&[0xe9, 0xff]);
        body.extend_from_slice(br#""}},"created_at":"2026-11-22T10:00:00Z"},{"id":"2","type":"PushEvent","created_at":"2026-11-22T10:01:00Z"}]"#);
        let (events, skipped) = parse_events(&body).unwrap();
        assert_eq!(events.len(), 2, "{skipped:?}");
        assert_eq!(events[0].0.action.as_deref(), Some("opened"));
        assert!(
            events[0].1.contains("caf\u{fffd}\u{fffd}\"}"),
            "{}",
            events[0].1
        );
        assert!(skipped.is_empty());
    }

    #[test]
    fn retry_after_may_be_an_http_date() {
        let mut h = HeaderMap::new();
        let later =
            httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(120));
        h.insert("retry-after", HeaderValue::from_str(&later).unwrap());
        let wait = response_meta(403, &h, Utc::now()).retry_after.unwrap();
        assert!(
            wait > Duration::from_secs(110) && wait <= Duration::from_secs(120),
            "{wait:?}"
        );
    }

    #[test]
    fn origins_compare_scheme_host_and_port() {
        let api = "https://api.github.com";
        assert!(same_origin(
            "https://api.github.com/repositories/1/events?page=2",
            api
        ));
        assert!(same_origin("https://API.github.com:443/x", api));
        for other in [
            "https://evil.example/repositories/1/events",
            "http://api.github.com/x",
            "https://api.github.com:8443/x",
            "https://api.github.com.evil.example/x",
            "https://user@evil.example/x",
            "not a url",
        ] {
            assert!(!same_origin(other, api), "{other}");
        }
        assert_eq!(
            origin_of("https://evil.example:8080/p?token=x"),
            "https://evil.example:8080"
        );
    }

    #[test]
    fn the_token_never_prints() {
        let t = Token::new("ghp_secret".into()).unwrap();
        assert!(!format!("{t:?}").contains("secret"));
    }
}
