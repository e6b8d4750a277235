//! The listener at the open-file limit, in a process of its own (the test lowers its limit):
//! when `accept` fails for want of a descriptor, the connection idle the longest is closed to
//! make one free, so idle sockets cannot lock `/health` out even with a cap above what is free.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use ghpulse_core::{Client, Config, EngineSettings, Store, start_engine};
use ghpulse_rest::{AllowedHosts, ApiState, Limits};
use tokio::sync::watch;

fn open_descriptors() -> u64 {
    std::fs::read_dir("/proc/self/fd")
        .or_else(|_| std::fs::read_dir("/dev/fd"))
        .expect("the descriptors are listed")
        .count() as u64
}

#[tokio::test(flavor = "multi_thread")]
async fn at_the_descriptor_limit_the_longest_idle_connection_makes_room() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = Config::parse(&dir.path().join("repositories.toml"), "repositories = []\n")
        .expect("config");
    let (_stop_fetcher, fetcher_stop) = watch::channel(false);
    let (handle, _fetcher) = start_engine(
        EngineSettings {
            config,
            client: Client::new("http://127.0.0.1:9", None).expect("client"),
            store: Store::in_memory().expect("store"),
        },
        fetcher_stop,
    )
    .await
    .expect("engine");
    let state = ApiState {
        engine: Arc::new(handle),
        api_key: None::<Arc<str>>,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");

    // Thirty idle clients, then one that will ask for /health, all connected (the kernel
    // completes them in the listen queue) before the limit leaves room for five more
    // descriptors. The cap is far above that, so only what `accept` meets can help.
    let idle: Vec<TcpStream> = (0..30)
        .map(|_| TcpStream::connect(addr).expect("connect"))
        .collect();
    let mut asking = TcpStream::connect(addr).expect("connect");
    let (_, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE).expect("limit");
    rlimit::setrlimit(rlimit::Resource::NOFILE, open_descriptors() + 5, hard).expect("lower");

    let (_stop_rest, rest_stop) = watch::channel(false);
    tokio::spawn(ghpulse_rest::serve(
        listener,
        state,
        Limits {
            max_connections: 1000,
            timeout: Duration::from_secs(30),
        },
        AllowedHosts::new(addr.ip(), &[]),
        rest_stop,
    ));

    asking
        .write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .expect("send");
    asking
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let answer = tokio::task::spawn_blocking(move || {
        let mut answer = String::new();
        asking.read_to_string(&mut answer).map(|_| answer)
    })
    .await
    .expect("reader");
    let answer = answer.expect("an answer before the read timeout");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    drop(idle);
}
