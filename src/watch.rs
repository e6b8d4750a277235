//! Watching: the engine, the dashboard or headless logging, the REST listener when asked
//! for, until the user quits, a signal arrives or the fetcher dies.

use std::path::PathBuf;
use std::sync::Arc;

use ghpulse_core::{Client, EngineSettings, Store, StoreError, start_engine};
use ghpulse_rest::ApiState;
use tokio::sync::watch;

use crate::cmd::Failure;
use crate::settings::Settings;
use crate::{logging, memory, panic_message, shutdown};

/// Why watching ends.
enum Stop {
    /// A signal, or the user quit the dashboard.
    Asked(&'static str),
    /// The fetcher task ended by itself: the store was found damaged, or it failed.
    FetcherDied(Result<Result<(), StoreError>, tokio::task::JoinError>),
}

/// Tokio's default is 512.
const BLOCKING_THREADS: usize = 8;

/// How watching is shown.
pub struct View {
    /// The fetcher (and REST) alone, logs on stderr.
    pub headless: bool,
    /// `ghpulse demo`: the header says so.
    pub demo: bool,
    /// The dashboard's log file.
    pub log_file: Option<PathBuf>,
}

/// The runtime watching runs on (and `ghpulse demo`'s GitHub imitation beside it).
pub fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    // Blocking threads serve store writes, cold statistics and `/api/events/count`: on a
    // couple of cores a few of them are as fast as hundreds, and each costs a stack.
    tokio::runtime::Builder::new_multi_thread()
        .max_blocking_threads(BLOCKING_THREADS)
        .enable_all()
        .build()
        .map_err(Failure::other)
}

pub fn run(settings: Settings, headless: bool) -> Result<(), Failure> {
    let view = View {
        headless,
        demo: false,
        log_file: logging::log_file_path(),
    };
    watch(&runtime()?, settings, view)
}

pub fn watch(
    runtime: &tokio::runtime::Runtime,
    settings: Settings,
    view: View,
) -> Result<(), Failure> {
    let headless = view.headless;
    runtime.block_on(async move {
        let mut signals = shutdown::Signals::install();
        let _log = if headless {
            logging::to_stderr()
        } else {
            logging::to_dashboard(view.log_file)
        };
        let store = Store::open(&settings.data_path).map_err(store_failure)?;
        let client =
            Client::new(&settings.api_url, settings.token.clone()).map_err(Failure::other)?;
        let (stop_tx, stop_rx) = watch::channel(false);
        tokio::spawn(memory::trim_periodically(stop_rx.clone()));
        let (handle, fetcher) = start_engine(
            EngineSettings {
                config: settings.config.clone(),
                client,
                store,
            },
            stop_rx.clone(),
        )
        .await
        .map_err(Failure::other)?;
        let dashboard = ghpulse_tui::Options {
            demo: view.demo,
            ..ghpulse_tui::Options::new(&settings.config, settings.theme.as_deref())
        };
        let rest = match settings.listen {
            None => None,
            Some(addr) => {
                let state = ApiState {
                    engine: Arc::new(handle.clone()),
                    api_key: settings.api_key.as_deref().map(Arc::from),
                };
                let served = ghpulse_rest::spawn(
                    addr,
                    state,
                    &settings.config.allowed_hosts,
                    stop_rx.clone(),
                )
                .await
                .map_err(|e| Failure::other(format!("cannot listen on {addr}: {e}")))?;
                Some(served)
            }
        };
        let watched = settings.config.repositories.len();
        tracing::info!(
            "watching {watched} repositories from {} (store {}, {})",
            settings.config.path.display(),
            settings.data_path.display(),
            if settings.token.is_some() {
                "authenticated".to_string()
            } else {
                unauthenticated_note(watched)
            }
        );
        // The fetcher is the point of the process: if it dies, say why and exit 1 so a
        // supervisor restarts ghpulse, rather than serve stale figures half alive.
        let mut fetcher = fetcher;
        let stop = if headless {
            tokio::select! {
                signal = signals.recv() => Stop::Asked(signal),
                ended = &mut fetcher => Stop::FetcherDied(ended),
            }
        } else {
            // The ending signals still end the dashboard cleanly; Ctrl-C arrives as a key.
            tokio::select! {
                shown = ghpulse_tui::run(handle.clone(), dashboard) => {
                    shown.map_err(|e| Failure::other(format!("dashboard: {e}")))?;
                    Stop::Asked("quit from the dashboard")
                }
                signal = signals.recv() => Stop::Asked(signal),
                ended = &mut fetcher => Stop::FetcherDied(ended),
            }
        };
        let why = match stop {
            Stop::Asked(why) => why,
            Stop::FetcherDied(ended) => {
                let why = match ended {
                    Ok(Err(damaged @ StoreError::Damaged { .. })) => {
                        let _ = stop_tx.send(true);
                        return Err(store_failure(damaged));
                    }
                    Ok(Err(e)) => e.to_string(),
                    Ok(Ok(())) => "it stopped".to_string(),
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
        };
        tracing::info!("shutting down ({why})");
        let _ = stop_tx.send(true);
        let _ = fetcher.await;
        if let Some(rest) = rest {
            let _ = rest.await;
        }
        Ok(())
    })
}

/// A damaged store exits 2, like a bad config: a supervisor restarting ghpulse would find the
/// same pages.
fn store_failure(e: StoreError) -> Failure {
    if matches!(e, StoreError::Damaged { .. }) {
        Failure::usage(e)
    } else {
        Failure::other(e)
    }
}

/// What the 60 requests an hour of no token give each repository, for the start-up log.
fn unauthenticated_note(watched: usize) -> String {
    let gap = ghpulse_core::unauthenticated_gap(watched.max(1), 60);
    format!(
        "unauthenticated: 60 requests/hour, so each repository is polled about every {} \
         (a token gives 5,000/hour)",
        ghpulse_core::humanize_seconds(gap.as_secs_f64())
    )
}
