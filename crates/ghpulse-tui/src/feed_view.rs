//! The feed pane's state: whose events it shows, its filter, and a selection that follows the
//! newest event while it is on the top row and stays on its event once the user moved it
//! (like `less +F`). The lines themselves are read off the drawing path (see [`FeedKey`]).

use std::sync::Arc;

use ghpulse_core::{EventEntry, RepoName, Snapshot};

/// How many of the newest events the feed holds.
pub const FEED_LIMIT: usize = 500;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeedScope {
    /// The selected repository's events.
    Selected,
    /// Every watched repository's, with a repository column.
    All,
}

/// What the feed's lines depend on: the repositories shown and their newest stored events.
/// When it changes, the loop reads the lines again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeedKey {
    pub repos: Vec<RepoName>,
    /// Each repository's newest event id and how many events the snapshot holds of it.
    pub newest: Vec<(Option<u64>, usize)>,
}

/// Lines read for a key.
#[derive(Clone, Debug)]
pub struct FeedLines {
    pub key: FeedKey,
    pub entries: Arc<Vec<EventEntry>>,
}

#[derive(Clone, Debug)]
pub struct FeedView {
    pub scope: FeedScope,
    /// Case-insensitive part of the actor, type, repository or line.
    pub filter: String,
    /// The selected event's id; `None` while following the newest.
    pub selected: Option<String>,
    /// The event on the top row when the user scrolled, so new events do not move the view.
    pub top: Option<String>,
    /// The lines, once read for the current key.
    pub lines: Option<FeedLines>,
}

impl FeedView {
    pub fn new(scope: FeedScope) -> FeedView {
        FeedView {
            scope,
            filter: String::new(),
            selected: None,
            top: None,
            lines: None,
        }
    }

    /// What the lines of this scope depend on, for the selected repository `selected`.
    pub fn key(&self, snapshot: &Snapshot, selected: usize) -> Option<FeedKey> {
        let views: Vec<_> = match self.scope {
            FeedScope::Selected => snapshot.repos.get(selected).into_iter().collect(),
            FeedScope::All => snapshot.repos.iter().collect(),
        };
        if views.is_empty() {
            return None;
        }
        Some(FeedKey {
            repos: views.iter().map(|v| v.name.clone()).collect(),
            newest: views
                .iter()
                .map(|v| (v.recent.first().map(|e| e.id), v.recent.len()))
                .collect(),
        })
    }

    /// The lines for `key`, if they are read (older lines stay shown until new ones come,
    /// unless they are of other repositories).
    pub fn entries(&self, key: Option<&FeedKey>) -> &[EventEntry] {
        match (&self.lines, key) {
            (Some(l), Some(k)) if l.key.repos == k.repos => &l.entries,
            _ => &[],
        }
    }

    /// The lines the filter lets through.
    pub fn visible<'a>(&self, entries: &'a [EventEntry]) -> Vec<&'a EventEntry> {
        let want = self.filter.to_lowercase();
        entries
            .iter()
            .filter(|e| {
                want.is_empty()
                    || [&e.actor, &e.event_type, &e.summary, &e.repo]
                        .iter()
                        .any(|t| t.to_lowercase().contains(&want))
            })
            .collect()
    }

    /// The selected row among `visible`: the top one while following; the selected event's
    /// row, or the top one if it is gone.
    pub fn selected_row(&self, visible: &[&EventEntry]) -> usize {
        self.selected
            .as_ref()
            .and_then(|id| visible.iter().position(|e| &e.id == id))
            .unwrap_or(0)
    }

    /// Moves the selection by `delta` rows; back on the top row it follows again.
    pub fn move_by(&mut self, delta: isize, visible: &[&EventEntry]) {
        if visible.is_empty() {
            return;
        }
        let at = self.selected_row(visible);
        let to = at.saturating_add_signed(delta).min(visible.len() - 1);
        if to == 0 {
            self.follow();
        } else {
            self.selected = Some(visible[to].id.clone());
        }
    }

    /// Back to the newest event, following.
    pub fn follow(&mut self) {
        self.selected = None;
        self.top = None;
    }

    pub fn following(&self) -> bool {
        self.selected.is_none()
    }

    /// The first row to draw: the remembered top event's (so arrivals above it do not move
    /// the view), moved only as far as needed to keep the selection on screen.
    pub fn top_row(&self, visible: &[&EventEntry], rows: usize) -> usize {
        if self.following() {
            return 0;
        }
        let selected = self.selected_row(visible);
        let top = self
            .top
            .as_ref()
            .and_then(|id| visible.iter().position(|e| &e.id == id))
            .unwrap_or(0);
        if selected < top {
            selected
        } else if selected >= top + rows.max(1) {
            selected + 1 - rows.max(1)
        } else {
            top
        }
    }
}
