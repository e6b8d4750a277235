//! Drawing: pure functions of (App, Snapshot, now, Theme). They return where the clickable
//! rows ended up, so mouse handling hits what was drawn.

mod activity;
mod charts;
mod detail;
mod feed;
mod header;
mod overlays;
mod repos;

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use super::app::{App, Focus, Mode};
use super::keys::Action;
use super::theme::Theme;
use ghpulse_core::Snapshot;

pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 15;

/// Where the clickable rows were drawn, and which list row is the first one on screen.
#[derive(Clone, Debug, Default)]
pub struct Drawn {
    pub repo_rows: Rect,
    pub repo_offset: usize,
    pub stats_rows: Rect,
    pub stats_offset: usize,
    pub stats_len: usize,
    /// Whether the statistics table was given a place.
    pub stats_shown: bool,
    pub feed_rows: Rect,
    pub feed_offset: usize,
    /// The event on the feed's top row while the user scrolls it.
    pub feed_top: Option<String>,
}

/// The one-line message of a terminal too small to draw in: the longest form that fits, so
/// the figures in it are never cut.
pub fn too_small_message(width: u16, height: u16) -> String {
    let have = format!("have {width}×{height}");
    let need = format!("need {MIN_WIDTH}×{MIN_HEIGHT}");
    [
        format!("Terminal too small for ghpulse: {need}, {have}"),
        format!("Too small: {need}, {have}"),
        format!("{need}, {have}"),
        need,
        format!("{MIN_WIDTH}×{MIN_HEIGHT}"),
    ]
    .into_iter()
    .find(|m| m.chars().count() <= width as usize)
    .unwrap_or_default()
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
        let msg = too_small_message(area.width, area.height);
        frame.render_widget(Paragraph::new(msg), area);
        return Drawn::default();
    }
    frame.render_widget(Block::default().style(theme.text()), area);
    // A config error is wrapped (up to 3 lines): the file, line and key are at its start and
    // the reason at its end.
    let config_line = snapshot
        .config_error
        .as_ref()
        .map(|e| format!("✖ config not applied, the last valid one is in force: {e}"));
    let config_height = config_line.as_ref().map_or(0, |l| {
        wrapped_lines(l, area.width.saturating_sub(1) as usize).min(3) as u16
    });
    let [header_area, config_area, body, footer] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Length(config_height),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(area);
    header::render(frame, header_area, snapshot, now, theme, app.demo);
    if let Some(line) = config_line {
        let inner = Rect {
            x: config_area.x + 1,
            width: config_area.width.saturating_sub(1),
            ..config_area
        };
        frame.render_widget(
            Paragraph::new(Span::styled(line, theme.bad())).wrap(Wrap { trim: true }),
            inner,
        );
    }

    let panes = layout(body, snapshot.repos.len(), app.show_logs);
    let (repo_rows, repo_offset) = repos::render(frame, panes.repos, app, snapshot, now, theme);
    // A chart, else the feed, takes the activity pane's place, or the statistics table's on
    // smaller screens.
    let feed_shown = app.feed.is_some() && app.chart.is_none();
    let stats_shown = panes.side.is_some() || (app.chart.is_none() && !feed_shown);
    let (stats_rows, stats_offset, stats_len) = if stats_shown {
        detail::render(
            frame,
            panes.detail,
            app,
            snapshot,
            now,
            theme,
            panes.side.is_none(),
        )
    } else {
        (Rect::default(), 0, app.stats_len)
    };
    let lower = panes.side.unwrap_or(panes.detail);
    let mut drawn_feed = None;
    if let Some(chart) = &app.chart {
        charts::render(frame, lower, chart, app, snapshot, now, theme);
    } else if feed_shown {
        drawn_feed = Some(feed::render(frame, lower, app, snapshot, now, theme));
    } else if let Some(side) = panes.side {
        activity::render(frame, side, app, snapshot, now, theme);
    }
    if let Some(l) = panes.logs {
        render_logs(frame, l, app, theme);
    }
    render_footer(frame, footer, app, theme);

    match &app.mode {
        Mode::Normal | Mode::Filtering => {}
        Mode::Help => overlays::help(frame, area, app.help_scroll, &app.keys, theme),
        Mode::Adding { input } => overlays::add_prompt(frame, area, input, snapshot, theme),
        Mode::ConfirmRemove { repo } => overlays::confirm_remove(frame, area, repo, theme),
    }
    Drawn {
        repo_rows,
        repo_offset,
        stats_rows,
        stats_offset,
        stats_len,
        stats_shown,
        feed_rows: drawn_feed.as_ref().map_or_else(Rect::default, |f| f.rows),
        feed_offset: drawn_feed.as_ref().map_or(0, |f| f.offset),
        feed_top: drawn_feed.and_then(|f| f.top),
    }
}

