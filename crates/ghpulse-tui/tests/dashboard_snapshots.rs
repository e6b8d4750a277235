//! The dashboard drawn into ratatui's TestBackend at 80×24 and 120×40, with a fixed clock and
//! fixture data built from real recorded events, compared with insta snapshots.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use fake_github::data;
use ghpulse_core::EventMeta;
use ghpulse_core::Gap;
use ghpulse_core::RepoName;
use ghpulse_core::Window;
use ghpulse_core::{EventEntry, WebOrigin};
use ghpulse_core::{FetcherState, RepoView, Snapshot};
use ghpulse_core::{RateLimit, RequestCounters};
use ghpulse_core::{RepoState, RepoStatus};
use ghpulse_tui::app::{App, Chart, Effect, Mode, Period};
use ghpulse_tui::feed_view::{FeedLines, FeedScope};
use ghpulse_tui::theme::Theme;
use ghpulse_tui::ui;
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
            assumed: false,
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
        labels: Default::default(),
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
fn a_repository_catching_up_says_so() {
    // A poll was cut after page 1: what it read is shown, and the rest is owed.
    let mut s = with_data();
    s.repos[0].state.read_on = Some(ghpulse_core::ReadOn { before_id: Some(1) });
    check("catching_up", &App::default(), &s);
    // The statistics pane says it in its title too.
    let text = screen_text(&draw(&App::default(), &s, 80, 24, Theme::plain())).join("\n");
    assert!(text.contains("events in window catching up"), "{text}");
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
        assumed: false,
    };
    s.fetcher = FetcherState::WaitingForRateLimit {
        until: now() + TimeDelta::seconds(756),
    };
    check("rate_limited", &App::default(), &s);
}

#[test]
fn rate_limit_unknown_before_github_answers() {
    let mut s = snapshot(Vec::new());
    s.fetcher = FetcherState::Starting;
    s.rate_limit = RateLimit::assumed(false, now());
    let text = screen_text(&draw(&App::default(), &s, 80, 24, Theme::plain())).join("\n");
    assert!(
        text.contains("rate limit unknown until GitHub answers"),
        "{text}"
    );
    assert!(!text.contains("60/60"), "no invented figures: {text}");
    check("rate_limit_unknown", &App::default(), &s);
}

