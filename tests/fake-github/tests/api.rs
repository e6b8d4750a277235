//! The fake server seen from a client: the contract ghpulse's tests rely on.

use std::time::{Duration, Instant, SystemTime};

use fake_github::{FakeGithub, Fault, Options, data};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::Value;

const RAILS: &str = "sferik/rails_admin";
const RAILS_ID: u64 = 810796;

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .user_agent("fake-github-tests")
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// A server with rails_admin (400 real events, so the 300 cap bites) rebased to now.
async fn server(opts: Options) -> FakeGithub {
    let gh = FakeGithub::start(opts).await;
    let mut events = data::load_events("sferik__rails_admin");
    data::rebase(&mut events, SystemTime::now());
    gh.add_repo(RAILS, RAILS_ID, events);
    gh
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("no {name} header"))
    }

    fn num(&self, name: &str) -> u64 {
        self.header(name).parse().expect("numeric header")
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("JSON body")
    }

    fn ids(&self) -> Vec<u64> {
        self.json()
            .as_array()
            .expect("array")
            .iter()
            .map(|e| data::event_id(e).expect("id"))
            .collect()
    }

    /// `rel` → URL from the `link` header.
    fn link(&self, rel: &str) -> Option<String> {
        let link = self.headers.get("link")?.to_str().ok()?;
        link.split(", ").find_map(|part| {
            let (url, r) = part.split_once("; ")?;
            (r == format!("rel=\"{rel}\"")).then(|| url.trim_matches(['<', '>']).to_string())
        })
    }
}

async fn get_with(c: &reqwest::Client, url: &str, headers: &[(&str, &str)]) -> Answer {
    let mut req = c.get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp.text().await.expect("body");
    Answer {
        status,
        headers,
        body,
    }
}

async fn get(gh: &FakeGithub, path: &str) -> Answer {
    get_with(&client(), &format!("{}{path}", gh.url()), &[]).await
}

#[tokio::test]
async fn pages_follow_link_through_the_300_cap() {
    let gh = server(Options::default()).await;
    let c = client();
    let first = get_with(
        &c,
        &format!("{}/repos/{RAILS}/events?per_page=100", gh.url()),
        &[],
    )
    .await;
    assert_eq!(first.status, 200);
    assert_eq!(
        first.header("content-type"),
        "application/json; charset=utf-8"
    );
    let base = gh.url();
    assert_eq!(
        first.header("link"),
        format!(
            "<{base}/repositories/{RAILS_ID}/events?per_page=100&page=2>; rel=\"next\", \
             <{base}/repositories/{RAILS_ID}/events?per_page=100&page=3>; rel=\"last\""
        )
    );
    let mut ids = first.ids();
    let mut page = first;
    let mut pages = 1;
    while let Some(next) = page.link("next") {
        page = get_with(&c, &next, &[]).await;
        assert_eq!(page.status, 200);
        assert!(page.link("first").is_some() && page.link("prev").is_some());
        ids.extend(page.ids());
        pages += 1;
    }
    assert_eq!(pages, 3);
    assert_eq!(page.link("last"), None, "no next/last on the last page");
    assert_eq!(ids.len(), 300);
    assert!(
        ids.windows(2).all(|w| w[0] > w[1]),
        "newest first by numeric id"
    );
    assert_eq!(ids, gh.timeline_ids(RAILS));

    // Beyond the cap GitHub refuses to page.
    let beyond = get(
        &gh,
        &format!("/repositories/{RAILS_ID}/events?per_page=100&page=4"),
    )
    .await;
    assert_eq!(beyond.status, 422);
    assert_eq!(
        gh.requests().iter().map(|r| r.page).collect::<Vec<_>>(),
        [1, 2, 3, 4]
    );
}

#[tokio::test]
async fn default_page_size_and_links_without_per_page() {
    let gh = server(Options::default()).await;
    let a = get(&gh, "/repos/SFERIK/Rails_Admin/events").await;
    assert_eq!(a.ids().len(), 30);
    assert_eq!(
        a.link("next"),
        Some(format!(
            "{}/repositories/{RAILS_ID}/events?page=2",
            gh.url()
        ))
    );
    assert_eq!(
        a.link("last"),
        Some(format!(
            "{}/repositories/{RAILS_ID}/events?page=10",
            gh.url()
        ))
    );
    assert_eq!(gh.requests()[0].repo.as_deref(), Some(RAILS));
    // The newest event on the page dates the page.
    let newest = data::created_at(&a.json()[0]).expect("created_at");
    assert_eq!(a.header("last-modified"), newest.to_http_date());
    assert!(a.header("date").ends_with(" GMT"));
}

