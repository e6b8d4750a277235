//! `ghpulse stats`: the figures from the store, opened read-only beside a running ghpulse; with
//! section 3a's flags, the answers the REST API gives; as a table, or the same JSON as REST.

use std::io::Write;
use std::path::Path;

use chrono::{DateTime, Utc};
use ghpulse_core::{
    Config, LabelsReport, PartialReason, Query, RepoReport, RepoStats, ResponseFigures,
    ResponseTimesReport, Selection, Snapshot, StatsAnswer, StatsAsk, StatsQuery, Store,
    WindowReport, humanize_seconds,
};

use super::{Failure, watched, written};
use crate::cli::StatsQuestions;

/// `ghpulse stats`: section 3's report, or with a question flag section 3a's answer.
pub fn run(
    config: &Config,
    data: &Path,
    json: bool,
    repo: Option<&str>,
    questions: &StatsQuestions,
    authenticated: bool,
    out: &mut impl Write,
) -> Result<(), Failure> {
    if questions.any() {
        answer(config, data, json, repo, questions, out)
    } else {
        report(config, data, json, repo, authenticated, out)
    }
}

fn report(
    config: &Config,
    data: &Path,
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
        return print_json(&report, out);
    }
    let rows: Vec<Row> = report.repositories.iter().map(Row::of).collect();
    written(write_table(
        &report.generated_at,
        &report.window,
        &rows,
        out,
    ))
}

/// A repository's line of the table: its figures, and for a watched repository (not the
/// combined timeline) how its polling stands.
struct Row<'a> {
    figures: &'a RepoStats,
    polled: Option<Polled<'a>>,
}

impl<'a> Row<'a> {
    fn of(r: &'a RepoReport) -> Row<'a> {
        Row {
            figures: &r.figures,
            polled: Some(Polled {
                at: r.last_polled_at,
                error: r.last_error.as_deref(),
            }),
        }
    }
}

struct Polled<'a> {
    at: Option<DateTime<Utc>>,
    error: Option<&'a str>,
}

impl Polled<'_> {
    fn describe(&self) -> String {
        let when = |t: &DateTime<Utc>| t.format("%Y-%m-%d %H:%M:%S UTC").to_string();
        match (&self.at, self.error) {
            (None, None) => "never polled".into(),
            (None, Some(e)) => format!("never polled successfully; last error: {e}"),
            (Some(t), None) => format!("last polled {}", when(t)),
            (Some(t), Some(e)) => format!("last polled {}, which failed: {e}", when(t)),
        }
    }
}

