//! The watch list with the real binary: parallel `ghpulse repos` edits, and a running ghpulse
//! following its config file (edits by other processes, REST, broken and fixed by hand).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{BIN, Workdir, stop, wait_for};
use fake_github::{FakeGithub, Options};
use serde_json::Value;

const KEY: &str = "watch-list-key";

fn repos_command(work: &Workdir, args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.arg("-c").arg(work.config()).arg("repos").args(args);
    cmd.env_remove("GHPULSE_CONFIG");
    cmd
}

#[test]
fn twenty_parallel_adds_keep_every_confirmed_one_and_the_limit() {
    let work = Workdir::new(&[]);
    for round in 0..3 {
        let original = "# mine\nrepositories = [\n  \"keep/one\",  # first\n  \"keep/two\",  # second\n]\nmax_repositories = 12  # a dozen\n";
        std::fs::write(work.config(), original).unwrap();
        let children: Vec<_> = (0..20)
            .map(|i| {
                let name = format!("round{round}/repo{i}");
                let child = repos_command(&work, &["add", &name])
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("start ghpulse repos add");
                (name, child)
            })
            .collect();
        let mut confirmed = Vec::new();
        for (name, child) in children {
            let out = child.wait_with_output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            match out.status.code() {
                Some(0) => confirmed.push(name),
                Some(2) => assert!(
                    stderr.contains("cannot watch more than 12 repositories"),
                    "{name}: {stderr}"
                ),
                other => panic!("{name}: exit {other:?}: {stderr}"),
            }
        }
        assert_eq!(confirmed.len(), 10, "round {round}: exactly the room left");

        let listed = repos_command(&work, &["list"]).output().unwrap();
        assert!(listed.status.success(), "the file is valid");
        let listed = String::from_utf8_lossy(&listed.stdout);
        let listed: Vec<&str> = listed.lines().collect();
        assert_eq!(listed.len(), 12, "the limit holds: {listed:?}");
        for name in &confirmed {
            assert!(listed.contains(&name.as_str()), "{name} confirmed but lost");
        }
        let text = std::fs::read_to_string(work.config()).unwrap();
        assert!(
            text.starts_with(
                "# mine\nrepositories = [\n  \"keep/one\",  # first\n  \"keep/two\",  # second\n"
            ) && text.ends_with("]\nmax_repositories = 12  # a dozen\n"),
            "{text}"
        );
        let stray: Vec<_> = std::fs::read_dir(work.dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n != "repositories.toml")
            .collect();
        assert!(stray.is_empty(), "no temporary file is left: {stray:?}");
    }
}

#[test]
fn an_oversized_config_or_an_endless_duration_is_refused_with_exit_2() {
    let work = Workdir::new(&[]);
    let out = Command::new(BIN)
        .args(["-c", "/dev/zero", "repos", "list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("/dev/zero: file: larger than 1 MiB"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for (section, key) in [("window", "max_age"), ("store", "retention")] {
        std::fs::write(
            work.config(),
            format!("repositories = []\n[{section}]\n{key} = \"300000y\"\n"),
        )
        .unwrap();
        let out = repos_command(&work, &["list"]).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains(&format!(
                ":3: {section}.{key}: \"300000y\" is longer than 100 years"
            )),
            "{stderr}"
        );
    }
}

struct Listening {
    base: String,
    http: reqwest::Client,
}

