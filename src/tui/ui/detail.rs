//! The selected repository: its error if any, activity, and the statistics table.

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Sparkline, Table};

use super::{age, until};
use crate::humanize;
use crate::snapshot::Snapshot;
use crate::stats;
use crate::tui::app::{self, App, Focus, SortColumn};
use crate::tui::theme::Theme;

pub fn render(
    frame: &mut Frame,
    area: Rect,
    app: &App,
    s: &Snapshot,
    now: DateTime<Utc>,
    theme: &Theme,
) -> Rect {
    let focused = app.focus == Focus::Stats;
    let border = if focused {
        theme.focused_border()
    } else {
        Style::default()
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
        return Rect::default();
    };
    let figures = stats::repo_stats(
        view.name.as_str(),
        &view.recent,
        &view.gaps,
        now,
        &s.window,
        None,
    );
    let span = match (figures.window_start, figures.window_end) {
        (Some(a), Some(b)) => format!(
            ", {} → {}",
            a.format("%m-%d %H:%M"),
            b.format("%m-%d %H:%M")
        ),
        _ => String::new(),
    };
    let mut title = vec![
        Span::styled(format!(" {} ", view.name), theme.title()),
        Span::styled(
            format!("{} events in window{span} ", figures.events_in_window),
            theme.dim(),
        ),
    ];
    if figures.partial {
        title.push(Span::styled(
            "partial: events may be missing ",
            theme.warn(),
        ));
    }
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(border)
        .title(Line::from(title));
    let inner = block.inner(area);
    frame.render_widget(block, area);

    let mut constraints = Vec::new();
    let error = view.state.last_error.as_ref().map(|e| {
        let retry = until(now, view.state.backoff_until.or(view.state.next_poll_at));
        Line::from(Span::styled(format!(" {e}; next try {retry}"), theme.bad()))
    });
    if error.is_some() {
        constraints.push(Constraint::Length(1));
    }
    // The activity chart only where the table keeps room for a dozen types.
    let chart = inner.height >= 20 && figures.events_in_window > 0;
    if chart {
        constraints.push(Constraint::Length(4));
    }
    constraints.push(Constraint::Min(0));
    let parts = Layout::vertical(constraints).split(inner);
    let mut next = 0;
    if let Some(line) = error {
        frame.render_widget(Paragraph::new(line), parts[next]);
        next += 1;
    }
    if chart {
        let win = stats::window(&view.recent, now, &s.window);
        let hours = (inner.width as usize).saturating_sub(2).min(168);
        let counts = stats::hourly_counts(win, now, hours);
        let peak = counts.iter().copied().max().unwrap_or(0);
        let spark = Sparkline::default()
            .block(Block::default().title(Span::styled(
                format!(" events per hour, last {hours}h (peak {peak}) "),
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
        return Rect::default();
    }

    let rows = app::sorted(figures.event_types, app.sort, app.sort_descending);
    let selected = app.stats_selected.min(rows.len().saturating_sub(1));
    let visible = table_area.height.saturating_sub(1) as usize;
    let offset = selected.saturating_sub(visible.saturating_sub(1));
    let fmt = |v: Option<f64>| v.map_or_else(|| "-".to_string(), humanize::seconds);
    let table_rows = rows.iter().enumerate().skip(offset).map(|(i, t)| {
        let row = Row::new(vec![
            Cell::from(t.event_type.clone()),
            Cell::from(format!("{:>6}", t.count)),
            Cell::from(format!("{:>11}", fmt(t.avg_seconds_between))),
            Cell::from(format!("{:>9}", fmt(t.median_seconds_between))),
            Cell::from(format!("{:>10}", age(now, Some(t.last_event_at)))),
        ]);
        if focused && i == selected {
            row.style(theme.selected())
        } else {
            row
        }
    });
    let arrow = if app.sort_descending { "▼" } else { "▲" };
    let head = |col: SortColumn, text: &str| {
        if app.sort == col {
            Cell::from(Span::styled(format!("{text}{arrow}"), theme.accent()))
        } else {
            Cell::from(text.to_string())
        }
    };
    let header = Row::new(vec![
        head(SortColumn::Type, "Event type"),
        head(SortColumn::Count, " Count"),
        head(SortColumn::Average, "Avg between"),
        head(SortColumn::Median, "   Median"),
        head(SortColumn::LastSeen, " Last seen"),
    ])
    .style(theme.title());
    let widths = [
        Constraint::Min(20),
        Constraint::Length(7),
        Constraint::Length(12),
        Constraint::Length(10),
        Constraint::Length(12),
    ];
    frame.render_widget(
        Table::new(table_rows, widths)
            .header(header)
            .column_spacing(1),
        table_area,
    );
    Rect {
        y: table_area.y + 1,
        height: table_area.height.saturating_sub(1),
        ..table_area
    }
}
