//! Running the real `ghpulse` binary against the fake GitHub server.

#![allow(dead_code)]

pub mod figures;
pub mod listening;
pub mod openapi;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_ghpulse");

/// A stats body's repositories without `last_polled_at`, which moves with every poll (a 304
/// too) while the figures stay; every entry must have been polled.
pub fn without_poll_times(repositories: &serde_json::Value) -> serde_json::Value {
    let mut v = repositories.clone();
    for r in v.as_array_mut().into_iter().flatten() {
        assert!(r["last_polled_at"].is_string(), "polled: {r}");
        r["last_polled_at"] = serde_json::Value::Null;
    }
    v
}

/// A program a test drives as users have it (tmux, Prometheus, Chromium), found on `PATH`.
/// Under `CI` a missing one fails the test: a skipped check must not pass as a green run.
/// Elsewhere the skip is written straight to stderr, past the test harness's capture, so
/// `cargo test` shows it beside the test's "ok".
pub fn required_program(name: &str, package: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{name} is not installed (Debian package {package}); under CI it is required"
        );
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: {name} is not installed (Debian package {package})"
        );
    }
    found
}

/// A scratch folder with a config file and a store path.
pub struct Workdir {
    pub dir: tempfile::TempDir,
}

impl Workdir {
    pub fn new(repos: &[&str]) -> Workdir {
        let dir = tempfile::tempdir().expect("temp dir");
        let list = repos
            .iter()
            .map(|r| format!("\"{r}\""))
            .collect::<Vec<_>>()
            .join(", ");
        std::fs::write(
            dir.path().join("repositories.toml"),
            format!("# test watch list\nrepositories = [{list}]\nmax_repositories = 5\n"),
        )
        .expect("write config");
        Workdir { dir }
    }

    pub fn config(&self) -> PathBuf {
        self.dir.path().join("repositories.toml")
    }

    pub fn store(&self) -> PathBuf {
        self.dir.path().join("ghpulse.redb")
    }

    pub fn log(&self) -> PathBuf {
        self.dir.path().join("ghpulse.log")
    }

    /// `ghpulse -c … -d … --api-url URL` with a clean environment and a debug log filter.
    pub fn command(&self, api_url: &str, token: Option<&str>) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.arg("-c")
            .arg(self.config())
            .arg("-d")
            .arg(self.store())
            .arg("--api-url")
            .arg(api_url);
        for var in [
            "GITHUB_TOKEN",
            "GH_TOKEN",
            "GH_HOST",
            "GHPULSE_CONFIG",
            "GHPULSE_DATA",
            "GHPULSE_LISTEN",
            "GITHUB_API_URL",
            "GHPULSE_API_KEY",
        ] {
            cmd.env_remove(var);
        }
        // Without a token ghpulse asks `gh auth token`; a developer's own gh login must not
        // turn an unauthenticated test into an authenticated one.
        cmd.env("GH_CONFIG_DIR", self.dir.path());
        if let Some(t) = token {
            cmd.env("GITHUB_TOKEN", t);
        }
        cmd.env("GHPULSE_LOG", "ghpulse=debug");
        cmd
    }

    /// Starts `ghpulse --headless`, its stderr appended to `log()`.
    pub fn start(&self, api_url: &str, token: Option<&str>) -> Child {
        self.start_with(api_url, token, &[], &[])
    }

    /// Same, with more arguments and environment variables.
    pub fn start_with(
        &self,
        api_url: &str,
        token: Option<&str>,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Child {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log())
            .expect("log file");
        self.command(api_url, token)
            .args(args)
            .envs(env.iter().copied())
            .arg("--headless")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start ghpulse")
    }

    /// Runs a one-shot subcommand (`stats --json`, `repos list`, …).
    pub fn run(&self, args: &[&str]) -> Output {
        self.command("http://127.0.0.1:9", None)
            .args(args)
            .output()
            .expect("run ghpulse")
    }

    pub fn stats_json(&self) -> serde_json::Value {
        let out = self.run(&["stats", "--json"]);
        assert!(
            out.status.success(),
            "stats failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("stats --json is JSON")
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.log()).unwrap_or_default()
    }
}