#[tokio::test]
async fn small_repo_has_one_page_and_no_link() {
    let gh = FakeGithub::start(Options::default()).await;
    gh.add_repo("octocat/hello-world", 1296269, data::openapi_example());
    let a = get(&gh, "/repos/octocat/Hello-World/events?per_page=100").await;
    assert_eq!(a.ids(), [22249084964, 22237752260]);
    assert!(a.headers.get("link").is_none());
    let by_id = get(&gh, "/repositories/1296269/events").await;
    assert_eq!(by_id.ids().len(), 2);
}

#[tokio::test]
async fn etag_gives_304_until_something_new_arrives() {
    let gh = server(Options {
        poll_interval_secs: 0,
        ..Options::default()
    })
    .await;
    let c = client();
    let url = format!("{}/repos/{RAILS}/events?per_page=100", gh.url());
    let first = get_with(&c, &url, &[]).await;
    let etag = first.header("etag").to_string();
    assert!(etag.starts_with("W/\"") && etag.ends_with('"'), "{etag}");
    assert_eq!(first.num("x-ratelimit-remaining"), 59);

    let second = get_with(&c, &url, &[("if-none-match", &etag)]).await;
    assert_eq!(second.status, 304);
    assert_eq!(second.body, "");
    assert_eq!(second.header("etag"), etag);
    assert_eq!(second.header("x-poll-interval"), "0");
    assert_eq!(second.header("x-ratelimit-resource"), "core");
    assert_eq!(
        second.num("x-ratelimit-remaining"),
        58,
        "an unauthenticated 304 counts"
    );

    // The ETag is per exact URL.
    let other_url = get_with(&c, &format!("{url}&page=1"), &[("if-none-match", &etag)]).await;
    assert_eq!(other_url.status, 200);

    let mut fresh = data::single_event("watch_event");
    fresh["id"] = Value::String(gh.next_event_id().to_string());
    gh.push_events(RAILS, vec![fresh]);
    let third = get_with(&c, &url, &[("if-none-match", &etag)]).await;
    assert_eq!(third.status, 200);
    assert_ne!(third.header("etag"), etag);
    assert_eq!(third.ids()[0], gh.next_event_id() - 1);
    let r = gh.requests();
    assert_eq!(
        r.iter().map(|r| r.status).collect::<Vec<_>>(),
        [200, 304, 200, 200]
    );
    assert_eq!(r[1].if_none_match.as_deref(), Some(etag.as_str()));
    assert!(r.iter().all(|r| r.counted && !r.authenticated));
    assert!(gh.violations().is_empty(), "{:?}", gh.violations());
}

#[tokio::test]
async fn authenticated_304_is_free() {
    let gh = server(Options {
        poll_interval_secs: 0,
        ..Options::default()
    })
    .await;
    let c = client();
    let url = format!("{}/repos/{RAILS}/events?per_page=100", gh.url());
    let auth = ("authorization", "Bearer s3cret");
    let first = get_with(&c, &url, &[auth]).await;
    assert_eq!(first.num("x-ratelimit-limit"), 5000);
    assert_eq!(first.num("x-ratelimit-remaining"), 4999);
    assert!(first.header("cache-control").starts_with("private"));
    let etag = first.header("etag").to_string();
    let second = get_with(&c, &url, &[auth, ("if-none-match", &etag)]).await;
    assert_eq!(second.status, 304);
    assert_eq!(second.num("x-ratelimit-remaining"), 4999);
    assert_eq!(second.num("x-ratelimit-used"), 1);
    let old_style = get_with(
        &c,
        &url,
        &[("authorization", "token s3cret"), ("if-none-match", &etag)],
    )
    .await;
    assert_eq!(old_style.status, 304);
    let r = gh.requests();
    assert!(r.iter().all(|r| r.authenticated));
    assert_eq!(
        r.iter().map(|r| r.counted).collect::<Vec<_>>(),
        [true, false, false]
    );
    // The anonymous budget is separate.
    assert_eq!(
        get(&gh, &format!("/repos/{RAILS}/events?page=2"))
            .await
            .num("x-ratelimit-remaining"),
        59
    );
}

