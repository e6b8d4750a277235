//! Synthetic timelines fed a page at a time: a client that reads page 1 at its own pace sees
//! every event, though there are more than the 300 the API shows.

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use fake_github::synthetic::SyntheticTimeline;
use fake_github::{FakeGithub, Options, data};

#[tokio::test(flavor = "multi_thread")]
async fn a_polling_client_reads_a_timeline_longer_than_the_cap() {
    let gh = FakeGithub::start(Options {
        poll_interval_secs: 0,
        ..Options::default()
    })
    .await;
    let now = SystemTime::now();
    let timeline = SyntheticTimeline::new(
        "bench/big",
        42,
        5_000,
        750,
        now,
        Duration::from_secs(24 * 3600),
    );
    assert_eq!(timeline.event(0)["id"], "5000");
    assert_eq!(timeline.event(749)["id"], "5749");
    assert_eq!(
        data::created_at(&timeline.event(749)),
        Some(data::Timestamp::from(now)),
        "the last event is the newest"
    );
    assert!(timeline.json_bytes() > 750 * 100);

    let url = format!("{}/repos/bench/big/events?per_page=100", gh.url());
    let client = reqwest::Client::builder()
        .user_agent("fake-github-tests")
        .build()
        .unwrap();
    let reader = tokio::spawn(async move {
        let mut seen = BTreeSet::new();
        while seen.len() < 750 {
            if let Ok(r) = client.get(&url).send().await
                && let Ok(page) = r.json::<serde_json::Value>().await
            {
                seen.extend(
                    page.as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(data::event_id),
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        seen
    });
    let fed = gh.feed(&timeline, 100, Duration::from_secs(60)).await;
    assert!(fed.is_some(), "fed within the time limit");
    let seen = tokio::time::timeout(Duration::from_secs(30), reader)
        .await
        .expect("the reader finishes")
        .unwrap();
    assert_eq!(seen, (5_000..5_750).collect::<BTreeSet<u64>>());
    assert!(
        gh.timeline_ids("bench/big").len() <= 300,
        "the API still shows at most 300"
    );
}