/// SIGTERM, then wait for the exit status.
pub fn stop(child: Child) -> std::process::ExitStatus {
    stop_with(child, "TERM")
}

/// `kill -SIGNAL` (a name such as `HUP`), then wait for the exit status.
pub fn stop_with(mut child: Child, signal: &str) -> std::process::ExitStatus {
    let _ = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().to_string())
        .status();
    wait_exit(&mut child, Duration::from_secs(15)).unwrap_or_else(|| {
        let _ = child.kill();
        panic!("ghpulse did not exit within 15 s of SIG{signal}")
    })
}

pub fn wait_exit(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

/// Polls `check` until it holds or `limit` passes; panics with `what` and the log on time-out.
pub async fn wait_for(
    what: &str,
    limit: Duration,
    work: &Workdir,
    mut check: impl FnMut() -> bool,
) {
    let start = Instant::now();
    while start.elapsed() < limit {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "timed out waiting for {what}\n--- ghpulse log ---\n{}",
        work.log_text()
    );
}

/// The REST listener's base URL (`http://127.0.0.1:PORT`), from the line ghpulse logs once it
/// listens (it binds port 0 in the tests).
pub async fn listening_at(work: &Workdir) -> String {
    let mut base = String::new();
    wait_for(
        "the listener's address",
        Duration::from_secs(20),
        work,
        || {
            if let Some(rest) = work.log_text().split("REST API listening on ").nth(1) {
                base = rest.lines().next().unwrap_or_default().trim().to_string();
            }
            !base.is_empty()
        },
    )
    .await;
    base
}

pub fn exists(p: &Path) -> bool {
    p.exists()
}

/// A running ghpulse that is killed when dropped: a failing test must not leave it polling.
pub struct Running(Option<Child>);

impl Running {
    pub fn new(child: Child) -> Running {
        Running(Some(child))
    }

    /// SIGTERM and the exit status (see [`stop`]).
    pub fn stop(self) -> std::process::ExitStatus {
        self.stop_with("TERM")
    }

    /// That signal and the exit status (see [`stop_with`]).
    pub fn stop_with(mut self, signal: &str) -> std::process::ExitStatus {
        stop_with(self.0.take().expect("running"), signal)
    }

    /// Whether it has not exited yet.
    pub fn is_running(&mut self) -> bool {
        self.0
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Whether it still runs (it has not exited by itself).
    pub fn running(&mut self) -> bool {
        self.0
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// SIGKILL, as a crash.
    pub fn kill(mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `GET {base}{path}` of a ghpulse REST listener, as JSON (`Null` when the body is not JSON).
pub async fn get_json(base: &str, path: &str) -> serde_json::Value {
    let resp = reqwest::get(format!("{base}{path}"))
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    resp.json().await.unwrap_or(serde_json::Value::Null)
}

/// The event ids stored for a repository, read without blocking the test's runtime (the
/// fake server answers on it).
pub async fn stored_ids(store: PathBuf, repo: &str) -> std::collections::BTreeSet<u64> {
    let repo = repo.to_string();
    tokio::task::spawn_blocking(move || {
        ghpulse_core::Store::open_read_only(&store)
            .and_then(|s| s.recent_events(&repo, 100_000, None))
            .map(|v| v.into_iter().map(|e| e.id).collect())
            .unwrap_or_default()
    })
    .await
    .unwrap_or_default()
}

/// A fake GitHub polled every second, with a token budget no test spends.
pub async fn fast_fake() -> fake_github::FakeGithub {
    fake_github::FakeGithub::start(fake_github::Options {
        poll_interval_secs: 1,
        auth_limit: 1_000_000,
        ..fake_github::Options::default()
    })
    .await
}

/// The `n` newest events of a fixture as events of `repo`, ids from `first_id`, the newest a
/// minute old.
pub fn fixture_events(
    stem: &str,
    repo: &str,
    repo_id: u64,
    n: usize,
    first_id: u64,
) -> Vec<serde_json::Value> {
    use fake_github::data;
    let mut events = data::load_events(stem);
    events.truncate(n);
    data::renumber(&mut events, first_id);
    data::retarget(&mut events, repo, repo_id);
    data::rebase(
        &mut events,
        std::time::SystemTime::now() - Duration::from_secs(60),
    );
    events
}
