//! The store's file: removed while ghpulse runs, it is an error shown per repository and
//! retried, never written into silently; left by a crash and made read-only, `ghpulse stats`
//! and `ghpulse export` read it without writing a byte.

use std::time::{Duration, Instant};

use fake_github::{FakeGithub, data};
use serde_json::Value;

use crate::support::{
    Running, Workdir, fast_fake, fixture_events, get_json, listening_at, wait_for,
};

const TOKEN: Option<&str> = Some("test-token");

async fn serving(repo: &str) -> FakeGithub {
    let gh = fast_fake().await;
    gh.add_repo(
        repo,
        11,
        fixture_events("sferik__rails_admin", repo, 11, 60, 50_000_000_000),
    );
    gh
}

#[tokio::test(flavor = "multi_thread")]
async fn a_store_removed_while_running_is_an_error_shown_and_retried() {
    let repo = "files/removed";
    let gh = serving(repo).await;
    let work = Workdir::new(&[repo]);
    let mut child =
        Running::new(work.start_with(&gh.url(), TOKEN, &["--listen", "127.0.0.1:0"], &[]));
    let base = listening_at(&work).await;
    wait_for("the first read", Duration::from_secs(30), &work, || {
        gh.requests().iter().any(|q| q.status == 200)
    })
    .await;
    std::fs::remove_file(work.store()).unwrap();
    let template = data::load_events("sferik__rails_admin").remove(0);
    let start = Instant::now();
    let shown = format!("store: {} was removed", work.store().display());
    let mut failed_commits = 0;
    loop {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "not shown: {}\n{}",
            get_json(&base, "/api/repos").await,
            work.log_text()
        );
        // Something new to commit at every poll.
        gh.push_live_event(repo, template.clone());
        tokio::time::sleep(Duration::from_millis(500)).await;
        let entry = get_json(&base, "/api/repos").await[0].clone();
        if entry["last_error"]
            .as_str()
            .is_some_and(|e| e.starts_with(&shown))
        {
            assert_eq!(entry["status"], "backoff", "{entry}");
            failed_commits += 1;
        }
        // Retried, like a full disk: the log says so each time.
        let logged = work.log_text().matches(&format!("{repo}: {shown}")).count();
        if failed_commits > 0 && logged >= 2 {
            break;
        }
    }
    assert!(child.running(), "ghpulse goes on\n{}", work.log_text());
    assert!(!work.store().exists(), "no new, empty store in its place");
    assert!(child.stop().success());
}

/// `ghpulse stats --json` and `export` of the store, each of which must leave it as it was.
fn read_without_writing(work: &Workdir) -> Value {
    let before = std::fs::read(work.store()).unwrap();
    let stats = work.run(&["stats", "--json"]);
    assert!(
        stats.status.success(),
        "{}",
        String::from_utf8_lossy(&stats.stderr)
    );
    let export = work.run(&["export"]);
    assert!(
        export.status.success(),
        "{}",
        String::from_utf8_lossy(&export.stderr)
    );
    assert!(!export.stdout.is_empty());
    assert_eq!(
        std::fs::read(work.store()).unwrap(),
        before,
        "not a byte of the store written"
    );
    serde_json::from_slice(&stats.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_read_only_store_left_by_a_crash_is_read_by_stats_and_export() {
    let repo = "files/read-only";
    let gh = serving(repo).await;
    let work = Workdir::new(&[repo]);
    let child = Running::new(work.start(&gh.url(), TOKEN));
    wait_for("the first read", Duration::from_secs(30), &work, || {
        gh.requests().iter().any(|q| q.status == 304)
    })
    .await;
    child.kill();
    let stats = read_without_writing(&work);
    assert!(stats["repositories"][0]["events_in_window"].as_u64() > Some(0));

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path, m| {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap()
        };
        mode(&work.store(), 0o444);
        mode(work.dir.path(), 0o555);
        let read_only = read_without_writing(&work);
        mode(work.dir.path(), 0o755);
        assert_eq!(read_only["repositories"], stats["repositories"]);
    }
}
