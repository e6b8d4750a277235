//! `GET /api/events/stream` of a headless ghpulse fed by the fake GitHub server: every stored
//! event once, in storage order; replays after `Last-Event-ID` that miss nothing even when a
//! later poll stores smaller ids; a consumer that stops reading is closed while the others
//! keep receiving and the polls keep their pace; streams count against the connection cap.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{Running, Workdir, listening_at};
use fake_github::{FakeGithub, Options, data};

/// One Server-Sent Event as received.
#[derive(Debug, Clone, PartialEq)]
struct Sse {
    id: Option<String>,
    event: Option<String>,
    data: String,
}

/// A consumer of the stream that reads as fast as it can.
struct Consumer {
    response: reqwest::Response,
    text: String,
    comments: usize,
}

impl Consumer {
    async fn connect(base: &str, path: &str, last_event_id: Option<&str>) -> Consumer {
        let mut req = reqwest::Client::new().get(format!("{base}{path}"));
        if let Some(id) = last_event_id {
            req = req.header("Last-Event-ID", id);
        }
        let response = req.send().await.expect("the stream answers");
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(
            response.headers()["content-type"],
            "text/event-stream",
            "{path}"
        );
        Consumer {
            response,
            text: String::new(),
            comments: 0,
        }
    }

    /// The next event, or `None` when the stream ended or nothing came within `limit`.
    async fn next(&mut self, limit: Duration) -> Option<Sse> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(end) = self.text.find("\n\n") {
                let block: String = self.text.drain(..end + 2).collect();
                let mut sse = Sse {
                    id: None,
                    event: None,
                    data: String::new(),
                };
                let mut comment = false;
                for line in block.lines() {
                    if line.starts_with(':') {
                        comment = true;
                    } else if let Some(v) = line.strip_prefix("id: ") {
                        sse.id = Some(v.to_string());
                    } else if let Some(v) = line.strip_prefix("event: ") {
                        sse.event = Some(v.to_string());
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        sse.data.push_str(v);
                    }
                }
                if comment && sse.event.is_none() && sse.data.is_empty() {
                    self.comments += 1;
                    continue;
                }
                return Some(sse);
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            match tokio::time::timeout(left, self.response.chunk()).await {
                Ok(Ok(Some(bytes))) => self.text.push_str(&String::from_utf8_lossy(&bytes)),
                _ => return None,
            }
        }
    }

    /// The ids of the next `n` `github-event`s, checking each one's entry.
    async fn ids(&mut self, n: usize) -> Vec<u64> {
        let mut ids = Vec::new();
        while ids.len() < n {
            let Some(e) = self.next(Duration::from_secs(30)).await else {
                panic!("the stream stopped after {ids:?}");
            };
            assert_eq!(e.event.as_deref(), Some("github-event"), "{e:?}");
            let entry: Value = serde_json::from_str(&e.data).expect("the data is JSON");
            assert_eq!(
                entry["id"].as_str(),
                e.id.as_deref(),
                "the SSE id is the event id"
            );
            assert!(
                entry["summary"].is_string() && entry["url"].is_string(),
                "{entry}"
            );
            ids.push(e.id.unwrap().parse().unwrap());
        }
        ids
    }

    /// Nothing more arrives for a while (keep-alive comments aside).
    async fn quiet(&mut self, for_: Duration) {
        if let Some(e) = self.next(for_).await {
            panic!("unexpected event {e:?}");
        }
    }
}

/// An event of `repo` with this id, created now (a watch event: the smallest there is).
fn watch_event(repo: &str, repo_id: u64, id: u64) -> Value {
    let mut e = data::single_event("watch_event");
    e["id"] = json!(id.to_string());
    e["created_at"] = json!(data::Timestamp::now().to_rfc3339());
    let mut one = [e];
    data::retarget(&mut one, repo, repo_id);
    let [e] = one;
    e
}

/// Events published newest first, as the API lists them.
fn batch(repo: &str, repo_id: u64, ids: std::ops::Range<u64>) -> Vec<Value> {
    ids.rev().map(|id| watch_event(repo, repo_id, id)).collect()
}