#[tokio::test]
async fn spent_budget_gives_403_and_a_violation_until_reset() {
    let window = Duration::from_secs(3);
    let gh = server(Options {
        unauth_limit: 3,
        rate_window: window,
        ..Options::default()
    })
    .await;
    let started = SystemTime::now();
    let mut remaining = Vec::new();
    let mut first_answered = started;
    for page in 1..=3 {
        let a = get(&gh, &format!("/repos/{RAILS}/events?page={page}")).await;
        assert_eq!(a.status, 200);
        remaining.push(a.num("x-ratelimit-remaining"));
        if page == 1 {
            first_answered = SystemTime::now();
        }
    }
    assert_eq!(remaining, [2, 1, 0]);
    assert!(gh.violations().is_empty());

    let limited = get(&gh, &format!("/repos/{RAILS}/events?page=4")).await;
    assert_eq!(limited.status, 403);
    assert_eq!(limited.num("x-ratelimit-remaining"), 0);
    assert_eq!(limited.num("x-ratelimit-used"), 3);
    let reset = limited.num("x-ratelimit-reset");
    // The window opens at the first request, somewhere between these two instants (a loaded
    // machine can take a while to answer it).
    let secs = |t: SystemTime| {
        t.duration_since(SystemTime::UNIX_EPOCH)
            .expect("epoch")
            .as_secs()
    };
    assert!(
        (secs(started) + 3..=secs(first_answered) + 4).contains(&reset),
        "reset {reset}"
    );
    assert!(
        limited.json()["message"]
            .as_str()
            .expect("message")
            .starts_with("API rate limit exceeded for 127.0.0.1.")
    );
    assert!(limited.json()["documentation_url"].is_string());
    let v = gh.violations();
    assert_eq!(v.len(), 1);
    assert!(v[0].starts_with("request after budget spent:"), "{v:?}");
    assert!(!gh.requests()[3].counted);

    tokio::time::sleep(window).await;
    let after = get(&gh, &format!("/repos/{RAILS}/events?page=5")).await;
    assert_eq!(after.status, 200);
    assert_eq!(after.num("x-ratelimit-remaining"), 2);
    assert_eq!(gh.violations().len(), 1);
}

#[tokio::test]
async fn errors_count_and_carry_rate_limit_headers() {
    let gh = server(Options::default()).await;
    let missing = get(&gh, "/repos/ghpulse-demo/missing/events").await;
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.json(),
        serde_json::json!({
            "message": "Not Found",
            "documentation_url": "https://docs.github.com/rest/activity/events#list-repository-events",
            "status": "404"
        })
    );
    assert_eq!(missing.num("x-ratelimit-remaining"), 59);
    assert_eq!(get(&gh, "/repositories/1/events").await.status, 404);
    assert_eq!(get(&gh, "/nothing/here").await.status, 404);
    let r = gh.requests();
    assert_eq!(r[0].repo.as_deref(), Some("ghpulse-demo/missing"));
    assert!(r.iter().all(|r| r.counted && r.status == 404));
}

#[tokio::test]
async fn rejected_token_is_401_bad_credentials() {
    let gh = server(Options {
        valid_tokens: vec!["good".into()],
        ..Options::default()
    })
    .await;
    let c = client();
    let url = format!("{}/repos/{RAILS}/events", gh.url());
    let bad = get_with(&c, &url, &[("authorization", "Bearer bad")]).await;
    assert_eq!(bad.status, 401);
    assert_eq!(bad.json()["message"], "Bad credentials");
    assert_eq!(bad.num("x-ratelimit-limit"), 60);
    let good = get_with(&c, &url, &[("authorization", "Bearer good")]).await;
    assert_eq!(good.status, 200);
    assert_eq!(good.num("x-ratelimit-limit"), 5000);
}

