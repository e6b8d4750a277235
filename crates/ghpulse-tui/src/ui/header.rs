//! The top two lines: what ghpulse is doing, and the rate-limit gauge.

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{LineGauge, Paragraph};

use super::until;
use crate::theme::Theme;
use ghpulse_core::{FetcherState, RepoStatus, Snapshot, humanize_seconds, unauthenticated_gap};

/// How many watched repositories are in each state worth a glance, from the same figures the
/// list shows.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub watched: usize,
    pub in_error: usize,
    pub rate_limited: usize,
    pub partial: usize,
}

impl Summary {
    pub fn of(s: &Snapshot, now: DateTime<Utc>) -> Summary {
        let cached = s.stats_cache(now);
        let mut sum = Summary {
            watched: s.repos.len(),
            ..Summary::default()
        };
        for (i, view) in s.repos.iter().enumerate() {
            match view.state.status {
                RepoStatus::NotFound | RepoStatus::TokenRejected | RepoStatus::Backoff => {
                    sum.in_error += 1;
                }
                RepoStatus::RateLimited => sum.rate_limited += 1,
                RepoStatus::Pending | RepoStatus::Ok => {}
            }
            if cached.repo(i).is_some_and(|f| f.partial_reason.is_some()) {
                sum.partial += 1;
            }
        }
        sum
    }

    /// The long form, then shorter ones: a cut "3 in er" would mislead.
    fn forms(&self) -> Vec<String> {
        let parts = [
            (self.in_error, "in error", "err"),
            (self.rate_limited, "rate limited", "limited"),
            (self.partial, "partial", "partial"),
        ];
        let with = |long: bool| {
            let mut out = format!("{} watched", self.watched);
            for (n, l, short) in parts {
                if n > 0 {
                    out.push_str(&format!(" · {n} {}", if long { l } else { short }));
                }
            }
            out
        };
        vec![with(true), with(false), format!("{} watched", self.watched)]
    }
}

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
    let name = if demo { " ghpulse demo " } else { " ghpulse " };
    // name + state, then the summary and the authentication as room allows, each after
    // "  ·  ", and a blank column at the right edge.
    let room = (area.width as usize)
        .saturating_sub(name.chars().count() + state.content.chars().count() + 1);
    let summaries = if s.repos.is_empty() {
        Vec::new()
    } else {
        Summary::of(s, now).forms()
    };
    // The long form of "unauthenticated" when it fits, a shorter one, else none: a cut
    // "5,0" would read as a figure. Each says what the 60 requests an hour give each
    // repository.
    let every = humanize_seconds(unauthenticated_gap(s.repos.len().max(1), 60).as_secs_f64());
    let (auths, auth_style) = if demo {
        // The demo's token is its own; what matters is that nothing here is GitHub's.
        (
            vec![
                "replay of recorded public events".to_string(),
                "replay".to_string(),
            ],
            theme.dim(),
        )
    } else if matches!(s.fetcher, FetcherState::TokenRejected) {
        // The state already says the token was refused; "authenticated" beside it would
        // contradict it.
        (Vec::new(), theme.good())
    } else if s.authenticated {
        (vec!["authenticated".to_string()], theme.good())
    } else {
        (
            vec![
                format!(
                    "unauthenticated: 60/h, each repository polled every ~{every} (GITHUB_TOKEN: 5,000/h)"
                ),
                format!("unauthenticated: 60/h, a poll per repository every ~{every}"),
                format!("unauthenticated: a poll every ~{every}"),
                "unauthenticated".to_string(),
            ],
            theme.warn(),
        )
    };
    // The pair of forms that fits with the least shortening of the two (on a tie, the fuller
    // summary), else the summary alone, else the authentication alone.
    let cost = |t: &str| t.chars().count() + 5;
    let mut pairs: Vec<(usize, Option<&String>, Option<&String>)> = Vec::new();
    for (i, sum) in summaries.iter().enumerate() {
        for (j, auth) in auths.iter().enumerate() {
            pairs.push((i + j, Some(sum), Some(auth)));
        }
    }
    let alone = summaries.len() + auths.len();
    pairs.extend(
        summaries
            .iter()
            .enumerate()
            .map(|(i, t)| (alone + i, Some(t), None)),
    );
    pairs.extend(
        auths
            .iter()
            .enumerate()
            .map(|(j, t)| (2 * alone + j, None, Some(t))),
    );
    pairs.sort_by_key(|&(rank, _, _)| rank);
    let (summary, auth) = pairs
        .into_iter()
        .find(|(_, sum, auth)| sum.map_or(0, |t| cost(t)) + auth.map_or(0, |t| cost(t)) <= room)
        .map_or((None, None), |(_, sum, auth)| (sum.cloned(), auth.cloned()));
    let mut spans = vec![Span::styled(name, theme.accent()), state];
    if let Some(text) = summary {
        spans.push(Span::raw("  ·  "));
        spans.push(Span::raw(text));
    }
    if let Some(text) = auth {
        spans.push(Span::raw("  ·  "));
        spans.push(Span::styled(text, auth_style));
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
