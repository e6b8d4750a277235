//! The event feed: one line an event, newest first — age, (repository,) actor and what they
//! did — each line carrying its page as an OSC 8 hyperlink where the terminal takes them.

use std::num::NonZeroU16;

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::buffer::{Buffer, CellDiffOption};
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use super::{age, filter_title, fit_text};
use crate::app::{App, Focus};
use crate::feed_view::FeedScope;
use crate::theme::Theme;
use ghpulse_core::Snapshot;

/// "23h 59m ago".
const AGE: usize = 11;
const ACTOR: usize = 16;
const REPO: usize = 22;

/// Where the rows were drawn, the first row drawn, and that row's event (the view's anchor).
pub struct DrawnFeed {
    pub rows: Rect,
    pub offset: usize,
    pub top: Option<String>,
}

pub fn render(
    frame: &mut Frame,
    area: Rect,
    app: &App,
    s: &Snapshot,
    now: DateTime<Utc>,
    theme: &Theme,
) -> DrawnFeed {
    let mut drawn = DrawnFeed {
        rows: Rect::default(),
        offset: 0,
        top: None,
    };
    let Some(feed) = &app.feed else {
        return drawn;
    };
    let focused = app.focus == Focus::Feed;
    let key = feed.key(s, app.selected);
    let whose = match (feed.scope, key.as_ref().and_then(|k| k.repos.first())) {
        (FeedScope::All, _) => "all repositories".to_string(),
        (FeedScope::Selected, Some(r)) => r.as_str().to_string(),
        (FeedScope::Selected, None) => "no repository".to_string(),
    };
    let state = if feed.following() {
        "following new events"
    } else {
        "paused (g: newest)"
    };
    let title = Line::from(vec![
        Span::styled(format!(" Feed of {whose} "), theme.title()),
        Span::styled(format!("{state} "), theme.dim()),
        filter_title(&feed.filter, theme),
    ]);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(if focused {
            theme.focused_border()
        } else {
            theme.border()
        })
        .title(title);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let entries = feed.entries(key.as_ref());
    let visible = feed.visible(entries);
    if visible.is_empty() {
        let text = match feed.lines {
            None if key.is_some() => " Reading the events…",
            _ if !feed.filter.is_empty() => " No event matches the filter.",
            _ => " No events stored yet.",
        };
        frame.render_widget(Paragraph::new(text), inner);
        return drawn;
    }
    let rows = inner.height as usize;
    let top = feed.top_row(&visible, rows);
    let selected = feed.selected_row(&visible);
    let width = inner.width as usize;
    // Across repositories the repository says more than the actor, so it gives way last.
    let with_repo = feed.scope == FeedScope::All && width >= AGE + REPO + 16;
    let with_actor = width >= AGE + ACTOR + 20 + if with_repo { REPO + 1 } else { 0 };
    for (i, e) in visible.iter().enumerate().skip(top).take(rows) {
        let y = inner.y + (i - top) as u16;
        let mut spans = vec![Span::styled(
            format!("{:>AGE$} ", fit_text(&age(now, Some(e.created_at)), AGE)),
            theme.dim(),
        )];
        if with_repo {
            spans.push(Span::styled(
                format!("{:<REPO$} ", fit_text(&e.repo, REPO)),
                theme.accent(),
            ));
        }
        if with_actor {
            spans.push(Span::styled(
                format!("{:<ACTOR$} ", fit_text(&e.actor, ACTOR)),
                theme.good(),
            ));
        }
        let used: usize = spans.iter().map(Span::width).sum();
        let summary = fit_text(&e.summary, width.saturating_sub(used));
        let summary_x = inner.x + used as u16;
        spans.push(Span::raw(summary.clone()));
        let mut line = Line::from(spans);
        if focused && i == selected {
            line = line.style(theme.selected());
        }
        let at = Rect {
            y,
            height: 1,
            ..inner
        };
        frame.render_widget(Paragraph::new(line), at);
        if app.hyperlinks {
            link(frame.buffer_mut(), summary_x, y, &summary, &e.url);
        }
    }
    drawn.rows = inner;
    drawn.offset = top;
    drawn.top = (!feed.following()).then(|| visible[top].id.clone());
    drawn
}

/// Makes the text drawn at (`x`, `y`) an OSC 8 hyperlink to `url`. The escape sequences would
/// count as columns if they were cell text (ratatui#902), so the whole link goes into the
/// first cell with its width forced to the text's: the diff writes it once and moves on.
pub fn link(buf: &mut Buffer, x: u16, y: u16, text: &str, url: &str) {
    let width = Span::raw(text).width();
    let Ok(width) = u16::try_from(width) else {
        return;
    };
    let Some(forced) = NonZeroU16::new(width) else {
        return;
    };
    if url.chars().any(char::is_control) {
        return;
    }
    let Some(cell) = buf.cell_mut((x, y)) else {
        return;
    };
    cell.set_symbol(&format!("\x1b]8;;{url}\x1b\\{text}\x1b]8;;\x1b\\"));
    cell.set_diff_option(CellDiffOption::ForcedWidth(forced));
}
