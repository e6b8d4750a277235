//! Start-up only: command line -> config -> logging -> engine -> views -> clean exit.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use tokio::sync::watch;

use ghpulse::cli::{Cli, Command, ReposAction};
use ghpulse::commands::{self, Failure};
use ghpulse::engine::{self, EngineSettings};
use ghpulse::github::Client;
use ghpulse::rest::{self, ApiState};
use ghpulse::settings::{self, Settings};
use ghpulse::store::Store;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("ghpulse: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

fn run(cli: Cli) -> Result<(), Failure> {
    let settings = settings::resolve(&cli).map_err(Failure::usage)?;
    let mut out = std::io::stdout().lock();
    match &cli.command {
        Some(Command::Stats { json, repo }) => commands::stats(
            &settings.config,
            &settings.data_path,
            *json,
            repo.as_deref(),
            settings.token.is_some(),
            &mut out,
        ),
        Some(Command::Repos { action }) => match action {
            ReposAction::List => commands::repos_list(&settings.config, &mut out),
            ReposAction::Add { repo } => commands::repos_add(&settings.config, repo, &mut out),
            ReposAction::Remove { repo } => {
                commands::repos_remove(&settings.config, repo, &mut out)
            }
        },
        None => {
            drop(out);
            let headless = cli.headless || !std::io::stdout().is_terminal();
            if !cli.headless && headless {
                eprintln!("ghpulse: stdout is not a terminal; running headless (logs on stderr)");
            }
            watch_repositories(settings, headless)
        }
    }
}

fn watch_repositories(settings: Settings, headless: bool) -> Result<(), Failure> {
    let runtime = tokio::runtime::Runtime::new().map_err(Failure::other)?;
    runtime.block_on(async move {
        if headless {
            ghpulse::logging::to_stderr();
        } else {
            ghpulse::logging::to_dashboard();
        }
        let store = Store::open(&settings.data_path).map_err(Failure::other)?;
        let client =
            Client::new(&settings.api_url, settings.token.clone()).map_err(Failure::other)?;
        let (stop_tx, stop_rx) = watch::channel(false);
        let (handle, fetcher) = engine::start(
            EngineSettings {
                config: settings.config.clone(),
                client,
                store,
            },
            stop_rx.clone(),
        )
        .await
        .map_err(Failure::other)?;
        let dashboard = ghpulse::tui::Options::from_settings(&settings);
        let rest = match settings.listen {
            None => None,
            Some(addr) => {
                let state = ApiState {
                    engine: handle.clone(),
                    api_key: settings.api_key.as_deref().map(Arc::from),
                };
                let served = rest::spawn(addr, state, stop_rx.clone())
                    .await
                    .map_err(|e| Failure::other(format!("cannot listen on {addr}: {e}")))?;
                Some(served)
            }
        };
        tracing::info!(
            "watching {} repositories from {} (store {}, {})",
            settings.config.repositories.len(),
            settings.config.path.display(),
            settings.data_path.display(),
            if settings.token.is_some() {
                "authenticated"
            } else {
                "unauthenticated: 60 requests/hour"
            }
        );
        if headless {
            ghpulse::shutdown::signal().await;
        } else {
            // SIGTERM still ends the dashboard cleanly; Ctrl-C arrives as a key.
            tokio::select! {
                shown = ghpulse::tui::run(handle.clone(), dashboard) => shown.map_err(|e| Failure::other(format!("dashboard: {e}")))?,
                _ = ghpulse::shutdown::signal() => {}
            }
        }
        tracing::info!("shutting down");
        let _ = stop_tx.send(true);
        let _ = fetcher.await;
        if let Some(rest) = rest {
            let _ = rest.await;
        }
        Ok(())
    })
}
