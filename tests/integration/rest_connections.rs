//! The REST listener under hostile connections, on the real binary: idle sockets beyond the
//! connection cap never lock `/health` out, half-sent heads and idle keep-alive connections
//! are dropped after the timeout, and so are clients that leave their answer unread; refused
//! requests say `Connection: close`, the answers hyper gives by itself carry a JSON body, and
//! only the names the listener is reached by are served (DNS rebinding).

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::process::Child;
use std::time::{Duration, Instant};

use fake_github::{FakeGithub, Options};

use crate::support::{Workdir, stop};

/// No repositories: the fetcher runs but never needs GitHub.
const NOWHERE: &str = "http://127.0.0.1:9";

struct Listener {
    work: Workdir,
    child: Option<Child>,
    addr: String,
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Some(c) = self.child.take() {
            stop(c);
        }
    }
}

async fn start(env: &[(&str, &str)]) -> Listener {
    start_with_config("", env).await
}

/// With `extra` appended to the config file.
async fn start_with_config(extra: &str, env: &[(&str, &str)]) -> Listener {
    let work = Workdir::new(&[]);
    let mut config = std::fs::read_to_string(work.config()).expect("config");
    config.push_str(extra);
    std::fs::write(work.config(), config).expect("config");
    start_in(work, NOWHERE, env).await
}

async fn start_in(work: Workdir, api_url: &str, env: &[(&str, &str)]) -> Listener {
    let child = work.start_with(api_url, None, &["--listen", "127.0.0.1:0"], env);
    let addr = crate::support::listening_at(&work)
        .await
        .trim_start_matches("http://")
        .to_string();
    Listener {
        work,
        child: Some(child),
        addr,
    }
}

/// A headless ghpulse listening on port 0, run by `sh` under `ulimit -n files` (soft and
/// hard): what it inherits from a service manager or a shell with a low limit.
async fn start_with_open_file_limit(files: u32) -> Listener {
    let work = Workdir::new(&[]);
    let ghpulse = work.command(NOWHERE, None);
    let mut sh = std::process::Command::new("sh");
    sh.arg("-c")
        .arg(format!("ulimit -n {files} && exec \"$0\" \"$@\""))
        .arg(ghpulse.get_program())
        .args(ghpulse.get_args())
        .args(["--headless", "--listen", "127.0.0.1:0"]);
    for (name, value) in ghpulse.get_envs() {
        match value {
            Some(v) => sh.env(name, v),
            None => sh.env_remove(name),
        };
    }
    let log = std::fs::File::create(work.log()).expect("log file");
    let child = sh
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start ghpulse");
    let addr = crate::support::listening_at(&work)
        .await
        .trim_start_matches("http://")
        .to_string();
    Listener {
        work,
        child: Some(child),
        addr,
    }
}

impl Listener {
    fn connect(&self) -> TcpStream {
        TcpStream::connect(&self.addr).expect("connect")
    }

    /// `GET /health` on a new connection; the status, or the error.
    async fn health(&self) -> Result<u16, String> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| e.to_string())?;
        client
            .get(format!("http://{}/health", self.addr))
            .send()
            .await
            .map(|r| r.status().as_u16())
            .map_err(|e| format!("{e:?}"))
    }
}

/// Whether the server has closed `s`: a read sees the end of the stream or a reset. Any bytes
/// still buffered (an answer) are read past.
fn closed_by_server(s: &mut TcpStream) -> bool {
    let _ = s.set_read_timeout(Some(Duration::from_millis(5)));
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return false;
            }
            Err(_) => return true,
        }
    }
}

/// Sends `request` on a new connection and reads the answer to the end of the stream, which
/// the server must close.
fn exchange(l: &Listener, request: &[u8]) -> String {
    let mut s = l.connect();
    s.write_all(request).expect("send");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(e) => panic!(
                "reading the answer: {e}; so far: {}",
                String::from_utf8_lossy(&answer)
            ),
        }
    }
    String::from_utf8_lossy(&answer).into_owned()
}

fn header<'a>(answer: &'a str, name: &str) -> Option<&'a str> {
    let head = answer.split("\r\n\r\n").next()?;
    head.lines().skip(1).find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

