//! The dashboard drawn into ratatui's TestBackend at 80×24 and 120×40, with a fixed clock and
//! fixture data built from real recorded events, compared with insta snapshots.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use fake_github::data;
use ghpulse::config::Window;
use ghpulse::event::EventMeta;
use ghpulse::ratelimit::{RateLimit, RequestCounters};
use ghpulse::repo::RepoName;
use ghpulse::snapshot::{FetcherState, RepoView, Snapshot};
use ghpulse::stats::Gap;
use ghpulse::store::{RepoState, RepoStatus};
use ghpulse::tui::app::{App, Effect, Mode};
use ghpulse::tui::theme::Theme;
use ghpulse::tui::ui;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Color;

fn now() -> DateTime<Utc> {
    "2026-11-22T12:00:00Z".parse().unwrap()
}

/// A fixture repository's real events, moved so the newest is `minutes_ago` before `now()`
/// and the 300 newest span `span_hours`, newest first as the store returns them.
fn events(stem: &str, minutes_ago: u64, span_hours: u64) -> Vec<EventMeta> {
    let mut raw = data::load_events(stem);
    let newest =
        std::time::SystemTime::from(now()) - std::time::Duration::from_secs(minutes_ago * 60);
    data::rescale(
        &mut raw,
        newest,
        300,
        std::time::Duration::from_secs(span_hours * 3600),
    );
    let mut metas: Vec<EventMeta> = raw
        .iter()
        .filter_map(|v| EventMeta::from_json(v).ok())
        .collect();
    metas.sort_by_key(|e| std::cmp::Reverse(e.order_key()));
    metas.truncate(500);
    metas
}

fn view(name: &str, recent: Vec<EventMeta>, state: RepoState) -> RepoView {
    RepoView {
        name: RepoName::parse(name).unwrap(),
        state,
        recent: Arc::new(recent),
        gaps: Arc::default(),
    }
}

fn ok_state(polled_secs_ago: i64) -> RepoState {
    RepoState {
        status: RepoStatus::Ok,
        last_polled_at: Some(now() - TimeDelta::seconds(polled_secs_ago)),
        next_poll_at: Some(now() + TimeDelta::seconds(60 - polled_secs_ago)),
        poll_interval_secs: Some(60),
        events_stored: 300,
        ..RepoState::default()
    }
}

fn snapshot(repos: Vec<RepoView>) -> Snapshot {
    Snapshot {
        taken_at: now(),
        config_path: "repositories.toml".into(),
        window: Window::default(),
        max_repositories: 5,
        authenticated: true,
        rate_limit: RateLimit {
            limit: 5000,
            remaining: 4912,
            used: 88,
            reset_at: now() + TimeDelta::seconds(2537),
        },
        requests: RequestCounters {
            total: 120,
            ok: 40,
            not_modified: 78,
            errors: 2,
            rate_limited: 0,
        },
        fetcher: FetcherState::Live,
        repos,
        config_error: None,
        stats_cache: Default::default(),
    }
}

fn with_data() -> Snapshot {
    let mut partial = view(
        "praw-dev/praw",
        events("praw-dev__praw", 7, 100),
        ok_state(12),
    );
    partial.gaps = Arc::new(vec![Gap {
        detected_at: now() - TimeDelta::hours(2),
        from: now() - TimeDelta::hours(30),
        to: now() - TimeDelta::hours(29),
        estimated_missing: 12,
    }]);
    snapshot(vec![
        view(
            "sigmavirus24/github3.py",
            events("sigmavirus24__github3.py", 2, 30),
            ok_state(5),
        ),
        view(
            "sferik/rails_admin",
            events("sferik__rails_admin", 4, 60),
            ok_state(30),
        ),
        partial,
        view(
            "github/gitignore",
            events("github__gitignore", 11, 140),
            ok_state(45),
        ),
    ])
}

fn with_errors() -> Snapshot {
    let mut s = with_data();
    s.repos[1].state = RepoState {
        status: RepoStatus::Backoff,
        last_error: Some("server error (HTTP 502)".into()),
        consecutive_errors: 2,
        backoff_until: Some(now() + TimeDelta::seconds(150)),
        ..ok_state(20)
    };
    s.repos.push(view(
        "ghpulse-demo/missing",
        vec![],
        RepoState {
            status: RepoStatus::NotFound,
            last_error: Some("not found (HTTP 404)".into()),
            last_polled_at: Some(now() - TimeDelta::minutes(3)),
            next_poll_at: Some(now() + TimeDelta::minutes(57)),
            ..RepoState::default()
        },
    ));
    s
}

fn draw(app: &App, s: &Snapshot, width: u16, height: u16, theme: Theme) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal
        .draw(|f| {
            ui::render(f, app, s, now(), &theme);
        })
        .unwrap();
    terminal
}

fn key(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
}

