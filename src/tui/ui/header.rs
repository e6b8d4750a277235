//! The top two lines: what ghpulse is doing, and the rate-limit gauge.

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{LineGauge, Paragraph};

use super::until;
use crate::snapshot::{FetcherState, Snapshot};
use crate::tui::theme::Theme;

pub fn render(frame: &mut Frame, area: Rect, s: &Snapshot, now: DateTime<Utc>, theme: &Theme) {
    let [top, gauge] = Layout::vertical([Constraint::Length(1), Constraint::Length(1)]).areas(area);
    let state = match &s.fetcher {
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
    let auth = if s.authenticated {
        Span::styled("authenticated", theme.good())
    } else {
        Span::styled(
            "unauthenticated: 60/h (GITHUB_TOKEN: 5,000/h)",
            theme.warn(),
        )
    };
    let line = Line::from(vec![
        Span::styled(" ghpulse ", theme.accent()),
        state,
        Span::raw("  ·  "),
        auth,
    ]);
    frame.render_widget(Paragraph::new(line), top);

    let rl = s.rate_limit.at(now);
    let ratio = if rl.limit == 0 {
        0.0
    } else {
        f64::from(rl.remaining) / f64::from(rl.limit)
    };
    let label = format!(
        " rate limit {}/{} · resets {} ",
        rl.remaining,
        rl.limit,
        until(now, Some(rl.reset_at))
    );
    let gauge_widget = LineGauge::default()
        .ratio(ratio.clamp(0.0, 1.0))
        .label(label)
        .filled_style(theme.gauge(ratio))
        .unfilled_style(theme.dim());
    frame.render_widget(gauge_widget, gauge);
}
