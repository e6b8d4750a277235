//! The charts of the selected repository, opened from the keyboard: the gap chart of an event
//! type (`Enter`), the counts by type over the last hour / day / week (`o`) and the action
//! breakdown of a type. All figures are section 3's and 3a's, from the snapshot's events.

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Direction, Rect};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Axis, Bar, BarChart, Block, Borders, Cell, Chart as ChartWidget, Clear, Dataset, GraphType,
    Paragraph, Row, Table,
};

use super::fit_text;
use crate::app::{App, Chart, Period};
use crate::theme::Theme;
use ghpulse_core::{
    Selection, Snapshot, counts_by_type, humanize_seconds, type_gaps, window_events, window_stats,
};

pub fn render(
    frame: &mut Frame,
    area: Rect,
    chart: &Chart,
    app: &App,
    s: &Snapshot,
    now: DateTime<Utc>,
    theme: &Theme,
) {
    frame.render_widget(Clear, area);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.focused_border())
        .style(theme.text());
    let Some(view) = s.repos.get(app.selected) else {
        frame.render_widget(
            Paragraph::new(" No repository selected.").block(block.title(" Chart ")),
            area,
        );
        return;
    };
    let room = (area.width as usize).saturating_sub(4);
    let title = |text: String| Span::styled(fit_text(&text, room), theme.title());
    let win = window_events(&view.recent, now, &s.window);
    match chart {
        Chart::Gaps(event_type) => {
            let block = block.title(title(format!(
                " Gaps between {event_type} events, {} (Esc closes) ",
                view.name
            )));
            gaps(frame, area, block, win, event_type, now, theme);
        }
        Chart::Counts(period) => {
            let block = block.title(title(format!(
                " Events by type, {}, {} ({} next) ",
                period.label(),
                view.name,
                app.keys.label(crate::keys::Action::CountsChart)
            )));
            counts(frame, area, block, &view.recent, *period, now, theme);
        }
        Chart::Actions(event_type) => {
            let block = block.title(title(format!(
                " Actions of {event_type}, {} (Esc closes) ",
                view.name
            )));
            actions(frame, area, block, win, event_type, now, theme);
        }
    }
}

/// Hours before `now`, the chart's x axis.
fn hours_before(now: DateTime<Utc>, ms: i64) -> f64 {
    (ms - now.timestamp_millis()) as f64 / 3_600_000.0
}

fn gaps(
    frame: &mut Frame,
    area: Rect,
    block: Block,
    win: &[ghpulse_core::EventMeta],
    event_type: &str,
    now: DateTime<Utc>,
    theme: &Theme,
) {
    let selection = Selection {
        event_type: Some(event_type),
        ..Selection::default()
    };
    let figures = window_stats("", win, None, &selection);
    let Some(t) = figures.event_types.first() else {
        frame.render_widget(
            Paragraph::new(format!(" No {event_type} event in the window.")).block(block),
            area,
        );
        return;
    };
    let (Some(avg), Some(median)) = (t.avg_seconds_between, t.median_seconds_between) else {
        frame.render_widget(
            Paragraph::new(format!(
                " One {event_type} event in the window: no gap to chart yet."
            ))
            .block(block),
            area,
        );
        return;
    };
    let points: Vec<(f64, f64)> = type_gaps(win, event_type)
        .into_iter()
        .map(|(at, gap)| (hours_before(now, at), gap))
        .collect();
    // The x axis spans the window, from its oldest event to now.
    let start = win
        .last()
        .map(|e| e.created_at)
        .unwrap_or(now - chrono::TimeDelta::hours(1));
    let x_min = hours_before(now, start.timestamp_millis()).min(-1.0 / 60.0);
    let top = points
        .iter()
        .map(|p| p.1)
        .fold(avg.max(median), f64::max)
        .max(2.0)
        * 1.1;
    let avg_line = [(x_min, avg), (0.0, avg)];
    let median_line = [(x_min, median), (0.0, median)];
    // The lines first, the dots over them.
    let datasets = vec![
        Dataset::default()
            .name(format!("average {}", humanize_seconds(avg)))
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(theme.warn())
            .data(&avg_line),
        Dataset::default()
            .name(format!("median {}", humanize_seconds(median)))
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(theme.good())
            .data(&median_line),
        Dataset::default()
            .name(match points.len() {
                1 => "1 gap".to_string(),
                n => format!("{n} gaps"),
            })
            .marker(Marker::Dot)
            .graph_type(GraphType::Scatter)
            .style(theme.accent())
            .data(&points),
    ];
    // The figures on a line of their own under the chart: a legend box would hide dots.
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [plot, key] =
        ratatui::layout::Layout::vertical([Constraint::Min(0), Constraint::Length(1)]).areas(inner);
    let legend = Line::from(vec![
        Span::styled(" • ", theme.accent()),
        Span::raw(match points.len() {
            1 => "1 gap".to_string(),
            n => format!("{n} gaps"),
        }),
        Span::styled("  ── ", theme.warn()),
        Span::raw(format!("average {}", humanize_seconds(avg))),
        Span::styled("  ── ", theme.good()),
        Span::raw(format!("median {}", humanize_seconds(median))),
    ]);
    frame.render_widget(Paragraph::new(legend), key);
    let chart = ChartWidget::new(datasets)
        .x_axis(
            Axis::default()
                .style(theme.dim())
                .bounds([x_min, 0.0])
                .labels([
                    Line::from(start.format("%m-%d %H:%M").to_string()),
                    Line::from(now.format("%H:%M").to_string()),
                ]),
        )
        .y_axis(
            Axis::default()
                .style(theme.dim())
                .bounds([0.0, top])
                .labels([
                    Line::from("0s"),
                    Line::from(humanize_seconds((top / 2.0).round())),
                    Line::from(humanize_seconds(top.round())),
                ]),
        )
        .legend_position(None);
    frame.render_widget(chart, plot);
}