/// Both sizes of one screen.
fn check(name: &str, app: &App, s: &Snapshot) {
    for (w, h) in [(80, 24), (120, 40)] {
        let t = draw(app, s, w, h, Theme::plain());
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), t.backend());
    }
}

#[test]
fn main_view_with_data() {
    check("main", &App::default(), &with_data());
}

#[test]
fn no_repositories_yet() {
    check("empty", &App::default(), &snapshot(vec![]));
}

#[test]
fn help_overlay() {
    let s = with_data();
    let mut app = App::default();
    assert_eq!(app.on_key(key('?'), &s), Effect::None);
    assert_eq!(app.mode, Mode::Help);
    check("help", &app, &s);
}

#[test]
fn add_prompt_with_a_validation_error() {
    let s = with_data();
    let mut app = App::default();
    app.on_key(key('a'), &s);
    for c in "Praw-Dev/PRAW".chars() {
        app.on_key(key(c), &s);
    }
    // Enter on an invalid name does nothing: the prompt stays with its message.
    assert_eq!(
        app.on_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE), &s),
        Effect::None
    );
    check("add_duplicate", &app, &s);

    let mut bad = App::default();
    bad.on_key(key('a'), &s);
    for c in "not a repo".chars() {
        bad.on_key(key(c), &s);
    }
    check("add_malformed", &bad, &s);
}

#[test]
fn remove_confirmation() {
    let s = with_data();
    let mut app = App::default();
    app.on_key(KeyEvent::new(KeyCode::Down, KeyModifiers::NONE), &s);
    app.on_key(key('d'), &s);
    check("remove_confirm", &app, &s);
    assert_eq!(
        app.on_key(key('y'), &s),
        Effect::Remove(RepoName::parse("sferik/rails_admin").unwrap())
    );
}

#[test]
fn rate_limited_header() {
    let mut s = with_data();
    s.authenticated = false;
    s.rate_limit = RateLimit {
        limit: 60,
        remaining: 0,
        used: 60,
        reset_at: now() + TimeDelta::seconds(754),
    };
    s.fetcher = FetcherState::WaitingForRateLimit {
        until: now() + TimeDelta::seconds(756),
    };
    check("rate_limited", &App::default(), &s);
}

#[test]
fn token_rejected_header() {
    let mut s = with_data();
    s.fetcher = FetcherState::TokenRejected;
    for r in &mut s.repos {
        r.state.status = RepoStatus::TokenRejected;
        r.state.last_error =
            Some("token rejected (HTTP 401); check GITHUB_TOKEN / GH_TOKEN".into());
    }
    check("token_rejected", &App::default(), &s);
}

#[test]
fn repositories_in_error() {
    let s = with_errors();
    let mut app = App::default();
    app.on_key(KeyEvent::new(KeyCode::Down, KeyModifiers::NONE), &s);
    check("errors", &app, &s);
}

#[test]
fn sorted_by_average_and_focused_on_statistics() {
    let s = with_data();
    let mut app = App::default();
    app.on_key(KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE), &s);
    app.on_key(key('s'), &s); // Count -> Average
    app.on_key(KeyEvent::new(KeyCode::Down, KeyModifiers::NONE), &s);
    let t = draw(&app, &s, 120, 40, Theme::plain());
    insta::assert_snapshot!("sorted_by_average_120x40", t.backend());
}

#[test]
fn a_tiny_terminal_gets_one_line() {
    let t = draw(&App::default(), &with_data(), 40, 10, Theme::plain());
    let first: String = (0..40)
        .map(|x| t.backend().buffer()[(x, 0)].symbol().to_string())
        .collect();
    assert!(
        first.starts_with("Terminal too small for ghpulse"),
        "{first}"
    );
}

#[test]
fn no_color_means_no_colour_but_colour_otherwise() {
    let s = with_errors();
    let plain = draw(&App::default(), &s, 120, 40, Theme::plain());
    let coloured = draw(&App::default(), &s, 120, 40, Theme::coloured());
    let colours = |t: &Terminal<TestBackend>| {
        t.backend()
            .buffer()
            .content()
            .iter()
            .filter(|c| c.fg != Color::Reset || c.bg != Color::Reset)
            .count()
    };
    assert_eq!(colours(&plain), 0, "NO_COLOR: no colour at all");
    assert!(colours(&coloured) > 50);
    // "● live" is green when colour is allowed.
    let buf = coloured.backend().buffer();
    let live = (0..120)
        .find(|&x| buf[(x, 0)].symbol() == "●")
        .expect("live marker");
    assert_eq!(buf[(live, 0)].fg, Color::Green);
}

#[test]
fn a_config_file_not_in_force() {
    let mut s = with_data();
    s.config_error = Some(
        "repositories.toml:3: repositories[1]: \"not a repo\" is not of the form owner/name".into(),
    );
    check("config_error", &App::default(), &s);
}
