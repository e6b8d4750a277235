//! `GET /metrics`: the snapshot's figures in the OpenMetrics text format (which Prometheus
//! scrapes), encoded by prometheus-client from a registry built for each scrape.

use std::sync::atomic::AtomicU64;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::ApiState;
use crate::snapshot::{Snapshot, StatsQuery};

pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RepoLabels {
    repo: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TypeLabels {
    repo: String,
    event_type: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: String,
}

/// Prometheus metrics: events in window, average seconds between events per repository and
/// type, GitHub requests by outcome, rate limit remaining.
#[utoipa::path(get, path = "/metrics", responses((status = 200, content_type = "application/openmetrics-text", body = String)))]
pub async fn metrics(State(state): State<ApiState>) -> Response {
    match render(&state.snapshot()) {
        Ok(text) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response(),
        Err(_) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

/// prometheus-client writes label values as given; repository names are safe by validation,
/// but event types are free strings from GitHub and must not break the text format.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

pub fn render(snapshot: &Snapshot) -> Result<String, std::fmt::Error> {
    let report = snapshot.stats(Utc::now(), &StatsQuery::default());
    let mut registry = Registry::with_prefix("ghpulse");

    let in_window = Family::<RepoLabels, Gauge>::default();
    let avg = Family::<TypeLabels, Gauge<f64, AtomicU64>>::default();
    let count = Family::<TypeLabels, Gauge>::default();
    let partial = Family::<RepoLabels, Gauge>::default();
    for r in &report.repositories {
        let repo = RepoLabels {
            repo: label(&r.repo),
        };
        in_window
            .get_or_create(&repo)
            .set(r.events_in_window as i64);
        partial.get_or_create(&repo).set(i64::from(r.partial));
        for t in &r.event_types {
            let labels = TypeLabels {
                repo: label(&r.repo),
                event_type: label(&t.event_type),
            };
            count.get_or_create(&labels).set(t.count as i64);
            // A type seen once has no average; it is left out rather than reported as 0.
            if let Some(a) = t.avg_seconds_between {
                avg.get_or_create(&labels).set(a);
            }
        }
    }
    registry.register(
        "events_in_window",
        "Events in the statistics window",
        in_window,
    );
    registry.register(
        "window_partial",
        "1 when events may be missing from the window",
        partial,
    );
    registry.register(
        "events_in_window_by_type",
        "Events of each type in the window",
        count,
    );
    registry.register(
        "avg_seconds_between_events",
        "Average seconds between consecutive events of a type",
        avg,
    );

    let requests = Family::<OutcomeLabels, Counter>::default();
    let c = snapshot.requests;
    for (outcome, n) in [
        ("ok", c.ok),
        ("not_modified", c.not_modified),
        ("error", c.errors),
        ("rate_limited", c.rate_limited),
    ] {
        requests
            .get_or_create(&OutcomeLabels {
                outcome: outcome.into(),
            })
            .inc_by(n);
    }
    registry.register(
        "github_requests",
        "Requests sent to GitHub, by outcome",
        requests,
    );

    let rl = snapshot.rate_limit.at(Utc::now());
    let remaining = Gauge::<i64>::default();
    remaining.set(i64::from(rl.remaining));
    registry.register(
        "rate_limit_remaining",
        "GitHub rate-limit requests remaining until reset",
        remaining,
    );
    let limit = Gauge::<i64>::default();
    limit.set(i64::from(rl.limit));
    registry.register(
        "rate_limit_limit",
        "GitHub rate-limit requests per window",
        limit,
    );

    let mut out = String::new();
    encode(&mut out, &registry)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::config::Window;
    use crate::event::EventMeta;
    use crate::ratelimit::{RateLimit, RequestCounters};
    use crate::repo::RepoName;
    use crate::snapshot::{FetcherState, RepoView};

    #[test]
    fn odd_event_types_cannot_break_the_text_format() {
        let now = Utc::now();
        let hostile = "Odd\"Type\\\nEvent";
        let ev = |id, mins| EventMeta {
            id,
            event_type: hostile.into(),
            created_at: now - chrono::TimeDelta::minutes(mins),
            actor: String::new(),
            action: None,
        };
        let snapshot = Snapshot {
            taken_at: now,
            config_path: "repositories.toml".into(),
            window: Window::default(),
            max_repositories: 5,
            authenticated: true,
            rate_limit: RateLimit::assumed(true, now),
            requests: RequestCounters::default(),
            fetcher: FetcherState::Live,
            repos: vec![RepoView {
                name: RepoName::parse("o/r").unwrap(),
                state: Default::default(),
                recent: Arc::new(vec![ev(2, 1), ev(1, 3)]),
                gaps: Arc::default(),
            }],
            config_error: None,
            stats_cache: Default::default(),
        };
        let text = render(&snapshot).unwrap();
        let line = text
            .lines()
            .find(|l| l.starts_with("ghpulse_events_in_window_by_type"))
            .expect(&text);
        assert_eq!(
            line,
            r#"ghpulse_events_in_window_by_type{repo="o/r",event_type="Odd\"Type\\\nEvent"} 2"#
        );
        let scrape =
            prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
        assert!(
            scrape
                .samples
                .iter()
                .any(|s| s.metric == "ghpulse_avg_seconds_between_events")
        );
    }
}
