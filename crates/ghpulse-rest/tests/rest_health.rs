//! `/health` follows the fetcher, in process: ok while its loop runs, 503 with the reason once
//! it has stopped while the listener still serves.

use std::sync::Arc;
use std::time::Duration;

use ghpulse_core::Client;
use ghpulse_core::Config;
use ghpulse_core::Store;
use ghpulse_core::{EngineSettings, start_engine};
use ghpulse_rest::{AllowedHosts, ApiState, Limits};
use tokio::sync::watch;

#[tokio::test(flavor = "multi_thread")]
async fn health_answers_503_with_the_reason_once_the_fetcher_has_stopped() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = Config::parse(&dir.path().join("repositories.toml"), "repositories = []\n")
        .expect("config");
    let (stop_fetcher, fetcher_stop) = watch::channel(false);
    let (handle, fetcher) = start_engine(
        EngineSettings {
            config,
            client: Client::new("http://127.0.0.1:9", None).expect("client"),
            store: Store::in_memory().expect("store"),
        },
        fetcher_stop,
    )
    .await
    .expect("engine");

    let timeout = Duration::from_secs(30);
    let state = ApiState {
        engine: Arc::new(handle.clone()),
        api_key: None::<Arc<str>>,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let url = format!("http://{addr}/health");
    let (stop_rest, rest_stop) = watch::channel(false);
    let served = tokio::spawn(ghpulse_rest::serve(
        listener,
        state,
        Limits {
            max_connections: 16,
            timeout,
        },
        AllowedHosts::new(addr.ip(), &[]),
        rest_stop,
    ));

    let http = reqwest::Client::new();
    let health = http.get(&url).send().await.expect("GET /health");
    assert_eq!(health.status(), 200);
    assert_eq!(
        health.json::<serde_json::Value>().await.expect("JSON"),
        serde_json::json!({"status": "ok"})
    );

    stop_fetcher.send(true).expect("engine listening");
    fetcher
        .await
        .expect("the fetcher loop ends cleanly")
        .expect("a sound store");
    assert!(!handle.fetcher_running());
    let health = http.get(&url).send().await.expect("GET /health");
    assert_eq!(health.status(), 503);
    let body: serde_json::Value = health.json().await.expect("JSON");
    assert_eq!(body["error"], "the fetcher is not running");

    stop_rest.send(true).expect("listener running");
    tokio::time::timeout(Duration::from_secs(15), served)
        .await
        .expect("the listener stops on shutdown")
        .expect("listener task");
}
