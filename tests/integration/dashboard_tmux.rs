//! End-to-end: the real binary's dashboard in a tmux pseudo-terminal, driven by keys against
//! the fake GitHub server, read back with capture-pane.

use std::io::Write;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::Workdir;
use fake_github::{FakeGithub, Options};

struct Tmux {
    socket: String,
}

impl Tmux {
    /// The real binary on `work`'s config and store, against `api_url`, in a detached tmux
    /// session of `size`, on a socket of its own; the shell line stays after it exits, to
    /// report its exit code.
    fn start(name: &str, work: &Workdir, api_url: &str, size: (u16, u16)) -> Tmux {
        Tmux::start_with_env(name, work, api_url, size, "")
    }

    /// The same, with more `NAME=value` settings for the binary's environment.
    fn start_with_env(
        name: &str,
        work: &Workdir,
        api_url: &str,
        size: (u16, u16),
        env: &str,
    ) -> Tmux {
        let command = format!(
            "env -u GH_TOKEN -u GHPULSE_API_KEY -u GHPULSE_LISTEN -u NO_COLOR GITHUB_TOKEN=t XDG_STATE_HOME={} {env} {} -c {} -d {} --api-url {api_url}; echo EXITED:$?; sleep 600",
            work.dir.path().join("state").display(),
            crate::support::BIN,
            work.config().display(),
            work.store().display(),
        );
        Tmux::run(name, &command, size)
    }

    /// A shell `command` in a detached tmux session of `size`, on a socket of its own.
    fn run(name: &str, command: &str, size: (u16, u16)) -> Tmux {
        let tmux = Tmux {
            socket: format!("{name}-{}", std::process::id()),
        };
        let (width, height) = (size.0.to_string(), size.1.to_string());
        tmux.cmd(&[
            "new-session",
            "-d",
            "-s",
            "dash",
            "-x",
            &width,
            "-y",
            &height,
            command,
        ]);
        tmux
    }

