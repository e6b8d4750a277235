//! `ghpulse stats` and `ghpulse repos`: one-shot commands that print and exit.

use std::io::Write;

use chrono::Utc;

use crate::config::Config;
use crate::config_edit::{self, EditError};
use crate::humanize;
use crate::repo::RepoName;
use crate::snapshot::{Snapshot, StatsQuery};
use crate::stats::StatsReport;
use crate::store::Store;

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

pub fn stats(
    config: &Config,
    data: &std::path::Path,
    json: bool,
    repo: Option<&str>,
    authenticated: bool,
    out: &mut impl Write,
) -> Result<(), Failure> {
    let repo = watched(config, repo)?;
    let store = Store::open_read_only(data).map_err(Failure::other)?;
    let now = Utc::now();
    let snapshot =
        Snapshot::from_store(config, &store, authenticated, now).map_err(Failure::other)?;
    let report = snapshot.stats(
        now,
        &StatsQuery {
            repo: repo.as_ref(),
            ..Default::default()
        },
    );
    if json {
        let text = serde_json::to_string_pretty(&report).map_err(Failure::other)?;
        written(writeln!(out, "{text}"))
    } else {
        written(write_table(&report, out))
    }
}

pub fn write_table(report: &StatsReport, out: &mut impl Write) -> std::io::Result<()> {
    writeln!(
        out,
        "Statistics as of {} (window: last {} events or {}, whichever holds fewer)",
        report.generated_at.format("%Y-%m-%d %H:%M:%S UTC"),
        report.window.max_events,
        humanize::seconds(report.window.max_age_seconds as f64)
    )?;
    if report.repositories.is_empty() {
        writeln!(
            out,
            "\nNo repositories are watched. Add one with: ghpulse repos add owner/name"
        )?;
    }
    for r in &report.repositories {
        writeln!(out)?;
        let span = match (r.window_start, r.window_end) {
            (Some(s), Some(e)) => format!(
                ", {} to {}",
                s.format("%Y-%m-%d %H:%M"),
                e.format("%Y-%m-%d %H:%M")
            ),
            _ => String::new(),
        };
        let partial = if r.partial {
            "  [partial: events may be missing]"
        } else {
            ""
        };
        writeln!(
            out,
            "{}: {} events in window{span}{partial}",
            r.repo, r.events_in_window
        )?;
        if r.event_types.is_empty() {
            continue;
        }
        writeln!(
            out,
            "  {:<32} {:>6} {:>12} {:>12}  LAST SEEN",
            "EVENT TYPE", "COUNT", "AVG BETWEEN", "MEDIAN"
        )?;
        for t in &r.event_types {
            let fmt = |v: Option<f64>| v.map_or_else(|| "-".to_string(), humanize::seconds);
            writeln!(
                out,
                "  {:<32} {:>6} {:>12} {:>12}  {}",
                t.event_type,
                t.count,
                fmt(t.avg_seconds_between),
                fmt(t.median_seconds_between),
                t.last_event_at.format("%Y-%m-%d %H:%M:%S")
            )?;
            for a in t.actions.iter().flatten() {
                writeln!(
                    out,
                    "    {:<30} {:>6} {:>12} {:>12}  {}",
                    a.action.as_deref().unwrap_or("(no action)"),
                    a.count,
                    fmt(a.avg_seconds_between),
                    fmt(a.median_seconds_between),
                    a.last_event_at.format("%Y-%m-%d %H:%M:%S")
                )?;
            }
        }
    }
    Ok(())
}

fn edit_failure(e: EditError) -> Failure {
    match e {
        EditError::Io { .. } | EditError::Stopped => Failure::other(e),
        _ => Failure::usage(e),
    }
}

pub fn repos_list(config: &Config, out: &mut impl Write) -> Result<(), Failure> {
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

pub fn repos_add(config: &Config, repo: &str, out: &mut impl Write) -> Result<(), Failure> {
    let new = config_edit::add_repository(&config.path, repo)
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

pub fn repos_remove(config: &Config, repo: &str, out: &mut impl Write) -> Result<(), Failure> {
    config_edit::remove_repository(&config.path, repo).map_err(edit_failure)?;
    written(writeln!(
        out,
        "Removed {} from {}.",
        repo.trim(),
        config.path.display()
    ))
}
