//! The activity pane of large screens (from 120×40): the selected repository's events per
//! hour across its whole window (or the last 24 hours, zoomed), as tall as the pane. The charts
//! (gap chart, counts by type, actions) take this pane's place when opened.

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Sparkline};

use crate::app::App;
use crate::theme::Theme;
use ghpulse_core::{RepoView, Snapshot, hourly_counts, window_events};

/// The hours the activity charts cover: the last 24 when zoomed (`z`), else from the
/// window's oldest event to `now` (at most the window's age limit). None for an empty window.
pub fn hours_shown(
    win: &[ghpulse_core::EventMeta],
    s: &Snapshot,
    now: DateTime<Utc>,
    zoomed: bool,
) -> Option<usize> {
    let oldest = win.last()?;
    if zoomed {
        return Some(24);
    }
    let max_hours = (s.window.max_age.as_secs() / 3600).max(1) as i64;
    Some(((now - oldest.created_at).num_hours() + 1).clamp(1, max_hours) as usize)
}

/// Events per hour from the window's oldest event to `now`, spread over `width` columns:
/// several hours to a column (its busiest) when the window is long, one hour drawn several
/// columns wide when it is short, so the chart fills its width instead of leaving it blank.
/// Returns the columns and the hours they cover.
pub fn per_hour(
    view: &RepoView,
    s: &Snapshot,
    now: DateTime<Utc>,
    width: usize,
    zoomed: bool,
) -> (Vec<u64>, usize) {
    let win = window_events(&view.recent, now, &s.window);
    let Some(hours) = hours_shown(win, s, now, zoomed) else {
        return (Vec::new(), 0);
    };
    let width = width.max(1);
    let counts = hourly_counts(win, now, hours);
    let columns = if hours > width {
        let per = hours.div_ceil(width);
        counts
            .chunks(per)
            .map(|c| c.iter().copied().max().unwrap_or(0))
            .collect()
    } else {
        (0..width).map(|x| counts[x * hours / width]).collect()
    };
    (columns, hours)
}

pub fn render(
    frame: &mut Frame,
    area: Rect,
    app: &App,
    s: &Snapshot,
    now: DateTime<Utc>,
    theme: &Theme,
) {
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border());
    let Some(view) = s.repos.get(app.selected) else {
        frame.render_widget(block.title(" Activity "), area);
        return;
    };
    let inner = block.inner(area);
    let (counts, hours) = per_hour(view, s, now, inner.width as usize, app.zoomed);
    if counts.is_empty() {
        frame.render_widget(
            Paragraph::new(" No events in the window yet.")
                .block(block.title(format!(" Activity of {} ", view.name))),
            area,
        );
        return;
    }
    let peak = counts.iter().copied().max().unwrap_or(0);
    // Parts that do not fit whole are left out: a cut "last 11" would read as a figure.
    let room = (area.width as usize).saturating_sub(4);
    let (head, short) = if app.zoomed {
        (
            format!(" Last 24 hours of {}, per hour ", view.name),
            " Last 24 hours, per hour ",
        )
    } else {
        (
            format!(" Events per hour of {} ", view.name),
            " Events per hour ",
        )
    };
    let head = if head.chars().count() <= room {
        head
    } else {
        short.to_string()
    };
    let figures = format!("(last {hours}h, peak {peak}) ");
    let mut title = vec![Span::styled(head.clone(), theme.title())];
    if head.chars().count() + figures.chars().count() <= room {
        title.push(Span::styled(figures, theme.dim()));
    }
    let title = Line::from(title);
    frame.render_widget(
        Sparkline::default()
            .block(block.title(title))
            .data(&counts)
            .style(theme.accent()),
        area,
    );
}