#[test]
fn demo_header() {
    let app = App {
        demo: true,
        ..App::default()
    };
    let s = with_data();
    let text = screen_text(&draw(&app, &s, 80, 24, Theme::plain())).join("\n");
    assert!(text.starts_with(" ghpulse demo "), "{text}");
    check("demo", &app, &s);
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
    let t = draw(&App::default(), &with_data(), 59, 20, Theme::plain());
    let first: String = (0..59)
        .map(|x| t.backend().buffer()[(x, 0)].symbol().to_string())
        .collect();
    assert_eq!(
        first.trim_end(),
        "Terminal too small for ghpulse: need 60×15, have 59×20"
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

// ---- The second pass: small screens, cut figures, scrolling, messages (issue 12) ----

fn screen_text(t: &Terminal<TestBackend>) -> Vec<String> {
    let buf = t.backend().buffer();
    (0..buf.area.height)
        .map(|y| {
            (0..buf.area.width)
                .map(|x| buf[(x, y)].symbol().to_string())
                .collect()
        })
        .collect()
}

/// A duration cut into a wrong value: "1h 4" (for "1h 41m"), a number after a unit with no
/// unit of its own.
fn cut_figures(lines: &[String]) -> Vec<String> {
    let mut found = Vec::new();
    for line in lines {
        let chars: Vec<char> = line.chars().collect();
        for i in 0..chars.len() {
            let unit = matches!(chars[i], 'd' | 'h' | 'm' | 's');
            let after_digit = i > 0 && chars[i - 1].is_ascii_digit();
            if !(unit && after_digit && chars.get(i + 1) == Some(&' ')) {
                continue;
            }
            let mut j = i + 2;
            if !chars.get(j).is_some_and(|c| c.is_ascii_digit()) {
                continue;
            }
            while chars.get(j).is_some_and(|c| c.is_ascii_digit()) {
                j += 1;
            }
            if !chars
                .get(j)
                .is_some_and(|c| matches!(c, 'd' | 'h' | 'm' | 's'))
            {
                found.push(line.clone());
            }
        }
    }
    found
}

const SIZES: [(u16, u16); 5] = [(60, 15), (80, 24), (100, 30), (120, 40), (200, 50)];

#[test]
fn the_cut_figure_detector_finds_a_cut() {
    assert_eq!(cut_figures(&["│ 1h 4 │".into()]).len(), 1);
    assert!(cut_figures(&["│ 1h 41m │ 1h… │ 3 4m".into()]).is_empty());
}

#[test]
fn no_figure_is_cut_at_any_size() {
    let mut s = with_errors();
    // The issue's cases: a long "Next poll" and an average over an hour.
    s.repos[4].state.next_poll_at = Some(now() + TimeDelta::seconds(3596));
    for (w, h) in SIZES {
        for focus_stats in [false, true] {
            let mut app = App::default();
            if focus_stats {
                app.on_key(KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE), &s);
            }
            for _ in 0..4 {
                let t = draw(&app, &s, w, h, Theme::plain());
                let lines = screen_text(&t);
                assert!(
                    cut_figures(&lines).is_empty(),
                    "{w}x{h}: {:?}\n{}",
                    cut_figures(&lines),
                    lines.join("\n")
                );
                app.on_key(key('j'), &s);
            }
        }
    }
}

#[test]
fn the_selection_stays_visible_at_the_minimum_size() {
    let s = with_data();
    let mut app = App::default();
    for _ in 0..3 {
        app.on_key(key('j'), &s);
    }
    let t = draw(&app, &s, 60, 15, Theme::plain());
    let lines = screen_text(&t);
    assert!(
        lines.iter().any(|l| l.contains("│github/gitignore")),
        "{}",
        lines.join("\n")
    );
    insta::assert_snapshot!("scrolled_60x15", t.backend());
    // g goes back to the top, G and End to the bottom.
    app.on_key(key('g'), &s);
    assert_eq!(app.selected, 0);
    app.on_key(KeyEvent::new(KeyCode::End, KeyModifiers::NONE), &s);
    assert_eq!(app.selected, 3);
    app.on_key(KeyEvent::new(KeyCode::Home, KeyModifiers::NONE), &s);
    assert_eq!(app.selected, 0);
    app.on_key(KeyEvent::new(KeyCode::Char('G'), KeyModifiers::SHIFT), &s);
    assert_eq!(app.selected, 3);
}

#[test]
fn the_footer_keeps_help_and_quit_at_every_size() {
    let s = with_data();
    let mut app = App::default();
    // A message takes footer room too.
    app.on_key(key('r'), &s);
    for (w, h) in SIZES {
        let t = draw(&app, &s, w, h, Theme::plain());
        let lines = screen_text(&t);
        let footer = lines.last().unwrap();
        assert!(
            footer.contains("? help") && footer.contains("q quit"),
            "{w}x{h}: {footer}"
        );
    }
}

#[test]
fn the_poll_message_expires() {
    let s = with_data();
    let mut app = App::default();
    app.on_key(key('r'), &s);
    let t = draw(&app, &s, 80, 24, Theme::plain());
    let footer = screen_text(&t).pop().unwrap();
    assert!(
        footer.contains("polling sigmavirus24/github3.py"),
        "{footer}"
    );
    assert!(!app.expire_message(std::time::Instant::now()));
    assert!(app.message.is_some(), "a message lasts a few seconds");
    assert!(app.expire_message(std::time::Instant::now() + std::time::Duration::from_secs(6)));
    let t = draw(&app, &s, 80, 24, Theme::plain());
    let footer = screen_text(&t).pop().unwrap();
    assert!(!footer.contains("polling"), "{footer}");
    assert!(
        footer.contains(" a add") && footer.contains(" r poll"),
        "{footer}"
    );
}

#[test]
fn the_help_fits_and_scrolls_at_the_minimum_size() {
    let s = with_data();
    let mut app = App::default();
    app.on_key(key('?'), &s);
    let t = draw(&app, &s, 60, 15, Theme::plain());
    insta::assert_snapshot!("help_60x15", t.backend());
    assert!(screen_text(&t).iter().any(|l| l.contains("(↑↓ scroll)")));
    // The end of the help is reachable, and the help is still open.
    app.on_key(key('G'), &s);
    assert_eq!(app.mode, Mode::Help);
    let t = draw(&app, &s, 60, 15, Theme::plain());
    let lines = screen_text(&t);
    assert!(
        lines.iter().any(|l| l.contains("closes this help")),
        "{}",
        lines.join("\n")
    );
    app.on_key(key('x'), &s);
    assert_eq!(app.mode, Mode::Normal);
}

#[test]
fn the_too_small_message_is_never_cut() {
    for (w, h) in [(59, 15), (50, 12), (40, 10), (24, 5), (12, 3), (5, 2)] {
        let t = draw(&App::default(), &with_data(), w, h, Theme::plain());
        let first = screen_text(&t)[0].trim_end().to_string();
        assert!(
            first.ends_with(&format!("×{h}")) || first.ends_with("60×15"),
            "{w}x{h}: {first:?}"
        );
    }
    let t = draw(&App::default(), &with_data(), 50, 12, Theme::plain());
    assert_eq!(
        screen_text(&t)[0].trim_end(),
        "Too small: need 60×15, have 50×12"
    );
}

#[test]
fn a_click_selects_the_row_under_the_pointer_after_scrolling() {
    use crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
    let s = with_data();
    let mut app = App::default();
    app.on_key(key('G'), &s);
    let mut terminal = Terminal::new(TestBackend::new(60, 15)).unwrap();
    let mut drawn = ui::Drawn::default();
    terminal
        .draw(|f| drawn = ui::render(f, &app, &s, now(), &Theme::plain()))
        .unwrap();
    assert!(drawn.repo_offset > 0, "the list scrolled");
    app.repo_rows = drawn.repo_rows;
    app.repo_offset = drawn.repo_offset;
    let click = MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column: drawn.repo_rows.x + 2,
        row: drawn.repo_rows.y,
        modifiers: KeyModifiers::NONE,
    };
    app.on_mouse(click, &s);
    assert_eq!(app.selected, drawn.repo_offset);
    let row = &screen_text(&terminal)[drawn.repo_rows.y as usize];
    assert!(
        row.contains(s.repos[app.selected].name.as_str()),
        "clicked {row:?}, selected {}",
        s.repos[app.selected].name
    );
}

