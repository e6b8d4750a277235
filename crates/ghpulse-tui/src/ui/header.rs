//! The top two lines: what ghpulse is doing, and the rate-limit gauge.

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{LineGauge, Paragraph};

use super::until;
use crate::theme::Theme;
use ghpulse_core::{FetcherState, Snapshot};

pub fn render(
    frame: &mut Frame,
    area: Rect,
    s: &Snapshot,
    now: DateTime<Utc>,
    theme: &Theme,
    demo: bool,
) {
    let [top, gauge] = Layout::vertical([Constraint::Length(1), Constraint::Length(1)]).areas(area);
    let state = match &s.fetcher {
        // With nothing to watch the fetcher never makes its first poll: say so, not "starting".
        FetcherState::Starting if s.repos.is_empty() => {
            Span::styled("○ idle: no repositories to watch", theme.dim())
        }
        FetcherState::Starting => Span::styled("◌ starting", theme.dim()),
        FetcherState::Live => Span::styled("● live", theme.good()),
        FetcherState::WaitingForRateLimit { until: t } => Span::styled(
            format!(
                "⏸ waiting for rate limit (resumes {})",
                until(now, Some(*t))
            ),
            theme.warn(),
        ),
        FetcherState::Offline { .. } => {
            Span::styled("✖ offline: retrying with backoff", theme.bad())
        }
        FetcherState::TokenRejected => Span::styled(
            "✖ token rejected: check GITHUB_TOKEN / GH_TOKEN",
            theme.bad(),
        ),
    };
    // The long form of "unauthenticated" when it fits, a short one, else none: a cut
    // "5,0" would read as a figure.
    let unauth = [
        "unauthenticated: 60/h (GITHUB_TOKEN: 5,000/h)",
        "unauthenticated: 60/h",
        "unauthenticated",
    ];
    let name = if demo { " ghpulse demo " } else { " ghpulse " };
    // name + state + "  ·  " + auth, and a blank column at the right edge.
    let room = (area.width as usize)
        .saturating_sub(name.chars().count() + state.content.chars().count() + 5 + 1);
    let auth = if demo {
        // The demo's token is its own; what matters is that nothing here is GitHub's.
        ["replay of recorded public events", "replay"]
            .iter()
            .find(|t| t.chars().count() <= room)
            .map(|t| Span::styled(*t, theme.dim()))
    } else if matches!(s.fetcher, FetcherState::TokenRejected) {
        // The state already says the token was refused; "authenticated" beside it would
        // contradict it.
        None
    } else if s.authenticated {
        Some(Span::styled("authenticated", theme.good())).filter(|_| room >= 13)
    } else {
        unauth
            .iter()
            .find(|t| t.chars().count() <= room)
            .map(|t| Span::styled(*t, theme.warn()))
    };
    let mut spans = vec![Span::styled(name, theme.accent()), state];
    if let Some(auth) = auth {
        spans.push(Span::raw("  ·  "));
        spans.push(auth);
    }
    let line = Line::from(spans);
    frame.render_widget(Paragraph::new(line), top);

    let rl = s.rate_limit.at(now);
    let ratio = if rl.assumed || rl.limit == 0 {
        0.0
    } else {
        f64::from(rl.remaining) / f64::from(rl.limit)
    };
    // Before GitHub's first answer the figures are only what it grants by default.
    let label = if rl.assumed {
        " rate limit unknown until GitHub answers ".to_string()
    } else {
        format!(
            " rate limit {}/{} · resets {} ",
            rl.remaining,
            rl.limit,
            until(now, Some(rl.reset_at))
        )
    };
    let gauge_widget = LineGauge::default()
        .ratio(ratio.clamp(0.0, 1.0))
        .label(label)
        .filled_style(theme.gauge(ratio))
        .unfilled_style(theme.dim());
    frame.render_widget(gauge_widget, gauge);
}
