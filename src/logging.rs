//! Where log lines go: stderr when headless, the dashboard's log pane otherwise.

use tracing_subscriber::EnvFilter;

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

/// Into the dashboard's log pane (tui-logger); nothing reaches stdout while the dashboard is up.
pub fn to_dashboard() {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    tui_logger::set_default_level(tui_logger::LevelFilter::Debug);
    let _ = tracing_subscriber::registry()
        .with(filter())
        .with(tui_logger::TuiTracingSubscriberLayer)
        .try_init();
}
