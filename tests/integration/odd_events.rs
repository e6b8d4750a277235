//! Odd events cost nothing but themselves: invalid UTF-8 inside a string, a payload nested
//! 10,000 deep and a creation date in 9999 are kept (the last counted at its arrival), an
//! event without a readable date is skipped and reported once, however many polls list it;
//! the rest of their page is stored as usual.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use fake_github::data;
use serde_json::Value;

use crate::support::{Running, Workdir, fast_fake, fixture_events, stored_ids};

const REPO: &str = "odd/events";

fn id_of(e: &Value) -> u64 {
    e["id"].as_str().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_odd_event_costs_its_page_nothing() {
    let gh = fast_fake().await;
    let mut events = fixture_events("praw-dev__praw", REPO, 9, 44, 40_000_000_000);
    // The four newest (highest ids, so on page 1) are made odd.
    events[0]["payload"]["odd"] = Value::String("SPLICE-UTF8".into());
    events[1]["payload"]["odd"] = Value::String("SPLICE-DEEP".into());
    events[2]["created_at"] = Value::String("9999-12-31T23:59:59Z".into());
    events[3]["created_at"] = Value::String("SPLICE-NO-DATE".into());
    let (utf8, deep, future) = (id_of(&events[0]), id_of(&events[1]), id_of(&events[2]));
    gh.add_repo(REPO, 9, events.clone());
    gh.set_splice("SPLICE-UTF8", b"\"caf\xe9\xff\"".to_vec());
    let nested = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    gh.set_splice("SPLICE-DEEP", nested.into_bytes());
    gh.set_splice("SPLICE-NO-DATE", b"\"yesterday\"".to_vec());
    let mut readable: BTreeSet<u64> = events.iter().map(id_of).collect();
    readable.remove(&id_of(&events[3]));

    let work = Workdir::new(&[REPO]);
    let child = Running::new(work.start(&gh.url(), Some("test-token")));
    // New events keep page 1 changing: every poll reads it again, the odd events with it.
    let start = Instant::now();
    let mut pushed = 0;
    while pushed < 4 || stored_ids(work.store(), REPO).await != readable {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "not every readable event stored\n{}",
            work.log_text()
        );
        if pushed < 4 {
            let mut fresh = events[10].clone();
            fresh["id"] = Value::String((41_000_000_000u64 + pushed).to_string());
            fresh["created_at"] = Value::String(data::Timestamp::now().to_rfc3339());
            readable.insert(id_of(&fresh));
            gh.push_events(REPO, vec![fresh]);
            pushed += 1;
        }
        tokio::time::sleep(Duration::from_millis(1500)).await;
    }
    assert!(child.stop().success());
    let reads = gh
        .requests()
        .iter()
        .filter(|q| q.page == 1 && q.status == 200)
        .count();
    assert!(reads >= 3, "page 1 read {reads} times");
    let log = work.log_text();
    assert_eq!(
        log.matches("skipped an event GitHub sent").count(),
        1,
        "reported once, not on each of {reads} reads:\n{log}"
    );

    let jsonl = work.run(&["export", "--repo", REPO]);
    assert!(jsonl.status.success());
    let text = String::from_utf8(jsonl.stdout).unwrap();
    let line = |id: u64| {
        text.lines()
            .find(|l| l.contains(&format!("\"id\":\"{id}\"")))
            .unwrap_or_else(|| panic!("{id} exported"))
    };
    let kept: Value = serde_json::from_str(line(utf8)).unwrap();
    assert_eq!(
        kept["payload"]["odd"], "caf\u{fffd}\u{fffd}",
        "kept, the bytes that are not UTF-8 replaced"
    );
    assert!(
        line(deep).contains(&"[".repeat(10_000)),
        "kept with its nesting"
    );
    let as_served: Value = serde_json::from_str(line(future)).unwrap();
    assert_eq!(as_served["created_at"], "9999-12-31T23:59:59Z", "as served");

    let stats = work.stats_json();
    let entry = &stats["repositories"][0];
    let window_end: DateTime<Utc> = entry["window_end"].as_str().unwrap().parse().unwrap();
    assert!(
        window_end <= Utc::now(),
        "the event from 9999 counts at its arrival: {entry}"
    );
    for t in entry["event_types"].as_array().unwrap() {
        let avg = t["avg_seconds_between"].as_f64().unwrap_or_default();
        assert!(avg < 30.0 * 86_400.0, "no average of years: {t}");
    }
}
