//! What the user did: selection, focus, mode, input, sort. Key and mouse handling change this
//! state and say what the engine should do; drawing never changes it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::{Position, Rect};

use super::feed_view::{FeedLines, FeedScope, FeedView};
use super::keys::{Action, Keys};
use ghpulse_core::LabelGroups;
use ghpulse_core::RepoName;
use ghpulse_core::RepoStatus;
use ghpulse_core::Snapshot;
use ghpulse_core::TypeStats;
use ghpulse_core::window_events;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    Normal,
    Help,
    Adding {
        input: String,
    },
    ConfirmRemove {
        repo: RepoName,
    },
    /// Typing the filter of the focused pane (`/`).
    Filtering,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Focus {
    Repos,
    Stats,
    /// The log pane, when shown: the moving keys scroll it, + and - change its level.
    Logs,
    /// The event feed, when shown: the moving keys move in it, Enter opens a line's page.
    Feed,
}

/// The log pane's scroll position and level; tui-logger keeps them in a shared state.
pub struct LogView {
    pub state: tui_logger::TuiWidgetState,
    pub level: tui_logger::LevelFilter,
}

impl LogView {
    fn new(level: tui_logger::LevelFilter) -> LogView {
        LogView {
            state: tui_logger::TuiWidgetState::new().set_default_display_level(level),
            level,
        }
    }

    /// One step more (`more`) or less detail: error, warn, info, debug, trace.
    fn step(&mut self, more: bool) {
        use tui_logger::LevelFilter as L;
        let levels = [L::Error, L::Warn, L::Info, L::Debug, L::Trace];
        let i = levels.iter().position(|l| *l == self.level).unwrap_or(2);
        let j = if more {
            (i + 1).min(levels.len() - 1)
        } else {
            i.saturating_sub(1)
        };
        *self = LogView::new(levels[j]);
    }
}

impl Clone for LogView {
    /// A copy starts at the newest lines (the scroll position is tui-logger's own).
    fn clone(&self) -> Self {
        LogView::new(self.level)
    }
}

impl std::fmt::Debug for LogView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LogView({})", self.level)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortColumn {
    Type,
    Count,
    Average,
    Median,
    LastSeen,
}

impl SortColumn {
    pub const ALL: [SortColumn; 5] = [
        SortColumn::Type,
        SortColumn::Count,
        SortColumn::Average,
        SortColumn::Median,
        SortColumn::LastSeen,
    ];

    fn next(self) -> SortColumn {
        let i = SortColumn::ALL.iter().position(|c| *c == self).unwrap_or(0);
        SortColumn::ALL[(i + 1) % SortColumn::ALL.len()]
    }
}

/// The span of the counts-by-type bar chart (`o` cycles through them, then closes it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Period {
    Hour,
    Day,
    Week,
}

impl Period {
    pub fn offset(self) -> chrono::TimeDelta {
        match self {
            Period::Hour => chrono::TimeDelta::hours(1),
            Period::Day => chrono::TimeDelta::days(1),
            Period::Week => chrono::TimeDelta::weeks(1),
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Period::Hour => "last hour",
            Period::Day => "last day",
            Period::Week => "last week",
        }
    }
}

/// A chart shown in place of the activity pane (large screens) or of the statistics table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Chart {
    /// Each gap between events of this type, with the average and median.
    Gaps(String),
    /// Counts by type over the period.
    Counts(Period),
    /// The section 3a figures of each action of this type.
    Actions(String),
}

/// How long a status message stays in the footer.
pub const MESSAGE_LIFETIME: Duration = Duration::from_secs(5);

/// A status message and when it goes away.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Flash {
    pub text: String,
    pub error: bool,
    pub expires: Instant,
}

impl Flash {
    fn new(text: String, error: bool) -> Flash {
        Flash {
            text,
            error,
            expires: Instant::now() + MESSAGE_LIFETIME,
        }
    }
}

/// What the loop should ask of the engine after an input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    None,
    Quit,
    Add(RepoName),
    Remove(RepoName),
    PollNow(RepoName),
    /// Open this web page (built by the feed, never taken from a payload).
    Open(String),
}