fn counts(
    frame: &mut Frame,
    area: Rect,
    block: Block,
    events: &[ghpulse_core::EventMeta],
    period: Period,
    now: DateTime<Utc>,
    theme: &Theme,
) {
    let mut counts: Vec<(String, u64)> = counts_by_type(events, now, period.offset(), None)
        .into_iter()
        .collect();
    if counts.is_empty() {
        frame.render_widget(
            Paragraph::new(format!(" No events in the {}.", period.label())).block(block),
            area,
        );
        return;
    }
    // Most first, ties by name (the map gave them in name order).
    counts.sort_by_key(|c| std::cmp::Reverse(c.1));
    let bars: Vec<Bar> = counts
        .iter()
        .map(|(t, n)| {
            Bar::with_label(t.clone(), *n)
                .text_value(n.to_string())
                .style(theme.accent())
                .value_style(theme.selected())
        })
        .collect();
    frame.render_widget(
        BarChart::default()
            .block(block)
            .direction(Direction::Horizontal)
            .data(ratatui::widgets::BarGroup::default().bars(&bars))
            .bar_width(1)
            .bar_gap(0)
            .label_style(theme.text()),
        area,
    );
}

fn actions(
    frame: &mut Frame,
    area: Rect,
    block: Block,
    win: &[ghpulse_core::EventMeta],
    event_type: &str,
    now: DateTime<Utc>,
    theme: &Theme,
) {
    let selection = Selection {
        event_type: Some(event_type),
        by_action: true,
        ..Selection::default()
    };
    let figures = window_stats("", win, None, &selection);
    let actions = figures
        .event_types
        .first()
        .and_then(|t| t.actions.clone())
        .unwrap_or_default();
    if actions.is_empty() {
        frame.render_widget(
            Paragraph::new(format!(" No {event_type} event in the window.")).block(block),
            area,
        );
        return;
    }
    let fmt = |v: Option<f64>| v.map_or_else(|| "-".to_string(), humanize_seconds);
    let rows = actions.iter().map(|a| {
        Row::new(vec![
            Cell::from(a.action.clone().unwrap_or_else(|| "(none)".into())),
            Cell::from(format!("{:>6}", a.count)),
            Cell::from(format!("{:>11}", fmt(a.avg_seconds_between))),
            Cell::from(format!("{:>9}", fmt(a.median_seconds_between))),
            Cell::from(format!("{:>11}", super::age(now, Some(a.last_event_at)))),
        ])
    });
    let header = Row::new(vec![
        Cell::from("Action"),
        Cell::from(" Count"),
        Cell::from("Avg between"),
        Cell::from("   Median"),
        Cell::from("  Last seen"),
    ])
    .style(theme.title());
    frame.render_widget(
        Table::new(
            rows,
            [
                Constraint::Min(8),
                Constraint::Length(6),
                Constraint::Length(11),
                Constraint::Length(9),
                Constraint::Length(11),
            ],
        )
        .header(header)
        .column_spacing(1)
        .block(block),
        area,
    );
}
