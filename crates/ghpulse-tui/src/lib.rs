//! The dashboard: a thin view over the engine. It draws the latest snapshot and sends the
//! user's changes as engine commands. It redraws on input, new data, resize and a 1 Hz tick
//! (for countdowns) — never in a busy loop.

pub mod app;
pub mod feed_view;
pub mod keys;
pub mod theme;
pub mod ui;

use std::io::{BufWriter, Stdout, Write};
use std::time::Duration;

use chrono::Utc;
use crossterm::event::{
    DisableMouseCapture, EnableMouseCapture, Event, EventStream, KeyEventKind, MouseEventKind,
};
use crossterm::terminal::{BeginSynchronizedUpdate, EndSynchronizedUpdate};
use futures::StreamExt;
use tokio::sync::mpsc;

use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

use app::{App, Effect};
use feed_view::{FEED_LIMIT, FeedLines};
use ghpulse_core::{Config, EngineHandle, RepoLabels, RepoResponseTimes};
use keys::Keys;
use theme::Theme;

/// Stdout is line-buffered and a frame has no newlines: without a buffer of our own a frame
/// would reach the terminal in pieces, and a slow link would show half-drawn screens. Each
/// frame is written whole, inside a synchronized update, with one flush.
type Screen = Terminal<CrosstermBackend<BufWriter<Stdout>>>;
const FRAME_BUFFER: usize = 256 * 1024;

/// How the dashboard looks and which keys it answers, resolved at start-up.
pub struct Options {
    pub theme: Theme,
    pub keys: Keys,
    /// Feed lines carry OSC 8 hyperlinks (see [`hyperlinks_supported`]).
    pub hyperlinks: bool,
    /// `ghpulse demo`: "demo" in the header, so a replay is never taken for GitHub.
    pub demo: bool,
}

/// Whether the terminal may get OSC 8 hyperlinks: terminals that do not know them ignore
/// them, but a `dumb` terminal and the Linux console would show them as text.
pub fn hyperlinks_supported(term: Option<&str>) -> bool {
    term.is_some_and(|t| !t.is_empty() && t != "dumb" && t != "linux")
}

impl Options {
    /// `theme` (the `--theme` option, already checked) over `[ui] theme`; `[ui.colors]` over
    /// the theme; `NO_COLOR` over all; `[keys]` over the default keys.
    pub fn new(config: &Config, theme: Option<&str>) -> Options {
        let ui = &config.ui;
        let name = theme.or(ui.theme.as_deref()).unwrap_or("default");
        Options {
            theme: Theme::build(name, &ui.colors, Theme::no_color_env()),
            keys: Keys::new(config.keymap.clone()),
            hyperlinks: hyperlinks_supported(std::env::var("TERM").ok().as_deref()),
            demo: false,
        }
    }
}

/// The tracing layer that feeds the log pane; lines wait in its buffer until a frame shows
/// them, so nothing reaches stdout while the dashboard is up.
pub fn log_pane_layer<S>() -> impl tracing_subscriber::Layer<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    tui_logger::set_default_level(tui_logger::LevelFilter::Debug);
    tui_logger::TuiTracingSubscriberLayer
}

/// Runs until the user quits. The terminal is restored on every way out, a panic included.
pub async fn run(engine: EngineHandle, options: Options) -> std::io::Result<()> {
    // ratatui's init enters raw mode and the alternate screen and installs the panic hook that
    // leaves them; the frames themselves go through our own buffer (see `Screen`).
    drop(ratatui::try_init()?);
    let mut terminal = Terminal::new(CrosstermBackend::new(BufWriter::with_capacity(
        FRAME_BUFFER,
        std::io::stdout(),
    )))?;
    let _restore = Restore;
    install_panic_hook();
    let _ = crossterm::execute!(std::io::stdout(), EnableMouseCapture);
    event_loop(&mut terminal, engine, options).await
}

/// Puts the terminal back however `run` ends: return, error, or its future being dropped
/// (SIGTERM).
struct Restore;