/// Offline: the backoff has run out but the next poll waits for the interval.
fn offline() -> Snapshot {
    let mut s = with_data();
    s.fetcher = FetcherState::Offline {
        reason: "dns".into(),
    };
    for r in &mut s.repos {
        r.state = RepoState {
            status: RepoStatus::Backoff,
            last_error: Some(
                "request failed: error sending request for url (https://api.github.com/repos/x/y/events?per_page=100): client error (Connect): dns error: failed to lookup address information: Name or service not known".into(),
            ),
            consecutive_errors: 4,
            backoff_until: Some(now() - TimeDelta::seconds(20)),
            next_poll_at: Some(now() + TimeDelta::seconds(165)),
            ..ok_state(60)
        };
    }
    s
}

#[test]
fn offline_status_and_next_poll_agree_and_the_cause_is_readable() {
    let s = offline();
    for (w, h) in [(80, 24), (120, 40)] {
        let t = draw(&App::default(), &s, w, h, Theme::plain());
        let lines = screen_text(&t);
        let text = lines.join("\n");
        assert!(!text.contains("retry now"), "{w}x{h}:\n{text}");
        assert!(text.contains("retry in 2m 45s"), "{w}x{h}:\n{text}");
        // Wrapped inside the statistics pane (the left one on large screens): read the pane's
        // lines one after the other.
        let pane: Vec<&str> = lines.iter().filter_map(|l| l.split('│').nth(1)).collect();
        let flowing = pane
            .join(" ")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        assert!(
            flowing.contains("dns error: failed to lookup address information: Name or service not known; next try in 2m 45s"),
            "{w}x{h}: the cause is on screen:\n{text}"
        );
    }
    check("offline", &App::default(), &s);
}

#[test]
fn the_header_is_never_cut() {
    let mut waiting = with_data();
    waiting.fetcher = FetcherState::WaitingForRateLimit {
        until: now() + TimeDelta::seconds(756),
    };
    let mut unauth = waiting.clone();
    unauth.authenticated = false;
    for s in [with_data(), waiting, unauth] {
        for w in [60, 70, 80, 100] {
            let t = draw(&App::default(), &s, w, 24, Theme::plain());
            let top = screen_text(&t)[0].clone();
            assert!(top.ends_with(' '), "{w}: {top:?} reaches the edge: cut?");
        }
    }
}

#[test]
fn a_rejected_token_is_not_called_authenticated() {
    let mut s = with_data();
    s.fetcher = FetcherState::TokenRejected;
    let t = draw(&App::default(), &s, 120, 40, Theme::plain());
    let top = &screen_text(&t)[0];
    assert!(
        top.contains("token rejected") && !top.contains("authenticated"),
        "{top}"
    );
}

#[test]
fn no_repositories_is_idle_not_starting() {
    let mut s = snapshot(vec![]);
    s.fetcher = FetcherState::Starting;
    let t = draw(&App::default(), &s, 80, 24, Theme::plain());
    let top = &screen_text(&t)[0];
    assert!(!top.contains("starting") && top.contains("idle"), "{top}");
}

#[test]
fn the_layout_at_each_size() {
    let s = with_data();
    for (w, h) in SIZES {
        let t = draw(&App::default(), &s, w, h, Theme::plain());
        insta::assert_snapshot!(format!("layout_{w}x{h}"), t.backend());
    }
}

