//! `/docs` rendered by a real headless Chromium (Debian package `chromium`; `.ci/run` installs
//! it) with every other host cut off: the page must show the API's endpoints from what ghpulse
//! itself serves, and Chromium's network log must show no request to anywhere else.

use std::process::Command;

use crate::support::{Workdir, listening_at, required_program, stop};
use fake_github::{FakeGithub, Options};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread")]
async fn docs_render_offline_with_every_endpoint_and_no_request_leaves_loopback() {
    let Some(chromium) = required_program("chromium", "chromium") else {
        return;
    };
    let gh = FakeGithub::start(Options::default()).await;
    let work = Workdir::new(&[]);
    let child = work.start_with(&gh.url(), None, &["--listen", "127.0.0.1:0"], &[]);
    let base = listening_at(&work).await;
    let profile = tempfile::tempdir().unwrap();
    let net_log = work.dir.path().join("netlog.json");

    // A proxy on a closed port and a resolver that knows no name: whatever the page asked of
    // another host could not be fetched. Chromium never sends loopback through a proxy.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = closed.local_addr().unwrap().port();
    drop(closed);
    let out = tokio::task::spawn_blocking({
        let (chromium, base, net_log) = (chromium.clone(), base.clone(), net_log.clone());
        let profile = profile.path().to_path_buf();
        move || {
            Command::new(chromium)
                .args([
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--disable-default-apps",
                    "--disable-extensions",
                    "--disable-features=AutofillServerCommunication,OptimizationHints,MediaRouter",
                    &format!("--proxy-server=http://127.0.0.1:{closed_port}"),
                    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                    &format!("--user-data-dir={}", profile.display()),
                    &format!("--log-net-log={}", net_log.display()),
                    "--virtual-time-budget=15000",
                    "--dump-dom",
                    &format!("{base}/docs/"),
                ])
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    let doc: Value = reqwest::get(format!("{base}/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    stop(child);
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Swagger UI drew one operation for each path of the document (SPEC section 6's endpoints).
    let paths: Vec<String> = doc["paths"]
        .as_object()
        .expect("the document's paths")
        .keys()
        .cloned()
        .collect();
    for path in [
        "/api/stats",
        "/api/repos",
        "/api/events/stream",
        "/metrics",
        "/health",
    ] {
        assert!(paths.iter().any(|p| p == path), "{path} not in {paths:?}");
    }
    for path in &paths {
        assert!(
            dom.contains(&format!("data-path=\"{path}\"")),
            "{path} not rendered:\n{dom:.3000}"
        );
    }

    // Every request the page made went to ghpulse. The page's requests are those keyed to its
    // site (the network isolation key names the top frame's site, for a script from a CDN as
    // much as for one from ghpulse); the browser's own (update checks, sign-in) carry other
    // keys and never reach a network anyway.
    let log = std::fs::read_to_string(&net_log).unwrap();
    let log: Value = serde_json::from_str(&log)
        .or_else(|_| serde_json::from_str(&format!("{}]}}", log.trim_end().trim_end_matches(','))))
        .expect("Chromium's network log is JSON");
    let start_job = &log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"];
    assert!(start_job.is_u64(), "the log names its event types");
    let page_requests: Vec<&str> = log["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| &e["type"] == start_job)
        .filter(|e| {
            e["params"]["network_isolation_key"]
                .as_str()
                .is_some_and(|k| k.starts_with("http://127.0.0.1 "))
        })
        .filter_map(|e| e["params"]["url"].as_str())
        .collect();
    for wanted in ["/docs/", "/docs/swagger-ui-bundle.js", "/openapi.json"] {
        assert!(
            page_requests.contains(&format!("{base}{wanted}").as_str()),
            "the page asked for {wanted}: {page_requests:?}"
        );
    }
    let elsewhere: Vec<&&str> = page_requests
        .iter()
        .filter(|u| !u.starts_with(&format!("{base}/")))
        .collect();
    assert!(elsewhere.is_empty(), "requests off loopback: {elsewhere:?}");
    drop(gh);
}