fn body_json(answer: &str) -> serde_json::Value {
    let body = answer.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    serde_json::from_str(body).unwrap_or_else(|e| panic!("JSON body ({e}): {answer}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_sockets_beyond_the_cap_never_lock_health_out() {
    const CAP: usize = 40;
    let l = start(&[("GHPULSE_REST_MAX_CONNECTIONS", "40")]).await;
    assert_eq!(l.health().await, Ok(200));

    // A keep-alive client that has been answered, then a crowd of sockets that send nothing
    // or half a head, five times the cap: the timeout (30 s) does not help here, the cap must.
    let mut early = l.connect();
    early
        .write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .expect("send");
    let mut idle = Vec::new();
    for i in 0..5 * CAP {
        let mut s = l.connect();
        if i % 2 == 0 {
            s.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\n")
                .expect("half a head");
        }
        idle.push(s);
    }
    for _ in 0..3 {
        assert_eq!(l.health().await, Ok(200), "{}", l.work.log_text());
    }

    // The longest-idle ones made room: at most the cap is left open, the newest among them.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let open: Vec<usize> = (0..idle.len())
            .filter(|&i| !closed_by_server(&mut idle[i]))
            .collect();
        if open.len() <= CAP {
            assert!(
                open.iter().all(|&i| i >= idle.len() - CAP),
                "the oldest were closed first: {open:?}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {} idle sockets still open with a cap of {CAP}",
            open.len(),
            idle.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(closed_by_server(&mut early), "idle the longest");
}

#[tokio::test(flavor = "multi_thread")]
async fn under_a_low_open_file_limit_idle_sockets_never_lock_health_out() {
    // The cap follows the descriptors actually free, not the limit less a reserve: with 20,
    // half of them were taken before the first client came.
    let l = start_with_open_file_limit(20).await;
    let mut idle = Vec::new();
    for i in 0..30 {
        let mut s = l.connect();
        if i % 2 == 0 {
            s.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\n")
                .expect("half a head");
        }
        idle.push(s);
    }
    for _ in 0..3 {
        assert_eq!(l.health().await, Ok(200), "{}", l.work.log_text());
    }
    assert!(closed_by_server(&mut idle[0]), "idle the longest");
}

#[tokio::test(flavor = "multi_thread")]
async fn half_sent_heads_and_idle_keep_alive_connections_are_dropped_after_the_timeout() {
    let l = start(&[("GHPULSE_REST_TIMEOUT", "1s")]).await;

    let silent = (l.connect(), Instant::now());
    let mut half = l.connect();
    half.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
        .expect("half a head");
    let half = (half, Instant::now());
    // A keep-alive connection answered once, then idle: the same timer runs while it waits for
    // its next request.
    let mut kept = l.connect();
    kept.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .expect("send");
    let mut answer = [0u8; 512];
    kept.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let n = kept.read(&mut answer).expect("answer");
    assert!(
        String::from_utf8_lossy(&answer[..n]).starts_with("HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&answer[..n])
    );
    let kept = (kept, Instant::now());

    let mut waiting = vec![
        ("silent", silent.0, silent.1),
        ("half a head", half.0, half.1),
        ("idle keep-alive", kept.0, kept.1),
    ];
    let deadline = Instant::now() + Duration::from_secs(15);
    while !waiting.is_empty() {
        assert!(
            Instant::now() < deadline,
            "still open after 15 s: {:?}",
            waiting.iter().map(|w| w.0).collect::<Vec<_>>()
        );
        waiting.retain_mut(|(what, s, since)| {
            if !closed_by_server(s) {
                return true;
            }
            let after = since.elapsed();
            assert!(
                after >= Duration::from_millis(900),
                "{what}: closed {after:?} after its last byte, before the timeout"
            );
            false
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(l.health().await, Ok(200));
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_requests_close_their_connection_and_clients_reuse_nothing_half_read() {
    let l = start(&[("GHPULSE_API_KEY", "k3y")]).await;
    let post = |auth: &str, body: &str| {
        format!(
            "POST /api/repos HTTP/1.1\r\nHost: localhost\r\n{auth}Content-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        )
    };
    let body = r#"{"repo": "a/b"}"#;
    for auth in ["", "Authorization: Bearer wrong\r\n"] {
        let answer = exchange(&l, post(auth, body).as_bytes());
        assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
        assert_eq!(header(&answer, "connection"), Some("close"), "{answer}");
        assert!(body_json(&answer)["error"].is_string());
    }

    // Over the limit, declared or chunked: 413 in JSON, and the connection ends.
    let big = "a".repeat(70 * 1024);
    let declared = exchange(
        &l,
        post(
            "Authorization: Bearer k3y\r\n",
            &format!(r#"{{"repo": "{big}"}}"#),
        )
        .as_bytes(),
    );
    let chunked = exchange(
        &l,
        format!(
            "POST /api/repos HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer k3y\r\n\
             Transfer-Encoding: chunked\r\n\r\n{:x}\r\n{big}\r\n0\r\n\r\n",
            big.len()
        )
        .as_bytes(),
    );
    for answer in [declared, chunked] {
        assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
        assert_eq!(header(&answer, "connection"), Some("close"), "{answer}");
        assert!(body_json(&answer)["error"].is_string());
    }

    // A pooling client mixing refused POSTs with other requests never meets a reset.
    let client = reqwest::Client::new();
    for i in 0..50 {
        let refused = client
            .post(format!("http://{}/api/repos", l.addr))
            .body(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {i}: {e:?}"));
        assert_eq!(refused.status(), 401);
        let health = client
            .get(format!("http://{}/health", l.addr))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {i}: {e:?}"));
        assert_eq!(health.status(), 200);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_configured_key_the_403_closes_its_connection_too() {
    let l = start(&[]).await;
    let answer = exchange(
        &l,
        b"POST /api/repos HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer x\r\nContent-Length: 15\r\n\r\n{\"repo\": \"a/b\"}",
    );
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    assert_eq!(header(&answer, "connection"), Some("close"), "{answer}");
    assert!(body_json(&answer)["error"].is_string());
}

#[tokio::test(flavor = "multi_thread")]
async fn only_localhost_the_listen_address_and_allowed_hosts_are_served() {
    let l = start_with_config("\n[server]\nallowed_hosts = [\"ghpulse.lan\"]\n", &[]).await;
    let port = l.addr.rsplit(':').next().expect("port");
    let get = |path: &str, host: &str| {
        exchange(
            &l,
            format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes(),
        )
    };
    for host in [
        format!("localhost:{port}"),
        l.addr.clone(),
        "ghpulse.lan".to_string(),
        format!("GHPulse.lan:{port}"),
    ] {
        let answer = get("/api/stats", &host);
        assert!(answer.starts_with("HTTP/1.1 200"), "{host}: {answer}");
    }
    // A page that pointed its own name at 127.0.0.1 after loading still sends that name.
    for path in [
        "/api/stats",
        "/api/repos",
        "/health",
        "/metrics",
        "/openapi.json",
    ] {
        let answer = get(path, &format!("rebound.example:{port}"));
        assert!(answer.starts_with("HTTP/1.1 421"), "{path}: {answer}");
        assert_eq!(header(&answer, "connection"), Some("close"), "{answer}");
        let error = body_json(&answer)["error"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(error.contains("rebound.example"), "{error}");
    }
    let answer = get("/health", "a b");
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(body_json(&answer)["error"].is_string());
    // HTTP/1.0 has no Host to check.
    let answer = exchange(&l, b"GET /health HTTP/1.0\r\n\r\n");
    assert!(answer.starts_with("HTTP/1.0 200"), "{answer}");

    // The document says so for every operation.
    let doc: serde_json::Value = reqwest::get(format!("http://{}/openapi.json", l.addr))
        .await
        .expect("GET /openapi.json")
        .json()
        .await
        .expect("JSON");
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            operations += 1;
            assert!(
                operation["responses"]["421"]["content"]["application/json"].is_object(),
                "{method} {path}"
            );
        }
    }
    assert!(operations >= 10, "{operations} operations");
}

#[tokio::test(flavor = "multi_thread")]
async fn answers_hyper_gives_by_itself_carry_the_json_error_body() {
    let l = start(&[]).await;
    let long_uri = format!(
        "GET /{} HTTP/1.1\r\nHost: localhost\r\n\r\n",
        "a".repeat(70_000)
    );
    let many_fields = format!(
        "GET /health HTTP/1.1\r\nHost: localhost\r\n{}\r\n",
        (0..120)
            .map(|i| format!("X-{i}: y\r\n"))
            .collect::<String>()
    );
    for (request, status) in [
        ("GARBAGE\r\n\r\n".to_string(), 400),
        (
            "GET /health HTTP/1.1\r\nHost: localhost\r\nNo Colon Here\r\n\r\n".to_string(),
            400,
        ),
        (long_uri, 414),
        (many_fields, 431),
    ] {
        let answer = exchange(&l, request.as_bytes());
        let what = &request[..request.len().min(40)];
        assert!(
            answer.starts_with(&format!("HTTP/1.1 {status} ")),
            "{what:?}: {answer}"
        );
        assert_eq!(
            header(&answer, "content-type"),
            Some("application/json"),
            "{answer}"
        );
        assert_eq!(header(&answer, "connection"), Some("close"), "{answer}");
        let body = answer.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
        assert_eq!(
            header(&answer, "content-length"),
            Some(body.len().to_string().as_str())
        );
        assert!(body_json(&answer)["error"].is_string(), "{answer}");
    }
    assert_eq!(l.health().await, Ok(200));
}

#[tokio::test(flavor = "multi_thread")]
async fn clients_that_leave_their_answer_unread_are_dropped_after_the_timeout() {
    const REPO: &str = "sferik/rails_admin";
    let gh = FakeGithub::start(Options {
        poll_interval_secs: 60,
        ..Options::default()
    })
    .await;
    // Events with large payloads, as big pull requests and pushes have: an answer of about
    // 5 MB, more than loopback's socket buffers take from a client that does not read.
    let repo = fake_github::data::fixture_repo(REPO).expect("fixture");
    let mut events = fake_github::data::load_events(repo.file_stem);
    fake_github::data::rescale(
        &mut events,
        std::time::SystemTime::now() - Duration::from_secs(60),
        300,
        Duration::from_secs(24 * 3600),
    );
    events.truncate(300);
    for e in &mut events {
        e["payload"]["padding"] = "x".repeat(16 * 1024).into();
    }
    gh.add_repo(repo.full_name, repo.id, events);
    let work = Workdir::new(&[REPO]);
    let l = start_in(work, &gh.url(), &[("GHPULSE_REST_TIMEOUT", "1s")]).await;
    let stats = format!("http://{}/api/stats", l.addr);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let body: serde_json::Value = match reqwest::get(&stats).await {
            Ok(r) => r.json().await.unwrap_or_default(),
            Err(_) => serde_json::Value::Null,
        };
        if body["repositories"][0]["events_in_window"] == 300 {
            break;
        }
        assert!(Instant::now() < deadline, "{}", l.work.log_text());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Each asks for every stored event as GitHub served it, then reads nothing.
    let request = format!(
        "GET /api/repos/{REPO}/events?raw=true&limit=1000 HTTP/1.1\r\nHost: localhost\r\n\r\n"
    );
    let mut stalled: Vec<TcpStream> = (0..10)
        .map(|_| {
            // A small receive window, or loopback's buffers would take the whole answer.
            let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
                .expect("socket");
            socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
            let addr: std::net::SocketAddr = l.addr.parse().expect("address");
            socket.connect(&addr.into()).expect("connect");
            let mut s = TcpStream::from(socket);
            s.write_all(request.as_bytes()).expect("send");
            s
        })
        .collect();
    // Four times the timeout without reading a byte; then each reads what reached it.
    tokio::time::sleep(Duration::from_secs(4)).await;
    for (i, s) in stalled.iter_mut().enumerate() {
        s.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let mut got = Vec::new();
        let ended = loop {
            let mut buf = [0u8; 64 * 1024];
            match s.read(&mut buf) {
                Ok(0) => break true,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    break false;
                }
                Err(_) => break true,
            }
        };
        let text = String::from_utf8_lossy(&got);
        let declared: usize = header(&text, "content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("client {i}: no content-length in {:.200}", text));
        let head = text.find("\r\n\r\n").map_or(0, |at| at + 4);
        assert!(declared > 5_000_000, "the answer is {declared} bytes");
        assert!(
            ended,
            "client {i}: still open, {} of {declared} bytes read",
            got.len() - head
        );
        assert!(
            got.len() - head < declared,
            "client {i}: the whole answer was sent to a client that did not read"
        );
    }
    assert_eq!(l.health().await, Ok(200));
}