#[test]
fn slash_filters_the_focused_pane_and_esc_clears() {
    let s = with_data();
    let mut app = App::default();
    app.on_key(key('/'), &s);
    assert_eq!(app.mode, Mode::Filtering);
    for c in "PRAW".chars() {
        app.on_key(key(c), &s);
    }
    let t = draw(&app, &s, 80, 24, Theme::plain());
    insta::assert_snapshot!("filtered_80x24", t.backend());
    let text = screen_text(&t).join("\n");
    assert!(
        text.contains("│praw-dev/praw") && !text.contains("│sferik/rails_admin"),
        "{text}"
    );
    assert_eq!(app.selected, 2, "the selection follows the filter");
    // Enter keeps the filter; moving stays among the rows shown.
    app.on_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE), &s);
    app.on_key(key('j'), &s);
    assert_eq!(app.selected, 2);
    // The statistics pane has its own filter.
    app.on_key(KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE), &s);
    app.on_key(key('/'), &s);
    for c in "push".chars() {
        app.on_key(key(c), &s);
    }
    app.on_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE), &s);
    let text = screen_text(&draw(&app, &s, 120, 40, Theme::plain())).join("\n");
    assert!(
        text.contains("PushEvent") && !text.contains("WatchEvent"),
        "{text}"
    );
    // Esc clears the focused pane's filter.
    app.on_key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE), &s);
    assert!(app.stats_filter.is_empty());
    app.on_key(KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE), &s);
    app.on_key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE), &s);
    assert!(app.repo_filter.is_empty());
    let text = screen_text(&draw(&app, &s, 80, 24, Theme::plain())).join("\n");
    assert!(text.contains("│sferik/rails_admin"), "{text}");
}

#[test]
fn rebound_keys_work_and_the_help_and_footer_show_them() {
    use ghpulse_core::Keymap;
    use ghpulse_tui::keys::Keys;
    let s = with_data();
    let map = Keymap::with_overrides(&[("quit".into(), vec!["x".into(), "ctrl-q".into()])])
        .expect("a valid override");
    let mut app = App::new(Keys::new(map));
    assert_eq!(app.on_key(key('q'), &s), Effect::None);
    let t = draw(&app, &s, 80, 24, Theme::plain());
    let footer = screen_text(&t).pop().unwrap();
    assert!(footer.contains("x quit"), "{footer}");
    app.on_key(key('?'), &s);
    let t = draw(&app, &s, 120, 40, Theme::plain());
    let text = screen_text(&t).join("\n");
    assert!(
        text.contains("x/Ctrl-Q") && !text.contains("q/Ctrl-C"),
        "{text}"
    );
    app.on_key(key('?'), &s);
    assert_eq!(app.on_key(key('x'), &s), Effect::Quit);
}

#[test]
fn themes_colour_the_screen() {
    let s = with_errors();
    let buf_of = |theme: Theme| draw(&App::default(), &s, 120, 40, theme);
    let live_fg = |t: &Terminal<TestBackend>| {
        let buf = t.backend().buffer();
        let x = (0..120)
            .find(|&x| buf[(x, 0)].symbol() == "●")
            .expect("live");
        buf[(x, 0)].fg
    };
    assert_eq!(
        live_fg(&buf_of(Theme::build("default", &[], false))),
        Color::Green
    );
    assert_eq!(
        live_fg(&buf_of(Theme::build("light", &[], false))),
        Color::Indexed(28)
    );
    assert_eq!(
        live_fg(&buf_of(Theme::build("high-contrast", &[], false))),
        Color::LightGreen
    );
    assert_eq!(
        live_fg(&buf_of(Theme::build(
            "light",
            &[("good".into(), "#123456".into())],
            false
        ))),
        Color::Rgb(0x12, 0x34, 0x56)
    );
    // NO_COLOR wins over a theme and its overrides.
    assert_eq!(
        live_fg(&buf_of(Theme::build(
            "high-contrast",
            &[("good".into(), "#123456".into())],
            true
        ))),
        Color::Reset
    );
    // high-contrast marks the selection with a colour, not only reverse video.
    let t = buf_of(Theme::build("high-contrast", &[], false));
    let buf = t.backend().buffer();
    let y = (0..40)
        .find(|&y| {
            (0..120)
                .map(|x| buf[(x, y)].symbol().to_string())
                .collect::<String>()
                .contains("│sigmavirus24/github3.py")
        })
        .expect("first row");
    assert_eq!(buf[(2, y)].bg, Color::LightYellow);
}

fn enter() -> KeyEvent {
    KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)
}

fn esc() -> KeyEvent {
    KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE)
}

#[test]
fn enter_opens_the_gap_chart_of_the_selected_type_and_esc_closes_it() {
    let s = with_data();
    let mut app = App::default();
    app.on_key(KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE), &s);
    app.on_key(enter(), &s);
    assert!(matches!(app.chart, Some(Chart::Gaps(_))));
    check("gap_chart", &app, &s);
    // The chart's average and median are the table's (section 3), in its legend.
    let figures = ghpulse_core::repo_stats(&s.repos[0].events(), now(), &s.window, None);
    let Some(Chart::Gaps(t)) = &app.chart else {
        unreachable!()
    };
    let figures = figures
        .event_types
        .iter()
        .find(|x| &x.event_type == t)
        .unwrap();
    let text = screen_text(&draw(&app, &s, 120, 40, Theme::plain())).join("\n");
    let avg = ghpulse_core::humanize_seconds(figures.avg_seconds_between.unwrap());
    assert!(text.contains(&format!("average {avg}")), "{text}");
    app.on_key(esc(), &s);
    assert_eq!(app.chart, None);
}

