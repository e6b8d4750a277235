//! `ghpulse stats` with section 3a's flags, and `ghpulse export`: one-shot commands over a
//! store opened read-only (beside a running ghpulse), printing what the REST API answers.

use std::io::Write;

use chrono::Utc;

use crate::answers::{self, StatsAnswer, StatsAsk};
use crate::cli::{ExportArgs, StatsQuestions};
use crate::commands::{self, Failure, written};
use crate::config::Config;
use crate::export;
use crate::questions::LabelsReport;
use crate::repo::RepoName;
use crate::snapshot::Snapshot;
use crate::stats::{Selection, StatsReport};
use crate::store::Store;

pub fn stats(
    config: &Config,
    data: &std::path::Path,
    json: bool,
    repo: Option<&str>,
    q: &StatsQuestions,
    out: &mut impl Write,
) -> Result<(), Failure> {
    let repo = commands::watched(config, repo)?;
    if q.action.as_deref().is_some_and(|a| a.trim().is_empty()) {
        return Err(Failure::usage("--action needs an action name, e.g. opened"));
    }
    let store = Store::open_read_only(data).map_err(Failure::other)?;
    let now = Utc::now();
    // Whether a token is set changes none of these figures.
    let snapshot = Snapshot::from_store(config, &store, false, now).map_err(Failure::other)?;
    if q.labels {
        let report =
            answers::labels(&snapshot, &store, now, repo.as_ref()).map_err(Failure::other)?;
        return if json {
            print_json(&report, out)
        } else {
            written(write_labels(&report, out))
        };
    }
    let answer = answers::stats(
        &snapshot,
        now,
        &StatsAsk {
            repo: repo.as_ref(),
            limit: None,
            selection: Selection {
                event_type: None,
                action: q.action.as_deref(),
                by_action: q.by_action,
            },
            combined: q.combined,
        },
    );
    if json {
        return print_json(&answer, out);
    }
    let StatsAnswer {
        generated_at,
        window,
        mut repositories,
        combined,
    } = answer;
    if let Some(a) = &q.action {
        written(writeln!(out, "Only events whose action is {a:?}."))?;
    }
    repositories.extend(combined);
    let report = StatsReport {
        generated_at,
        window,
        repositories,
    };
    written(commands::write_table(&report, out))
}

fn print_json(body: &impl serde::Serialize, out: &mut impl Write) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(body).map_err(Failure::other)?;
    written(writeln!(out, "{text}"))
}

fn write_labels(report: &LabelsReport, out: &mut impl Write) -> std::io::Result<()> {
    writeln!(
        out,
        "Label KPIs as of {} (issues and pull requests named in each window)",
        report.generated_at.format("%Y-%m-%d %H:%M:%S UTC")
    )?;
    let share =
        |s: Option<f64>| s.map_or_else(|| "-".to_string(), |s| format!("{:.1}%", s * 100.0));
    for r in &report.repositories {
        writeln!(
            out,
            "\n{}: {} issues, {} pull requests seen",
            r.repo, r.issues_seen, r.pull_requests_seen
        )?;
        writeln!(
            out,
            "  {:<20} {:>7} {:>8} {:>14} {:>8}",
            "GROUP", "ISSUES", "SHARE", "PULL REQUESTS", "SHARE"
        )?;
        for g in &r.groups {
            writeln!(
                out,
                "  {:<20} {:>7} {:>8} {:>14} {:>8}",
                g.group,
                g.issues,
                share(g.issue_share),
                g.pull_requests,
                share(g.pull_request_share)
            )?;
        }
    }
    Ok(())
}

pub fn export(
    config: &Config,
    data: &std::path::Path,
    args: &ExportArgs,
    out: &mut impl Write,
) -> Result<(), Failure> {
    let now = Utc::now();
    let instant = |flag: &str, value: &Option<String>| {
        value
            .as_deref()
            .map(|v| export::parse_instant(v, now))
            .transpose()
            .map_err(|e| Failure::usage(format!("{flag}: {e}")))
    };
    let since = instant("--since", &args.since)?;
    let until = instant("--until", &args.until)?;
    if let (Some(s), Some(u)) = (since, until)
        && s >= u
    {
        return Err(Failure::usage(format!(
            "--since ({}) is not before --until ({})",
            humanize_time(s),
            humanize_time(u)
        )));
    }
    let repos: Vec<(String, String)> = match &args.repo {
        // A repository no longer watched may still have events stored.
        Some(r) => {
            let name = RepoName::parse(r).map_err(Failure::usage)?;
            let listed = config.repositories.iter().find(|w| **w == name);
            vec![(listed.unwrap_or(&name).to_string(), name.key())]
        }
        None => config
            .repositories
            .iter()
            .map(|n| (n.to_string(), n.key()))
            .collect(),
    };
    let store = Store::open_read_only(data).map_err(Failure::other)?;
    export::export(&store, &repos, since, until, args.format, out).map_err(Failure::other)?;
    Ok(())
}

fn humanize_time(t: chrono::DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
