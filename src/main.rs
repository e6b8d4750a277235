//! Start-up only: command line -> config -> logging -> engine -> views -> clean exit.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;

use clap::CommandFactory;
use tokio::sync::watch;

use ghpulse::cli::{Cli, Command, ReposAction};
use ghpulse::commands::{self, Failure};
use ghpulse::engine::{self, EngineSettings};
use ghpulse::github::Client;
use ghpulse::rest::{self, ApiState};
use ghpulse::settings::{self, Settings};
use ghpulse::store::Store;

fn main() -> ExitCode {
    // Before any thread exists: the allocator's limits apply to arenas made later.
    ghpulse::memory::configure();
    let cli = Cli::parse_args();
    let result = if cli.command.is_some() {
        // One-shot commands read files others may have damaged: whatever a library does with
        // them, the user gets one line and exit 1, never a panic's backtrace.
        std::panic::set_hook(Box::new(|_| {}));
        std::panic::catch_unwind(|| run(cli)).unwrap_or_else(|payload| {
            Err(Failure::other(format!(
                "internal error: {}",
                panic_message(payload.as_ref())
            )))
        })
    } else {
        run(cli)
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("ghpulse: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

fn run(cli: Cli) -> Result<(), Failure> {
    let settings = || settings::resolve(&cli).map_err(Failure::usage);
    let mut out = std::io::stdout().lock();
    match &cli.command {
        Some(Command::Stats {
            json,
            repo,
            questions,
            ..
        }) if questions.any() => {
            let settings = settings()?;
            ghpulse::reports::stats(
                &settings.config,
                &settings.data_path,
                *json,
                repo.as_deref(),
                questions,
                &mut out,
            )
        }
        Some(Command::Export(args)) => {
            let settings = settings()?;
            ghpulse::reports::export(
                &settings.config,
                &settings.data_path,
                args,
                &mut std::io::BufWriter::new(out),
            )
        }
        Some(Command::Stats { json, repo, .. }) => {
            let settings = settings()?;
            commands::stats(
                &settings.config,
                &settings.data_path,
                *json,
                repo.as_deref(),
                settings.token.is_some(),
                &mut out,
            )
        }
        Some(Command::Repos { action, .. }) => {
            let config = settings()?.config;
            match action {
                ReposAction::List => commands::repos_list(&config, &mut out),
                ReposAction::Add { repo } => commands::repos_add(&config, repo, &mut out),
                ReposAction::Remove { repo } => commands::repos_remove(&config, repo, &mut out),
            }
        }
        Some(Command::Completions { shell }) => {
            let mut script = Vec::new();
            clap_complete::generate(*shell, &mut Cli::command(), "ghpulse", &mut script);
            print(&mut out, &script)
        }
        Some(Command::Man) => {
            let mut page = Vec::new();
            clap_mangen::Man::new(Cli::command())
                .render(&mut page)
                .map_err(Failure::other)?;
            print(&mut out, &page)
        }
        None => {
            drop(out);
            let headless = cli.headless || !std::io::stdout().is_terminal();
            if !cli.headless && headless {
                eprintln!("ghpulse: stdout is not a terminal; running headless (logs on stderr)");
            }
            watch_repositories(settings()?, headless)
        }
    }
}

/// A reader that closed the pipe early (`ghpulse man | head`) is no failure.
fn print(out: &mut impl Write, bytes: &[u8]) -> Result<(), Failure> {
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Failure::other(e)),
        _ => Ok(()),
    }
}

/// Tokio's default is 512.
const BLOCKING_THREADS: usize = 8;

fn watch_repositories(settings: Settings, headless: bool) -> Result<(), Failure> {
    // Blocking threads serve store writes, cold statistics and `/api/events/count`: on a
    // couple of cores a few of them are as fast as hundreds, and each costs a stack.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .max_blocking_threads(BLOCKING_THREADS)
        .enable_all()
        .build()
        .map_err(Failure::other)?;
    runtime.block_on(async move {
        let mut signals = ghpulse::shutdown::Signals::install();
        if headless {
            ghpulse::logging::to_stderr();
        } else {
            ghpulse::logging::to_dashboard();
        }
        let store = Store::open(&settings.data_path).map_err(Failure::other)?;
        let client =
            Client::new(&settings.api_url, settings.token.clone()).map_err(Failure::other)?;
        let (stop_tx, stop_rx) = watch::channel(false);
        tokio::spawn(ghpulse::memory::trim_periodically(stop_rx.clone()));
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
        // The fetcher is the point of the process: if it dies, say why and exit 1 so a
        // supervisor restarts ghpulse, rather than serve stale figures half alive.
        let mut fetcher = fetcher;
        let died = if headless {
            tokio::select! {
                _ = signals.recv() => None,
                ended = &mut fetcher => Some(ended),
            }
        } else {
            // SIGTERM still ends the dashboard cleanly; Ctrl-C arrives as a key.
            tokio::select! {
                shown = ghpulse::tui::run(handle.clone(), dashboard) => {
                    shown.map_err(|e| Failure::other(format!("dashboard: {e}")))?;
                    None
                }
                _ = signals.recv() => None,
                ended = &mut fetcher => Some(ended),
            }
        };
        if let Some(ended) = died {
            let why = match ended {
                Ok(()) => "it stopped".to_string(),
                Err(e) => match e.try_into_panic() {
                    Ok(payload) => panic_message(payload.as_ref()),
                    Err(e) => e.to_string(),
                },
            };
            let _ = stop_tx.send(true);
            return Err(Failure::other(format!(
                "the fetcher died ({why}); exiting so that a supervisor can restart ghpulse"
            )));
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

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".into())
}