#[test]
fn the_gap_chart_never_panics_on_thin_data() {
    let at = |id: u64, mins: i64| EventMeta {
        id,
        event_type: "PushEvent".into(),
        created_at: now() - TimeDelta::minutes(mins),
        actor: "someone".into(),
        action: None,
    };
    let cases = [
        vec![],
        vec![at(1, 5)],
        vec![at(3, 5), at(2, 5), at(1, 5)],
        vec![at(2, 0), at(1, 0)],
    ];
    for events in cases {
        let s = snapshot(vec![view("o/r", events, ok_state(5))]);
        for chart in [
            Chart::Gaps("PushEvent".into()),
            Chart::Gaps("IssuesEvent".into()),
            Chart::Counts(Period::Hour),
            Chart::Actions("PushEvent".into()),
            Chart::Actions("IssuesEvent".into()),
        ] {
            let app = App {
                chart: Some(chart),
                zoomed: true,
                ..App::default()
            };
            for (w, h) in [(60, 15), (80, 24), (120, 40), (200, 50)] {
                draw(&app, &s, w, h, Theme::plain());
            }
        }
    }
    let s = snapshot(vec![view("o/r", vec![at(2, 0), at(1, 0)], ok_state(5))]);
    let mut app = App::default();
    app.on_key(enter(), &s);
    check("gap_chart_zero_gaps", &app, &s);
}

#[test]
fn o_cycles_the_counts_by_type_over_hour_day_week_then_closes() {
    let s = with_data();
    let mut app = App::default();
    for (period, name) in [
        (Period::Hour, "counts_hour"),
        (Period::Day, "counts_day"),
        (Period::Week, "counts_week"),
    ] {
        app.on_key(key('o'), &s);
        assert_eq!(app.chart, Some(Chart::Counts(period)));
        check(name, &app, &s);
    }
    app.on_key(key('o'), &s);
    assert_eq!(app.chart, None);
}

#[test]
fn z_zooms_the_activity_to_the_last_24_hours() {
    let s = with_data();
    let mut app = App::default();
    app.on_key(key('z'), &s);
    assert!(app.zoomed);
    check("zoomed", &app, &s);
    app.on_key(key('z'), &s);
    assert!(!app.zoomed);
}

#[test]
fn a_shows_the_action_breakdown_of_the_selected_type() {
    let s = with_data();
    let mut app = App::default();
    // IssuesEvent has actions (opened, closed, ...): find its row.
    app.on_key(KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE), &s);
    app.on_key(key('/'), &s);
    for c in "Issues".chars() {
        app.on_key(key(c), &s);
    }
    app.on_key(enter(), &s);
    app.on_key(key('A'), &s);
    assert_eq!(app.chart, Some(Chart::Actions("IssuesEvent".into())));
    check("actions", &app, &s);
    app.on_key(esc(), &s);
    assert_eq!(app.chart, None);
}

#[test]
fn the_selected_repositorys_label_kpis_are_under_the_statistics() {
    use ghpulse_core::{GroupKpi, RepoLabels};
    let s = with_data();
    let labels = |repo: &str| RepoLabels {
        repo: repo.into(),
        issues_seen: 40,
        pull_requests_seen: 0,
        groups: vec![
            GroupKpi {
                group: "bug".into(),
                issues: 9,
                issue_share: Some(0.225),
                pull_requests: 0,
                pull_request_share: None,
            },
            GroupKpi {
                group: "performance".into(),
                issues: 1,
                issue_share: Some(0.025),
                pull_requests: 0,
                pull_request_share: None,
            },
        ],
    };
    let mut app = App {
        labels: Some(labels("sigmavirus24/github3.py")),
        ..App::default()
    };
    check("labels", &app, &s);
    let text = screen_text(&draw(&app, &s, 120, 40, Theme::plain())).join("\n");
    assert!(
        text.contains("bug: 9 issues") && text.contains("(22.5%)"),
        "{text}"
    );
    // Another repository's figures are never shown as the selection's.
    app.labels = Some(labels("praw-dev/praw"));
    let text = screen_text(&draw(&app, &s, 120, 40, Theme::plain())).join("\n");
    assert!(!text.contains("Labels:"), "{text}");
    // The loop asks again when the selection changes.
    let before = app.labels_key(&s, now());
    app.on_key(key('j'), &s);
    assert_ne!(app.labels_key(&s, now()), before);
}

