//! Drawing: pure functions of (App, Snapshot, now, Theme). They return where the clickable
//! rows ended up, so mouse handling hits what was drawn.

mod detail;
mod header;
mod overlays;
mod repos;

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use super::app::{App, Mode};
use super::keys::BINDINGS;
use super::theme::Theme;
use crate::snapshot::Snapshot;

pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 15;

/// Where the clickable rows were drawn.
#[derive(Clone, Copy, Debug, Default)]
pub struct Drawn {
    pub repo_rows: Rect,
    pub stats_rows: Rect,
}

pub fn render(
    frame: &mut Frame,
    app: &App,
    snapshot: &Snapshot,
    now: DateTime<Utc>,
    theme: &Theme,
) -> Drawn {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let msg = format!(
            "Terminal too small for ghpulse: need {MIN_WIDTH}×{MIN_HEIGHT}, have {}×{}",
            area.width, area.height
        );
        frame.render_widget(Paragraph::new(msg), area);
        return Drawn::default();
    }
    let [header_area, config_area, body, footer] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Length(u16::from(snapshot.config_error.is_some())),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(area);
    header::render(frame, header_area, snapshot, now, theme);
    if let Some(e) = &snapshot.config_error {
        let line = format!(" ✖ config not applied, the last valid one is in force: {e}");
        frame.render_widget(Paragraph::new(Span::styled(line, theme.bad())), config_area);
    }

    let (main, logs) = if app.show_logs {
        let [m, l] =
            Layout::vertical([Constraint::Percentage(65), Constraint::Percentage(35)]).areas(body);
        (m, Some(l))
    } else {
        (body, None)
    };
    // The repository list takes what it needs (at most half), the statistics the rest.
    let list_height = (snapshot.repos.len().max(1) as u16 + 3)
        .min(main.height / 2)
        .max(5);
    let [repos_area, detail_area] =
        Layout::vertical([Constraint::Length(list_height), Constraint::Min(0)]).areas(main);
    let repo_rows = repos::render(frame, repos_area, app, snapshot, now, theme);
    let stats_rows = detail::render(frame, detail_area, app, snapshot, now, theme);
    if let Some(l) = logs {
        render_logs(frame, l, theme);
    }
    render_footer(frame, footer, app, theme);

    match &app.mode {
        Mode::Normal => {}
        Mode::Help => overlays::help(frame, area, theme),
        Mode::Adding { input } => overlays::add_prompt(frame, area, input, snapshot, theme),
        Mode::ConfirmRemove { repo } => overlays::confirm_remove(frame, area, repo, theme),
    }
    Drawn {
        repo_rows,
        stats_rows,
    }
}

fn render_logs(frame: &mut Frame, area: Rect, theme: &Theme) {
    let widget = tui_logger::TuiLoggerWidget::default()
        .block(
            Block::default()
                .borders(Borders::ALL)
                .title(" Log (l hides) "),
        )
        .output_timestamp(Some("%H:%M:%S".into()))
        .output_separator(' ')
        .output_target(false)
        .output_file(false)
        .output_line(false)
        .style_error(theme.bad())
        .style_warn(theme.warn())
        .style_info(ratatui::style::Style::default());
    frame.render_widget(widget, area);
}

fn render_footer(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let line = match &app.message {
        Some((text, true)) => Line::from(Span::styled(format!(" {text}"), theme.bad())),
        Some((text, false)) => Line::from(Span::styled(format!(" {text}"), theme.good())),
        None => {
            let mut spans = Vec::new();
            for b in BINDINGS.iter().filter(|b| !b.footer.is_empty()) {
                spans.push(Span::styled(format!(" {}", b.label), theme.accent()));
                spans.push(Span::styled(format!(" {} ", b.footer), theme.dim()));
            }
            Line::from(spans)
        }
    };
    frame.render_widget(Paragraph::new(line), area);
}

/// "3m ago", "just now", "-".
pub fn age(now: DateTime<Utc>, then: Option<DateTime<Utc>>) -> String {
    match then {
        None => "-".into(),
        Some(t) if t >= now => "just now".into(),
        Some(t) => format!(
            "{} ago",
            crate::humanize::seconds((now - t).num_seconds() as f64)
        ),
    }
}

/// "in 42s", "now".
pub fn until(now: DateTime<Utc>, at: Option<DateTime<Utc>>) -> String {
    match at {
        None => "-".into(),
        Some(t) if t <= now => "now".into(),
        Some(t) => format!(
            "in {}",
            crate::humanize::seconds((t - now).num_seconds().max(1) as f64)
        ),
    }
}