#[tokio::test]
async fn the_timeline_holds_the_300_newest() {
    let gh = server(Options::default()).await;
    let before = gh.timeline_ids(RAILS);
    assert_eq!(before.len(), 300);
    let mut fresh = data::load_events("github__gitignore");
    fresh.truncate(50);
    data::renumber(&mut fresh, gh.next_event_id());
    data::retarget(&mut fresh, RAILS, RAILS_ID);
    gh.push_events(RAILS, fresh.clone());
    let after = gh.timeline_ids(RAILS);
    assert_eq!(after.len(), 300);
    assert_eq!(after[0], data::event_id(&fresh[0]).expect("id"));
    assert_eq!(&after[50..], &before[..250]);
    let page = get(&gh, &format!("/repos/{RAILS}/events?per_page=100")).await;
    assert_eq!(page.json()[0]["repo"]["name"], RAILS);
}

#[tokio::test]
async fn timeline_is_ordered_by_numeric_id_not_created_at() {
    let gh = FakeGithub::start(Options::default()).await;
    let mut a = data::single_event("push_event");
    a["id"] = "9999999999".into();
    a["created_at"] = "2030-01-01T00:00:10Z".into();
    let mut b = data::single_event("watch_event");
    b["id"] = "10000000000".into(); // sorts first numerically, last as a string
    b["created_at"] = "2030-01-01T00:00:00Z".into(); // published late: older created_at
    gh.add_repo("o/r", 5, vec![a, b]);
    assert_eq!(
        get(&gh, "/repos/o/r/events").await.ids(),
        [10000000000, 9999999999]
    );
}

#[tokio::test]
async fn max_age_hides_old_events() {
    let gh = FakeGithub::start(Options {
        max_age: Some(Duration::from_secs(30 * 86400)),
        ..Options::default()
    })
    .await;
    gh.add_repo(RAILS, RAILS_ID, data::load_events("sferik__rails_admin"));
    assert!(
        get(&gh, &format!("/repos/{RAILS}/events"))
            .await
            .ids()
            .is_empty()
    );
}

#[tokio::test]
async fn faults_answer_like_github() {
    let gh = server(Options::default()).await;
    let path = format!("/repos/{RAILS}/events?per_page=100");
    let cases: [(Fault, u16); 6] = [
        (Fault::NotFound, 404),
        (Fault::Gone, 410),
        (Fault::Unauthorized, 401),
        (Fault::ServerError(500), 500),
        (Fault::ServerError(503), 503),
        (
            Fault::SecondaryRateLimit {
                retry_after_secs: 42,
            },
            429,
        ),
    ];
    for (fault, status) in cases {
        gh.set_fault(RAILS, Some(fault.clone()));
        let a = get(&gh, &path).await;
        assert_eq!(a.status.as_u16(), status, "{fault:?}");
        assert!(a.headers.get("x-ratelimit-remaining").is_some());
        assert!(a.headers.get("x-poll-interval").is_none(), "{fault:?}");
        if status == 503 {
            assert!(a.header("content-type").starts_with("text/html"));
        } else {
            assert!(a.json()["message"].is_string(), "{fault:?}");
        }
        if status == 429 {
            assert_eq!(a.header("retry-after"), "42");
        }
    }
    gh.set_fault(
        RAILS,
        Some(Fault::SecondaryRateLimitForbidden {
            retry_after_secs: 7,
        }),
    );
    let forbidden = get(&gh, &path).await;
    assert_eq!(
        (forbidden.status.as_u16(), forbidden.header("retry-after")),
        (403, "7")
    );
    assert!(forbidden.num("x-ratelimit-remaining") > 0);

    gh.set_fault(RAILS, Some(Fault::Malformed));
    let malformed = get(&gh, &path).await;
    assert_eq!(malformed.status, 200);
    assert!(malformed.json().is_object());

    gh.set_fault(RAILS, Some(Fault::TruncatedJson));
    let truncated = get(&gh, &path).await;
    assert_eq!(truncated.status, 200);
    assert!(truncated.body.starts_with("[{"));
    assert!(serde_json::from_str::<Value>(&truncated.body).is_err());

    gh.set_fault(RAILS, Some(Fault::Slow(Duration::from_millis(300))));
    let t = Instant::now();
    let slow = get(&gh, &path).await;
    assert!(t.elapsed() >= Duration::from_millis(300));
    assert_eq!(slow.ids().len(), 100);

    gh.set_fault(RAILS, None);
    assert_eq!(get(&gh, &path).await.status, 200);
    assert!(gh.requests().iter().all(|r| r.counted));
}