/// The order of the repository list.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RepoOrder {
    /// As in the config file.
    #[default]
    Config,
    Name,
    /// Most events in the window first.
    Activity,
    /// Errors first, then rate limited, pending, ok.
    Status,
}

impl RepoOrder {
    fn next(self) -> RepoOrder {
        match self {
            RepoOrder::Config => RepoOrder::Name,
            RepoOrder::Name => RepoOrder::Activity,
            RepoOrder::Activity => RepoOrder::Status,
            RepoOrder::Status => RepoOrder::Config,
        }
    }

    /// How the list's title names the order; the config order goes unsaid.
    pub fn label(self) -> Option<&'static str> {
        match self {
            RepoOrder::Config => None,
            RepoOrder::Name => Some("by name"),
            RepoOrder::Activity => Some("by activity"),
            RepoOrder::Status => Some("by status"),
        }
    }
}

/// The rank of a status in the status order: what needs a look first.
fn status_rank(status: RepoStatus) -> u8 {
    match status {
        RepoStatus::NotFound | RepoStatus::TokenRejected | RepoStatus::Backoff => 0,
        RepoStatus::RateLimited => 1,
        RepoStatus::Pending => 2,
        RepoStatus::Ok => 3,
    }
}

#[derive(Clone, Debug)]
pub struct App {
    pub mode: Mode,
    pub focus: Focus,
    pub selected: usize,
    pub stats_selected: usize,
    /// Case-insensitive substrings: only matching repositories / event types are listed.
    pub repo_filter: String,
    pub stats_filter: String,
    pub keys: Keys,
    pub logs: LogView,
    pub sort: SortColumn,
    pub sort_descending: bool,
    pub repo_order: RepoOrder,
    pub show_logs: bool,
    /// The last outcome of an action, shown in the footer until it expires.
    pub message: Option<Flash>,
    /// The first line of the help shown, when the help is taller than the screen.
    pub help_scroll: usize,
    /// Select this repository as soon as a snapshot lists it (after an add).
    pub select_when_listed: Option<RepoName>,
    /// Where the repository rows were drawn last, for mouse clicks.
    pub repo_rows: Rect,
    pub stats_rows: Rect,
    /// The list rows drawn first in each pane, so a click maps to the row under the pointer.
    pub repo_offset: usize,
    pub stats_offset: usize,
    /// Rows of the statistics table as last drawn (0 before the first frame).
    pub stats_len: usize,
    /// The chart open, if any (Esc closes it).
    pub chart: Option<Chart>,
    /// Sparklines and the events-per-hour chart show the last 24 hours instead of the window.
    pub zoomed: bool,
    /// The selected repository's label KPIs (section 3a), computed off the render thread when
    /// the selection or its window changes; drawn when they are the selected repository's.
    pub labels: Option<ghpulse_core::RepoLabels>,
    /// The selected repository's response times (section 3b) and the instant they were
    /// computed for, read with the label KPIs; the oldest wait is drawn as of each frame.
    pub responses: Option<(
        chrono::DateTime<chrono::Utc>,
        ghpulse_core::RepoResponseTimes,
    )>,
    /// The event feed, when shown (`e`, `E`).
    pub feed: Option<FeedView>,
    /// Where the feed's rows were drawn last, and the row drawn first.
    pub feed_rows: Rect,
    pub feed_offset: usize,
    /// Whether the statistics table had a place in the last frame (a small screen gives it to
    /// the feed).
    pub stats_shown: bool,
    /// Feed lines carry their page as an OSC 8 hyperlink.
    pub hyperlinks: bool,
    /// `ghpulse demo`: the header says the data is a replay.
    pub demo: bool,
}

impl Default for App {
    fn default() -> Self {
        App {
            mode: Mode::Normal,
            focus: Focus::Repos,
            selected: 0,
            stats_selected: 0,
            repo_filter: String::new(),
            stats_filter: String::new(),
            keys: Keys::default(),
            logs: LogView::new(tui_logger::LevelFilter::Info),
            sort: SortColumn::Count,
            sort_descending: true,
            repo_order: RepoOrder::Config,
            show_logs: false,
            message: None,
            help_scroll: 0,
            select_when_listed: None,
            repo_rows: Rect::default(),
            stats_rows: Rect::default(),
            repo_offset: 0,
            stats_offset: 0,
            stats_len: 0,
            chart: None,
            zoomed: false,
            labels: None,
            responses: None,
            feed: None,
            feed_rows: Rect::default(),
            feed_offset: 0,
            stats_shown: true,
            hyperlinks: false,
            demo: false,
        }
    }
}

