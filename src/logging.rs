//! Where log lines go: stderr when headless; the dashboard's log pane and a size-capped,
//! rotated log file otherwise.

use std::path::PathBuf;
use std::sync::Mutex;

use tracing_subscriber::EnvFilter;

/// A log file is rotated when it passes this size...
pub const LOG_FILE_BYTES: usize = 1024 * 1024;
/// ...and this many older files are kept (`ghpulse.log.1` is the newest of them).
pub const LOG_FILES_KEPT: usize = 3;

fn filter() -> EnvFilter {
    EnvFilter::try_from_env("GHPULSE_LOG").unwrap_or_else(|_| EnvFilter::new("ghpulse=info"))
}

pub fn to_stderr() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter())
        .with_writer(std::io::stderr)
        .with_ansi(
            std::io::IsTerminal::is_terminal(&std::io::stderr())
                && std::env::var_os("NO_COLOR").is_none(),
        )
        .with_target(false)
        .try_init();
}

/// `$XDG_STATE_HOME/ghpulse/ghpulse.log` (`~/.local/state/ghpulse/ghpulse.log`); where the
/// platform has no state directory, the local data directory.
pub fn log_file_path() -> Option<PathBuf> {
    let dirs = directories::ProjectDirs::from("", "", "ghpulse")?;
    let dir = dirs
        .state_dir()
        .unwrap_or_else(|| dirs.data_local_dir())
        .to_path_buf();
    Some(dir.join("ghpulse.log"))
}

/// A rotating writer for `path`, or why not. The folder is made here, first: file-rotate
/// would panic if it could not make it.
pub fn log_file(
    path: &std::path::Path,
) -> std::io::Result<file_rotate::FileRotate<file_rotate::suffix::AppendCount>> {
    use file_rotate::{ContentLimit, FileRotate, compression::Compression, suffix::AppendCount};
    let dir = path
        .parent()
        .ok_or_else(|| std::io::Error::other("the log file has no folder"))?;
    std::fs::create_dir_all(dir)?;
    // Opened once by us so that an unwritable file is an error here, not a silent loss.
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    Ok(FileRotate::new(
        path,
        AppendCount::new(LOG_FILES_KEPT),
        ContentLimit::BytesSurpassed(LOG_FILE_BYTES),
        Compression::None,
        None,
    ))
}

/// Into the dashboard's log pane (tui-logger) and the log file; nothing reaches stdout while
/// the dashboard is up. A log file that cannot be opened is said in the pane, not fatal.
pub fn to_dashboard() {
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let path = log_file_path();
    let file = path.as_deref().map(log_file);
    let (layer, problem) = match file {
        Some(Ok(writer)) => (
            Some(
                tracing_subscriber::fmt::layer()
                    .with_writer(Mutex::new(writer))
                    .with_ansi(false)
                    .with_target(false)
                    .boxed(),
            ),
            None,
        ),
        Some(Err(e)) => (None, Some(e.to_string())),
        None => (None, Some("no home directory".to_string())),
    };
    let _ = tracing_subscriber::registry()
        .with(filter())
        .with(ghpulse_tui::log_pane_layer())
        .with(layer)
        .try_init();
    match (path, problem) {
        (Some(p), None) => tracing::info!("log file: {}", p.display()),
        (p, Some(e)) => tracing::warn!(
            "no log file{}: {e}",
            p.map(|p| format!(" at {}", p.display()))
                .unwrap_or_default()
        ),
        (None, None) => {}
    }
}