impl Drop for Restore {
    fn drop(&mut self) {
        let _ = crossterm::execute!(std::io::stdout(), DisableMouseCapture);
        ratatui::restore();
    }
}

/// ratatui's hook (installed by `try_init`) restores the screen; mouse capture is ours to undo.
/// Only for a panic on the dashboard's own thread. One on another thread is caught where it
/// happens (Tokio ends just that task, a store write returns an error, a dead fetcher ends the
/// process with its reason) and the dashboard goes on: it is logged instead of tearing the
/// screen down under a running dashboard.
fn install_panic_hook() {
    let previous = std::panic::take_hook();
    let dashboard = std::thread::current().id();
    std::panic::set_hook(Box::new(move |info| {
        if std::thread::current().id() != dashboard {
            tracing::error!("{info}");
            return;
        }
        let _ = crossterm::execute!(std::io::stdout(), DisableMouseCapture);
        previous(info);
    }));
}

async fn event_loop(
    terminal: &mut Screen,
    engine: EngineHandle,
    options: Options,
) -> std::io::Result<()> {
    let theme = options.theme;
    let mut app = App::new(options.keys);
    app.hyperlinks = options.hyperlinks;
    app.demo = options.demo;
    let mut input = EventStream::new();
    let mut snapshots = engine.subscribe();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let (reply_tx, mut replies) = mpsc::unbounded_channel::<Result<String, String>>();
    // The label KPIs need the stored JSON: read off the render thread, once per change of
    // the selection or its window, never while drawing.
    let (labels_tx, mut labels_rx) = mpsc::unbounded_channel::<RepoLabels>();
    // Response times likewise, read with them.
    type Responses = (chrono::DateTime<Utc>, RepoResponseTimes);
    let (responses_tx, mut responses_rx) = mpsc::unbounded_channel::<Responses>();
    let mut labels_asked = None;
    // The feed's lines too (they need each event's JSON), whenever its repositories or their
    // newest events change.
    let (feed_tx, mut feed_rx) = mpsc::unbounded_channel::<FeedLines>();
    let mut feed_asked = None;
    // Each pass draws, then sleeps until input, new data, an engine reply or the tick. Input
    // that changes nothing (mouse motion, key releases) draws no frame.
    let mut redraw = true;
    loop {
        if redraw {
            // Log lines wait in tui-logger's buffer until a frame shows them.
            tui_logger::move_events();
            let snapshot = snapshots.borrow().clone();
            app.on_snapshot(&snapshot);
            let key = app.labels_key(&snapshot, Utc::now());
            if key != labels_asked {
                labels_asked = key.clone();
                if let Some((name, _, _, _)) = key {
                    let (query, tx) = (engine.query(), labels_tx.clone());
                    let responses_tx = responses_tx.clone();
                    tokio::task::spawn_blocking(move || {
                        match query.labels(Utc::now(), Some(&name)) {
                            Ok(mut report) => {
                                if let Some(r) = report.repositories.pop() {
                                    let _ = tx.send(r);
                                }
                            }
                            Err(e) => tracing::warn!("label KPIs of {name}: {e}"),
                        }
                        match query.response_times(Utc::now(), Some(&name)) {
                            Ok(mut report) => {
                                if let Some(r) = report.repositories.pop() {
                                    let _ = responses_tx.send((report.generated_at, r));
                                }
                            }
                            Err(e) => tracing::warn!("response times of {name}: {e}"),
                        }
                    });
                }
            }
            let key = app
                .feed
                .as_ref()
                .and_then(|f| f.key(&snapshot, app.selected));
            if key != feed_asked {
                feed_asked = key.clone();
                if let Some(key) = key {
                    let (query, tx) = (engine.query(), feed_tx.clone());
                    let web = engine.web_origin().clone();
                    tokio::task::spawn_blocking(move || {
                        match query.feed(&key.repos, FEED_LIMIT, &web) {
                            Ok(entries) => {
                                let _ = tx.send(FeedLines {
                                    key,
                                    entries: entries.into(),
                                });
                            }
                            Err(e) => tracing::warn!("the event feed: {e}"),
                        }
                    });
                }
            }
            let _ = crossterm::queue!(terminal.backend_mut(), BeginSynchronizedUpdate);
            let mut drawn = ui::Drawn::default();
            terminal
                .draw(|frame| drawn = ui::render(frame, &app, &snapshot, Utc::now(), &theme))?;
            let _ = crossterm::queue!(terminal.backend_mut(), EndSynchronizedUpdate);
            terminal.backend_mut().flush()?;
            app.repo_rows = drawn.repo_rows;
            app.stats_rows = drawn.stats_rows;
            app.repo_offset = drawn.repo_offset;
            app.stats_offset = drawn.stats_offset;
            app.stats_len = drawn.stats_len;
            app.stats_selected = app.stats_selected.min(drawn.stats_len.saturating_sub(1));
            app.stats_shown = drawn.stats_shown;
            app.feed_rows = drawn.feed_rows;
            app.feed_offset = drawn.feed_offset;
            if let Some(feed) = &mut app.feed {
                feed.top = drawn.feed_top;
            }
        }
        redraw = true;
        tokio::select! {
            event = input.next() => {
                let snapshot = snapshots.borrow().clone();
                let effect = match event {
                    Some(Ok(Event::Key(key))) if key.kind == KeyEventKind::Press => app.on_key(key, &snapshot),
                    Some(Ok(Event::Key(_))) => { redraw = false; Effect::None }
                    Some(Ok(Event::Mouse(m))) if matches!(m.kind, MouseEventKind::Moved | MouseEventKind::Drag(_)) => {
                        redraw = false;
                        Effect::None
                    }
                    Some(Ok(Event::Mouse(m))) => { app.on_mouse(m, &snapshot); Effect::None }
                    Some(Ok(_)) => Effect::None,
                    // The terminal is gone: nothing more to show.
                    Some(Err(_)) | None => Effect::Quit,
                };
                match effect {
                    Effect::None => {}
                    Effect::Quit => return Ok(()),
                    Effect::Add(name) => {
                        app.select_when_listed = Some(name.clone());
                        let (engine, tx) = (engine.clone(), reply_tx.clone());
                        tokio::spawn(async move {
                            let reply = engine.add(name.to_string()).await.map(|n| format!("added {n}; polling it now")).map_err(|e| e.to_string());
                            let _ = tx.send(reply);
                        });
                    }
                    Effect::Remove(name) => {
                        let (engine, tx) = (engine.clone(), reply_tx.clone());
                        tokio::spawn(async move {
                            let reply = engine.remove(name.to_string()).await.map(|n| format!("removed {n}")).map_err(|e| e.to_string());
                            let _ = tx.send(reply);
                        });
                    }
                    Effect::PollNow(repo) => {
                        engine.poll_now(repo);
                    }
                    Effect::Open(url) => {
                        let tx = reply_tx.clone();
                        // $BROWSER, else the system's opener; it may block (a text browser
                        // runs in the foreground), so never on this thread.
                        tokio::task::spawn_blocking(move || {
                            let options = webbrowser::BrowserOptions::new();
                            let opened = webbrowser::open_browser_with_options(
                                webbrowser::Browser::Default,
                                &url,
                                &options,
                            );
                            let _ = tx.send(
                                opened
                                    .map(|()| format!("opened {url}"))
                                    .map_err(|e| format!("cannot open {url}: {e}")),
                            );
                        });
                    }
                }
            }
            changed = snapshots.changed() => {
                if changed.is_err() {
                    return Ok(());
                }
            }
            Some(reply) = replies.recv() => app.on_reply(reply),
            Some(labels) = labels_rx.recv() => app.labels = Some(labels),
            Some(responses) = responses_rx.recv() => app.responses = Some(responses),
            Some(lines) = feed_rx.recv() => app.on_feed_lines(lines),
            // The 1 Hz tick that redraws countdowns also ends expired messages: no timer of
            // its own, no busy wait.
            _ = tick.tick() => { app.expire_message(std::time::Instant::now()); }
        }
    }
}