#[test]
fn the_selected_repositorys_response_times_are_beside_the_label_kpis() {
    use ghpulse_core::{RepoResponseTimes, ResponseFigures};
    let s = with_data();
    let responses = |repo: &str| RepoResponseTimes {
        repo: repo.into(),
        partial: false,
        partial_reason: None,
        issues: ResponseFigures {
            opened: 12,
            responded: 9,
            first_response_median_seconds: Some(7500.0),
            first_response_p90_seconds: Some(97_200.0),
            waiting: 2,
            oldest_waiting_seconds: Some(3600.0),
            closed: 8,
            close_median_seconds: Some(86_400.0),
            close_p90_seconds: Some(432_000.0),
        },
        pull_requests: ResponseFigures {
            opened: 3,
            ..ResponseFigures::default()
        },
    };
    let mut app = App {
        responses: Some((now(), responses("sigmavirus24/github3.py"))),
        ..App::default()
    };
    check("responses", &app, &s);
    // The pane's lines as one text (80 columns: no pane beside it): wrapping breaks the line
    // where a space was.
    let words = |app: &App| {
        screen_text(&draw(app, &s, 80, 30, Theme::plain()))
            .join(" ")
            .replace('│', " ")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    let text = words(&app);
    assert!(
        text.contains("Response: issues 12 opened, 9 answered in 2h 5m (p90 1d 3h), 2 waiting (oldest 1h), 8 closed in 1d (p90 5d) · PRs 3 opened"),
        "{text}"
    );
    // The oldest wait is drawn as of the frame: ten minutes later it has grown by as much.
    app.responses = Some((
        now() - chrono::TimeDelta::minutes(10),
        responses("sigmavirus24/github3.py"),
    ));
    assert!(words(&app).contains("2 waiting (oldest 1h 10m)"), "{text}");
    // Another repository's figures are never shown as the selection's.
    app.responses = Some((now(), responses("praw-dev/praw")));
    let text = screen_text(&draw(&app, &s, 120, 40, Theme::plain())).join("\n");
    assert!(!text.contains("Response:"), "{text}");
}

/// A fixture repository's events as the feed lists them: newest first, each with its line
/// and page.
fn feed_entries(stem: &str, name: &str, minutes_ago: u64, span_hours: u64) -> Vec<EventEntry> {
    let mut raw = data::load_events(stem);
    let newest =
        std::time::SystemTime::from(now()) - std::time::Duration::from_secs(minutes_ago * 60);
    data::rescale(
        &mut raw,
        newest,
        300,
        std::time::Duration::from_secs(span_hours * 3600),
    );
    let repo = RepoName::parse(name).unwrap();
    let mut entries: Vec<(EventMeta, EventEntry)> = raw
        .iter()
        .filter_map(|v| {
            let meta = EventMeta::from_json(v).ok()?;
            let entry = EventEntry::new(&repo, &meta, &v.to_string(), &WebOrigin::default());
            Some((meta, entry))
        })
        .collect();
    entries.sort_by_key(|(m, _)| std::cmp::Reverse(m.order_key()));
    entries.into_iter().map(|(_, e)| e).take(500).collect()
}

/// The app after `keys`, with the feed's lines read for what it shows.
fn with_feed(s: &Snapshot, keys: &[KeyEvent], entries: Vec<EventEntry>) -> App {
    let mut app = App::default();
    for k in keys {
        app.on_key(*k, s);
    }
    let key = app.feed.as_ref().unwrap().key(s, app.selected).unwrap();
    app.on_feed_lines(FeedLines {
        key,
        entries: Arc::new(entries),
    });
    app
}

fn all_entries() -> Vec<EventEntry> {
    let mut all: Vec<EventEntry> = [
        ("sigmavirus24__github3.py", "sigmavirus24/github3.py", 2, 30),
        ("sferik__rails_admin", "sferik/rails_admin", 4, 60),
        ("praw-dev__praw", "praw-dev/praw", 7, 100),
        ("github__gitignore", "github/gitignore", 11, 140),
    ]
    .iter()
    .flat_map(|(stem, name, ago, span)| feed_entries(stem, name, *ago, *span))
    .collect();
    all.sort_by_key(|e| std::cmp::Reverse((e.created_at, e.id.parse::<u64>().unwrap())));
    all.truncate(500);
    all
}

#[test]
fn the_feed_at_each_size() {
    let s = with_data();
    let app = with_feed(
        &s,
        &[key('e')],
        feed_entries("sigmavirus24__github3.py", "sigmavirus24/github3.py", 2, 30),
    );
    assert_eq!(app.focus, ghpulse_tui::app::Focus::Feed);
    for (w, h) in [(60, 15), (80, 24), (100, 30), (120, 40), (200, 50)] {
        let t = draw(&app, &s, w, h, Theme::plain());
        insta::assert_snapshot!(format!("feed_{w}x{h}"), t.backend());
        let text = screen_text(&t).join("\n");
        assert!(text.contains("Feed of sigmavirus24/github3.py"), "{w}x{h}");
        if (w, h) >= (120, 40) {
            assert!(
                text.contains("Event type"),
                "{w}x{h}: the statistics stay beside it"
            );
        } else {
            assert!(
                !text.contains("Event type"),
                "{w}x{h}: it takes their place"
            );
        }
    }
}

#[test]
fn big_e_shows_every_repository_with_a_repository_column_and_e_goes_back() {
    let s = with_data();
    let mut app = with_feed(&s, &[key('E')], all_entries());
    for (w, h) in [(120, 40), (200, 50)] {
        let t = draw(&app, &s, w, h, Theme::plain());
        insta::assert_snapshot!(format!("feed_all_{w}x{h}"), t.backend());
        let text = screen_text(&t).join("\n");
        assert!(text.contains("Feed of all repositories"));
        assert!(text.contains("sferik/rails_admin") && text.contains("github/gitignore"));
    }
    app.on_key(key('E'), &s);
    assert_eq!(
        app.feed.as_ref().map(|f| f.scope),
        Some(FeedScope::Selected)
    );
    // `e` on the focused feed of the selection hides it; Esc does too.
    app.on_key(key('e'), &s);
    assert!(app.feed.is_none());
    app.on_key(key('e'), &s);
    app.on_key(esc(), &s);
    assert!(app.feed.is_none());
    assert_eq!(app.focus, ghpulse_tui::app::Focus::Repos);
}

/// The id of the feed's selected line and of the line on its top row, as drawn.
fn feed_position(app: &mut App, s: &Snapshot) -> (String, String) {
    let mut terminal = Terminal::new(TestBackend::new(120, 40)).unwrap();
    let mut drawn = ui::Drawn::default();
    terminal
        .draw(|f| drawn = ui::render(f, app, s, now(), &Theme::plain()))
        .unwrap();
    let feed = app.feed.as_mut().unwrap();
    feed.top = drawn.feed_top.clone();
    let entries = feed.lines.as_ref().unwrap().entries.clone();
    let visible = feed.visible(&entries);
    let selected = visible[feed.selected_row(&visible)].id.clone();
    (selected, visible[drawn.feed_offset].id.clone())
}

#[test]
fn the_feed_follows_new_events_at_the_top_and_stays_put_when_scrolled() {
    let s = with_data();
    let mut entries = feed_entries("sigmavirus24__github3.py", "sigmavirus24/github3.py", 2, 30);
    let newest: Vec<EventEntry> = entries.drain(..40).collect();
    let mut app = with_feed(&s, &[key('e')], entries.clone());
    let arrive = |app: &mut App, n: usize| {
        let mut lines: Vec<EventEntry> = newest[40 - n..].to_vec();
        lines.extend(entries.iter().cloned());
        let key = app.feed.as_ref().unwrap().key(&s, app.selected).unwrap();
        app.on_feed_lines(FeedLines {
            key,
            entries: Arc::new(lines),
        });
    };
    // At the top it follows: the newest line is selected as events arrive.
    assert_eq!(feed_position(&mut app, &s).0, entries[0].id);
    arrive(&mut app, 5);
    assert_eq!(feed_position(&mut app, &s).0, newest[35].id);
    // Scrolled down past a page, the selection and the view stay on their events.
    for _ in 0..40 {
        app.on_key(key('j'), &s);
    }
    let (selected, top) = feed_position(&mut app, &s);
    assert_ne!(top, newest[35].id, "scrolled past the first page");
    arrive(&mut app, 20);
    assert_eq!(feed_position(&mut app, &s), (selected, top.clone()));
    assert!(!app.feed.as_ref().unwrap().following());
    // `g` goes back to the newest and follows again.
    app.on_key(key('g'), &s);
    arrive(&mut app, 40);
    assert_eq!(feed_position(&mut app, &s).0, newest[0].id);
}

#[test]
fn slash_filters_the_feed_and_enter_opens_the_selected_lines_page() {
    let s = with_data();
    let entries = feed_entries("sigmavirus24__github3.py", "sigmavirus24/github3.py", 2, 30);
    let mut app = with_feed(&s, &[key('e')], entries.clone());
    app.on_key(key('/'), &s);
    for c in "fork".chars() {
        app.on_key(key(c), &s);
    }
    app.on_key(enter(), &s);
    let feed = app.feed.as_ref().unwrap();
    let visible = feed.visible(&entries);
    assert!(!visible.is_empty());
    assert!(visible.iter().all(|e| e.event_type == "ForkEvent"
        || e.summary.to_lowercase().contains("fork")
        || e.actor.to_lowercase().contains("fork")));
    let t = draw(&app, &s, 80, 24, Theme::plain());
    let text = screen_text(&t).join("\n");
    assert!(
        text.contains("/fork"),
        "the filter is in the title:\n{text}"
    );
    assert!(!text.contains("pushed"), "{text}");
    app.on_key(key('j'), &s);
    let want = visible[1].url.clone();
    assert!(want.starts_with("https://github.com/"), "{want}");
    assert_eq!(app.on_key(enter(), &s), Effect::Open(want));
    // With nothing to open, a message and no effect.
    app.on_key(key('/'), &s);
    for c in "no such thing".chars() {
        app.on_key(key(c), &s);
    }
    app.on_key(enter(), &s);
    assert_eq!(app.on_key(enter(), &s), Effect::None);
    assert!(app.message.as_ref().is_some_and(|m| m.error));
}

#[test]
fn feed_lines_carry_their_page_as_an_osc8_hyperlink_where_asked() {
    use ratatui::buffer::CellDiffOption;
    let s = with_data();
    let entries = feed_entries("sigmavirus24__github3.py", "sigmavirus24/github3.py", 2, 30);
    let mut app = with_feed(&s, &[key('e')], entries.clone());
    let links = |app: &App| {
        let t = draw(app, &s, 120, 40, Theme::plain());
        let buf = t.backend().buffer().clone();
        buf.content()
            .iter()
            .filter(|c| c.symbol().starts_with("\x1b]8;;"))
            .map(|c| (c.symbol().to_string(), c.diff_option))
            .collect::<Vec<_>>()
    };
    assert!(links(&app).is_empty(), "off unless the terminal takes them");
    app.hyperlinks = true;
    let found = links(&app);
    assert!(found.len() > 20, "{}", found.len());
    let (symbol, option) = &found[0];
    let text = symbol
        .strip_prefix(&format!("\x1b]8;;{}\x1b\\", entries[0].url))
        .and_then(|t| t.strip_suffix("\x1b]8;;\x1b\\"))
        .expect("the line's page around its text");
    assert!(
        entries[0].summary.starts_with(text.trim_end_matches('…')),
        "{text}"
    );
    assert_eq!(
        *option,
        CellDiffOption::ForcedWidth(
            std::num::NonZeroU16::new(text.chars().count() as u16).unwrap()
        ),
        "the link counts as its text's columns"
    );
    assert!(ghpulse_tui::hyperlinks_supported(Some("xterm-256color")));
    assert!(!ghpulse_tui::hyperlinks_supported(Some("dumb")));
    assert!(!ghpulse_tui::hyperlinks_supported(None));
}

/// 200 repositories as a team's list holds them: real activity of four kinds, some in error,
/// some rate limited, some with a gap in the window.
fn two_hundred(authenticated: bool) -> Snapshot {
    let kinds = [
        events("sigmavirus24__github3.py", 2, 30),
        events("sferik__rails_admin", 4, 60),
        events("praw-dev__praw", 7, 100),
        events("github__gitignore", 11, 140),
    ];
    let repos = (0..200)
        .map(|k| {
            let name = format!("team-{}/service-{k:03}", ["a", "b", "c"][k % 3]);
            let recent = kinds[(k * 7) % 4]
                .iter()
                .take(20 + k * 3)
                .cloned()
                .collect();
            let state = match k {
                _ if k % 37 == 5 => RepoState {
                    status: RepoStatus::Backoff,
                    last_error: Some("server error (HTTP 502)".into()),
                    consecutive_errors: 1,
                    backoff_until: Some(now() + TimeDelta::seconds(40)),
                    ..ok_state(20)
                },
                _ if k % 61 == 3 => RepoState {
                    status: RepoStatus::RateLimited,
                    ..ok_state(20)
                },
                _ => ok_state((k % 50) as i64),
            };
            let mut v = view(&name, recent, state);
            if k % 45 == 7 {
                v.gaps = Arc::new(vec![Gap {
                    detected_at: now() - TimeDelta::hours(2),
                    from: now() - TimeDelta::hours(30),
                    to: now() - TimeDelta::hours(29),
                    estimated_missing: 12,
                }]);
            }
            v
        })
        .collect();
    let mut s = snapshot(repos);
    s.max_repositories = 200;
    if !authenticated {
        s.authenticated = false;
        s.rate_limit = RateLimit {
            limit: 60,
            remaining: 41,
            used: 19,
            reset_at: now() + TimeDelta::seconds(1800),
            assumed: false,
        };
    }
    s
}

#[test]
fn two_hundred_repositories_are_summed_up_in_the_header() {
    check("two_hundred", &App::default(), &two_hundred(true));
    // Without a token the header says how often 60 requests an hour poll each of them.
    check(
        "two_hundred_unauthenticated",
        &App::default(),
        &two_hundred(false),
    );
}

#[test]
fn big_o_orders_the_repositories_by_name_activity_and_status() {
    let s = two_hundred(true);
    let mut app = App::default();
    for order in ["by_name", "by_activity", "by_status", "config_order"] {
        app.on_key(key('O'), &s);
        app.message = None;
        let t = draw(&app, &s, 120, 40, Theme::plain());
        insta::assert_snapshot!(format!("two_hundred_{order}_120x40"), t.backend());
    }
    // The selection stays on its repository whatever the order.
    app.on_key(key('j'), &s);
    let picked = app.selected;
    app.on_key(key('O'), &s);
    assert_eq!(app.selected, picked);
}