/// Where each pane goes. Below 120×40 the panes are stacked (repositories, statistics with
/// its chart when tall enough, logs); from 120×40 the statistics share the lower part with an
/// activity pane on the right — the place for the charts of the selected repository.
pub struct Panes {
    pub repos: Rect,
    pub detail: Rect,
    pub side: Option<Rect>,
    pub logs: Option<Rect>,
}

pub const LARGE: (u16, u16) = (120, 40);

pub fn layout(body: Rect, repo_count: usize, show_logs: bool) -> Panes {
    let large = body.width >= LARGE.0 && body.height + 3 >= LARGE.1;
    // The repository list takes what it needs (at most half), the rest goes below.
    let list_height = (repo_count.max(1) as u16 + 3).min(body.height / 2).max(5);
    let [repos, lower] =
        Layout::vertical([Constraint::Length(list_height), Constraint::Min(0)]).areas(body);
    if large {
        // The statistics table needs about 64 columns; the activity pane gets the rest.
        let table = (body.width * 45 / 100).max(66);
        let [detail, side] =
            Layout::horizontal([Constraint::Length(table), Constraint::Min(0)]).areas(lower);
        let (side, logs) = if show_logs {
            let [c, l] = Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)])
                .areas(side);
            (c, Some(l))
        } else {
            (side, None)
        };
        return Panes {
            repos,
            detail,
            side: Some(side),
            logs,
        };
    }
    let (detail, logs) = if show_logs {
        let [d, l] =
            Layout::vertical([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(lower);
        (d, Some(l))
    } else {
        (lower, None)
    };
    Panes {
        repos,
        detail,
        side: None,
        logs,
    }
}

/// " /filter " in a pane title while a filter is set.
pub fn filter_title(filter: &str, theme: &Theme) -> Span<'static> {
    if filter.is_empty() {
        Span::raw("")
    } else {
        Span::styled(format!("/{filter} "), theme.warn())
    }
}

fn render_logs(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let focused = app.focus == Focus::Logs;
    let title = format!(
        " Log ≥ {} (+/- level, ↑↓ scroll, {} hides) ",
        app.logs.level.as_str().to_lowercase(),
        app.keys.label(Action::ToggleLogs)
    );
    let widget = tui_logger::TuiLoggerWidget::default()
        .block(
            Block::default()
                .borders(Borders::ALL)
                .border_style(if focused {
                    theme.focused_border()
                } else {
                    theme.border()
                })
                .title(fit_text(&title, area.width.saturating_sub(2) as usize)),
        )
        .output_timestamp(Some("%H:%M:%S".into()))
        .output_separator(' ')
        .output_target(false)
        .output_file(false)
        .output_line(false)
        .style_error(theme.bad())
        .style_warn(theme.warn())
        .style_info(theme.text())
        .state(&app.logs.state);
    frame.render_widget(widget, area);
}

fn app_filter(app: &App) -> &str {
    match (app.focus, &app.feed) {
        (Focus::Feed, Some(feed)) => &feed.filter,
        (Focus::Stats, _) => &app.stats_filter,
        _ => &app.repo_filter,
    }
}

