//! The subcommands, one module each, and what they share: the failure that picks the exit
//! code, output that a closed pipe does not fail, and a watched repository named on the
//! command line.

pub mod completions;
pub mod demo;
pub mod export;
pub mod man;
pub mod repos;
pub mod stats;

use ghpulse_core::{Config, RepoName};

/// A failure and the exit code it deserves.
pub struct Failure {
    pub code: u8,
    pub message: String,
}

/// Output errors; a reader that closed the pipe early (`ghpulse stats | head`) is no failure.
pub fn written(r: std::io::Result<()>) -> Result<(), Failure> {
    match r {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.map_err(Failure::other),
    }
}

impl Failure {
    pub fn usage(message: impl ToString) -> Failure {
        Failure {
            code: 2,
            message: message.to_string(),
        }
    }
    pub fn other(message: impl ToString) -> Failure {
        Failure {
            code: 1,
            message: message.to_string(),
        }
    }
}

/// A repository named on the command line that must be watched.
pub fn watched(config: &Config, repo: Option<&str>) -> Result<Option<RepoName>, Failure> {
    let repo = repo
        .map(RepoName::parse)
        .transpose()
        .map_err(Failure::usage)?;
    if let Some(r) = &repo
        && !config.repositories.contains(r)
    {
        return Err(Failure::usage(format!(
            "{r} is not watched (see `ghpulse repos list`)"
        )));
    }
    Ok(repo)
}
