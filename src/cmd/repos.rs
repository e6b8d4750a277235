//! `ghpulse repos list|add|remove`: the watch list, edited in the config file in place.

use std::io::Write;

use ghpulse_core::{Config, EditError, add_repository, remove_repository};

use super::{Failure, written};

fn edit_failure(e: EditError) -> Failure {
    match e {
        EditError::Io { .. } | EditError::Stopped => Failure::other(e),
        _ => Failure::usage(e),
    }
}

pub fn list(config: &Config, out: &mut impl Write) -> Result<(), Failure> {
    if config.repositories.is_empty() {
        return written(writeln!(
            out,
            "No repositories are watched ({}).",
            config.path.display()
        ));
    }
    for r in &config.repositories {
        written(writeln!(out, "{r}"))?;
    }
    Ok(())
}

pub fn add(config: &Config, repo: &str, out: &mut impl Write) -> Result<(), Failure> {
    let new = add_repository(&config.path, repo)
        .map_err(edit_failure)?
        .config;
    written(writeln!(
        out,
        "Added {} to {} ({} of {}).",
        repo.trim(),
        config.path.display(),
        new.repositories.len(),
        new.max_repositories
    ))
}

pub fn remove(config: &Config, repo: &str, out: &mut impl Write) -> Result<(), Failure> {
    remove_repository(&config.path, repo).map_err(edit_failure)?;
    written(writeln!(
        out,
        "Removed {} from {}.",
        repo.trim(),
        config.path.display()
    ))
}
