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

/// A headless ghpulse whose stderr is `stderr`, polling every second.
fn start_logging_to(
    work: &Workdir,
    gh: &FakeGithub,
    stderr: impl Into<std::process::Stdio>,
) -> Running {
    Running::new(
        work.command(&gh.url(), TOKEN)
            .arg("--headless")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("start ghpulse"),
    )
}

/// Polls go on (each of them logs) and the process is still there; then SIGTERM ends it with 0.
async fn keeps_polling_and_ends_cleanly(gh: &FakeGithub, work: &Workdir, mut child: Running) {
    let before = gh.requests().len();
    wait_for("three more polls", Duration::from_secs(30), work, || {
        gh.requests().len() >= before + 3
    })
    .await;
    assert!(child.is_running(), "ghpulse ended while its log failed");
    let status = child.stop();
    assert!(status.success(), "{status}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stderr_pipe_closed_early_costs_log_lines_not_the_process() {
    let gh = github().await;
    gh.set_poll_interval(1);
    let work = Workdir::new(&[REPO]);
    // `ghpulse --headless 2>&1 | head -1`: one line read, then the pipe's reader is gone.
    let (reader, writer) = std::io::pipe().expect("a pipe");
    let child = start_logging_to(&work, &gh, writer);
    let mut first = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(reader), &mut first)
        .expect("the first log line");
    assert!(!first.is_empty());
    keeps_polling_and_ends_cleanly(&gh, &work, child).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_disk_under_stderr_costs_log_lines_not_the_process() {
    let gh = github().await;
    gh.set_poll_interval(1);
    let work = Workdir::new(&[REPO]);
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full");
    let child = start_logging_to(&work, &gh, full);
    keeps_polling_and_ends_cleanly(&gh, &work, child).await;
}

#[test]
fn a_one_shot_command_with_a_closed_stderr_still_exits_with_its_code() {
    let work = Workdir::new(&[REPO]);
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    let status = work
        .command("http://127.0.0.1:9", None)
        .args(["stats", "--repo", "not/watched"])
        .stdout(std::process::Stdio::null())
        .stderr(writer)
        .status()
        .expect("run ghpulse");
    assert_eq!(status.code(), Some(2), "{status}");
}