#[tokio::test]
async fn rename_redirects_the_old_name() {
    let gh = server(Options::default()).await;
    gh.set_fault(
        RAILS,
        Some(Fault::RenamedTo("railsadminteam/rails_admin".into())),
    );
    let old = get(&gh, &format!("/repos/{RAILS}/events?per_page=100")).await;
    assert_eq!(old.status, 301);
    let location = format!("{}/repositories/{RAILS_ID}/events?per_page=100", gh.url());
    assert_eq!(old.header("location"), location);
    assert_eq!(old.json()["url"], location.as_str());
    assert_eq!(
        gh.renames(),
        [(RAILS.to_string(), "railsadminteam/rails_admin".to_string())]
    );

    // A client that follows redirects lands on the events.
    let following = reqwest::Client::builder()
        .user_agent("t")
        .build()
        .expect("client");
    let followed = get_with(
        &following,
        &format!("{}/repos/{RAILS}/events?per_page=100", gh.url()),
        &[],
    )
    .await;
    assert_eq!(followed.status, 200);
    assert_eq!(followed.ids().len(), 100);

    let new = get(&gh, "/repos/railsadminteam/rails_admin/events").await;
    assert_eq!(new.status, 200);
    assert_eq!(gh.repo_id(RAILS), Some(RAILS_ID));
    assert_eq!(gh.repo_id("railsadminteam/rails_admin"), Some(RAILS_ID));
    let r = gh.requests();
    assert_eq!(
        r.iter().map(|r| r.status).collect::<Vec<_>>(),
        [301, 301, 200, 200]
    );
    assert!(
        r.iter()
            .all(|r| r.repo.as_deref() == Some("railsadminteam/rails_admin"))
    );

    // New events carry the new name.
    let live = gh.push_live_event(RAILS, data::single_event("push_event"));
    assert_eq!(live["repo"]["name"], "railsadminteam/rails_admin");
    assert_eq!(live["repo"]["id"], RAILS_ID);

    gh.set_fault(RAILS, None);
    assert_eq!(
        get(&gh, &format!("/repos/{RAILS}/events")).await.status,
        200
    );
}

#[tokio::test]
async fn concurrent_requests_are_a_violation() {
    let gh = server(Options::default()).await;
    gh.set_fault(RAILS, Some(Fault::Slow(Duration::from_millis(300))));
    let (p2, p3) = (
        format!("/repos/{RAILS}/events?page=2"),
        format!("/repos/{RAILS}/events?page=3"),
    );
    let (a, b) = tokio::join!(get(&gh, &p2), get(&gh, &p3));
    assert_eq!((a.status, b.status), (StatusCode::OK, StatusCode::OK));
    assert_eq!(gh.max_concurrent(), 2);
    assert_eq!(gh.requests().len(), 2);
    let v = gh.violations();
    assert_eq!(v.len(), 1, "{v:?}");
    assert!(v[0].starts_with("concurrent request:"));
}

#[tokio::test]
async fn sequential_requests_are_fine() {
    let gh = server(Options::default()).await;
    for page in 1..=3 {
        get(
            &gh,
            &format!("/repos/{RAILS}/events?per_page=100&page={page}"),
        )
        .await;
    }
    assert_eq!(gh.max_concurrent(), 1);
    assert!(gh.violations().is_empty(), "{:?}", gh.violations());
}

#[tokio::test]
async fn a_request_abandoned_by_its_client_stops_counting_as_in_flight() {
    let gh = server(Options::default()).await;
    gh.set_fault(RAILS, Some(Fault::Slow(Duration::from_secs(5))));
    let impatient = reqwest::Client::builder()
        .user_agent("t")
        .timeout(Duration::from_millis(200))
        .build()
        .expect("client");
    let url = format!("{}/repos/{RAILS}/events", gh.url());
    assert!(impatient.get(&url).send().await.is_err());
    tokio::time::sleep(Duration::from_millis(200)).await;
    gh.set_fault(RAILS, None);
    assert_eq!(
        get(&gh, &format!("/repos/{RAILS}/events?page=2"))
            .await
            .status,
        200
    );
    assert!(gh.violations().is_empty(), "{:?}", gh.violations());
    let r = gh.requests();
    assert_eq!(
        r.iter()
            .map(|r| (r.page, r.status, r.counted))
            .collect::<Vec<_>>(),
        [(1, 499, false), (2, 200, true)]
    );
}

