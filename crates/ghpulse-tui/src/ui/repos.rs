//! The repository list: one row each with status, events in window, age of the last event,
//! next poll and a sparkline of events per hour across the window.

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table};

use super::{age, filter_title, fit_figure, fit_text, scroll_offset, until};
use crate::app::{App, Focus};
use crate::theme::Theme;
use ghpulse_core::{PartialReason, RepoStatus, RepoView, Snapshot, hourly_counts, window_events};

const BARS: [char; 9] = [' ', '▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// Events per hour across the window (at most its 7 days), squeezed into `width` characters:
/// when there are more hours than characters, each character shows its busiest hour.
pub fn sparkline(
    view: &RepoView,
    snapshot: &Snapshot,
    now: DateTime<Utc>,
    width: usize,
    zoomed: bool,
) -> String {
    let win = window_events(&view.recent, now, &snapshot.window);
    let Some(hours) = super::activity::hours_shown(win, snapshot, now, zoomed) else {
        return String::new();
    };
    let counts = hourly_counts(win, now, hours);
    let per_char = hours.div_ceil(width.max(1));
    let grouped: Vec<u64> = counts
        .chunks(per_char)
        .map(|c| c.iter().copied().max().unwrap_or(0))
        .collect();
    let top = grouped.iter().copied().max().unwrap_or(0).max(1);
    grouped
        .iter()
        .map(|&n| {
            if n == 0 {
                BARS[0]
            } else {
                BARS[(1 + (n * 7).div_ceil(top) as usize).min(8)]
            }
        })
        .collect()
}

/// When the repository is polled next. After an error the fetcher sets this to the later of
/// the backoff and the poll interval, so the status column and "Next poll" always agree.
fn next_try(view: &RepoView) -> Option<DateTime<Utc>> {
    view.state.next_poll_at.or(view.state.backoff_until)
}

fn status(
    view: &RepoView,
    partial: Option<PartialReason>,
    now: DateTime<Utc>,
    theme: &Theme,
) -> Span<'static> {
    let s = &view.state;
    match s.status {
        RepoStatus::Pending => Span::styled("pending", theme.dim()),
        RepoStatus::Ok if partial == Some(PartialReason::CatchingUp) => {
            Span::styled("catching up", theme.warn())
        }
        RepoStatus::Ok if partial.is_some() => Span::styled("ok · partial", theme.warn()),
        RepoStatus::Ok => Span::styled("ok", theme.good()),
        RepoStatus::NotFound => Span::styled("not found", theme.bad()),
        RepoStatus::TokenRejected => Span::styled("token rejected", theme.bad()),
        RepoStatus::RateLimited => Span::styled("rate limited", theme.warn()),
        // The error itself is shown above the statistics of the selected repository.
        RepoStatus::Backoff => Span::styled(
            fit_figure(&format!("retry {}", until(now, next_try(view))), STATUS),
            theme.bad(),
        ),
    }
}

const STATUS: usize = 15;
const WINDOW: usize = 6;
/// "23h 59m ago".
const LAST: usize = 11;
/// "in 59m 56s".
const NEXT: usize = 10;
/// Narrower, a sparkline shows too little to be worth its columns.
const MIN_SPARK: usize = 8;

/// Which columns a width holds. The name and status always; then, as room allows, the window
/// count, the last event's age, the sparkline and the next poll (dropped in the reverse
/// order), so no column is ever squeezed into a cut figure.
#[derive(Debug, PartialEq, Eq)]
struct Columns {
    name: usize,
    window: bool,
    last: bool,
    next: bool,
    spark: usize,
}

fn columns(inner: usize, longest: usize) -> Columns {
    let name = longest.clamp(10, 40);
    // Each shown column costs its width and one space before it.
    let cost = |w: usize| w + 1;
    let mut c = Columns {
        name,
        window: true,
        last: true,
        next: true,
        spark: 0,
    };
    let used = |c: &Columns| {
        c.name
            + cost(STATUS)
            + if c.window { cost(WINDOW) } else { 0 }
            + if c.last { cost(LAST) } else { 0 }
            + if c.next { cost(NEXT) } else { 0 }
    };
    // The sparkline is worth more than the next poll; keep both when there is room for a
    // useful sparkline (two characters an hour of a day would need 48; 24 is a fair floor).
    if inner.saturating_sub(used(&c) + 1) < 24 {
        c.next = false;
    }
    let spark = inner.saturating_sub(used(&c) + 1);
    if spark >= MIN_SPARK {
        c.spark = spark;
    } else {
        if inner < used(&c) {
            c.last = false;
        }
        if inner < used(&c) {
            c.window = false;
        }
        // The name gives way last, cut with an ellipsis.
        c.name = name.min(inner.saturating_sub(used(&c) - c.name)).max(6);
    }
    c
}

