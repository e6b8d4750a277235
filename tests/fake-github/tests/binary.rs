//! The `fake-github` binary as a script sees it.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::Duration;

#[tokio::test]
async fn binary_prints_its_address_serves_the_demo_and_stops_on_sigterm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fake-github"))
        .args([
            "--port",
            "0",
            "--live",
            "--live-every",
            "0.2",
            "--poll-interval",
            "7",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start fake-github");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    stdout.read_line(&mut line).expect("first line");
    let url = line
        .trim_end()
        .strip_prefix("listening on ")
        .expect("listening line")
        .to_string();
    assert!(
        url.starts_with("http://127.0.0.1:") && !url.ends_with('/'),
        "{line:?}"
    );

    let c = reqwest::Client::builder()
        .user_agent("binary-test")
        .build()
        .expect("client");
    let rails = c
        .get(format!("{url}/repos/sferik/rails_admin/events"))
        .send()
        .await
        .expect("get");
    assert_eq!(rails.status(), 200);
    assert_eq!(rails.headers()["x-poll-interval"], "7");
    let events: Vec<serde_json::Value> = rails.json().await.expect("json");
    assert_eq!(events.len(), 30);
    let missing = c
        .get(format!("{url}/repos/ghpulse-demo/missing/events"))
        .send()
        .await
        .expect("get");
    assert_eq!(missing.status(), 404);

    // Live events arrive on top of the busiest repository's timeline... or another one's:
    // wait until some repository's newest id grows.
    let newest =
        |events: &[serde_json::Value]| fake_github::data::event_id(&events[0]).expect("id");
    let mut first_ids = Vec::new();
    for repo in fake_github::data::FIXTURE_REPOS {
        let url = format!("{url}/repositories/{}/events?per_page=1", repo.id);
        let page: Vec<serde_json::Value> = c
            .get(&url)
            .send()
            .await
            .expect("get")
            .json()
            .await
            .expect("json");
        first_ids.push((url, newest(&page)));
    }
    // Live events arrive about once a second; a loaded machine may take longer.
    let mut grew = false;
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        for (url, before) in &first_ids {
            let page: Vec<serde_json::Value> = c
                .get(url)
                .send()
                .await
                .expect("get")
                .json()
                .await
                .expect("json");
            grew |= newest(&page) > *before;
        }
        if grew {
            break;
        }
    }
    assert!(grew, "no live event in 10 s");

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let exit = child.wait().expect("wait");
    assert!(exit.success(), "{exit:?}");
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).expect("rest of stdout");
    assert_eq!(rest, "", "stdout holds only the listening line");
}
