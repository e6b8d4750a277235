//! The headless process against what its surroundings do to it: every ending signal gets the
//! clean shutdown, and a log that can no longer be written costs log lines, never the process.

use std::time::{Duration, SystemTime};

use fake_github::{FakeGithub, Fault, Options};

use crate::support::{Running, Workdir, wait_for};

const TOKEN: Option<&str> = Some("test-token");
const REPO: &str = "sferik/rails_admin";

/// The fake server with one recorded repository of 300 events (three pages).
async fn github() -> FakeGithub {
    let gh = FakeGithub::start(Options {
        poll_interval_secs: 60,
        ..Options::default()
    })
    .await;
    gh.add_fixture(
        REPO,
        SystemTime::now() - Duration::from_secs(60),
        Duration::from_secs(24 * 3600),
    );
    gh
}

fn events_stored(work: &Workdir) -> u64 {
    let stats = work.stats_json();
    stats["repositories"][0]["events_in_window"]
        .as_u64()
        .expect("events_in_window")
}

/// The signal arrives while the first poll waits for its third page: ghpulse must let the poll
/// finish, commit it, and exit 0 (by the signal's default action it would die with nothing
/// stored).
async fn ends_cleanly_on(signal: &str) {
    let gh = github().await;
    gh.set_page_fault(REPO, 3, Some(Fault::Slow(Duration::from_secs(2))));
    let work = Workdir::new(&[REPO]);
    let child = Running::new(work.start(&gh.url(), TOKEN));
    wait_for("page 3 asked for", Duration::from_secs(30), &work, || {
        gh.requests().iter().any(|r| r.page == 3 && r.status == 0)
    })
    .await;
    let status = child.stop_with(signal);
    let log = work.log_text();
    assert!(status.success(), "SIG{signal}: {status}\n{log}");
    assert!(
        log.contains(&format!("shutting down (SIG{signal})")),
        "SIG{signal}:\n{log}"
    );
    assert!(
        log.contains("fetcher stopped; the store is up to date"),
        "{log}"
    );
    assert_eq!(
        events_stored(&work),
        300,
        "the poll in flight was committed"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sighup_ends_ghpulse_cleanly() {
    ends_cleanly_on("HUP").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sigquit_ends_ghpulse_cleanly() {
    ends_cleanly_on("QUIT").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sigusr1_ends_ghpulse_cleanly() {
    ends_cleanly_on("USR1").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sigusr2_ends_ghpulse_cleanly() {
    ends_cleanly_on("USR2").await;
}