    fn cmd(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn screen(&self) -> String {
        self.cmd(&["capture-pane", "-p", "-t", "dash"])
    }

    fn keys(&self, keys: &[&str]) {
        for k in keys {
            self.cmd(&["send-keys", "-t", "dash", k]);
        }
    }

    fn text(&self, text: &str) {
        self.cmd(&["send-keys", "-t", "dash", "-l", text]);
    }

    async fn wait_for(&self, what: &str, check: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if check(&screen) {
                return screen;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "timed out waiting for {what}; screen:\n{screen}"
            );
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .arg("kill-server")
            .output();
    }
}

/// Whether the pseudo-terminal tests can run: outside CI a machine without tmux skips them.
fn tmux_available() -> bool {
    crate::support::required_program("tmux", "tmux").is_some()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_dashboard_shows_data_adds_removes_and_quits_cleanly() {
    if !tmux_available() {
        return;
    }
    let gh = FakeGithub::start(Options {
        poll_interval_secs: 2,
        ..Options::default()
    })
    .await;
    for (name, ago, span) in [
        ("sferik/rails_admin", 4, 60),
        ("praw-dev/praw", 7, 100),
        ("github/gitignore", 11, 140),
    ] {
        gh.add_fixture(
            name,
            std::time::SystemTime::now() - Duration::from_secs(ago * 60),
            Duration::from_secs(span * 3600),
        );
    }
    let work = Workdir::new(&["sferik/rails_admin", "praw-dev/praw"]);
    let tmux = Tmux::start("ghpulse-test", &work, &gh.url(), (120, 40));

    // Data appears: both repositories polled, the first one's statistics listed.
    let screen = tmux
        .wait_for("both repositories with figures", |s| {
            s.contains("Event type") && s.matches(" ok ").count() >= 2
        })
        .await;
    assert!(
        screen.contains("● live") && screen.contains("authenticated"),
        "{screen}"
    );
    assert!(
        screen.contains("sferik/rails_admin") && screen.contains("praw-dev/praw"),
        "{screen}"
    );

    // The selected repository's label KPIs arrive from the store, off the drawing path.
    tmux.wait_for("the label KPIs", |s| {
        s.contains("Labels:") && s.contains("pull requests seen")
    })
    .await;
    // Enter opens the gap chart of the selected type, Esc closes it; `o` shows the counts.
    tmux.keys(&["Enter"]);
    tmux.wait_for("the gap chart", |s| s.contains("Gaps between"))
        .await;
    tmux.keys(&["Escape"]);
    tmux.wait_for("the gap chart closed", |s| !s.contains("Gaps between"))
        .await;
    tmux.keys(&["o"]);
    tmux.wait_for("the counts by type", |s| {
        s.contains("Events by type, last hour")
    })
    .await;
    tmux.keys(&["o", "o", "o"]);
    tmux.wait_for("the counts closed", |s| !s.contains("Events by type"))
        .await;

    // `a`, a duplicate is refused as typed, then a new name is added and selected.
    tmux.keys(&["a"]);
    tmux.text("praw-dev/PRAW");
    tmux.wait_for("the duplicate refused", |s| {
        s.contains("praw-dev/PRAW is already watched")
    })
    .await;
    tmux.keys(&["C-u"]);
    tmux.text("github/gitignore");
    tmux.wait_for("the name accepted", |s| {
        s.contains("Enter adds github/gitignore")
    })
    .await;
    tmux.keys(&["Enter"]);
    let screen = tmux
        .wait_for("gitignore added, polled and selected", |s| {
            s.contains("added github/gitignore")
                && s.contains("┌ github/gitignore")
                && s.contains("Event type")
        })
        .await;
    assert!(screen.contains("Repositories 3/5"), "{screen}");
    let config = std::fs::read_to_string(work.config()).unwrap();
    assert!(
        config.contains("\"github/gitignore\"") && config.starts_with("# test watch list\n"),
        "{config}"
    );

    // `d` asks, `y` removes it from the screen and the file.
    tmux.keys(&["d"]);
    tmux.wait_for("the confirmation", |s| {
        s.contains("Stop watching github/gitignore?")
    })
    .await;
    tmux.keys(&["y"]);
    let screen = tmux
        .wait_for("gitignore removed", |s| {
            s.contains("removed github/gitignore")
        })
        .await;
    assert!(
        screen.contains("Repositories 2/5") && !screen.contains("│github/gitignore"),
        "{screen}"
    );
    let config = std::fs::read_to_string(work.config()).unwrap();
    assert!(
        !config.contains("github/gitignore") && config.starts_with("# test watch list\n"),
        "{config}"
    );

    // Help is drawn from the key table; any key closes it.
    tmux.keys(&["?"]);
    tmux.wait_for("help", |s| {
        s.contains("this help") && s.contains("poll the selected repository now")
    })
    .await;
    tmux.keys(&["Escape"]);
    tmux.wait_for("help closed", |s| !s.contains("this help"))
        .await;

    // The table shows the figures `ghpulse stats` computes (the first repository is selected).
    tmux.keys(&["k", "k"]);
    let out = work.run(&["stats", "--json", "--repo", "sferik/rails_admin"]);
    let stats: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stats --json");
    let expected: Vec<(String, u64)> = stats["repositories"][0]["event_types"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["event_type"].as_str().unwrap().to_string(),
                t["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert!(expected.len() >= 5, "{stats}");
    // Waits for the whole frame: a screen read mid-redraw may still show the previous one.
    tmux.wait_for("rails_admin's table, equal to `ghpulse stats`", |screen| {
        screen.contains("┌ sferik/rails_admin")
            && expected.iter().all(|(ty, count)| {
                screen.lines().any(|l| {
                    let mut cells = l.trim_start_matches('│').split_whitespace();
                    cells.next() == Some(ty.as_str())
                        && cells.next().and_then(|c| c.parse::<u64>().ok()) == Some(*count)
                })
            })
    })
    .await;

    // `q` quits with status 0 and gives the terminal back.
    tmux.keys(&["q"]);
    tmux.wait_for("the exit", |s| s.contains("EXITED:0")).await;
    let modes = tmux.cmd(&[
        "display-message",
        "-p",
        "-t",
        "dash",
        "#{alternate_on} #{mouse_any_flag}",
    ]);
    assert_eq!(
        modes.trim(),
        "0 0",
        "alternate screen and mouse reporting are off after exit"
    );
    assert!(gh.violations().is_empty(), "{:?}", gh.violations());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_dashboard_follows_the_config_file() {
    if !tmux_available() {
        return;
    }
    let gh = FakeGithub::start(Options {
        poll_interval_secs: 1,
        ..Options::default()
    })
    .await;
    for name in ["sferik/rails_admin", "praw-dev/praw", "github/gitignore"] {
        gh.add_fixture(
            name,
            std::time::SystemTime::now() - Duration::from_secs(300),
            Duration::from_secs(3600 * 60),
        );
    }
    let work = Workdir::new(&[]);
    std::fs::write(
        work.config(),
        "# test watch list\nrepositories = [\n  \"sferik/rails_admin\",  # busy\n  # the quiet one\n  \"praw-dev/praw\",  # quiet\n]\nmax_repositories = 5\n",
    )
    .unwrap();
    let tmux = Tmux::start("ghpulse-follow", &work, &gh.url(), (120, 40));
    tmux.wait_for("both repositories polled", |s| {
        s.contains("Repositories 2/5") && s.matches(" ok ").count() >= 2
    })
    .await;

    // Another process adds a repository: its row appears.
    let out = work.run(&["repos", "add", "github/gitignore"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    tmux.wait_for("the added row", |s| {
        s.contains("Repositories 3/5") && s.contains("│github/gitignore")
    })
    .await;

    // A broken hand edit is shown; the last valid list stays and is still polled.
    let valid = std::fs::read_to_string(work.config()).unwrap();
    std::fs::write(
        work.config(),
        valid.replace("max_repositories = 5", "max_repositories = \"five\""),
    )
    .unwrap();
    let screen = tmux
        .wait_for("the config error", |s| s.contains("✖ config not applied"))
        .await;
    assert!(
        screen.contains("max_repositories") && screen.contains("Repositories 3/5"),
        "{screen}"
    );
    let before = gh.requests().len();
    let start = Instant::now();
    while !gh.requests()[before..]
        .iter()
        .any(|r| r.repo.as_deref() == Some("github/gitignore"))
    {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "polling stopped with the broken file"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Fixed: the message goes.
    std::fs::write(work.config(), &valid).unwrap();
    tmux.wait_for("the message gone", |s| {
        !s.contains("config not applied") && s.contains("Repositories 3/5")
    })
    .await;

    // `d` on the second row removes it with its comments, and only them.
    tmux.keys(&["j", "d"]);
    tmux.wait_for("the confirmation", |s| {
        s.contains("Stop watching praw-dev/praw?")
    })
    .await;
    tmux.keys(&["y"]);
    tmux.wait_for("praw removed", |s| s.contains("removed praw-dev/praw"))
        .await;
    assert_eq!(
        std::fs::read_to_string(work.config()).unwrap(),
        "# test watch list\nrepositories = [\n  \"sferik/rails_admin\",  # busy\n  \"github/gitignore\",\n]\nmax_repositories = 5\n"
    );

    tmux.keys(&["q"]);
    tmux.wait_for("the exit", |s| s.contains("EXITED:0")).await;
    assert!(gh.violations().is_empty(), "{:?}", gh.violations());
}

/// The documented minimum size with four repositories: the selection stays on screen, a theme
/// and a rebound key from the config take effect, `/` filters, a message expires, and the
/// log file is written.
#[tokio::test(flavor = "multi_thread")]
async fn the_small_dashboard_scrolls_filters_and_follows_ui_and_keys() {
    if !tmux_available() {
        return;
    }
    let gh = FakeGithub::start(Options {
        poll_interval_secs: 2,
        ..Options::default()
    })
    .await;
    let names = [
        "sigmavirus24/github3.py",
        "sferik/rails_admin",
        "praw-dev/praw",
        "github/gitignore",
    ];
    for (i, name) in names.iter().enumerate() {
        gh.add_fixture(
            name,
            std::time::SystemTime::now() - Duration::from_secs(60 * (i as u64 + 2)),
            Duration::from_secs(3600 * (30 + 30 * i as u64)),
        );
    }
    let work = Workdir::new(&names);
    let config = std::fs::read_to_string(work.config()).unwrap();
    std::fs::write(
        work.config(),
        format!("{config}\n[ui]\ntheme = \"light\"\n\n[keys]\nquit = [\"x\", \"ctrl-c\"]\n"),
    )
    .unwrap();
    let state = work.dir.path().join("state");
    let tmux = Tmux::start("ghpulse-small", &work, &gh.url(), (60, 15));
    let screen = tmux
        .wait_for("four repositories polled", |s| {
            s.contains("Repositories 4/5") && s.contains("Event type")
        })
        .await;
    // The rebound quit key is in the footer; help is always there.
    assert!(
        screen.contains("x quit") && screen.contains("? help"),
        "{screen}"
    );

    // j three times: the fourth repository is selected and on screen.
    tmux.keys(&["j", "j", "j"]);
    tmux.wait_for("the last repository shown and selected", |s| {
        s.contains("│github/gitignore") && s.contains("┌ github/gitignore")
    })
    .await;

    // The theme is light: its selection and colours are drawn (tmux reports the escape codes).
    let styled = tmux.cmd(&["capture-pane", "-p", "-e", "-t", "dash"]);
    assert!(
        styled.contains("38;5;28") || styled.contains("38;5;130") || styled.contains("38;5;242"),
        "the light theme's colours: {styled}"
    );

    // `/` filters the repositories as typed; Esc clears.
    tmux.keys(&["g", "/"]);
    tmux.text("praw");
    tmux.wait_for("only praw listed", |s| {
        s.contains("│praw-dev/praw") && !s.contains("│sferik/rails_admin")
    })
    .await;
    tmux.keys(&["Escape"]);
    tmux.wait_for("the filter cleared", |s| {
        s.contains("│sigmavirus24/github3.py")
    })
    .await;

    // `r` shows a message that goes away by itself.
    tmux.keys(&["r"]);
    tmux.wait_for("the poll message", |s| s.contains("polling"))
        .await;
    let start = Instant::now();
    tmux.wait_for("the message expired", |s| !s.contains("polling"))
        .await;
    assert!(start.elapsed() < Duration::from_secs(10));

    // The old quit key does nothing; the new one quits.
    tmux.keys(&["q"]);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!tmux.screen().contains("EXITED"));
    tmux.keys(&["x"]);
    tmux.wait_for("the exit", |s| s.contains("EXITED:0")).await;
    let log = std::fs::read_to_string(state.join("ghpulse").join("ghpulse.log"))
        .expect("the log file is written");
    assert!(log.contains("watching 4 repositories"), "{log}");
    assert!(gh.violations().is_empty(), "{:?}", gh.violations());
}

/// `e` opens the feed of the selected repository; a new event appears at its top; `Enter`
/// opens the selected line's page with `$BROWSER` (a script that records the URL it got).
#[tokio::test(flavor = "multi_thread")]
async fn the_feed_follows_new_events_and_enter_opens_the_page_with_browser() {
    if !tmux_available() {
        return;
    }
    let gh = FakeGithub::start(Options {
        poll_interval_secs: 1,
        ..Options::default()
    })
    .await;
    gh.add_fixture(
        "sferik/rails_admin",
        std::time::SystemTime::now() - Duration::from_secs(240),
        Duration::from_secs(3600 * 60),
    );
    let work = Workdir::new(&["sferik/rails_admin"]);
    let opened = work.dir.path().join("opened.txt");
    let browser = work.dir.path().join("browser.sh");
    std::fs::write(
        &browser,
        format!("#!/bin/sh\nprintf '%s\\n' \"$1\" >> {}\n", opened.display()),
    )
    .unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&browser, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let tmux = Tmux::start_with_env(
        "ghpulse-feed",
        &work,
        &gh.url(),
        (120, 40),
        &format!("BROWSER={}", browser.display()),
    );
    tmux.wait_for("the first poll", |s| s.contains("Event type"))
        .await;
    tmux.keys(&["e"]);
    tmux.wait_for("the feed", |s| {
        s.contains("Feed of sferik/rails_admin") && s.contains(" ago ")
    })
    .await;
    // A new issue arrives: at the top, as the feed follows.
    let mut issue = fake_github::data::single_event("issues_event");
    issue["payload"]["issue"]["title"] = serde_json::json!("Live from the feed");
    issue["payload"]["issue"]["number"] = serde_json::json!(4242);
    gh.push_live_event("sferik/rails_admin", issue);
    let screen = tmux
        .wait_for("the new line", |s| s.contains("opened issue #4242 \"Li"))
        .await;
    let first_line = screen
        .lines()
        .find(|l| l.contains("Feed of"))
        .and_then(|_| screen.lines().skip_while(|l| !l.contains("Feed of")).nth(1))
        .unwrap();
    assert!(first_line.contains("#4242"), "at the top:\n{screen}");
    // Enter opens the selected (newest) line's page.
    tmux.keys(&["Enter"]);
    tmux.wait_for("the message", |s| s.contains("opened http"))
        .await;
    let start = Instant::now();
    while !opened.exists() {
        assert!(start.elapsed() < Duration::from_secs(10), "BROWSER not run");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        std::fs::read_to_string(&opened).unwrap(),
        format!("{}/sferik/rails_admin/issues/4242\n", gh.url())
    );
    // `/` filters the feed; Esc clears, Esc again closes it.
    tmux.keys(&["/"]);
    tmux.text("starred");
    tmux.wait_for("only stars", |s| {
        s.contains("/starred") && !s.contains("#4242")
    })
    .await;
    tmux.keys(&["Escape"]);
    tmux.wait_for("the filter cleared", |s| s.contains("#4242"))
        .await;
    // Esc dismisses the message first, then closes the feed.
    for _ in 0..2 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        tmux.keys(&["Escape"]);
    }
    tmux.wait_for("the feed closed", |s| !s.contains("Feed of"))
        .await;
    tmux.keys(&["q"]);
    tmux.wait_for("the exit", |s| s.contains("EXITED:0")).await;
    assert!(gh.violations().is_empty(), "{:?}", gh.violations());
}

/// The repositories of the demo's data set with events in their window, on a screen.
fn demo_rows_with_events(screen: &str) -> usize {
    fake_github::data::DEMO_LAYOUT
        .iter()
        .filter(|(name, _, _)| {
            screen.lines().any(|line| {
                let mut words = line.trim_matches('│').split_whitespace();
                words.next() == Some(*name)
                    && words.next() == Some("ok")
                    && words.next().and_then(|n| n.parse::<u64>().ok()) > Some(0)
            })
        })
        .count()
}

/// Whether a repository row's last event is seconds old: the replay's recorded events are
/// minutes old when it starts, so only a new one reads `12s ago`.
fn a_new_event_is_shown(screen: &str) -> bool {
    screen.lines().any(|line| {
        let words: Vec<&str> = line.split_whitespace().collect();
        words.windows(3).any(|w| {
            w[2] == "ago"
                && w[1]
                    .strip_suffix('s')
                    .is_some_and(|n| n.parse::<u32>().is_ok())
                && !w[0].ends_with('m')
                && !w[0].ends_with('h')
        })
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_shows_a_replay_with_no_network_and_leaves_nothing_behind() {
    if !tmux_available() {
        return;
    }
    // Where a network namespace can be made, the demo runs with no network at all; either
    // way every address it could be sent to by the environment is a closed port.
    // (A new namespace has only a loopback interface, and it is down until brought up.)
    let unshare = "unshare --net --map-root-user sh -c 'ip link set lo up && exec \"$0\" demo'";
    let no_network = Command::new("sh")
        .args(["-c", &unshare.replace("exec \"$0\" demo", "true")])
        .status()
        .is_ok_and(|s| s.success());
    let tmp = tempfile::tempdir().unwrap();
    let closed = "http://127.0.0.1:9";
    let command = format!(
        "env -u GITHUB_TOKEN -u GH_TOKEN -u GHPULSE_CONFIG -u GHPULSE_DATA -u NO_COLOR \
         TMPDIR={tmp} HOME={tmp}/home GITHUB_API_URL={closed} HTTPS_PROXY={closed} \
         HTTP_PROXY={closed} ALL_PROXY={closed} {run}; echo EXITED:$?; sleep 600",
        tmp = tmp.path().display(),
        run = if no_network {
            format!("{unshare} {}", crate::support::BIN)
        } else {
            format!("{} demo", crate::support::BIN)
        },
    );
    let started = Instant::now();
    let tmux = Tmux::run("demo", &command, (120, 40));
    let screen = tmux
        .wait_for("three repositories with events", |s| {
            demo_rows_with_events(s) >= 3
        })
        .await;
    let data_after = started.elapsed();
    assert!(screen.contains(" ghpulse demo "), "{screen}");
    assert!(
        std::fs::read_dir(tmp.path()).unwrap().any(|e| e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with("ghpulse-demo-")),
        "the demo keeps its files in a temporary folder"
    );
    tmux.wait_for("a new event", a_new_event_is_shown).await;
    let new_event_after = started.elapsed();
    let _ = writeln!(
        std::io::stderr(),
        "demo (network namespace: {no_network}): three repositories with data after {data_after:.1?}, a new event after {new_event_after:.1?}"
    );
    tmux.keys(&["q"]);
    tmux.wait_for("the demo to exit", |s| s.contains("EXITED:0"))
        .await;
    let left: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n != "home")
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    assert!(
        !tmp.path().join("home").exists(),
        "nothing written to the user's files"
    );
}
