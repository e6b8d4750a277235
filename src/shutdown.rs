//! The signals that end ghpulse, awaited together. Each of them gets the clean shutdown (the
//! poll in flight committed, REST requests in progress answered): SIGHUP, SIGQUIT, SIGUSR1 and
//! SIGUSR2 would otherwise kill the process by their default action, without it.

#[cfg(unix)]
use tokio::signal::unix::{Signal, SignalKind};

/// Every signal whose default action ends the process and that a user or a supervisor sends
/// to stop it: a terminal closing (SIGHUP), Ctrl-\ (SIGQUIT), `kill -USR1` by mistake.
#[cfg(unix)]
const ENDING: [(SignalKind, &str); 6] = [
    (SignalKind::terminate(), "SIGTERM"),
    (SignalKind::interrupt(), "SIGINT"),
    (SignalKind::hangup(), "SIGHUP"),
    (SignalKind::quit(), "SIGQUIT"),
    (SignalKind::user_defined1(), "SIGUSR1"),
    (SignalKind::user_defined2(), "SIGUSR2"),
];

/// The ending signals, listened to from the moment this is made: install it first, so a
/// signal that arrives while ghpulse is still opening its store ends it cleanly too.
pub struct Signals {
    #[cfg(unix)]
    listening: Vec<(&'static str, Signal)>,
}

impl Signals {
    /// Must run inside the Tokio runtime.
    pub fn install() -> Signals {
        #[cfg(unix)]
        {
            let listening = ENDING
                .iter()
                .filter_map(|&(kind, name)| {
                    tokio::signal::unix::signal(kind).ok().map(|s| (name, s))
                })
                .collect();
            Signals { listening }
        }
        #[cfg(not(unix))]
        Signals {}
    }

    /// Waits for one of the ending signals (Ctrl-C elsewhere); returns its name.
    pub async fn recv(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            std::future::poll_fn(|cx| {
                for (name, signal) in &mut self.listening {
                    if signal.poll_recv(cx).is_ready() {
                        return std::task::Poll::Ready(*name);
                    }
                }
                std::task::Poll::Pending
            })
            .await
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            "Ctrl-C"
        }
    }
}