/// Draws the list scrolled so the selection is on screen; returns where the rows are and
/// the first row shown.
pub fn render(
    frame: &mut Frame,
    area: Rect,
    app: &App,
    s: &Snapshot,
    now: DateTime<Utc>,
    theme: &Theme,
) -> (Rect, usize) {
    let focused = app.focus == Focus::Repos;
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(if focused {
            theme.focused_border()
        } else {
            theme.border()
        })
        .title(Line::from(vec![
            Span::styled(" Repositories ", theme.title()),
            Span::styled(
                format!("{}/{} ", s.repos.len(), s.max_repositories),
                theme.dim(),
            ),
            Span::styled(
                app.repo_order
                    .label()
                    .map_or(String::new(), |l| format!("{l} ")),
                theme.dim(),
            ),
            filter_title(&app.repo_filter, theme),
        ]));
    if s.repos.is_empty() {
        let text = Line::from(vec![
            Span::raw(" No repositories yet. Press "),
            Span::styled("a", theme.accent()),
            Span::raw(" to add one (owner/name)."),
        ]);
        frame.render_widget(Paragraph::new(text).block(block), area);
        return (Rect::default(), 0);
    }
    let rows_area = Rect {
        x: area.x + 1,
        y: area.y + 2,
        width: area.width.saturating_sub(2),
        height: area.height.saturating_sub(3),
    };
    let longest = s
        .repos
        .iter()
        .map(|r| r.name.as_str().chars().count())
        .max()
        .unwrap_or(10);
    let col = columns(rows_area.width as usize, longest);
    let visible = app.visible_repos(s);
    let at = visible.iter().position(|&i| i == app.selected).unwrap_or(0);
    let offset = scroll_offset(at, rows_area.height as usize);
    // Computed once per snapshot (and when the age edge passes an event), not per frame.
    let cached = s.stats_cache(now);
    // Only the rows on screen are built: a sparkline per repository of 200 is not free.
    let rows = visible
        .iter()
        .skip(offset)
        .take(rows_area.height as usize)
        .filter_map(|&i| {
            let view = &s.repos[i];
            let figures = cached.repo(i)?;
            let last = figures
                .window_end
                .or(view.recent.first().map(|e| e.created_at));
            let mut cells = vec![
                Cell::from(fit_text(view.name.as_str(), col.name)),
                Cell::from(status(view, figures.partial_reason, now, theme)),
            ];
            if col.window {
                cells.push(Cell::from(format!(
                    "{:>WINDOW$}",
                    fit_figure(&figures.events_in_window.to_string(), WINDOW)
                )));
            }
            if col.last {
                cells.push(Cell::from(format!(
                    "{:>LAST$}",
                    fit_figure(&age(now, last), LAST)
                )));
            }
            if col.next {
                cells.push(Cell::from(format!(
                    "{:>NEXT$}",
                    fit_figure(&until(now, next_try(view)), NEXT)
                )));
            }
            if col.spark > 0 {
                cells.push(Cell::from(Span::styled(
                    sparkline(view, s, now, col.spark, app.zoomed),
                    theme.accent(),
                )));
            }
            let row = Row::new(cells);
            Some(if i == app.selected {
                row.style(theme.selected())
            } else {
                row
            })
        });
    let mut widths = vec![
        Constraint::Length(col.name as u16),
        Constraint::Length(STATUS as u16),
    ];
    let mut header = vec![fit_text("Repository", col.name), "Status".to_string()];
    if col.window {
        widths.push(Constraint::Length(WINDOW as u16));
        header.push(format!("{:>WINDOW$}", "Window"));
    }
    if col.last {
        widths.push(Constraint::Length(LAST as u16));
        header.push(format!("{:>LAST$}", "Last event"));
    }
    if col.next {
        widths.push(Constraint::Length(NEXT as u16));
        header.push(format!("{:>NEXT$}", "Next poll"));
    }
    if col.spark > 0 {
        widths.push(Constraint::Length(col.spark as u16));
        header.push(fit_text(
            if app.zoomed {
                "Activity (events/h, last 24h)"
            } else {
                "Activity (events/h, window)"
            },
            col.spark,
        ));
    }
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(theme.title()))
        .block(block)
        .column_spacing(1);
    frame.render_widget(table, area);
    (rows_area, offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_drop_in_order_and_never_overflow() {
        for inner in 40..200 {
            let c = columns(inner, 23);
            let used = c.name
                + STATUS
                + 1
                + if c.window { WINDOW + 1 } else { 0 }
                + if c.last { LAST + 1 } else { 0 }
                + if c.next { NEXT + 1 } else { 0 }
                + if c.spark > 0 { c.spark + 1 } else { 0 };
            assert!(used <= inner || c.name == 6, "{inner}: {c:?}");
            assert!(!c.next || c.spark >= 24, "{inner}: {c:?}");
        }
        // The documented minimum (60 columns, 58 inside the borders) keeps every figure.
        let c = columns(58, 23);
        assert!(c.window && c.last && !c.next, "{c:?}");
    }
}
