//! `fake-github`: serves the demo data set on 127.0.0.1 for scripts (tmux end-to-end test,
//! screenshots). Prints exactly one line, `listening on http://127.0.0.1:PORT`, on stdout;
//! everything else goes to stderr.

use std::io::Write;
use std::time::{Duration, SystemTime};

use clap::Parser;
use fake_github::{FakeGithub, Options, data};

#[derive(Parser, Debug)]
#[command(
    name = "fake-github",
    about = "A local imitation of GitHub's repository Events API, serving real recorded events",
    after_help = "Serves sferik/rails_admin, sigmavirus24/github3.py, praw-dev/praw, github/gitignore \
                  and github3py/github3.py, each moved so its newest event is a few minutes old and its \
                  300 newest span 30 h to 7 days. ghpulse-demo/missing (or any other name) answers 404."
)]
struct Cli {
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// X-Poll-Interval to announce, in seconds.
    #[arg(long, default_value_t = 60)]
    poll_interval: u64,
    /// Publish a new event (copied from the fixtures) to a random repository every few seconds.
    #[arg(long)]
    live: bool,
    /// Mean seconds between live events.
    #[arg(long, default_value_t = 4.0)]
    live_every: f64,
    /// Unauthenticated requests per hour.
    #[arg(long, default_value_t = 60)]
    unauth_limit: u32,
    /// Authenticated requests per hour.
    #[arg(long, default_value_t = 5000)]
    auth_limit: u32,
    /// Accept only this token (repeatable); by default any token is accepted.
    #[arg(long = "token")]
    tokens: Vec<String>,
    /// Log every request to stderr (violations are always logged).
    #[arg(long)]
    verbose: bool,
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let opts = Options {
        poll_interval_secs: cli.poll_interval,
        unauth_limit: cli.unauth_limit,
        auth_limit: cli.auth_limit,
        valid_tokens: cli.tokens.clone(),
        log_to_stderr: cli.verbose,
        ..Options::default()
    };
    let gh = match FakeGithub::start_on(opts, cli.port).await {
        Ok(gh) => gh,
        Err(e) => {
            eprintln!("fake-github: cannot listen on 127.0.0.1:{}: {e}", cli.port);
            std::process::exit(1);
        }
    };
    gh.add_demo_repos(SystemTime::now());

    let mut stdout = std::io::stdout();
    // A script reads this one line to learn the port; flush so it does not wait on a buffer.
    if writeln!(stdout, "listening on {}", gh.url())
        .and_then(|()| stdout.flush())
        .is_err()
    {
        eprintln!("fake-github: cannot write to stdout");
    }
    for (repo, _, _) in data::DEMO_LAYOUT {
        eprintln!(
            "fake-github: serving {repo} ({} events visible)",
            gh.timeline_ids(repo).len()
        );
    }

    let _live = cli.live.then(|| {
        gh.publish_live_events(cli.live_every, |name, event| {
            eprintln!(
                "fake-github: live {} {} id {}",
                name,
                event["type"].as_str().unwrap_or("?"),
                event["id"].as_str().unwrap_or("?")
            );
        })
    });
    if !cli.verbose {
        // With --verbose the server logs violations itself.
        tokio::spawn(report_violations(gh.clone()));
    }

    wait_for_shutdown().await;
    eprintln!(
        "fake-github: stopping after {} requests",
        gh.requests().len()
    );
}

/// Violations are what a script most wants to see; the server records them, this echoes them.
async fn report_violations(gh: FakeGithub) {
    let mut seen = 0;
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let all = gh.violations();
        for v in all.iter().skip(seen) {
            eprintln!("fake-github: VIOLATION {v}");
        }
        seen = all.len();
    }
}

async fn wait_for_shutdown() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
