//! Two hundred repositories on one token against the fake GitHub announcing
//! `X-Poll-Interval: 10`, the engine as the binary runs it: events published one by one while
//! it polls, the delay from each event appearing in the API to ghpulse having committed it
//! (p50 / p95), the requests sent in any minute, and the counted ones against the events.
//!
//! The goals are the benchmark's (`cargo bench --bench economy`); the bounds here leave room
//! for a slow shared machine but fail a plan that spends as if every poll counted (each
//! repository would then be polled every 144 s).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use fake_github::{FakeGithub, Options, data};
use ghpulse_core::{Client, Config, EngineSettings, RepoStatus, Store, Token, start_engine};

const REPOS: usize = 200;
const POLL_INTERVAL: u64 = 10;
/// How long events are published for, and how often.
const PUBLISHING: Duration = Duration::from_secs(60);
const EVERY: Duration = Duration::from_millis(400);

fn pct(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_repositories_polled_at_their_poll_interval_on_one_token() {
    let gh = FakeGithub::start(Options {
        poll_interval_secs: POLL_INTERVAL,
        ..Options::default()
    })
    .await;
    let template = data::load_events("praw-dev__praw");
    let names: Vec<String> = (0..REPOS).map(|k| format!("team/repo-{k:03}")).collect();
    for (k, name) in names.iter().enumerate() {
        let mut events: Vec<_> = template.iter().take(5).cloned().collect();
        data::renumber(&mut events, 10_000_000_000 + k as u64 * 100);
        data::retarget(&mut events, name, 1_000 + k as u64);
        data::rebase(&mut events, SystemTime::now() - Duration::from_secs(600));
        gh.add_repo(name, 1_000 + k as u64, events);
    }
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("repositories.toml");
    let list: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
    std::fs::write(
        &config_path,
        format!(
            "max_repositories = {REPOS}\nrepositories = [{}]\n",
            list.join(", ")
        ),
    )
    .unwrap();
    let config = Config::load(&config_path).unwrap();
    let client = Client::new(&gh.url(), Token::new("t".into())).unwrap();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let (handle, fetcher) = start_engine(
        EngineSettings {
            config,
            client,
            store: Store::in_memory().unwrap(),
        },
        stop_rx,
    )
    .await
    .unwrap();
    let started = Instant::now();
    while !handle
        .snapshot()
        .repos
        .iter()
        .all(|r| r.state.status == RepoStatus::Ok)
    {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the first polls"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Every stored event, with when it was committed (the live stream is told after the
    // commit; its own delay is well under a millisecond).
    let stored = Arc::new(Mutex::new(Vec::<(u64, Instant)>::new()));
    let mut live = handle.live_events().unwrap();
    let collector = tokio::spawn({
        let stored = stored.clone();
        async move {
            while let Ok(e) = live.recv().await {
                if let Ok(id) = e.entry.id.parse::<u64>() {
                    stored.lock().unwrap().push((id, Instant::now()));
                }
            }
        }
    });

    // Events now, most to a few busy repositories (as on a real team's list).
    let mut rng = fastrand::Rng::with_seed(22);
    let counted_before = gh.requests().iter().filter(|r| r.counted).count();
    let mut published = Vec::new();
    let publishing = Instant::now();
    while publishing.elapsed() < PUBLISHING {
        let k = (rng.f64().powi(3) * REPOS as f64) as usize;
        let sent = gh.push_live_event(&names[k], template[0].clone());
        published.push(sent["id"].as_str().unwrap().parse::<u64>().unwrap());
        tokio::time::sleep(EVERY).await;
    }
    let waiting = Instant::now();
    while stored.lock().unwrap().len() < published.len()
        && waiting.elapsed() < Duration::from_secs(90)
    {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    stop_tx.send(true).unwrap();
    fetcher.await.unwrap().unwrap();
    collector.abort();

    let stored = stored.lock().unwrap().clone();
    let mut delays: Vec<f64> = published
        .iter()
        .map(|id| {
            let seen = gh.visible_since(*id).unwrap();
            let (_, at) = stored
                .iter()
                .find(|(s, _)| s == id)
                .unwrap_or_else(|| panic!("event {id} never stored"));
            at.duration_since(seen).as_secs_f64()
        })
        .collect();
    delays.sort_by(f64::total_cmp);
    let sent = gh.requests();
    let mut most_in_a_minute = 0;
    let mut first = 0;
    for (k, r) in sent.iter().enumerate() {
        while r.at.duration_since(sent[first].at) >= Duration::from_secs(60) {
            first += 1;
        }
        most_in_a_minute = most_in_a_minute.max(k + 1 - first);
    }
    let counted = sent.iter().filter(|r| r.counted).count() - counted_before;
    let forbidden = sent
        .iter()
        .filter(|r| r.status == 403 || r.status == 429)
        .count();
    eprintln!(
        "{REPOS} repositories, X-Poll-Interval {POLL_INTERVAL} s: {} events, delay p50 {:.1} s, p95 {:.1} s, max {:.1} s; at most {most_in_a_minute} requests in a minute; {counted} counted while publishing; {} requests in all",
        published.len(),
        pct(&delays, 0.5),
        pct(&delays, 0.95),
        pct(&delays, 1.0),
        sent.len()
    );
    assert_eq!(gh.violations(), Vec::<String>::new());
    assert_eq!(forbidden, 0);
    // Polls start at least 100 ms apart: 600 a minute, each one page here.
    assert!(most_in_a_minute <= 620, "{most_in_a_minute}");
    // With a token only the polls that find something count: at most one per event.
    assert!(
        counted <= published.len(),
        "{counted} > {}",
        published.len()
    );
    // 600 polls a minute shared by 200 repositories: each about every 20 s; as if every poll
    // counted it would be every 144 s.
    assert!(pct(&delays, 0.95) <= 40.0, "{delays:?}");
}