#[tokio::test]
async fn polling_faster_than_the_interval_is_a_violation() {
    // Long enough that a loaded machine still asks again "too soon".
    let gh = server(Options {
        poll_interval_secs: 5,
        ..Options::default()
    })
    .await;
    let page1 = format!("/repos/{RAILS}/events?per_page=100");
    let first = get(&gh, &page1).await;
    assert_eq!(first.header("x-poll-interval"), "5");
    // Following pages right away is fine; only page 1 is a poll.
    get(
        &gh,
        &format!("/repositories/{RAILS_ID}/events?per_page=100&page=2"),
    )
    .await;
    assert!(gh.violations().is_empty());
    // Page 1 again, by id this time: the same repository, too soon.
    get(
        &gh,
        &format!("/repositories/{RAILS_ID}/events?per_page=100"),
    )
    .await;
    let v = gh.violations();
    assert_eq!(v.len(), 1, "{v:?}");
    assert!(
        v[0].starts_with("poll too soon: sferik/rails_admin"),
        "{v:?}"
    );

    tokio::time::sleep(Duration::from_millis(5000)).await;
    get(&gh, &page1).await;
    assert_eq!(gh.violations().len(), 1);
    // Another client (a token) has its own schedule.
    get_with(
        &client(),
        &format!("{}{page1}", gh.url()),
        &[("authorization", "Bearer t")],
    )
    .await;
    assert_eq!(gh.violations().len(), 1);

    gh.set_poll_interval(120);
    assert_eq!(
        get(&gh, &format!("/repos/{RAILS}/events?page=2"))
            .await
            .header("x-poll-interval"),
        "120"
    );
}

#[tokio::test]
async fn missing_user_agent_is_a_violation() {
    let gh = server(Options::default()).await;
    let bare = reqwest::Client::new();
    let a = get_with(&bare, &format!("{}/repos/{RAILS}/events", gh.url()), &[]).await;
    assert_eq!(a.status, 200);
    assert_eq!(gh.requests()[0].user_agent, None);
    let v = gh.violations();
    assert!(v.len() == 1 && v[0].starts_with("no User-Agent:"), "{v:?}");
    gh.clear_records();
    assert!(gh.violations().is_empty() && gh.requests().is_empty());
}

#[tokio::test]
async fn live_events_get_fresh_ids_and_are_timed() {
    let gh = FakeGithub::start(Options::default()).await;
    gh.add_demo_repos(SystemTime::now());
    let next = gh.next_event_id();
    let before = Instant::now();
    let event = gh.push_live_event("praw-dev/praw", data::single_event("issues_event"));
    assert_eq!(data::event_id(&event), Some(next));
    assert_eq!(gh.timeline_ids("praw-dev/praw")[0], next);
    assert!(gh.visible_since(next).expect("published") >= before);
    let newest = data::created_at(&event).expect("created_at");
    assert!((newest.0 - data::Timestamp::now().0).abs() <= 1);
}

#[test]
fn demo_dataset_is_recent_and_spread_over_days() {
    let now = SystemTime::now();
    let now_secs = data::Timestamp::from(now).0;
    for (repo, events) in data::demo_dataset(now) {
        let mut times: Vec<i64> = events
            .iter()
            .filter_map(data::created_at)
            .map(|t| t.0)
            .collect();
        times.sort_unstable_by(|a, b| b.cmp(a));
        let age_of_newest = now_secs - times[0];
        assert!(
            (60..=20 * 60).contains(&age_of_newest),
            "{}: {age_of_newest}",
            repo.full_name
        );
        let shown = times.len().min(300);
        let span = times[0] - times[shown - 1];
        assert!(
            (86400..=7 * 86400 + 60).contains(&span),
            "{}: span {span}",
            repo.full_name
        );
    }
}

