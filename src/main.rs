//! Start-up only: command line -> config -> logging -> engine -> views -> clean exit.

mod cli;
mod cmd;
mod logging;
mod memory;
mod settings;
mod shutdown;
mod watch;

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use cli::{Cli, Command, ReposAction};
use cmd::Failure;

fn main() -> ExitCode {
    // Before any thread exists: the allocator's limits apply to arenas made later.
    memory::configure();
    let cli = Cli::parse_args();
    // The dashboards (`ghpulse`, `ghpulse demo`) restore the terminal on a panic themselves.
    let one_shot = !matches!(cli.command, None | Some(Command::Demo { .. }));
    let result = if one_shot {
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
            say(&f.message);
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
        }) => {
            let settings = settings()?;
            cmd::stats::run(
                &settings.config,
                &settings.data_path,
                *json,
                repo.as_deref(),
                questions,
                settings.token.is_some(),
                &mut out,
            )
        }
        Some(Command::Export(args)) => {
            let settings = settings()?;
            cmd::export::run(
                &settings.config,
                &settings.data_path,
                args,
                &mut std::io::BufWriter::new(out),
            )
        }
        Some(Command::Repos { action, .. }) => {
            let config = settings()?.config;
            match action {
                ReposAction::List => cmd::repos::list(&config, &mut out),
                ReposAction::Add { repo } => cmd::repos::add(&config, repo, &mut out),
                ReposAction::Remove { repo } => cmd::repos::remove(&config, repo, &mut out),
            }
        }
        Some(Command::Completions { shell }) => cmd::completions::run(*shell, &mut out),
        Some(Command::Man) => cmd::man::run(&mut out),
        Some(Command::Demo { theme }) => {
            drop(out);
            if !std::io::stdout().is_terminal() {
                return Err(Failure::usage(
                    "ghpulse demo shows the dashboard: run it in a terminal",
                ));
            }
            let theme = settings::checked_theme(theme.clone().or_else(|| cli.theme.clone()))
                .map_err(Failure::usage)?;
            cmd::demo::run(theme)
        }
        None => {
            drop(out);
            let headless = cli.headless || !std::io::stdout().is_terminal();
            if !cli.headless && headless {
                say("stdout is not a terminal; running headless (logs on stderr)");
            }
            watch::run(settings()?, headless)
        }
    }
}

/// One line on stderr; a closed or full stderr loses it (`eprintln!` would panic).
fn say(message: &str) {
    let _ = writeln!(std::io::stderr(), "ghpulse: {message}");
}

pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".into())
}