fn answer(
    config: &Config,
    data: &Path,
    json: bool,
    repo: Option<&str>,
    q: &StatsQuestions,
    out: &mut impl Write,
) -> Result<(), Failure> {
    let repo = watched(config, repo)?;
    if q.action.as_deref().is_some_and(|a| a.trim().is_empty()) {
        return Err(Failure::usage("--action needs an action name, e.g. opened"));
    }
    let store = Store::open_read_only(data).map_err(Failure::other)?;
    let now = Utc::now();
    // Whether a token is set changes none of these figures.
    let snapshot = Snapshot::from_store(config, &store, false, now).map_err(Failure::other)?;
    let query = Query::new(snapshot.into(), store);
    if q.labels {
        let report = query.labels(now, repo.as_ref()).map_err(Failure::other)?;
        return if json {
            print_json(&report, out)
        } else {
            written(write_labels(&report, out))
        };
    }
    if q.response_times {
        let report = query
            .response_times(now, repo.as_ref())
            .map_err(Failure::other)?;
        return if json {
            print_json(&report, out)
        } else {
            written(write_response_times(&report, out))
        };
    }
    let answer = query.stats(
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
        repositories,
        combined,
    } = answer;
    if let Some(a) = &q.action {
        written(writeln!(out, "Only events whose action is {a:?}."))?;
    }
    let rows: Vec<Row> = repositories
        .iter()
        .map(Row::of)
        .chain(combined.iter().map(|figures| Row {
            figures,
            polled: None,
        }))
        .collect();
    written(write_table(&generated_at, &window, &rows, out))
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

fn write_response_times(report: &ResponseTimesReport, out: &mut impl Write) -> std::io::Result<()> {
    writeln!(
        out,
        "Response times as of {} (issues and pull requests opened in each window; \
         answers by the author or a bot do not count)",
        report.generated_at.format("%Y-%m-%d %H:%M:%S UTC")
    )?;
    let fmt = |v: Option<f64>| v.map_or_else(|| "-".to_string(), humanize_seconds);
    for r in &report.repositories {
        let partial = match r.partial_reason {
            Some(PartialReason::CatchingUp) => "  [partial: catching up, events may be missing]",
            Some(PartialReason::Gap) => "  [partial: a gap, events may be missing]",
            None => "",
        };
        writeln!(out, "\n{}{partial}", r.repo)?;
        writeln!(
            out,
            "  {:<14} {:>6} {:>9} {:>13} {:>13} {:>7} {:>12} {:>6} {:>12} {:>12}",
            "",
            "OPENED",
            "ANSWERED",
            "MEDIAN ANSWER",
            "P90",
            "WAITING",
            "OLDEST WAIT",
            "CLOSED",
            "MEDIAN CLOSE",
            "P90"
        )?;
        for (name, f) in [("issues", &r.issues), ("pull requests", &r.pull_requests)] {
            let ResponseFigures {
                opened,
                responded,
                waiting,
                closed,
                ..
            } = *f;
            writeln!(
                out,
                "  {:<14} {:>6} {:>9} {:>13} {:>13} {:>7} {:>12} {:>6} {:>12} {:>12}",
                name,
                opened,
                responded,
                fmt(f.first_response_median_seconds),
                fmt(f.first_response_p90_seconds),
                waiting,
                fmt(f.oldest_waiting_seconds),
                closed,
                fmt(f.close_median_seconds),
                fmt(f.close_p90_seconds)
            )?;
        }
    }
    Ok(())
}

fn write_table(
    generated_at: &DateTime<Utc>,
    window: &WindowReport,
    rows: &[Row],
    out: &mut impl Write,
) -> std::io::Result<()> {
    writeln!(
        out,
        "Statistics as of {} (window: last {} events or {}, whichever holds fewer)",
        generated_at.format("%Y-%m-%d %H:%M:%S UTC"),
        window.max_events,
        humanize_seconds(window.max_age_seconds as f64)
    )?;
    if rows.is_empty() {
        writeln!(
            out,
            "\nNo repositories are watched. Add one with: ghpulse repos add owner/name"
        )?;
    }
    for Row { figures: r, polled } in rows {
        writeln!(out)?;
        let span = match (r.window_start, r.window_end) {
            (Some(s), Some(e)) => format!(
                ", {} to {}",
                s.format("%Y-%m-%d %H:%M"),
                e.format("%Y-%m-%d %H:%M")
            ),
            _ => String::new(),
        };
        let partial = match r.partial_reason {
            Some(PartialReason::CatchingUp) => "  [partial: catching up, events may be missing]",
            Some(PartialReason::Gap) => "  [partial: a gap, events may be missing]",
            None => "",
        };
        writeln!(
            out,
            "{}: {} events in window{span}{partial}",
            r.repo, r.events_in_window
        )?;
        if let Some(p) = polled {
            writeln!(out, "  {}", p.describe())?;
        }
        if r.event_types.is_empty() {
            continue;
        }
        writeln!(
            out,
            "  {:<32} {:>6} {:>12} {:>9} {:>9} {:>9} {:>9}  LAST SEEN",
            "EVENT TYPE", "COUNT", "AVG BETWEEN", "P25", "MEDIAN", "P75", "P90"
        )?;
        let fmt = |v: Option<f64>| v.map_or_else(|| "-".to_string(), humanize_seconds);
        for t in &r.event_types {
            writeln!(
                out,
                "  {:<32} {:>6} {:>12} {:>9} {:>9} {:>9} {:>9}  {}",
                t.event_type,
                t.count,
                fmt(t.avg_seconds_between),
                fmt(t.p25_seconds_between),
                fmt(t.median_seconds_between),
                fmt(t.p75_seconds_between),
                fmt(t.p90_seconds_between),
                t.last_event_at.format("%Y-%m-%d %H:%M:%S")
            )?;
            for a in t.actions.iter().flatten() {
                writeln!(
                    out,
                    "    {:<30} {:>6} {:>12} {:>9} {:>9} {:>9} {:>9}  {}",
                    a.action.as_deref().unwrap_or("(no action)"),
                    a.count,
                    fmt(a.avg_seconds_between),
                    fmt(a.p25_seconds_between),
                    fmt(a.median_seconds_between),
                    fmt(a.p75_seconds_between),
                    fmt(a.p90_seconds_between),
                    a.last_event_at.format("%Y-%m-%d %H:%M:%S")
                )?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures(name: &str, partial_reason: Option<PartialReason>) -> RepoStats {
        RepoStats {
            repo: name.into(),
            events_in_window: 0,
            window_start: None,
            window_end: None,
            partial: partial_reason.is_some(),
            partial_reason,
            event_types: Vec::new(),
        }
    }

    fn table(rows: &[Row]) -> String {
        let mut out = Vec::new();
        let window = WindowReport {
            max_age_seconds: 604_800,
            max_events: 500,
        };
        write_table(
            &"2026-11-22T12:00:00Z".parse().unwrap(),
            &window,
            rows,
            &mut out,
        )
        .unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_table_says_why_figures_are_partial() {
        let (owed, gap, whole) = (
            figures("o/owed", Some(PartialReason::CatchingUp)),
            figures("o/gap", Some(PartialReason::Gap)),
            figures("o/whole", None),
        );
        let rows = [&owed, &gap, &whole].map(|figures| Row {
            figures,
            polled: None,
        });
        let text = table(&rows);
        for line in [
            "o/owed: 0 events in window  [partial: catching up, events may be missing]",
            "o/gap: 0 events in window  [partial: a gap, events may be missing]",
            "o/whole: 0 events in window\n",
        ] {
            assert!(text.contains(line), "{line:?} in\n{text}");
        }
    }

    #[test]
    fn the_table_says_whether_and_when_a_repository_was_polled() {
        let f = figures("o/n", None);
        let at = "2026-11-22T11:58:07Z".parse().ok();
        let cases = [
            (None, None, "never polled"),
            (
                None,
                Some("dns error"),
                "never polled successfully; last error: dns error",
            ),
            (at, None, "last polled 2026-11-22 11:58:07 UTC"),
            (
                at,
                Some("HTTP 502"),
                "last polled 2026-11-22 11:58:07 UTC, which failed: HTTP 502",
            ),
        ];
        for (at, error, said) in cases {
            let text = table(&[Row {
                figures: &f,
                polled: Some(Polled { at, error }),
            }]);
            assert!(
                text.contains(&format!("o/n: 0 events in window\n  {said}\n")),
                "{said:?} in\n{text}"
            );
        }
    }
}