#[tokio::test]
async fn a_fault_set_once_is_served_once_with_its_headers_over_the_usual_ones() {
    let gh = server(Options::default()).await;
    let path = format!("/repos/{RAILS}/events?per_page=100");
    gh.set_fault_once(
        RAILS,
        Fault::Headers {
            status: 200,
            headers: vec![
                ("x-poll-interval".into(), "100000000000000000".into()),
                ("etag".into(), "*".into()),
            ],
        },
    );
    let absurd = get(&gh, &path).await;
    assert_eq!(absurd.status, 200);
    assert_eq!(absurd.header("x-poll-interval"), "100000000000000000");
    assert_eq!(absurd.header("etag"), "*");
    assert_eq!(absurd.ids().len(), 100, "the page itself as usual");
    let after = get(&gh, &path).await;
    assert_eq!(after.header("x-poll-interval"), "60", "then it behaves");
    assert_ne!(after.header("etag"), "*");

    gh.set_fault_once(
        RAILS,
        Fault::Headers {
            status: 429,
            headers: vec![("retry-after".into(), "Fri, 31 Dec 9999 23:59:59 GMT".into())],
        },
    );
    let limited = get(&gh, &path).await;
    assert_eq!(limited.status, 429);
    assert_eq!(
        limited.header("retry-after"),
        "Fri, 31 Dec 9999 23:59:59 GMT"
    );
    assert_eq!(get(&gh, &path).await.status, 200);
}

#[tokio::test]
async fn failures_hit_every_nth_request_or_a_seeded_share_of_them() {
    let gh = server(Options {
        unauth_limit: 10_000,
        ..Options::default()
    })
    .await;
    let path = format!("/repos/{RAILS}/events?per_page=100");
    gh.set_failures(Some(fake_github::Failures::EveryNth(3)));
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(get(&gh, &path).await.status.as_u16());
    }
    assert_eq!(statuses, [200, 200, 502, 200, 200, 502]);

    let draw = |seed| {
        let gh = gh.clone();
        let path = path.clone();
        async move {
            gh.set_failures(Some(fake_github::Failures::Random { percent: 30, seed }));
            let mut failed = Vec::new();
            for _ in 0..200 {
                failed.push(get(&gh, &path).await.status == 502);
            }
            failed
        }
    };
    let first = draw(7).await;
    assert_eq!(first, draw(7).await, "the same seed, the same failures");
    let share = first.iter().filter(|f| **f).count();
    assert!((35..=85).contains(&share), "{share} of 200");
    gh.set_failures(None);
    assert_eq!(get(&gh, &path).await.status, 200);
}

#[tokio::test]
async fn a_splice_puts_bytes_no_json_value_holds_into_a_page() {
    let gh = FakeGithub::start(Options::default()).await;
    let mut events = data::load_events("sferik__rails_admin");
    events.truncate(2);
    events[0]["payload"]["odd"] = Value::String("SPLICE-HERE".into());
    gh.add_repo(RAILS, RAILS_ID, events);
    gh.set_splice("SPLICE-HERE", b"\"caf\xe9\xff\"".to_vec());
    let body = client()
        .get(format!("{}/repos/{RAILS}/events", gh.url()))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(body.windows(7).any(|w| w == b"\"caf\xe9\xff\""));
    assert!(std::str::from_utf8(&body).is_err());
}

#[tokio::test]
async fn asking_again_for_a_page_1_cut_mid_body_is_a_retry_not_a_poll_too_soon() {
    let gh = server(Options::default()).await;
    let url = format!("{}/repos/{RAILS}/events?per_page=100", gh.url());
    gh.set_page_fault(RAILS, 1, Some(Fault::TruncatedClose));
    let cut = match client().get(&url).send().await {
        Ok(answer) => answer.bytes().await.is_err(),
        Err(_) => true,
    };
    assert!(cut, "the body is cut");
    gh.set_page_fault(RAILS, 1, None);
    assert_eq!(
        get(&gh, "/repos/sferik/rails_admin/events?per_page=100")
            .await
            .status,
        200
    );
    assert_eq!(gh.violations(), Vec::<String>::new());
    // A whole answer is a poll: asking again at once is too soon.
    get(&gh, "/repos/sferik/rails_admin/events?per_page=100").await;
    assert_eq!(gh.violations().len(), 1, "{:?}", gh.violations());
}
