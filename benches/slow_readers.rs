//! `cargo bench --bench slow_readers`: what clients that ask for a large answer and never read
//! it cost ghpulse, and for how long. A repository's 1,000 events go through ghpulse's own
//! fetcher from the fake GitHub server; then 60 clients each ask for all of them as GitHub
//! served them (`raw=true&limit=1000`, about 5 MB) and read nothing. ghpulse's resident set is
//! read while idle, a few seconds after they asked, and once the write timeout has passed
//! with the clients still connected. The same run with the timeout at 24 h is the baseline:
//! there, as before the listener had a write timeout, the answers stay in memory for as long
//! as the clients stay.
//!
//! Knobs: `SLOW_READERS` (clients, default 60), `SLOW_READERS_TIMEOUT_SECS` (the write
//! timeout, default 30).

#[path = "common/ghpulse.rs"]
mod ghpulse;
#[path = "../tests/integration/support/mod.rs"]
mod support;

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, SystemTime};

use fake_github::synthetic::SyntheticTimeline;
use fake_github::{FakeGithub, Options};
use ghpulse::{Ghpulse, env_u64, mb, run_on_one_worker};
use support::Workdir;

const REPO: &str = "bench/slow-readers";
const EVENTS: u64 = 1000;

fn main() {
    run_on_one_worker(run());
}

struct Figures {
    idle: u64,
    held: u64,
    after: u64,
    answer_bytes: usize,
}

async fn run() {
    let clients = env_u64("SLOW_READERS", 60) as usize;
    let wait = Duration::from_secs(env_u64("SLOW_READERS_TIMEOUT_SECS", 30));
    let timeout = format!("{}s", wait.as_secs());

    let gh = FakeGithub::start(Options {
        poll_interval_secs: 1,
        ..Options::default()
    })
    .await;
    let timeline = SyntheticTimeline::new(
        REPO,
        950_000,
        2_000_000_000,
        EVENTS,
        SystemTime::now() - Duration::from_secs(60),
        Duration::from_secs(5 * 24 * 3600),
    );
    gh.add_synthetic(&timeline);
    let work = Workdir::new(&[REPO]);
    let mut proc =
        Ghpulse::start_with(&work, &gh.url(), &[("GHPULSE_REST_TIMEOUT", &timeout)]).await;
    gh.feed(&timeline, 100, Duration::from_secs(600))
        .await
        .expect("the feed timed out");
    proc.wait_ingested(Some(EVENTS), Duration::from_secs(120))
        .await;
    // Quiet from now on: no more 1-s polls during the measurements.
    gh.set_poll_interval(3600);
    let with_timeout = measure(&proc, clients, wait).await;
    proc.stop();

    let mut baseline =
        Ghpulse::start_with(&work, &gh.url(), &[("GHPULSE_REST_TIMEOUT", "24h")]).await;
    baseline
        .wait_ingested(Some(EVENTS), Duration::from_secs(60))
        .await;
    let without = measure(&baseline, clients, wait).await;
    baseline.stop();

    println!();
    println!(
        "{clients} clients ask for `raw=true&limit={EVENTS}` ({}) and read nothing; release build",
        mb(with_timeout.answer_bytes as u64)
    );
    println!();
    println!("| RSS | write timeout {timeout} | timeout 24 h (no write timeout, as before) |");
    println!("|---|---:|---:|");
    println!(
        "| idle, before they ask | {} | {} |",
        mb(with_timeout.idle),
        mb(without.idle)
    );
    println!(
        "| 3 s after they asked | {} | {} |",
        mb(with_timeout.held),
        mb(without.held)
    );
    println!(
        "| {timeout} + 5 s after they asked, all still connected | {} | {} |",
        mb(with_timeout.after),
        mb(without.after)
    );
}

/// Idle RSS; then `clients` ask and read nothing: RSS 3 s later, and once `wait` (the write
/// timeout) and 5 s more have passed.
async fn measure(proc: &Ghpulse, clients: usize, wait: Duration) -> Figures {
    let path = format!("/api/repos/{REPO}/events?raw=true&limit={EVENTS}");
    // One answer read in full, so the idle figure is not that of a cold process.
    let answer_bytes = reqwest::get(proc.url(&path))
        .await
        .expect("GET raw events")
        .bytes()
        .await
        .expect("the answer")
        .len();
    // Free pages go back to the kernel every 2 s.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let idle = proc.rss();

    let addr: std::net::SocketAddr = proc
        .url("")
        .trim_start_matches("http://")
        .parse()
        .expect("the listen address");
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n");
    let stalled: Vec<TcpStream> = (0..clients)
        .map(|_| {
            // A small receive window, as a client across a real network that stops reading
            // has: loopback's buffers would otherwise take a good part of each answer.
            let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
                .expect("socket");
            socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
            socket.connect(&addr.into()).expect("connect");
            let mut s = TcpStream::from(socket);
            s.write_all(request.as_bytes()).expect("send");
            s
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let held = proc.rss();
    tokio::time::sleep(wait.saturating_sub(Duration::from_secs(3)) + Duration::from_secs(5)).await;
    let after = proc.rss();
    drop(stalled);
    Figures {
        idle,
        held,
        after,
        answer_bytes,
    }
}
