//! What the user did: selection, focus, mode, input, sort. Key and mouse handling change this
//! state and say what the engine should do; drawing never changes it.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::{Position, Rect};

use super::keys::{self, Action};
use crate::repo::RepoName;
use crate::snapshot::Snapshot;
use crate::stats::TypeStats;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    Normal,
    Help,
    Adding { input: String },
    ConfirmRemove { repo: RepoName },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Focus {
    Repos,
    Stats,
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

/// What the loop should ask of the engine after an input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    None,
    Quit,
    Add(RepoName),
    Remove(RepoName),
    PollNow(RepoName),
}

#[derive(Clone, Debug)]
pub struct App {
    pub mode: Mode,
    pub focus: Focus,
    pub selected: usize,
    pub stats_selected: usize,
    pub sort: SortColumn,
    pub sort_descending: bool,
    pub show_logs: bool,
    /// The last outcome of an add or remove, shown in the footer (text, is it an error).
    pub message: Option<(String, bool)>,
    /// Select this repository as soon as a snapshot lists it (after an add).
    pub select_when_listed: Option<RepoName>,
    /// Where the repository rows were drawn last, for mouse clicks.
    pub repo_rows: Rect,
    pub stats_rows: Rect,
}

impl Default for App {
    fn default() -> Self {
        App {
            mode: Mode::Normal,
            focus: Focus::Repos,
            selected: 0,
            stats_selected: 0,
            sort: SortColumn::Count,
            sort_descending: true,
            show_logs: false,
            message: None,
            select_when_listed: None,
            repo_rows: Rect::default(),
            stats_rows: Rect::default(),
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
pub fn sorted(mut rows: Vec<TypeStats>, column: SortColumn, descending: bool) -> Vec<TypeStats> {
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

impl App {
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
                            self.message = Some((format!("adding {name}…"), false));
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
                        self.message = Some((format!("removing {repo}…"), false));
                        Effect::Remove(repo)
                    }
                    _ => Effect::None,
                };
            }
            Mode::Help => {
                // Any key closes the help; a quit key also quits.
                self.mode = Mode::Normal;
                return if keys::action_for(&key) == Some(Action::Quit) {
                    Effect::Quit
                } else {
                    Effect::None
                };
            }
            Mode::Normal => {}
        }
        if key.code == KeyCode::Esc {
            self.message = None;
            return Effect::None;
        }
        let Some(action) = keys::action_for(&key) else {
            return Effect::None;
        };
        self.apply(action, snapshot)
    }

    fn apply(&mut self, action: Action, snapshot: &Snapshot) -> Effect {
        let repo_count = snapshot.repos.len();
        match action {
            Action::Quit => return Effect::Quit,
            Action::Help => self.mode = Mode::Help,
            Action::Up => self.move_by(-1, repo_count),
            Action::Down => self.move_by(1, repo_count),
            Action::NextPane => {
                self.focus = match self.focus {
                    Focus::Repos => Focus::Stats,
                    Focus::Stats => Focus::Repos,
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
            Action::PollNow => {
                if let Some(repo) = self.selected_repo(snapshot) {
                    self.message = Some((format!("polling {repo} as soon as allowed"), false));
                    return Effect::PollNow(repo.clone());
                }
            }
            Action::ToggleLogs => self.show_logs = !self.show_logs,
        }
        Effect::None
    }

    fn move_by(&mut self, delta: isize, repo_count: usize) {
        let step = |v: usize, max: usize| -> usize {
            if max == 0 {
                0
            } else {
                v.saturating_add_signed(delta).min(max - 1)
            }
        };
        match self.focus {
            Focus::Repos => {
                self.selected = step(self.selected, repo_count);
                self.stats_selected = 0;
            }
            // The stats table's length is known when drawing; it clamps the value.
            Focus::Stats => self.stats_selected = step(self.stats_selected, usize::MAX),
        }
    }

    pub fn on_mouse(&mut self, m: MouseEvent, snapshot: &Snapshot) {
        let at = Position::new(m.column, m.row);
        match m.kind {
            MouseEventKind::Down(MouseButton::Left) => {
                if self.repo_rows.contains(at) {
                    let row = (m.row - self.repo_rows.y) as usize;
                    if row < snapshot.repos.len() {
                        self.selected = row;
                        self.focus = Focus::Repos;
                        self.stats_selected = 0;
                    }
                } else if self.stats_rows.contains(at) {
                    self.focus = Focus::Stats;
                    self.stats_selected = (m.row - self.stats_rows.y) as usize;
                }
            }
            MouseEventKind::ScrollDown => self.move_by(1, snapshot.repos.len()),
            MouseEventKind::ScrollUp => self.move_by(-1, snapshot.repos.len()),
            _ => {}
        }
    }

    /// The engine's answer to an add or remove.
    pub fn on_reply(&mut self, reply: Result<String, String>) {
        self.message = Some(match reply {
            Ok(text) => (text, false),
            Err(text) => {
                self.select_when_listed = None;
                (text, true)
            }
        });
    }
}