/// Checks a repository name as it is typed: format, duplicate, limit.
pub fn validate_new(input: &str, snapshot: &Snapshot) -> Result<RepoName, String> {
    if snapshot.repos.len() >= snapshot.max_repositories {
        return Err(format!(
            "limit reached: {} repositories (max_repositories)",
            snapshot.max_repositories
        ));
    }
    if input.trim().is_empty() {
        return Err("type owner/name".into());
    }
    let name = RepoName::parse(input).map_err(|e| e.to_string())?;
    if snapshot.repo(&name).is_some() {
        return Err(format!("{name} is already watched"));
    }
    Ok(name)
}

/// The statistics rows in the chosen order.
fn sorted(mut rows: Vec<TypeStats>, column: SortColumn, descending: bool) -> Vec<TypeStats> {
    let key = |t: &TypeStats| -> (Option<f64>, String) {
        match column {
            SortColumn::Type => (None, t.event_type.clone()),
            SortColumn::Count => (Some(t.count as f64), t.event_type.clone()),
            SortColumn::Average => (t.avg_seconds_between, t.event_type.clone()),
            SortColumn::Median => (t.median_seconds_between, t.event_type.clone()),
            SortColumn::LastSeen => (
                Some(t.last_event_at.timestamp_millis() as f64),
                t.event_type.clone(),
            ),
        }
    };
    rows.sort_by(|a, b| {
        let (ka, kb) = (key(a), key(b));
        // Types without a figure (seen once) go last whatever the direction.
        let primary = match (ka.0, kb.0) {
            (Some(x), Some(y)) => {
                let o = x.total_cmp(&y);
                if descending { o.reverse() } else { o }
            }
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) if column == SortColumn::Type => {
                let o = ka.1.cmp(&kb.1);
                return if descending { o.reverse() } else { o };
            }
            (None, None) => std::cmp::Ordering::Equal,
        };
        primary.then_with(|| ka.1.cmp(&kb.1))
    });
    rows
}

/// Does `text` match a filter (case-insensitive substring; an empty filter matches all)?
fn matches(text: &str, filter: &str) -> bool {
    filter.is_empty() || text.to_lowercase().contains(&filter.to_lowercase())
}

impl App {
    /// A dashboard with the keys in force.
    pub fn new(keys: Keys) -> App {
        App {
            keys,
            ..App::default()
        }
    }

    /// The indices of the repositories the filter lets through, in the order chosen (ties in
    /// config order).
    pub fn visible_repos(&self, snapshot: &Snapshot) -> Vec<usize> {
        let mut shown: Vec<usize> = (0..snapshot.repos.len())
            .filter(|&i| matches(snapshot.repos[i].name.as_str(), &self.repo_filter))
            .collect();
        let repos = &snapshot.repos;
        match self.repo_order {
            RepoOrder::Config => {}
            RepoOrder::Name => shown.sort_by_cached_key(|&i| repos[i].name.as_str().to_lowercase()),
            RepoOrder::Activity => shown.sort_by_cached_key(|&i| {
                let n = window_events(&repos[i].recent, snapshot.taken_at, &snapshot.window).len();
                std::cmp::Reverse(n)
            }),
            RepoOrder::Status => shown.sort_by_key(|&i| status_rank(repos[i].state.status)),
        }
        shown
    }

    /// After the filter changed: a hidden selection moves to the first row shown.
    fn refilter(&mut self, snapshot: &Snapshot) {
        let visible = self.visible_repos(snapshot);
        if !visible.contains(&self.selected)
            && let Some(&first) = visible.first()
        {
            self.selected = first;
        }
        self.stats_selected = 0;
    }

    fn filter_mut(&mut self) -> &mut String {
        match (self.focus, &mut self.feed) {
            (Focus::Feed, Some(feed)) => &mut feed.filter,
            (Focus::Stats, _) => &mut self.stats_filter,
            _ => &mut self.repo_filter,
        }
    }