/// The status message (while it lasts), then the key hints that fit. Help and quit are always
/// shown: they are how a user finds everything else, and how they leave.
fn render_footer(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let width = area.width as usize;
    let hint = |label: &str, word: &str| {
        (
            format!(" {label}"),
            format!(" {word} "),
            label.chars().count() + word.chars().count() + 3,
        )
    };
    if app.mode == Mode::Filtering {
        let line = Line::from(vec![
            Span::styled(" /", theme.accent()),
            Span::raw(app_filter(app).to_string()),
            Span::styled("█", theme.accent()),
            Span::styled("  Enter keeps · Esc clears", theme.dim()),
        ]);
        frame.render_widget(Paragraph::new(line), area);
        return;
    }
    let hints: Vec<_> = app
        .keys
        .footer_bindings()
        .filter(|(_, a)| !a.footer.is_empty())
        .map(|(label, a)| (a.action, hint(&label, a.footer)))
        .collect();
    let always = |a: Action| matches!(a, Action::Help | Action::Quit);
    let mut used: usize = hints
        .iter()
        .filter(|(a, _)| always(*a))
        .map(|(_, h)| h.2)
        .sum();
    let mut spans = Vec::new();
    if let Some(flash) = &app.message {
        let room = width.saturating_sub(used + 1);
        let text = fit_text(&flash.text, room.saturating_sub(1));
        used += text.chars().count() + 2;
        let style = if flash.error {
            theme.bad()
        } else {
            theme.good()
        };
        spans.push(Span::styled(format!(" {text} "), style));
    }
    let mut shown = Vec::new();
    for (action, h) in &hints {
        if always(*action) {
            shown.push((action, h));
        } else if used + h.2 <= width {
            used += h.2;
            shown.push((action, h));
        }
    }
    for (_, (label, word, _)) in shown {
        spans.push(Span::styled(label.clone(), theme.accent()));
        spans.push(Span::styled(word.clone(), theme.dim()));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// A figure made to fit `width` columns without changing its meaning: whole words are kept
/// and an ellipsis marks what is missing ("1h 41m" in 4 columns is "1h…", never "1h 4").
pub fn fit_figure(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let room = width.saturating_sub(1);
    let mut kept = String::new();
    for word in text.split(' ') {
        let candidate = if kept.is_empty() {
            word.to_string()
        } else {
            format!("{kept} {word}")
        };
        if candidate.chars().count() > room {
            break;
        }
        kept = candidate;
    }
    if width == 0 {
        String::new()
    } else {
        format!("{kept}…")
    }
}

/// A name made to fit `width` columns: cut anywhere, with an ellipsis.
pub fn fit_text(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let mut cut: String = text.chars().take(width - 1).collect();
    cut.push('…');
    cut
}

/// Greedy word wrap, for sizing a pane before it is drawn.
pub fn wrapped_lines(text: &str, width: usize) -> usize {
    let width = width.max(1);
    let mut lines = 1;
    let mut used = 0;
    for word in text.split_whitespace() {
        let len = word.chars().count();
        if len == 0 {
            continue;
        }
        if used == 0 {
            lines += (len - 1) / width;
            used = (len - 1) % width + 1;
        } else if used + 1 + len <= width {
            used += 1 + len;
        } else {
            lines += 1 + (len.saturating_sub(1)) / width;
            used = (len.saturating_sub(1)) % width + 1;
        }
    }
    lines
}

/// The first row to draw so that `selected` is on screen in a list of `visible` rows.
pub fn scroll_offset(selected: usize, visible: usize) -> usize {
    selected.saturating_sub(visible.saturating_sub(1))
}

/// "3m ago", "just now", "-".
pub fn age(now: DateTime<Utc>, then: Option<DateTime<Utc>>) -> String {
    match then {
        None => "-".into(),
        Some(t) if t >= now => "just now".into(),
        Some(t) => format!(
            "{} ago",
            ghpulse_core::humanize_seconds((now - t).num_seconds() as f64)
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
            ghpulse_core::humanize_seconds((t - now).num_seconds().max(1) as f64)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_keep_whole_words() {
        assert_eq!(fit_figure("1h 41m", 6), "1h 41m");
        assert_eq!(fit_figure("1h 41m", 5), "1h…");
        assert_eq!(fit_figure("1h 41m", 3), "1h…");
        assert_eq!(fit_figure("1h 41m", 2), "…");
        assert_eq!(fit_figure("in 59m 56s", 9), "in 59m…");
        assert_eq!(fit_figure("12345", 0), "");
        assert_eq!(fit_text("sigmavirus24/github3.py", 10), "sigmaviru…");
    }

    #[test]
    fn wrapping_counts_lines_like_a_reader() {
        assert_eq!(wrapped_lines("", 10), 1);
        assert_eq!(wrapped_lines("one two three", 13), 1);
        assert_eq!(wrapped_lines("one two three", 7), 2);
        assert_eq!(wrapped_lines("abcdefghijklmnopqrstu", 10), 3);
        assert_eq!(wrapped_lines("ab abcdefghijklmnopqrstu", 10), 4);
    }

    #[test]
    fn the_too_small_message_fits_its_width() {
        for width in 0..80 {
            let m = too_small_message(width, 10);
            assert!(m.chars().count() <= width as usize, "{width}: {m}");
        }
        assert_eq!(too_small_message(5, 2), "60×15");
        assert_eq!(too_small_message(4, 2), "");
    }
}
