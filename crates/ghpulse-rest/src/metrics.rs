//! `GET /metrics`: the snapshot's figures in the OpenMetrics text format or the Prometheus
//! text format 0.0.4, as the scraper's `Accept` header prefers, encoded by prometheus-client
//! from a registry built for each scrape.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    DescriptorEncoder, EncodeLabelSet, EncodeMetric, prometheus_text, text,
};
use prometheus_client::metrics::TypedMetric;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::registry::Registry;

use ghpulse_core::{PartialReason, ResponseFigures, ResponseTimesReport, Snapshot, StatsQuery};

use crate::state::ApiState;

pub const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
pub const TEXT_0_0_4: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    OpenMetrics,
    Text,
}

impl Format {
    /// The format the `Accept` header ranks higher; OpenMetrics on a tie, the 0.0.4 text
    /// format when neither is asked for (a browser, `curl` without `-H`).
    pub fn negotiate(accept: &str) -> Format {
        let (mut openmetrics, mut text) = (None, None);
        for range in accept.split(',') {
            let mut parts = range.split(';').map(str::trim);
            let media = parts.next().unwrap_or_default().to_ascii_lowercase();
            let q = parts
                .filter_map(|p| p.strip_prefix("q="))
                .find_map(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            let slot = match media.as_str() {
                "application/openmetrics-text" => &mut openmetrics,
                "text/plain" => &mut text,
                _ => continue,
            };
            *slot = Some(slot.map_or(q, |old: f32| old.max(q)));
        }
        match (openmetrics, text) {
            (Some(o), t) if o > 0.0 && o >= t.unwrap_or(0.0) => Format::OpenMetrics,
            _ => Format::Text,
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Format::OpenMetrics => OPENMETRICS,
            Format::Text => TEXT_0_0_4,
        }
    }
}

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
struct QuantileLabels {
    repo: String,
    event_type: String,
    quantile: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ItemLabels {
    repo: String,
    item: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ItemQuantileLabels {
    repo: String,
    item: &'static str,
    quantile: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    repo: String,
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

/// A metric family whose series are written in the order they were added (repositories in
/// config order, event types by name); prometheus-client's `Family` writes them in hash order.
#[derive(Debug)]
struct Ordered<L, M> {
    name: &'static str,
    help: &'static str,
    series: Vec<(L, M)>,
}

impl<L, M> Ordered<L, M> {
    fn new(name: &'static str, help: &'static str) -> Self {
        Ordered {
            name,
            help,
            series: Vec::new(),
        }
    }
}

impl<L, M> Collector for Ordered<L, M>
where
    L: EncodeLabelSet + std::fmt::Debug + Send + Sync + 'static,
    M: EncodeMetric + TypedMetric + std::fmt::Debug + Send + Sync + 'static,
{
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let mut family = encoder.encode_descriptor(self.name, self.help, None, M::TYPE)?;
        for (labels, metric) in &self.series {
            metric.encode(family.encode_family(labels)?)?;
        }
        Ok(())
    }
}

/// Prometheus metrics: events in window, whether (and why) they may be incomplete, average
/// seconds between events per repository and type, GitHub requests by outcome, rate limit
/// remaining.
#[utoipa::path(get, path = "/metrics", responses(
    (status = 200, content_type = "application/openmetrics-text", body = String),
    (status = 200, content_type = "text/plain", body = String),
))]
pub async fn metrics(State(state): State<ApiState>, headers: HeaderMap) -> Response {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let format = Format::negotiate(accept);
    // Response times need the stored JSON: read off the executor. A store that cannot be
    // read costs the scrape those series, not the others.
    let query = state.query();
    let responses =
        match tokio::task::spawn_blocking(move || query.response_times(Utc::now(), None)).await {
            Ok(Ok(report)) => Some(report),
            Ok(Err(e)) => {
                tracing::warn!("metrics: response times: {e}");
                None
            }
            Err(e) => {
                tracing::warn!("metrics: response times: {e}");
                None
            }
        };
    match render(&state.snapshot(), responses.as_ref(), format) {
        Ok(body) => ([(header::CONTENT_TYPE, format.content_type())], body).into_response(),
        Err(_) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

pub fn render(
    snapshot: &Snapshot,
    responses: Option<&ResponseTimesReport>,
    format: Format,
) -> Result<String, std::fmt::Error> {
    let report = snapshot.stats(Utc::now(), &StatsQuery::default());
    let mut registry = Registry::with_prefix("ghpulse");

    let mut in_window = Ordered::new("events_in_window", "Events in the statistics window");
    let mut partial = Ordered::new(
        "window_partial",
        "1 when events may be missing from the window",
    );
    let mut partial_reason = Ordered::new(
        "window_partial_reason",
        "1 for the reason events may be missing from the window (catching_up, gap), else 0",
    );
    let mut count = Ordered::new(
        "events_in_window_by_type",
        "Events of each type in the window",
    );
    let mut avg = Ordered::new(
        "avg_seconds_between_events",
        "Average seconds between consecutive events of a type",
    );
    // Gauges with a `quantile` label rather than a summary: a summary's `_sum` and `_count`
    // are counters of every observation since start, but these figures are recomputed over
    // a sliding window and fall as well as rise.
    let mut between = Ordered::new(
        "seconds_between_events",
        "Percentiles (quantile 0.25, 0.5, 0.75, 0.9) of the seconds between consecutive events of a type in the window",
    );
    for r in report.repositories.iter().map(|r| &r.figures) {
        let repo = RepoLabels {
            repo: r.repo.clone(),
        };
        in_window
            .series
            .push((repo.clone(), ConstGauge::new(r.events_in_window as i64)));
        partial
            .series
            .push((repo, ConstGauge::new(i64::from(r.partial))));
        for reason in [PartialReason::CatchingUp, PartialReason::Gap] {
            let labels = ReasonLabels {
                repo: r.repo.clone(),
                reason: reason.as_str(),
            };
            let on = r.partial_reason == Some(reason);
            partial_reason
                .series
                .push((labels, ConstGauge::new(i64::from(on))));
        }
        for t in &r.event_types {
            let labels = TypeLabels {
                repo: r.repo.clone(),
                event_type: t.event_type.clone(),
            };
            // A type seen once has no average; it is left out rather than reported as 0.
            if let Some(a) = t.avg_seconds_between {
                avg.series.push((labels.clone(), ConstGauge::new(a)));
            }
            for (quantile, v) in [
                ("0.25", t.p25_seconds_between),
                ("0.5", t.median_seconds_between),
                ("0.75", t.p75_seconds_between),
                ("0.9", t.p90_seconds_between),
            ] {
                if let Some(v) = v {
                    let labels = QuantileLabels {
                        repo: r.repo.clone(),
                        event_type: t.event_type.clone(),
                        quantile,
                    };
                    between.series.push((labels, ConstGauge::new(v)));
                }
            }
            count.series.push((labels, ConstGauge::new(t.count as i64)));
        }
    }
    registry.register_collector(Box::new(in_window));
    registry.register_collector(Box::new(partial));
    registry.register_collector(Box::new(partial_reason));
    registry.register_collector(Box::new(count));
    registry.register_collector(Box::new(avg));
    registry.register_collector(Box::new(between));
    if let Some(report) = responses {
        register_response_times(&mut registry, report);
    }

    let c = snapshot.requests;
    let mut requests = Ordered::new("github_requests", "Requests sent to GitHub, by outcome");
    for (outcome, n) in [
        ("ok", c.ok),
        ("not_modified", c.not_modified),
        ("error", c.errors),
        ("rate_limited", c.rate_limited),
    ] {
        requests
            .series
            .push((OutcomeLabels { outcome }, ConstCounter::new(n)));
    }
    registry.register_collector(Box::new(requests));

    // Before GitHub's first answer there is no figure to report: a series absent, not an
    // invented 60 or 5000.
    let rl = snapshot.rate_limit.at(Utc::now());
    if !rl.assumed {
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
    }

    let mut out = String::new();
    match format {
        Format::OpenMetrics => text::encode(&mut out, &registry)?,
        Format::Text => prometheus_text::encode(&mut out, &registry)?,
    }
    Ok(out)
}

/// Section 3b's figures, labelled by repository and `item` (`issue`, `pull_request`); the
/// medians and p90s as gauges with a `quantile` label, like the gaps between events. A figure
/// over no item (null in the JSON) is left out.
fn register_response_times(registry: &mut Registry, report: &ResponseTimesReport) {
    let mut opened = Ordered::new(
        "items_opened",
        "Issues or pull requests opened in the window",
    );
    let mut responded = Ordered::new(
        "items_responded",
        "Items opened in the window that someone other than the author or a bot answered",
    );
    let mut waiting = Ordered::new(
        "items_waiting",
        "Items opened in the window, not answered and not closed",
    );
    let mut closed = Ordered::new(
        "items_closed",
        "Items opened in the window and closed since",
    );
    let mut oldest = Ordered::new(
        "oldest_waiting_seconds",
        "Seconds since the opening of the oldest waiting item",
    );
    let mut first_response = Ordered::new(
        "first_response_seconds",
        "Percentiles (quantile 0.5, 0.9) of the seconds from opening to the first answer",
    );
    let mut close = Ordered::new(
        "close_seconds",
        "Percentiles (quantile 0.5, 0.9) of the seconds from opening to close",
    );
    for r in &report.repositories {
        for (item, f) in [("issue", &r.issues), ("pull_request", &r.pull_requests)] {
            let labels = ItemLabels {
                repo: r.repo.clone(),
                item,
            };
            let ResponseFigures {
                opened: o,
                responded: a,
                waiting: w,
                closed: c,
                ..
            } = *f;
            for (family, n) in [
                (&mut opened, o),
                (&mut responded, a),
                (&mut waiting, w),
                (&mut closed, c),
            ] {
                family
                    .series
                    .push((labels.clone(), ConstGauge::new(n as i64)));
            }
            if let Some(s) = f.oldest_waiting_seconds {
                oldest.series.push((labels.clone(), ConstGauge::new(s)));
            }
            for (family, median, p90) in [
                (
                    &mut first_response,
                    f.first_response_median_seconds,
                    f.first_response_p90_seconds,
                ),
                (&mut close, f.close_median_seconds, f.close_p90_seconds),
            ] {
                for (quantile, v) in [("0.5", median), ("0.9", p90)] {
                    if let Some(v) = v {
                        let labels = ItemQuantileLabels {
                            repo: r.repo.clone(),
                            item,
                            quantile,
                        };
                        family.series.push((labels, ConstGauge::new(v)));
                    }
                }
            }
        }
    }
    registry.register_collector(Box::new(opened));
    registry.register_collector(Box::new(responded));
    registry.register_collector(Box::new(waiting));
    registry.register_collector(Box::new(closed));
    registry.register_collector(Box::new(oldest));
    registry.register_collector(Box::new(first_response));
    registry.register_collector(Box::new(close));
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use ghpulse_core::{
        EventMeta, FetcherState, RateLimit, RepoName, RepoView, RequestCounters, Window,
    };

    fn snapshot(repos: &[(&str, &[&str])]) -> Snapshot {
        let now = Utc::now();
        let ev = |id, event_type: &str, mins| EventMeta {
            id,
            event_type: event_type.into(),
            created_at: now - chrono::TimeDelta::minutes(mins),
            actor: Default::default(),
            action: None,
        };
        Snapshot {
            taken_at: now,
            config_path: "repositories.toml".into(),
            window: Window::default(),
            max_repositories: 5,
            authenticated: true,
            rate_limit: RateLimit::assumed(true, now),
            requests: RequestCounters::default(),
            fetcher: FetcherState::Live,
            repos: repos
                .iter()
                .map(|(name, types)| RepoView {
                    name: RepoName::parse(name).unwrap(),
                    state: Default::default(),
                    recent: Arc::new(
                        (0..types.len() * 2)
                            .map(|i| ev(100 - i as u64, types[i % types.len()], i as i64 + 1))
                            .collect(),
                    ),
                    gaps: Arc::default(),
                })
                .collect(),
            config_error: None,
            labels: Default::default(),
            stats_cache: Default::default(),
        }
    }

    #[test]
    fn the_rate_limit_is_reported_only_once_github_has_sent_it() {
        let mut s = snapshot(&[("o/n", &["PushEvent"])]);
        let series = |s: &Snapshot| -> Vec<String> {
            render(s, None, Format::Text)
                .unwrap()
                .lines()
                .filter(|l| l.starts_with("ghpulse_rate_limit_"))
                .map(str::to_string)
                .collect()
        };
        assert_eq!(
            series(&s),
            Vec::<String>::new(),
            "assumed figures are no figures"
        );
        s.rate_limit = RateLimit {
            assumed: false,
            remaining: 4321,
            ..s.rate_limit
        };
        assert_eq!(
            series(&s),
            [
                "ghpulse_rate_limit_remaining 4321",
                "ghpulse_rate_limit_limit 5000"
            ]
        );
    }

    #[test]
    fn why_a_window_is_partial_is_a_labelled_gauge() {
        let mut s = snapshot(&[("o/caught-up", &["PushEvent"]), ("o/owed", &["PushEvent"])]);
        s.repos[0].state.last_polled_at = Some(Utc::now());
        s.repos[1].state.read_on = Some(ghpulse_core::ReadOn { before_id: None });
        let text = render(&s, None, Format::OpenMetrics).unwrap();
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("ghpulse_window_partial"))
            .collect();
        assert_eq!(
            lines,
            [
                r#"ghpulse_window_partial{repo="o/caught-up"} 0"#,
                r#"ghpulse_window_partial{repo="o/owed"} 1"#,
                r#"ghpulse_window_partial_reason{repo="o/caught-up",reason="catching_up"} 0"#,
                r#"ghpulse_window_partial_reason{repo="o/caught-up",reason="gap"} 0"#,
                r#"ghpulse_window_partial_reason{repo="o/owed",reason="catching_up"} 1"#,
                r#"ghpulse_window_partial_reason{repo="o/owed",reason="gap"} 0"#,
            ],
            "{text}"
        );
    }

    #[test]
    fn odd_event_types_cannot_break_the_text_format() {
        let hostile = "Odd\"Type\\\nEvent";
        let text = render(&snapshot(&[("o/r", &[hostile])]), None, Format::OpenMetrics).unwrap();
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

    #[test]
    fn series_come_in_config_order_then_by_event_type_in_both_formats() {
        let snapshot = snapshot(&[
            ("zz/last-name", &["WatchEvent", "ForkEvent", "IssuesEvent"]),
            ("aa/first-name", &["PushEvent", "CreateEvent"]),
        ]);
        let expected = [
            "zz/last-name ForkEvent",
            "zz/last-name IssuesEvent",
            "zz/last-name WatchEvent",
            "aa/first-name CreateEvent",
            "aa/first-name PushEvent",
        ];
        for format in [Format::OpenMetrics, Format::Text] {
            let text = render(&snapshot, None, format).unwrap();
            let scrape =
                prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
            let order: Vec<String> = scrape
                .samples
                .iter()
                .filter(|s| s.metric == "ghpulse_events_in_window_by_type")
                .map(|s| format!("{} {}", s.labels["repo"], s.labels["event_type"]))
                .collect();
            assert_eq!(order, expected, "{format:?}:\n{text}");
            let outcomes: Vec<&str> = scrape
                .samples
                .iter()
                .filter(|s| s.metric == "ghpulse_github_requests_total")
                .map(|s| s.labels["outcome"].as_str())
                .collect();
            assert_eq!(outcomes, ["ok", "not_modified", "error", "rate_limited"]);
            assert_eq!(text.ends_with("# EOF\n"), format == Format::OpenMetrics);
        }
    }

    #[test]
    fn gap_percentiles_are_gauges_by_quantile() {
        // Events 1, 2, 3 minutes old: gaps of 60 s, so every percentile is 60.
        let text = render(
            &snapshot(&[("o/r", &["PushEvent"])]),
            None,
            Format::OpenMetrics,
        )
        .unwrap();
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("seconds_between_events{"))
            .filter(|l| l.starts_with("ghpulse_seconds_between"))
            .collect();
        assert_eq!(
            lines,
            [
                r#"ghpulse_seconds_between_events{repo="o/r",event_type="PushEvent",quantile="0.25"} 60.0"#,
                r#"ghpulse_seconds_between_events{repo="o/r",event_type="PushEvent",quantile="0.5"} 60.0"#,
                r#"ghpulse_seconds_between_events{repo="o/r",event_type="PushEvent",quantile="0.75"} 60.0"#,
                r#"ghpulse_seconds_between_events{repo="o/r",event_type="PushEvent",quantile="0.9"} 60.0"#,
            ],
            "{text}"
        );
        assert!(text.contains("# TYPE ghpulse_seconds_between_events gauge"));
    }

    #[test]
    fn response_times_are_gauges_by_item_and_quantile() {
        let figures = ResponseFigures {
            opened: 3,
            responded: 2,
            first_response_median_seconds: Some(90.5),
            first_response_p90_seconds: Some(300.0),
            waiting: 1,
            oldest_waiting_seconds: Some(7200.0),
            ..ResponseFigures::default()
        };
        let report = ResponseTimesReport {
            generated_at: Utc::now(),
            repositories: vec![ghpulse_core::RepoResponseTimes {
                repo: "o/r".into(),
                partial: false,
                partial_reason: None,
                issues: figures,
                pull_requests: ResponseFigures::default(),
            }],
        };
        let text = render(
            &snapshot(&[("o/r", &["PushEvent"])]),
            Some(&report),
            Format::Text,
        )
        .unwrap();
        for line in [
            r#"ghpulse_items_opened{repo="o/r",item="issue"} 3"#,
            r#"ghpulse_items_opened{repo="o/r",item="pull_request"} 0"#,
            r#"ghpulse_items_waiting{repo="o/r",item="issue"} 1"#,
            r#"ghpulse_oldest_waiting_seconds{repo="o/r",item="issue"} 7200.0"#,
            r#"ghpulse_first_response_seconds{repo="o/r",item="issue",quantile="0.5"} 90.5"#,
            r#"ghpulse_first_response_seconds{repo="o/r",item="issue",quantile="0.9"} 300.0"#,
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
        }
        // Figures over no item are left out, not reported as 0.
        assert!(
            !text.contains(r#"ghpulse_oldest_waiting_seconds{repo="o/r",item="pull_request"}"#)
        );
        assert!(!text.contains("ghpulse_close_seconds{"));
        prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
    }

    #[test]
    fn prometheus_scrapes_get_openmetrics_and_plain_clients_the_text_format() {
        // What Prometheus 2.x and 3.x send.
        let prometheus = "application/openmetrics-text;version=1.0.0;q=0.5,\
            application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
        assert_eq!(Format::negotiate(prometheus), Format::OpenMetrics);
        assert_eq!(
            Format::negotiate("application/openmetrics-text"),
            Format::OpenMetrics
        );
        for text in [
            "",
            "*/*",
            "text/plain",
            "text/plain;version=0.0.4",
            "text/plain;q=0.9, application/openmetrics-text;q=0.5",
            "application/openmetrics-text;q=0",
            "text/html,application/xhtml+xml",
        ] {
            assert_eq!(Format::negotiate(text), Format::Text, "{text:?}");
        }
    }
}