async fn get(base: &str, path: &str, last_event_id: Option<&str>) -> (u16, Value) {
    let mut req = reqwest::Client::new().get(format!("{base}{path}"));
    if let Some(id) = last_event_id {
        req = req.header("Last-Event-ID", id);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    // A stream that answered is not read to its end (it has none).
    if status == 200 && resp.headers()["content-type"] == "text/event-stream" {
        return (status, Value::Null);
    }
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread")]
async fn every_stored_event_once_in_storage_order_and_a_reconnect_gets_exactly_what_it_missed() {
    let gh = FakeGithub::start(Options {
        poll_interval_secs: 1,
        ..Options::default()
    })
    .await;
    gh.add_repo("big/ids", 1, batch("big/ids", 1, 9000..9002));
    gh.add_repo("small/ids", 2, batch("small/ids", 2, 100..102));
    let work = Workdir::new(&["big/ids", "small/ids"]);
    let ghpulse =
        Running::new(work.start_with(&gh.url(), Some("token"), &["--listen", "127.0.0.1:0"], &[]));
    let base = listening_at(&work).await;
    crate::support::wait_for("both first polls", Duration::from_secs(30), &work, || {
        work.log_text().matches("new event").count() >= 2
    })
    .await;
    let (_, listed) = get(&base, "/api/repos/big/ids/events", None).await;
    assert_eq!(listed.as_array().map(Vec::len), Some(2), "{listed}");

    // Connected before the live events: it gets them all, once, as they were stored.
    let mut first = Consumer::connect(&base, "/api/events/stream", None).await;
    let mut big_only = Consumer::connect(&base, "/api/events/stream?repo=BIG/ids", None).await;
    gh.push_events("big/ids", batch("big/ids", 1, 9002..9005));
    assert_eq!(
        first.ids(3).await,
        [9002, 9003, 9004],
        "a poll's events oldest first"
    );
    // The other repository stores smaller ids after them.
    gh.push_events("small/ids", batch("small/ids", 2, 102..104));
    assert_eq!(first.ids(2).await, [102, 103]);
    gh.push_events("big/ids", batch("big/ids", 1, 9005..9007));
    assert_eq!(first.ids(2).await, [9005, 9006]);
    first.quiet(Duration::from_secs(3)).await;
    assert_eq!(big_only.ids(5).await, [9002, 9003, 9004, 9005, 9006]);

    // Reconnecting after 9004 gets what was stored after it: 102 and 103 too, though their
    // ids are smaller; then live events, once.
    let mut again = Consumer::connect(&base, "/api/events/stream", Some("9004")).await;
    assert_eq!(again.ids(4).await, [102, 103, 9005, 9006]);
    gh.push_events("small/ids", batch("small/ids", 2, 104..105));
    assert_eq!(again.ids(1).await, [104]);
    assert_eq!(first.ids(1).await, [104]);
    again.quiet(Duration::from_secs(2)).await;
    // `since_id` does the same, with the filters; the header wins over it.
    let mut typed = Consumer::connect(
        &base,
        "/api/events/stream?since_id=9005&type=WatchEvent&repo=small/ids",
        None,
    )
    .await;
    assert_eq!(typed.ids(1).await, [104]);
    let mut header_wins =
        Consumer::connect(&base, "/api/events/stream?since_id=100", Some("9006")).await;
    assert_eq!(header_wins.ids(1).await, [104]);
    let mut none_of_that_type = Consumer::connect(
        &base,
        "/api/events/stream?since_id=100&type=PushEvent",
        None,
    )
    .await;
    none_of_that_type.quiet(Duration::from_secs(2)).await;

    for (path, id, status) in [
        ("/api/events/stream", Some("12345"), 404),
        ("/api/events/stream?since_id=abc", None, 400),
        ("/api/events/stream?repo=not-watched/x", None, 404),
        ("/api/events/stream?repo=bad", None, 400),
        ("/api/events/stream?type=", None, 400),
    ] {
        let (got, body) = get(&base, path, id).await;
        assert_eq!(got, status, "{path} {id:?}: {body}");
        assert!(body["error"].is_string(), "{body}");
    }
    assert!(gh.violations().is_empty(), "{:?}", gh.violations());
    ghpulse.stop();
}

/// Gaps between consecutive page-1 polls of each repository, in seconds.
fn poll_gaps(gh: &FakeGithub, names: &[String]) -> Vec<f64> {
    let requests = gh.requests();
    let mut gaps = Vec::new();
    for name in names {
        let times: Vec<Instant> = requests
            .iter()
            .filter(|r| r.repo.as_deref() == Some(name.as_str()) && r.page == 1)
            .map(|r| r.at)
            .collect();
        gaps.extend(times.windows(2).map(|w| (w[1] - w[0]).as_secs_f64()));
    }
    gaps
}

/// An issue event with a long title: a big entry, so a consumer's buffers fill soon.
fn big_event(repo: &str, repo_id: u64, id: u64) -> Value {
    let mut e = data::single_event("issues_event");
    e["id"] = json!(id.to_string());
    e["created_at"] = json!(data::Timestamp::now().to_rfc3339());
    e["payload"]["issue"]["title"] = json!(format!("{id} {}", "long title ".repeat(30)));
    let mut one = [e];
    data::retarget(&mut one, repo, repo_id);
    let [e] = one;
    e
}

#[tokio::test(flavor = "multi_thread")]
async fn a_consumer_that_stops_reading_is_closed_and_others_and_the_polls_go_on() {
    // A budget that lets every repository be polled each second.
    let gh = FakeGithub::start(Options {
        poll_interval_secs: 1,
        auth_limit: 100_000,
        ..Options::default()
    })
    .await;
    let names: Vec<String> = (1..=4).map(|i| format!("busy/repo-{i}")).collect();
    for (i, name) in names.iter().enumerate() {
        gh.add_repo(name, 700 + i as u64, Vec::new());
    }
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let work = Workdir::new(&refs);
    let ghpulse =
        Running::new(work.start_with(&gh.url(), Some("token"), &["--listen", "127.0.0.1:0"], &[]));
    let base = listening_at(&work).await;
    let mut readers = [
        Consumer::connect(&base, "/api/events/stream", None).await,
        Consumer::connect(&base, "/api/events/stream", None).await,
    ];
    // The one that stops reading: a request, then no read. Its receive buffer is small, so
    // the kernel holds less of what it is sent.
    let addr: std::net::SocketAddr = base.trim_start_matches("http://").parse().unwrap();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stuck = socket.connect(addr).await.unwrap();
    stuck
        .write_all(b"GET /api/events/stream HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();

    // A page of new events per repository each time all were read, as fast as the polls go.
    let rounds = 15;
    let total = rounds * 100 * names.len();
    let feeding = async {
        for round in 0..rounds as u64 {
            let published = Instant::now();
            for (i, name) in names.iter().enumerate() {
                let first = 1_000_000 * (i as u64 + 1) + round * 100;
                let events = (first..first + 100)
                    .rev()
                    .map(|id| big_event(name, 700 + i as u64, id))
                    .collect();
                gh.push_events(name, events);
            }
            let deadline = Instant::now() + Duration::from_secs(30);
            while !names.iter().all(|name| {
                gh.requests().iter().any(|r| {
                    r.at >= published
                        && r.page == 1
                        && r.status == 200
                        && r.repo.as_deref() == Some(name.as_str())
                })
            }) {
                assert!(Instant::now() < deadline, "round {round} was not read");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    let reading = futures::future::join_all(readers.iter_mut().map(|r| async move {
        let ids = r.ids(total).await;
        let mut unique = ids.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), total, "every event once");
        ids
    }));
    let ((), got) = tokio::join!(feeding, reading);
    assert_eq!(got[0], got[1], "both readers in the same (storage) order");

    // The stuck consumer fell behind while it did not read; it still does not, so its
    // connection is closed: it gets what the kernel held for it, then the end.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let mut received = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(30), async {
        let mut buf = vec![0; 1 << 16];
        loop {
            match stuck.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    let text = String::from_utf8_lossy(&received);
    assert!(
        text.starts_with("HTTP/1.1 200"),
        "the stream was served: {text:.200}"
    );
    let delivered = text.matches("event: github-event").count();
    assert!(
        closed.is_ok(),
        "the stuck consumer is still connected, after {delivered} events"
    );
    assert!(
        delivered < total,
        "the stuck consumer got all {total}: it never fell behind"
    );
    // Meanwhile each repository was polled at its interval (1 s): never sooner (the server
    // flags that), and not later than a loaded machine explains.
    let mut gaps = poll_gaps(&gh, &names);
    gaps.sort_by(f64::total_cmp);
    let median = gaps[gaps.len() / 2];
    let slowest = gaps[gaps.len() - 1];
    assert!(
        median < 1.6 && slowest < 6.0,
        "polls slowed down: median gap {median:.2}s, slowest {slowest:.1}s: {gaps:?}"
    );
    assert!(gh.violations().is_empty(), "{:?}", gh.violations());
    assert!(
        work.log_text()
            .contains("closed a stream whose consumer stopped reading"),
        "{}",
        work.log_text()
    );

    ghpulse.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn streams_count_against_the_connection_cap_and_are_never_taken_for_idle() {
    let gh = FakeGithub::start(Options {
        poll_interval_secs: 1,
        ..Options::default()
    })
    .await;
    gh.add_repo("o/r", 1, batch("o/r", 1, 10..12));
    let work = Workdir::new(&["o/r"]);
    let ghpulse = Running::new(work.start_with(
        &gh.url(),
        Some("token"),
        &["--listen", "127.0.0.1:0"],
        &[("GHPULSE_REST_MAX_CONNECTIONS", "4")],
    ));
    let base = listening_at(&work).await;
    // Half the cap may stream; a third stream is refused, with the reason.
    let mut streams = vec![
        Consumer::connect(&base, "/api/events/stream", None).await,
        Consumer::connect(&base, "/api/events/stream", None).await,
    ];
    let (status, body) = get(&base, "/api/events/stream", None).await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("2 streams"),
        "{body}"
    );
    // Idle connections fill the cap; more clients make room by closing idle ones, never a
    // stream: every request is answered and both streams still deliver.
    let addr = base.trim_start_matches("http://").to_string();
    let mut idle = Vec::new();
    for _ in 0..2 {
        idle.push(tokio::net::TcpStream::connect(&addr).await.unwrap());
    }
    for _ in 0..3 {
        let (status, _) = get(&base, "/health", None).await;
        assert_eq!(status, 200);
    }
    gh.push_events("o/r", batch("o/r", 1, 12..13));
    for s in &mut streams {
        assert_eq!(s.ids(1).await, [12]);
    }
    // A closed stream gives its place back.
    drop(streams.pop());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, _) = get(&base, "/api/events/stream?since_id=12", None).await;
        if status == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the stream's place was not given back"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    ghpulse.stop();
}
