//! The selected repository: its error if any, activity, and the statistics table.

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Sparkline, Table, Wrap};

use super::{age, fit_figure, fit_text, scroll_offset, until};
use crate::app::{App, Focus, SortColumn};
use crate::theme::Theme;
use ghpulse_core::humanize_seconds;
use ghpulse_core::{PartialReason, Snapshot};

pub fn render(
    frame: &mut Frame,
    area: Rect,
    app: &App,
    s: &Snapshot,
    now: DateTime<Utc>,
    theme: &Theme,
    with_chart: bool,
) -> (Rect, usize, usize) {
    let focused = app.focus == Focus::Stats;
    let border = if focused {
        theme.focused_border()
    } else {
        theme.border()
    };
    let Some(view) = s.repos.get(app.selected) else {
        let block = Block::default()
            .borders(Borders::ALL)
            .border_style(border)
            .title(" Statistics ");
        frame.render_widget(
            Paragraph::new(" Add a repository to see its statistics.").block(block),
            area,
        );
        return (Rect::default(), 0, 0);
    };
    let cached = s.stats_cache(now);
    let Some(figures) = cached.repo(app.selected) else {
        return (Rect::default(), 0, 0);
    };
    let span = match (figures.window_start, figures.window_end) {
        (Some(a), Some(b)) => format!(
            ", {} → {}",
            a.format("%m-%d %H:%M"),
            b.format("%m-%d %H:%M")
        ),
        _ => String::new(),
    };
    // The title's parts in order of worth; a part that does not fit whole is left out, so no
    // date or count is cut at the border.
    let mut title = Title {
        room: (area.width as usize).saturating_sub(4),
        parts: Vec::new(),
    };
    let name = fit_text(view.name.as_str(), title.room.saturating_sub(2));
    title.part(format!(" {name} "), theme.title());
    let count = format!("{} events in window", figures.events_in_window);
    let mark = match figures.partial_reason {
        Some(PartialReason::CatchingUp) => "catching up ",
        Some(PartialReason::Gap) => "partial: events may be missing ",
        None => "",
    };
    // Saying that figures may be incomplete is worth more than the window's dates.
    let with_span = format!("{count}{span} ");
    if !(title.fits(&format!("{with_span}{mark}")) && title.part(with_span, theme.dim())) {
        title.part(format!("{count} "), theme.dim());
    }
    if !mark.is_empty() {
        title.part(mark.into(), theme.warn());
    }
    if !app.stats_filter.is_empty() {
        title.part(format!("/{} ", app.stats_filter), theme.warn());
    }
    let title = title.parts;
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(border)
        .title(Line::from(title));
    let inner = block.inner(area);
    frame.render_widget(block, area);

    let mut constraints = Vec::new();
    // The whole error, wrapped: its cause ("dns error: failed to lookup address") is at the
    // end, past any pane width. At most a third of the pane, so the table stays.
    let error = view.state.last_error.as_ref().map(|e| {
        let retry = until(now, view.state.next_poll_at.or(view.state.backoff_until));
        format!("{e}; next try {retry}")
    });
    if let Some(text) = &error {
        let lines = super::wrapped_lines(text, inner.width.saturating_sub(1) as usize);
        constraints.push(Constraint::Length(
            (lines as u16).min((inner.height / 3).max(1)),
        ));
    }
    // The activity chart only where the table keeps room for a dozen types.
    let chart = with_chart && inner.height >= 20 && figures.events_in_window > 0;
    if chart {
        constraints.push(Constraint::Length(4));
    }
    constraints.push(Constraint::Min(0));
    // The label KPIs and response times under the table, each wrapped (at most 3 lines
    // together), once computed for this repository.
    let labels = app
        .labels
        .as_ref()
        .filter(|l| l.repo == view.name.as_str())
        .map(label_line);
    let responses = app
        .responses
        .as_ref()
        .filter(|(_, r)| r.repo == view.name.as_str())
        .map(|(at, r)| response_line(r, (now - *at).num_milliseconds().max(0) as f64 / 1000.0));
    let notes: Vec<String> = labels.into_iter().chain(responses).collect();
    let note_height = notes
        .iter()
        .map(|l| super::wrapped_lines(l, inner.width.saturating_sub(1) as usize) as u16)
        .sum::<u16>()
        .min(3)
        .min(inner.height / 3);
    constraints.push(Constraint::Length(note_height));
    let parts = Layout::vertical(constraints).split(inner);
    if !notes.is_empty() {
        let at = parts[parts.len() - 1];
        let at = Rect {
            x: at.x + 1,
            width: at.width.saturating_sub(1),
            ..at
        };
        let lines: Vec<Line> = notes
            .into_iter()
            .map(|l| Line::from(Span::styled(l, theme.dim())))
            .collect();
        frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), at);
    }
    let mut next = 0;
    if let Some(text) = error {
        let area = Rect {
            x: parts[next].x + 1,
            width: parts[next].width.saturating_sub(1),
            ..parts[next]
        };
        frame.render_widget(
            Paragraph::new(Span::styled(text, theme.bad())).wrap(Wrap { trim: true }),
            area,
        );
        next += 1;
    }
    if chart {
        let (counts, hours) =
            super::activity::per_hour(view, s, now, inner.width as usize, app.zoomed);
        let peak = counts.iter().copied().max().unwrap_or(0);
        let spark = Sparkline::default()
            .block(Block::default().title(Span::styled(
                if app.zoomed {
                    format!(" events per hour, zoomed to the last {hours}h (peak {peak}) ")
                } else {
                    format!(" events per hour across the window, {hours}h (peak {peak}) ")
                },
                theme.dim(),
            )))
            .data(&counts)
            .style(theme.accent());
        frame.render_widget(spark, parts[next]);
        next += 1;
    }
    let table_area = parts[next];
    if figures.event_types.is_empty() {
        let text = match view.state.last_polled_at {
            None => " Waiting for the first poll…".to_string(),
            Some(_) => " No events in the window.".to_string(),
        };
        frame.render_widget(Paragraph::new(text), table_area);
        return (Rect::default(), 0, 0);
    }

    let rows = app.stats_rows(s, now);
    let selected = app.stats_selected.min(rows.len().saturating_sub(1));
    let visible = table_area.height.saturating_sub(1) as usize;
    let offset = scroll_offset(selected, visible);
    // Columns that do not fit are dropped whole, never cut: the quartiles first, then p90,
    // the median, and last seen. The percentiles only take room the event types' names do
    // not need; the median and last seen may squeeze them down to MIN_TYPE.
    let fixed = COUNT + AVG + 3;
    let width = table_area.width as usize;
    // A column costs its width and the space before it.
    let cost = |w: usize| w + 1;
    let longest = rows
        .iter()
        .map(|t| t.event_type.chars().count())
        .max()
        .unwrap_or(0)
        .max(MIN_TYPE);
    let mut room = width.saturating_sub(MIN_TYPE + fixed);
    let mut fits = |w: usize| {
        let fit = room >= cost(w);
        if fit {
            room -= cost(w);
        }
        fit
    };
    let last_seen = fits(LAST);
    let median = last_seen && fits(MEDIAN);
    let mut room = room.saturating_sub(longest - MIN_TYPE);
    let mut fits = |w: usize| {
        let fit = room >= cost(w);
        if fit {
            room -= cost(w);
        }
        fit
    };
    let p90 = median && fits(SPREAD);
    let quartiles = p90 && fits(2 * SPREAD + 1);
    let used = [
        (last_seen, cost(LAST)),
        (median, cost(MEDIAN)),
        (p90, cost(SPREAD)),
        (quartiles, 2 * cost(SPREAD)),
    ]
    .iter()
    .filter(|(on, _)| *on)
    .map(|(_, w)| w)
    .sum::<usize>();
    let type_width = width.saturating_sub(fixed + used).max(6);
    let fmt = |v: Option<f64>| v.map_or_else(|| "-".to_string(), humanize_seconds);
    let spread = |v: Option<f64>| Cell::from(format!("{:>SPREAD$}", fit_figure(&fmt(v), SPREAD)));
    let table_rows = rows.iter().enumerate().skip(offset).map(|(i, t)| {
        let mut cells = vec![
            Cell::from(fit_text(&t.event_type, type_width)),
            Cell::from(format!(
                "{:>COUNT$}",
                fit_figure(&t.count.to_string(), COUNT)
            )),
            Cell::from(format!(
                "{:>AVG$}",
                fit_figure(&fmt(t.avg_seconds_between), AVG)
            )),
        ];
        if quartiles {
            cells.push(spread(t.p25_seconds_between));
        }
        if median {
            cells.push(Cell::from(format!(
                "{:>MEDIAN$}",
                fit_figure(&fmt(t.median_seconds_between), MEDIAN)
            )));
        }
        if quartiles {
            cells.push(spread(t.p75_seconds_between));
        }
        if p90 {
            cells.push(spread(t.p90_seconds_between));
        }
        if last_seen {
            cells.push(Cell::from(format!(
                "{:>LAST$}",
                fit_figure(&age(now, Some(t.last_event_at)), LAST)
            )));
        }
        let row = Row::new(cells);
        if focused && i == selected {
            row.style(theme.selected())
        } else {
            row
        }
    });
    let arrow = if app.sort_descending { "▼" } else { "▲" };
    let head = |col: SortColumn, text: &str, w: usize| {
        if app.sort == col {
            Cell::from(Span::styled(
                format!("{:>w$}", format!("{}{arrow}", text.trim_start())),
                theme.accent(),
            ))
        } else {
            Cell::from(format!("{text:>w$}"))
        }
    };
    let mut header = vec![
        if app.sort == SortColumn::Type {
            Cell::from(Span::styled(format!("Event type{arrow}"), theme.accent()))
        } else {
            Cell::from("Event type")
        },
        head(SortColumn::Count, "Count", COUNT),
        head(SortColumn::Average, "Avg between", AVG),
    ];
    let mut widths = vec![
        Constraint::Length(type_width as u16),
        Constraint::Length(COUNT as u16),
        Constraint::Length(AVG as u16),
    ];
    let mut column = |on: bool, cell: Cell<'static>, w: usize| {
        if on {
            header.push(cell);
            widths.push(Constraint::Length(w as u16));
        }
    };
    column(quartiles, Cell::from(format!("{:>SPREAD$}", "p25")), SPREAD);
    column(median, head(SortColumn::Median, "Median", MEDIAN), MEDIAN);
    column(quartiles, Cell::from(format!("{:>SPREAD$}", "p75")), SPREAD);
    column(p90, Cell::from(format!("{:>SPREAD$}", "p90")), SPREAD);
    column(
        last_seen,
        head(SortColumn::LastSeen, "Last seen", LAST),
        LAST,
    );
    frame.render_widget(
        Table::new(table_rows, widths)
            .header(Row::new(header).style(theme.title()))
            .column_spacing(1),
        table_area,
    );
    (
        Rect {
            y: table_area.y + 1,
            height: table_area.height.saturating_sub(1),
            ..table_area
        },
        offset,
        rows.len(),
    )
}

