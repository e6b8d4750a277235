//! The command line as a user meets it: completions, the man page, where a bad value is
//! blamed, and the gh CLI's login used as the token.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use crate::support::{BIN, Workdir, stop, wait_for};
use fake_github::{FakeGithub, Options, data};

/// `ghpulse ARGS` with none of the environment variables it reads, plus `env`.
fn ghpulse(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(BIN);
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
    cmd.args(args).envs(env.iter().copied()).output().unwrap()
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[test]
fn completions_for_four_shells_name_every_subcommand() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let script = stdout(&ghpulse(&["completions", shell], &[]));
        for word in ["stats", "repos", "completions", "man", "listen", "api-url"] {
            assert!(script.contains(word), "{shell}: {word} missing");
        }
    }
    // The bash script is valid bash.
    if Path::new("/bin/bash").exists() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ghpulse.bash");
        std::fs::write(&file, stdout(&ghpulse(&["completions", "bash"], &[]))).unwrap();
        let check = Command::new("bash").arg("-n").arg(&file).output().unwrap();
        assert!(
            check.status.success(),
            "{}",
            String::from_utf8_lossy(&check.stderr)
        );
    }
    let bad = ghpulse(&["completions", "tcsh"], &[]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn the_man_page_documents_the_command_line() {
    let page = stdout(&ghpulse(&["man"], &[]));
    assert!(page.starts_with(".ie") || page.starts_with(".TH"), "{page}");
    assert!(page.contains(".TH ghpulse 1"), "{page}");
    for word in ["GHPULSE_API_KEY", "listen", "stats", "completions"] {
        assert!(page.contains(word), "{word} missing:\n{page}");
    }
}

#[test]
fn stats_has_no_listen_option_and_ignores_ghpulse_listen() {
    let help = stdout(&ghpulse(&["stats", "--help"], &[]));
    assert!(!help.contains("--listen"), "{help}");
    assert!(!help.contains("--api-url"), "{help}");
    assert!(help.contains("--data"), "{help}");

    let work = Workdir::new(&[]);
    let config = work.config();
    let store = work.store();
    let args = [
        "stats",
        "-c",
        config.to_str().unwrap(),
        "-d",
        store.to_str().unwrap(),
    ];
    let out = ghpulse(&args, &[("GHPULSE_LISTEN", "x")]);
    let err = String::from_utf8_lossy(&out.stderr);
    // No store yet is the only complaint, and it is not a usage error.
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(!err.contains("listen"), "{err}");
}

#[test]
fn a_bad_value_blames_where_it_came_from() {
    let work = Workdir::new(&[]);
    let config = work.config();
    let base = ["--headless", "-c", config.to_str().unwrap()];
    let out = ghpulse(&base, &[("GHPULSE_LISTEN", "x")]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("environment variable GHPULSE_LISTEN"), "{err}");

    let out = ghpulse(&[&base[..], &["--listen", "y"]].concat(), &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("command line (--listen)"), "{err}");

    let out = ghpulse(&base, &[("GITHUB_API_URL", "ftp://x")]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("environment variable GITHUB_API_URL"), "{err}");
}

/// A `gh` that knows one login, as `gh auth token` prints it.
fn fake_gh(dir: &Path, token: &str) {
    let script = dir.join("gh");
    std::fs::write(
        &script,
        format!("#!/bin/sh\n[ \"$1 $2\" = \"auth token\" ] || exit 1\necho {token}\n"),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_token_variable_the_gh_login_is_used_and_never_logged() {
    const TOKEN: &str = "gho_from_the_gh_cli";
    let gh = FakeGithub::start(Options {
        poll_interval_secs: 1,
        valid_tokens: vec![TOKEN.to_string()],
        ..Options::default()
    })
    .await;
    let repo = data::fixture_repo("praw-dev/praw").unwrap();
    gh.add_repo(repo.full_name, repo.id, data::load_events(repo.file_stem));
    let bin = tempfile::tempdir().unwrap();
    fake_gh(bin.path(), TOKEN);
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let work = Workdir::new(&[repo.full_name]);
    let child = work.start_with(&gh.url(), None, &[], &[("PATH", &path)]);
    wait_for(
        "a request to GitHub",
        Duration::from_secs(20),
        &work,
        || !gh.requests().is_empty(),
    )
    .await;
    assert!(stop(child).success());
    let requests = gh.requests();
    assert!(requests.iter().all(|r| r.authenticated), "{requests:?}");
    let log = work.log_text();
    assert!(!log.contains("unauthenticated"), "{log}");
    assert!(!log.contains(TOKEN), "{log}");
}

#[test]
fn a_named_config_that_does_not_exist_is_a_usage_error_except_for_repos_add() {
    let work = Workdir::new(&[]);
    let missing = work.dir.path().join("typo.toml");
    let missing = missing.to_str().unwrap();
    for args in [
        &["stats", "-c", missing][..],
        &["-c", missing, "stats", "--json"],
        &["export", "--config", missing],
        &["repos", "list", "-c", missing],
        &["repos", "remove", "o/n", "-c", missing],
        &["--headless", "-c", missing],
    ] {
        let out = ghpulse(args, &[]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "one sentence: {err}");
        assert!(err.contains("typo.toml: file: no such file"), "{err}");
    }
    let out = ghpulse(&["stats"], &[("GHPULSE_CONFIG", missing)]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a name from the environment is named too"
    );
    assert!(!Path::new(missing).exists(), "nothing created by a refusal");

    // Options last, first, or between: `repos add` creates the file it is given.
    let added = stdout(&ghpulse(&["repos", "add", "o/one", "-c", missing], &[]));
    assert!(added.contains("Added o/one"), "{added}");
    stdout(&ghpulse(&["repos", "-c", missing, "add", "o/two"], &[]));
    stdout(&ghpulse(&["-c", missing, "repos", "add", "o/three"], &[]));
    let listed = stdout(&ghpulse(&["repos", "list", "--config", missing], &[]));
    assert_eq!(listed, "o/one\no/two\no/three\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn stats_says_when_each_repository_was_polled_and_why_it_failed_or_that_it_never_was() {
    // Nothing answers at this address: every poll fails.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let api = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let work = Workdir::new(&["o/failing"]);
    let child = work.start(&api, None);
    wait_for("a failed poll", Duration::from_secs(20), &work, || {
        let out = work.run(&["stats", "--json"]);
        serde_json::from_slice::<serde_json::Value>(&out.stdout)
            .is_ok_and(|v| v["repositories"][0]["last_error"].is_string())
    })
    .await;
    stop(child);
    stdout(&work.run(&["repos", "add", "o/new"]));

    let json = work.stats_json();
    let repos = json["repositories"].as_array().unwrap();
    assert_eq!(repos[0]["repo"], "o/failing");
    assert!(repos[0]["last_polled_at"].is_string(), "{json}");
    assert!(repos[0]["last_error"].is_string(), "{json}");
    assert_eq!(repos[1]["repo"], "o/new");
    assert!(repos[1]["last_polled_at"].is_null(), "{json}");
    assert!(repos[1]["last_error"].is_null(), "{json}");

    let text = stdout(&work.run(&["stats"]));
    let error = repos[0]["last_error"].as_str().unwrap();
    assert!(
        text.contains(&format!(", which failed: {error}\n")),
        "{error:?} in\n{text}"
    );
    assert!(
        text.contains(
            "o/new: 0 events in window  [partial: catching up, events may be missing]\n  \
             never polled\n"
        ),
        "{text}"
    );
}