    /// Lines read off the drawing path for the feed; a change of repositories starts it at
    /// the newest again.
    pub fn on_feed_lines(&mut self, lines: FeedLines) {
        if let Some(feed) = &mut self.feed {
            let moved = feed
                .lines
                .as_ref()
                .is_none_or(|l| l.key.repos != lines.key.repos);
            if moved {
                feed.follow();
            }
            feed.lines = Some(lines);
        }
    }

    /// Shows the feed of `scope` focused; the same key again on a focused feed of that scope
    /// hides it (`e`), or switches scope (`E`).
    fn show_feed(&mut self, scope: FeedScope) {
        let shown = self.feed.as_ref().map(|f| f.scope);
        match (shown, scope) {
            (Some(FeedScope::Selected), FeedScope::Selected) if self.focus == Focus::Feed => {
                self.feed = None;
                self.focus = Focus::Repos;
                return;
            }
            (Some(FeedScope::All), FeedScope::All) => {
                self.feed = Some(FeedView::new(FeedScope::Selected));
            }
            (Some(s), _) if s == scope => {}
            _ => self.feed = Some(FeedView::new(scope)),
        }
        self.focus = Focus::Feed;
    }

    /// The feed's key action: the moving keys move, Enter opens the selected line's page.
    fn feed_action(&mut self, action: Action) -> Option<Effect> {
        let page = usize::from(self.feed_rows.height).max(1) as isize;
        let feed = self.feed.as_mut()?;
        let entries = feed
            .lines
            .as_ref()
            .map(|l| l.entries.clone())
            .unwrap_or_default();
        let visible = feed.visible(&entries);
        match action {
            Action::Up => feed.move_by(-1, &visible),
            Action::Down => feed.move_by(1, &visible),
            Action::PageUp => feed.move_by(-page, &visible),
            Action::PageDown => feed.move_by(page, &visible),
            Action::Top => feed.follow(),
            Action::Bottom => feed.move_by(isize::MAX, &visible),
            Action::GapChart => {
                let url = visible
                    .get(feed.selected_row(&visible))
                    .map(|e| e.url.clone());
                return Some(match url {
                    Some(url) => {
                        self.flash(format!("opening {url}"), false);
                        Effect::Open(url)
                    }
                    None => {
                        self.flash("no event to open".into(), true);
                        Effect::None
                    }
                });
            }
            _ => return None,
        }
        Some(Effect::None)
    }

    /// The statistics table's rows of the selected repository: sorted, filtered.
    pub fn stats_rows(&self, s: &Snapshot, now: chrono::DateTime<chrono::Utc>) -> Vec<TypeStats> {
        let cached = s.stats_cache(now);
        let Some(figures) = cached.repo(self.selected) else {
            return Vec::new();
        };
        sorted(figures.event_types.clone(), self.sort, self.sort_descending)
            .into_iter()
            .filter(|t| matches(&t.event_type, &self.stats_filter))
            .collect()
    }

    /// The event type of the selected statistics row (as of the snapshot's time).
    fn selected_type(&self, s: &Snapshot) -> Option<String> {
        let rows = self.stats_rows(s, s.taken_at);
        let i = self.stats_selected.min(rows.len().checked_sub(1)?);
        Some(rows[i].event_type.clone())
    }