/// "Labels: 46 issues, 78 pull requests seen · bug: 3 issues (6.5%), 1 PRs (1.3%) · …": the
/// figures of `GET /api/labels` for one repository.
pub fn label_line(l: &ghpulse_core::RepoLabels) -> String {
    let pct = |share: Option<f64>| {
        share.map_or_else(|| "-".to_string(), |x| format!("{:.1}%", x * 100.0))
    };
    let mut text = format!(
        "Labels: {} issues, {} pull requests seen",
        l.issues_seen, l.pull_requests_seen
    );
    for g in &l.groups {
        text.push_str(&format!(
            " · {}: {} issues ({}), {} PRs ({})",
            g.group,
            g.issues,
            pct(g.issue_share),
            g.pull_requests,
            pct(g.pull_request_share)
        ));
    }
    text
}

/// "Response: issues 12 opened, 9 answered in 2h 5m (p90 1d 3h), 2 waiting (oldest 3d 4h),
/// 8 closed in 1d 2h (p90 5d) · PRs …": the figures of `GET /api/response-times`, the oldest
/// wait advanced by the `since` seconds passed since they were computed.
pub fn response_line(r: &ghpulse_core::RepoResponseTimes, since: f64) -> String {
    let part = |name: &str, f: &ghpulse_core::ResponseFigures| {
        let mut text = format!("{name} {} opened", f.opened);
        if let (Some(m), Some(p)) = (
            f.first_response_median_seconds,
            f.first_response_p90_seconds,
        ) {
            text.push_str(&format!(
                ", {} answered in {} (p90 {})",
                f.responded,
                humanize_seconds(m),
                humanize_seconds(p)
            ));
        }
        if let Some(oldest) = f.oldest_waiting_seconds {
            text.push_str(&format!(
                ", {} waiting (oldest {})",
                f.waiting,
                humanize_seconds(oldest + since)
            ));
        }
        if let (Some(m), Some(p)) = (f.close_median_seconds, f.close_p90_seconds) {
            text.push_str(&format!(
                ", {} closed in {} (p90 {})",
                f.closed,
                humanize_seconds(m),
                humanize_seconds(p)
            ));
        }
        text
    };
    let mut text = format!(
        "Response: {} · {}",
        part("issues", &r.issues),
        part("PRs", &r.pull_requests)
    );
    if r.partial {
        text.push_str(" (partial)");
    }
    text
}

const MIN_TYPE: usize = 16;
const COUNT: usize = 6;
/// "Avg between", and one more for the sort arrow.
const AVG: usize = 12;
const MEDIAN: usize = 9;
/// A percentile column: "1h 41m" and the space a "59m 59s" needs.
const SPREAD: usize = 7;
/// "23h 59m ago".
const LAST: usize = 11;

/// A pane title built from parts that are shown whole or not at all.
struct Title {
    room: usize,
    parts: Vec<Span<'static>>,
}

impl Title {
    fn fits(&self, text: &str) -> bool {
        text.chars().count() <= self.room
    }

    /// Adds `text` if it fits whole; says whether it did.
    fn part(&mut self, text: String, style: ratatui::style::Style) -> bool {
        let fits = self.fits(&text);
        if fits {
            self.room -= text.chars().count();
            self.parts.push(Span::styled(text, style));
        }
        fits
    }
}
