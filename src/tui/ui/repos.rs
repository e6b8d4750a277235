//! The repository list: one row each with status, events in window, age of the last event,
//! next poll and a sparkline of events per hour across the window.

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table};

use super::{age, until};
use crate::snapshot::{RepoView, Snapshot};
use crate::stats;
use crate::store::RepoStatus;
use crate::tui::app::{App, Focus};
use crate::tui::theme::Theme;

const BARS: [char; 9] = [' ', '▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// Events per hour across the window (at most its 7 days), squeezed into `width` characters:
/// when there are more hours than characters, each character shows its busiest hour.
pub fn sparkline(view: &RepoView, snapshot: &Snapshot, now: DateTime<Utc>, width: usize) -> String {
    let win = stats::window(&view.recent, now, &snapshot.window);
    let Some(oldest) = win.last() else {
        return String::new();
    };
    let max_hours = (snapshot.window.max_age.as_secs() / 3600).max(1) as i64;
    let hours = ((now - oldest.created_at).num_hours() + 1).clamp(1, max_hours) as usize;
    let counts = stats::hourly_counts(win, now, hours);
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

fn status(view: &RepoView, partial: bool, now: DateTime<Utc>, theme: &Theme) -> Span<'static> {
    let s = &view.state;
    match s.status {
        RepoStatus::Pending => Span::styled("pending", theme.dim()),
        RepoStatus::Ok if partial => Span::styled("ok · partial", theme.warn()),
        RepoStatus::Ok => Span::styled("ok", theme.good()),
        RepoStatus::NotFound => Span::styled("not found", theme.bad()),
        RepoStatus::TokenRejected => Span::styled("token rejected", theme.bad()),
        RepoStatus::RateLimited => Span::styled("rate limited", theme.warn()),
        // The error itself is shown above the statistics of the selected repository.
        RepoStatus::Backoff => Span::styled(
            format!("retry {}", until(now, s.backoff_until)),
            theme.bad(),
        ),
    }
}

pub fn render(
    frame: &mut Frame,
    area: Rect,
    app: &App,
    s: &Snapshot,
    now: DateTime<Utc>,
    theme: &Theme,
) -> Rect {
    let focused = app.focus == Focus::Repos;
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(if focused {
            theme.focused_border()
        } else {
            Style::default()
        })
        .title(Line::from(vec![
            Span::styled(" Repositories ", theme.title()),
            Span::styled(
                format!("{}/{} ", s.repos.len(), s.max_repositories),
                theme.dim(),
            ),
        ]));
    if s.repos.is_empty() {
        let text = Line::from(vec![
            Span::raw(" No repositories yet. Press "),
            Span::styled("a", theme.accent()),
            Span::raw(" to add one (owner/name)."),
        ]);
        frame.render_widget(Paragraph::new(text).block(block), area);
        return Rect::default();
    }
    let wide = area.width >= 100;
    let longest = s
        .repos
        .iter()
        .map(|r| r.name.as_str().chars().count())
        .max()
        .unwrap_or(10);
    let name_width = longest.clamp(10, if wide { 40 } else { 26 });
    let fixed = name_width + 16 + 7 + 11 + if wide { 9 } else { 0 } + 6 + 2;
    let spark_width = (area.width as usize).saturating_sub(fixed).max(4);
    let rows = s.repos.iter().enumerate().map(|(i, view)| {
        let figures = stats::repo_stats(
            view.name.as_str(),
            &view.recent,
            &view.gaps,
            now,
            &s.window,
            None,
        );
        let last = figures
            .window_end
            .or(view.recent.first().map(|e| e.created_at));
        let mut cells = vec![
            Cell::from(view.name.to_string()),
            Cell::from(status(view, figures.partial, now, theme)),
            Cell::from(format!("{:>6}", figures.events_in_window)),
            Cell::from(format!("{:>10}", age(now, last))),
        ];
        if wide {
            cells.push(Cell::from(format!(
                "{:>8}",
                until(now, view.state.next_poll_at)
            )));
        }
        cells.push(Cell::from(Span::styled(
            sparkline(view, s, now, spark_width),
            theme.accent(),
        )));
        let row = Row::new(cells);
        if i == app.selected {
            row.style(theme.selected())
        } else {
            row
        }
    });
    let mut widths = vec![
        Constraint::Length(name_width as u16),
        Constraint::Length(16),
        Constraint::Length(7),
        Constraint::Length(11),
    ];
    let mut header = vec!["Repository", "Status", " Window", "Last event"];
    if wide {
        widths.push(Constraint::Length(9));
        header.push("Next poll");
    }
    widths.push(Constraint::Min(4));
    header.push("Activity (events/h, window)");
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(theme.title()))
        .block(block)
        .column_spacing(1);
    frame.render_widget(table, area);
    // Rows start under the border and the header line.
    Rect {
        x: area.x + 1,
        y: area.y + 2,
        width: area.width.saturating_sub(2),
        height: area.height.saturating_sub(3),
    }
}