    /// What the label KPIs of the selection depend on: the repository, its window's newest
    /// event and size, and the label groups in force. When it changes, the loop computes them
    /// again.
    pub fn labels_key(
        &self,
        s: &Snapshot,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Option<(RepoName, Option<u64>, usize, Arc<LabelGroups>)> {
        let view = s.repos.get(self.selected)?;
        let win = ghpulse_core::window_events(&view.recent, now, &s.window);
        Some((
            view.name.clone(),
            win.first().map(|e| e.id),
            win.len(),
            s.labels.clone(),
        ))
    }

    pub fn selected_repo<'a>(&self, snapshot: &'a Snapshot) -> Option<&'a RepoName> {
        snapshot.repos.get(self.selected).map(|r| &r.name)
    }

    /// Keeps the selection valid when the list changes, and selects a just-added repository.
    pub fn on_snapshot(&mut self, snapshot: &Snapshot) {
        if let Some(want) = &self.select_when_listed
            && let Some(i) = snapshot.repos.iter().position(|r| &r.name == want)
        {
            self.selected = i;
            self.select_when_listed = None;
        }
        self.selected = self.selected.min(snapshot.repos.len().saturating_sub(1));
    }

    pub fn on_key(&mut self, key: KeyEvent, snapshot: &Snapshot) -> Effect {
        match &mut self.mode {
            Mode::Adding { input } => {
                match key.code {
                    KeyCode::Esc => self.mode = Mode::Normal,
                    KeyCode::Enter => {
                        if let Ok(name) = validate_new(input, snapshot) {
                            self.mode = Mode::Normal;
                            self.flash(format!("adding {name}…"), false);
                            return Effect::Add(name);
                        }
                    }
                    KeyCode::Backspace => {
                        input.pop();
                    }
                    KeyCode::Char('u') if key.modifiers == KeyModifiers::CONTROL => input.clear(),
                    KeyCode::Char('c') if key.modifiers == KeyModifiers::CONTROL => {
                        self.mode = Mode::Normal
                    }
                    KeyCode::Char(c)
                        if !key.modifiers.contains(KeyModifiers::CONTROL) && input.len() < 200 =>
                    {
                        input.push(c)
                    }
                    _ => {}
                }
                return Effect::None;
            }
            Mode::ConfirmRemove { repo } => {
                let repo = repo.clone();
                self.mode = Mode::Normal;
                return match key.code {
                    KeyCode::Char('y') | KeyCode::Char('Y') | KeyCode::Enter => {
                        self.flash(format!("removing {repo}…"), false);
                        Effect::Remove(repo)
                    }
                    _ => Effect::None,
                };
            }
            Mode::Filtering => {
                match key.code {
                    // Enter keeps the filter; Esc drops it.
                    KeyCode::Enter => self.mode = Mode::Normal,
                    KeyCode::Esc => {
                        self.mode = Mode::Normal;
                        self.filter_mut().clear();
                    }
                    KeyCode::Backspace => {
                        self.filter_mut().pop();
                    }
                    KeyCode::Char('u') if key.modifiers == KeyModifiers::CONTROL => {
                        self.filter_mut().clear()
                    }
                    KeyCode::Char('c') if key.modifiers == KeyModifiers::CONTROL => {
                        self.mode = Mode::Normal;
                        self.filter_mut().clear();
                    }
                    KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                        let filter = self.filter_mut();
                        if filter.len() < 100 {
                            filter.push(c);
                        }
                    }
                    _ => {}
                }
                self.refilter(snapshot);
                return Effect::None;
            }
            Mode::Help => {
                // The moving keys scroll a help taller than the screen (the drawing clamps
                // the value); any other key closes it, and a quit key also quits.
                match self.keys.action_for(&key) {
                    Some(Action::Up) => self.help_scroll = self.help_scroll.saturating_sub(1),
                    Some(Action::Down) => self.help_scroll += 1,
                    Some(Action::PageUp) => self.help_scroll = self.help_scroll.saturating_sub(5),
                    Some(Action::PageDown) => self.help_scroll += 5,
                    Some(Action::Top) => self.help_scroll = 0,
                    Some(Action::Bottom) => self.help_scroll = usize::MAX / 2,
                    Some(Action::Quit) => return Effect::Quit,
                    _ => self.mode = Mode::Normal,
                }
                return Effect::None;
            }
            Mode::Normal => {}
        }
        // Esc closes an open chart before anything else.
        if key.code == KeyCode::Esc && self.chart.is_some() {
            self.chart = None;
            return Effect::None;
        }
        let action = self.keys.action_for(&key);
        if self.focus == Focus::Logs && action != Some(Action::Quit) {
            use tui_logger::TuiWidgetEvent as Log;
            let event = match (key.code, action) {
                (KeyCode::Char('+'), _) => {
                    self.logs.step(true);
                    return Effect::None;
                }
                (KeyCode::Char('-'), _) => {
                    self.logs.step(false);
                    return Effect::None;
                }
                (KeyCode::Esc, _) => Some(Log::EscapeKey),
                (_, Some(Action::Up | Action::PageUp)) => Some(Log::PrevPageKey),
                (_, Some(Action::Down | Action::PageDown)) => Some(Log::NextPageKey),
                (_, Some(Action::Bottom)) => Some(Log::EscapeKey),
                _ => None,
            };
            if let Some(event) = event {
                self.logs.state.transition(event);
                return Effect::None;
            }
        }
        if key.code == KeyCode::Esc {
            // Esc takes back the last thing shown: a message, else the focused pane's filter,
            // else a focused feed.
            if self.message.take().is_none() {
                if self.focus == Focus::Feed && self.filter_mut().is_empty() {
                    self.feed = None;
                    self.focus = Focus::Repos;
                    return Effect::None;
                }
                self.filter_mut().clear();
                self.refilter(snapshot);
            }
            return Effect::None;
        }
        let Some(action) = action else {
            return Effect::None;
        };
        if self.focus == Focus::Feed
            && let Some(effect) = self.feed_action(action)
        {
            return effect;
        }
        self.apply(action, snapshot)
    }

    fn apply(&mut self, action: Action, snapshot: &Snapshot) -> Effect {
        let visible = self.visible_repos(snapshot);
        match action {
            Action::Quit => return Effect::Quit,
            Action::Help => {
                self.mode = Mode::Help;
                self.help_scroll = 0;
            }
            Action::Up => self.move_by(-1, &visible),
            Action::Down => self.move_by(1, &visible),
            Action::PageUp => self.move_by(-(self.page() as isize), &visible),
            Action::PageDown => self.move_by(self.page() as isize, &visible),
            Action::Top => self.move_by(isize::MIN, &visible),
            Action::Bottom => self.move_by(isize::MAX, &visible),
            Action::NextPane => {
                // Repositories, statistics, feed, log: the panes on screen, in turn.
                let order = [Focus::Repos, Focus::Stats, Focus::Feed, Focus::Logs];
                let shown = |f: &Focus| match f {
                    Focus::Repos => true,
                    Focus::Stats => self.stats_shown,
                    Focus::Feed => self.feed.is_some(),
                    Focus::Logs => self.show_logs,
                };
                let at = order.iter().position(|f| *f == self.focus).unwrap_or(0);
                self.focus = (1..=order.len())
                    .map(|i| order[(at + i) % order.len()])
                    .find(|f| shown(f))
                    .unwrap_or(Focus::Repos);
            }
            Action::Feed => self.show_feed(FeedScope::Selected),
            Action::FeedAll => self.show_feed(FeedScope::All),
            Action::Filter => {
                if self.focus != Focus::Logs {
                    self.mode = Mode::Filtering;
                }
            }
            Action::Add => {
                self.mode = Mode::Adding {
                    input: String::new(),
                }
            }
            Action::Remove => {
                if let Some(repo) = self.selected_repo(snapshot) {
                    self.mode = Mode::ConfirmRemove { repo: repo.clone() };
                }
            }
            Action::Sort => {
                self.sort = self.sort.next();
                // Text sorts A→Z, figures biggest first: what one usually wants to see.
                self.sort_descending = self.sort != SortColumn::Type;
                self.stats_selected = 0;
            }
            Action::ReverseSort => self.sort_descending = !self.sort_descending,
            Action::OrderRepos => {
                self.repo_order = self.repo_order.next();
                self.flash(
                    format!(
                        "repositories {}",
                        self.repo_order.label().unwrap_or("in config order")
                    ),
                    false,
                );
            }
            Action::PollNow => {
                if let Some(repo) = self.selected_repo(snapshot) {
                    self.flash(format!("polling {repo} as soon as allowed"), false);
                    return Effect::PollNow(repo.clone());
                }
            }
            Action::GapChart => match self.selected_type(snapshot) {
                Some(t) => self.chart = Some(Chart::Gaps(t)),
                None => self.flash("no event type to chart".into(), true),
            },
            Action::Actions => match self.selected_type(snapshot) {
                Some(t) => self.chart = Some(Chart::Actions(t)),
                None => self.flash("no event type to break down".into(), true),
            },
            Action::CountsChart => {
                self.chart = match self.chart {
                    Some(Chart::Counts(Period::Hour)) => Some(Chart::Counts(Period::Day)),
                    Some(Chart::Counts(Period::Day)) => Some(Chart::Counts(Period::Week)),
                    Some(Chart::Counts(Period::Week)) => None,
                    _ => Some(Chart::Counts(Period::Hour)),
                }
            }
            Action::Zoom => self.zoomed = !self.zoomed,
            Action::ToggleLogs => {
                self.show_logs = !self.show_logs;
                self.focus = if self.show_logs {
                    Focus::Logs
                } else if self.focus == Focus::Logs {
                    Focus::Repos
                } else {
                    self.focus
                };
            }
        }
        Effect::None
    }

    /// Rows in the focused list as last drawn: what PgUp/PgDn move by.
    fn page(&self) -> usize {
        let rows = match self.focus {
            Focus::Repos => self.repo_rows.height,
            Focus::Stats | Focus::Logs => self.stats_rows.height,
            Focus::Feed => self.feed_rows.height,
        };
        usize::from(rows).max(1)
    }

    fn flash(&mut self, text: String, error: bool) {
        self.message = Some(Flash::new(text, error));
    }

    /// Drops a status message whose time is up; true when the footer changed.
    pub fn expire_message(&mut self, now: Instant) -> bool {
        if self.message.as_ref().is_some_and(|m| m.expires <= now) {
            self.message = None;
            return true;
        }
        false
    }

    /// Moves the selection of the focused list by `delta` rows of those shown.
    fn move_by(&mut self, delta: isize, visible: &[usize]) {
        match self.focus {
            Focus::Repos => {
                if visible.is_empty() {
                    return;
                }
                let at = visible
                    .iter()
                    .position(|&i| i == self.selected)
                    .unwrap_or(0);
                let to = at.saturating_add_signed(delta).min(visible.len() - 1);
                self.selected = visible[to];
                self.stats_selected = 0;
            }
            // The table's length is known once drawn (before that, drawing clamps the value).
            Focus::Stats => {
                let last = self.stats_len.checked_sub(1).unwrap_or(usize::MAX);
                self.stats_selected = self.stats_selected.saturating_add_signed(delta).min(last);
            }
            Focus::Logs | Focus::Feed => {}
        }
    }

    pub fn on_mouse(&mut self, m: MouseEvent, snapshot: &Snapshot) {
        let at = Position::new(m.column, m.row);
        match m.kind {
            MouseEventKind::Down(MouseButton::Left) => {
                if self.repo_rows.contains(at) {
                    let row = self.repo_offset + (m.row - self.repo_rows.y) as usize;
                    if let Some(&i) = self.visible_repos(snapshot).get(row) {
                        self.selected = i;
                        self.focus = Focus::Repos;
                        self.stats_selected = 0;
                    }
                } else if self.stats_rows.contains(at) {
                    self.focus = Focus::Stats;
                    self.stats_selected = self.stats_offset + (m.row - self.stats_rows.y) as usize;
                } else if self.feed_rows.contains(at)
                    && let Some(feed) = &mut self.feed
                {
                    self.focus = Focus::Feed;
                    let row = self.feed_offset + (m.row - self.feed_rows.y) as usize;
                    let entries = feed.lines.as_ref().map(|l| l.entries.clone());
                    let entries = entries.unwrap_or_default();
                    let visible = feed.visible(&entries);
                    if let Some(e) = visible.get(row) {
                        feed.top = visible.get(self.feed_offset).map(|t| t.id.clone());
                        feed.selected = (row > 0).then(|| e.id.clone());
                    }
                }
            }
            MouseEventKind::ScrollDown => self.move_by(1, &self.visible_repos(snapshot)),
            MouseEventKind::ScrollUp => self.move_by(-1, &self.visible_repos(snapshot)),
            _ => {}
        }
    }

    /// The engine's answer to an add or remove.
    pub fn on_reply(&mut self, reply: Result<String, String>) {
        match reply {
            Ok(text) => self.flash(text, false),
            Err(text) => {
                self.select_when_listed = None;
                self.flash(text, true);
            }
        }
    }
}