impl Listening {
    async fn repos(&self) -> (Vec<String>, Option<String>, Value) {
        let resp = self
            .http
            .get(format!("{}/api/repos", self.base))
            .send()
            .await
            .unwrap();
        let error = resp
            .headers()
            .get("x-config-error")
            .map(|v| v.to_str().unwrap().to_string());
        let body: Value = resp.json().await.unwrap();
        let names = body
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["repo"].as_str().unwrap().to_string())
            .collect();
        (names, error, body)
    }

    /// GET /api/labels: its status, and the label groups of the first repository.
    async fn label_groups(&self) -> (u16, Vec<String>) {
        let resp = self
            .http
            .get(format!("{}/api/labels", self.base))
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap();
        let groups = body["repositories"][0]["groups"]
            .as_array()
            .map(|gs| {
                gs.iter()
                    .map(|g| g["group"].as_str().unwrap_or_default().to_string())
                    .collect()
            })
            .unwrap_or_default();
        (status, groups)
    }

    /// Waits until `check` holds for GET /api/repos; returns how long it took.
    async fn until(
        &self,
        what: &str,
        limit: Duration,
        check: impl Fn(&[String], Option<&str>, &Value) -> bool,
    ) -> Duration {
        let start = Instant::now();
        loop {
            let (names, error, body) = self.repos().await;
            if check(&names, error.as_deref(), &body) {
                return start.elapsed();
            }
            assert!(
                start.elapsed() < limit,
                "{what}: not within {limit:?}: {names:?} {error:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_running_ghpulse_follows_its_config_file() {
    let gh = FakeGithub::start(Options {
        poll_interval_secs: 1,
        ..Options::default()
    })
    .await;
    for name in [
        "sferik/rails_admin",
        "praw-dev/praw",
        "github/gitignore",
        "github3py/github3.py",
    ] {
        gh.add_fixture(
            name,
            std::time::SystemTime::now() - Duration::from_secs(600),
            Duration::from_secs(3600 * 48),
        );
    }
    let work = Workdir::new(&[]);
    std::fs::write(
        work.config(),
        "# what I watch\nrepositories = [\n  # the admin\n  \"sferik/rails_admin\",  # busy\n  \"praw-dev/praw\",  # quiet\n]\nmax_repositories = 4\n",
    )
    .unwrap();
    let child = work.start_with(
        &gh.url(),
        Some("token"),
        &["--listen", "127.0.0.1:0"],
        &[("GHPULSE_API_KEY", KEY)],
    );
    let base = crate::support::listening_at(&work).await;
    let api = Listening {
        base,
        http: reqwest::Client::new(),
    };
    api.until("both polled", Duration::from_secs(30), |_, _, body| {
        body.as_array()
            .is_some_and(|a| a.len() == 2 && a.iter().all(|e| e["status"] == "ok"))
    })
    .await;

    // Another process adds a repository: listed, then polled.
    let out = work.run(&["repos", "add", "github/gitignore"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let took = api
        .until(
            "the added repository listed",
            Duration::from_secs(5),
            |n, _, _| n.iter().any(|r| r == "github/gitignore"),
        )
        .await;
    eprintln!("a `ghpulse repos add` reached GET /api/repos in {took:?}");
    api.until(
        "the added repository polled",
        Duration::from_secs(30),
        |_, _, body| {
            body.as_array().is_some_and(|a| {
                a.iter()
                    .any(|e| e["repo"] == "github/gitignore" && e["status"] == "ok")
            })
        },
    )
    .await;

    // REST edits the same file the same way: comments stay with their entries.
    let resp = api
        .http
        .post(format!("{}/api/repos", api.base))
        .bearer_auth(KEY)
        .json(&serde_json::json!({"repo": "github3py/github3.py"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let resp = api
        .http
        .delete(format!("{}/api/repos/praw-dev/praw", api.base))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    assert_eq!(
        std::fs::read_to_string(work.config()).unwrap(),
        "# what I watch\nrepositories = [\n  # the admin\n  \"sferik/rails_admin\",  # busy\n  \"github/gitignore\",\n  \"github3py/github3.py\",\n]\nmax_repositories = 4\n"
    );

    // Broken by hand: said so, and the last valid list is still polled.
    let valid = std::fs::read_to_string(work.config()).unwrap();
    std::fs::write(
        work.config(),
        valid.replace("\"github/gitignore\",", "\"github/gitignore\" \"x\","),
    )
    .unwrap();
    api.until("the error reported", Duration::from_secs(5), |n, e, _| {
        n.len() == 3 && e.is_some_and(|e| e.contains("repositories.toml:5"))
    })
    .await;
    let before = gh.requests().len();
    wait_for("polling to go on", Duration::from_secs(20), &work, || {
        gh.requests()[before..]
            .iter()
            .filter_map(|r| r.repo.as_deref())
            .any(|r| r == "sferik/rails_admin")
    })
    .await;
    assert!(
        work.log_text()
            .contains("the last valid config stays in force until the file is fixed"),
        "logged"
    );
    let resp = api
        .http
        .post(format!("{}/api/repos", api.base))
        .bearer_auth(KEY)
        .json(&serde_json::json!({"repo": "praw-dev/praw"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 409, "a broken file is not overwritten");
    assert_eq!(
        api.label_groups().await,
        (200, vec!["bug".to_string(), "performance".to_string()]),
        "the label KPIs answer with the groups in force"
    );

    // Fixed: the message goes and the file's list is in force.
    std::fs::write(
        work.config(),
        valid.replace("  \"github/gitignore\",\n", ""),
    )
    .unwrap();
    api.until("the fix applied", Duration::from_secs(5), |n, e, _| {
        e.is_none() && n == ["sferik/rails_admin", "github3py/github3.py"]
    })
    .await;

    // Window settings apply at once; a new listen address waits for a restart, and says so.
    std::fs::write(
        work.config(),
        format!(
            "{}\n[window]\nmax_events = 50\n[server]\nlisten = \"127.0.0.1:9\"\n",
            valid.replace("  \"github/gitignore\",\n", "")
        ),
    )
    .unwrap();
    let start = Instant::now();
    loop {
        let stats: Value = api
            .http
            .get(format!("{}/api/stats", api.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if stats["window"]["max_events"] == 50 {
            assert_eq!(stats["repositories"][0]["events_in_window"], 50, "{stats}");
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(5), "{stats}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    assert!(
        work.log_text()
            .contains("[server] listen changed: it takes effect when ghpulse restarts"),
        "{}",
        work.log_text()
    );

    // Label groups apply at once.
    let config = std::fs::read_to_string(work.config()).unwrap();
    std::fs::write(
        work.config(),
        format!("{config}[labels]\ndocs = [\"documentation\"]\n"),
    )
    .unwrap();
    let start = Instant::now();
    while api.label_groups().await != (200, vec!["docs".to_string()]) {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "labels not applied"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The header is in the OpenAPI document.
    let doc: Value = api
        .http
        .get(format!("{}/openapi.json", api.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        doc["paths"]["/api/repos"]["get"]["responses"]["200"]["headers"]["x-config-error"]
            .is_object(),
        "{}",
        doc["paths"]["/api/repos"]["get"]
    );
    assert!(stop(child).success());
    assert!(gh.violations().is_empty(), "{:?}", gh.violations());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_config_created_by_the_first_add_is_followed() {
    let gh = FakeGithub::start(Options {
        poll_interval_secs: 1,
        ..Options::default()
    })
    .await;
    // The per-user config file, in a folder that does not exist yet: not named with -c (a
    // named file that does not exist is a usage error), and no ./repositories.toml where it
    // runs.
    let work = Workdir::new(&[]);
    let xdg = work.dir.path().join("not-yet");
    let config = xdg.join("ghpulse/repositories.toml");
    let cwd = work.dir.path().join("elsewhere");
    std::fs::create_dir(&cwd).unwrap();
    let log = std::fs::File::create(work.log()).unwrap();
    let mut cmd = Command::new(BIN);
    cmd.current_dir(&cwd)
        .env("XDG_CONFIG_HOME", &xdg)
        .env_remove("GHPULSE_CONFIG")
        .arg("-d")
        .arg(work.store())
        .args([
            "--api-url",
            &gh.url(),
            "--listen",
            "127.0.0.1:0",
            "--headless",
        ])
        .env_remove("GITHUB_TOKEN")
        .env_remove("GH_TOKEN")
        .env_remove("GHPULSE_LISTEN")
        .env("GHPULSE_API_KEY", KEY)
        .stdout(Stdio::null())
        .stderr(log);
    let child = cmd.spawn().unwrap();
    let base = crate::support::listening_at(&work).await;
    let api = Listening {
        base,
        http: reqwest::Client::new(),
    };
    let resp = api
        .http
        .post(format!("{}/api/repos", api.base))
        .bearer_auth(KEY)
        .json(&serde_json::json!({"repo": "a/first"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        201,
        "the add creates the folder and the file"
    );
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace("[\"a/first\"]", "[\"a/first\", \"b/second\"]"),
    )
    .unwrap();
    api.until(
        "the hand edit applied",
        Duration::from_secs(5),
        |n, _, _| n == ["a/first", "b/second"],
    )
    .await;
    assert!(stop(child).success());
}
