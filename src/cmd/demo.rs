//! `ghpulse demo`: the real dashboard, engine and fetcher over a GitHub imitation inside the
//! process (SPEC section 10) — recorded public events re-timed to end now, a new one every few
//! seconds — with a store, config and log in a temporary folder removed on exit. No network,
//! no token, nothing of the user's read or written.

use std::time::SystemTime;

use fake_github::{FakeGithub, Options, data};
use ghpulse_core::{Config, Token};

use super::Failure;
use crate::settings::Settings;
use crate::watch::{self, View};

/// Short enough that the first events arrive at once and new ones every few seconds.
const POLL_INTERVAL_SECS: u64 = 5;
/// Mean seconds between the replay's new events.
const NEW_EVENT_EVERY_SECS: f64 = 4.0;

pub fn run(theme: Option<String>) -> Result<(), Failure> {
    let dir = tempfile::Builder::new()
        .prefix("ghpulse-demo-")
        .tempdir()
        .map_err(|e| Failure::other(format!("cannot make the demo's temporary folder: {e}")))?;
    let runtime = watch::runtime()?;
    let gh = runtime
        .block_on(FakeGithub::start_on(
            Options {
                poll_interval_secs: POLL_INTERVAL_SECS,
                ..Options::default()
            },
            0,
        ))
        .map_err(|e| Failure::other(format!("cannot start the demo's server: {e}")))?;
    gh.add_demo_repos(SystemTime::now());
    let live = {
        let _on_the_runtime = runtime.enter();
        gh.publish_live_events(NEW_EVENT_EVERY_SECS, |_, _| {})
    };

    let config_path = dir.path().join("repositories.toml");
    let names: Vec<String> = data::DEMO_LAYOUT
        .iter()
        .map(|(name, _, _)| format!("\"{name}\""))
        .collect();
    std::fs::write(
        &config_path,
        format!(
            "# ghpulse demo: recorded public events, replayed\nrepositories = [{}]\nmax_repositories = {}\n",
            names.join(", "),
            names.len()
        ),
    )
    .map_err(|e| Failure::other(format!("cannot write the demo's config: {e}")))?;
    let config = Config::load(&config_path).map_err(Failure::other)?;
    let settings = Settings {
        config,
        data_path: dir.path().join("ghpulse.redb"),
        listen: None,
        api_url: gh.url(),
        // The imitation takes any token; with one it grants 5,000 requests an hour, as GitHub.
        token: Token::new("demo".into()),
        api_key: None,
        theme,
    };
    let view = View {
        headless: false,
        demo: true,
        log_file: Some(dir.path().join("ghpulse.log")),
    };
    let watched = watch::watch(&runtime, settings, view);
    live.abort();
    drop(gh);
    let removed = dir.close();
    watched?;
    removed.map_err(|e| Failure::other(format!("cannot remove the demo's temporary folder: {e}")))
}
