//! The one key table: the handler looks keys up here and the help screen and footer are drawn
//! from it, so they cannot drift apart. The keys themselves come from `[keys]` (see
//! `ghpulse_core::Keymap`, which the config loader validates).

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use ghpulse_core::{Key, KeyChord, Keymap};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    NextPane,
    Filter,
    Add,
    Remove,
    Sort,
    ReverseSort,
    OrderRepos,
    PollNow,
    ToggleLogs,
    GapChart,
    CountsChart,
    Zoom,
    Actions,
    Feed,
    FeedAll,
    Help,
    Quit,
}

pub struct ActionInfo {
    pub action: Action,
    pub description: &'static str,
    /// The word shown in the one-line footer; empty for keys the footer leaves out.
    pub footer: &'static str,
}

const fn info(action: Action, description: &'static str, footer: &'static str) -> ActionInfo {
    ActionInfo {
        action,
        description,
        footer,
    }
}

/// In the order of `ghpulse_core::DEFAULT_KEYS` (a test checks it).
pub const ACTIONS: &[ActionInfo] = &[
    info(Action::Up, "move up", ""),
    info(Action::Down, "move down", ""),
    info(Action::PageUp, "move up a page", ""),
    info(Action::PageDown, "move down a page", ""),
    info(Action::Top, "go to the first row", ""),
    info(Action::Bottom, "go to the last row", ""),
    info(
        Action::NextPane,
        "switch between repositories and statistics",
        "pane",
    ),
    info(
        Action::Filter,
        "filter the focused pane as you type (Esc clears)",
        "filter",
    ),
    info(Action::Add, "add a repository (owner/name)", "add"),
    info(
        Action::Remove,
        "remove the selected repository (asks first)",
        "remove",
    ),
    info(
        Action::Sort,
        "sort the statistics by the next column",
        "sort",
    ),
    info(Action::ReverseSort, "reverse the sort order", ""),
    info(
        Action::OrderRepos,
        "order the repositories: config, name, activity, status",
        "",
    ),
    info(
        Action::PollNow,
        "poll the selected repository now (within the rate limit)",
        "poll",
    ),
    info(
        Action::ToggleLogs,
        "show or hide the log (focused: ↑↓ PgUp PgDn scroll, +/- level)",
        "logs",
    ),
    info(
        Action::GapChart,
        "gap chart of the type (Esc closes); feed: open the page",
        "",
    ),
    info(
        Action::CountsChart,
        "counts by type: last hour, day, week, then off",
        "",
    ),
    info(
        Action::Zoom,
        "zoom the activity charts: last 24h / whole window",
        "",
    ),
    info(
        Action::Actions,
        "actions of the selected event type (Esc closes)",
        "",
    ),
    info(
        Action::Feed,
        "feed of the selected repository, focused (again: hide it)",
        "feed",
    ),
    info(
        Action::FeedAll,
        "feed of all watched repositories / of the selected one",
        "",
    ),
    info(Action::Help, "this help", "help"),
    info(Action::Quit, "quit", "quit"),
];

/// The keys in force.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Keys {
    map: Keymap,
}

/// A terminal key press as the keymap spells it. Shift is part of the character ("G"), so
/// it is left out; terminals differ in whether they report it.
pub fn chord(key: &KeyEvent) -> Option<KeyChord> {
    let k = match key.code {
        KeyCode::Char(c) => Key::Char(c),
        KeyCode::F(n) => Key::F(n),
        KeyCode::Up => Key::Up,
        KeyCode::Down => Key::Down,
        KeyCode::Left => Key::Left,
        KeyCode::Right => Key::Right,
        KeyCode::PageUp => Key::PageUp,
        KeyCode::PageDown => Key::PageDown,
        KeyCode::Home => Key::Home,
        KeyCode::End => Key::End,
        KeyCode::Tab => Key::Tab,
        KeyCode::BackTab => Key::BackTab,
        KeyCode::Enter => Key::Enter,
        KeyCode::Esc => Key::Esc,
        KeyCode::Backspace => Key::Backspace,
        KeyCode::Delete => Key::Delete,
        KeyCode::Insert => Key::Insert,
        _ => return None,
    };
    Some(KeyChord {
        key: k,
        ctrl: key.modifiers.contains(KeyModifiers::CONTROL),
        alt: key.modifiers.contains(KeyModifiers::ALT),
    })
}

impl Keys {
    pub fn new(map: Keymap) -> Keys {
        Keys { map }
    }

    /// The action bound to a key press, if any.
    pub fn action_for(&self, key: &KeyEvent) -> Option<Action> {
        let chord = chord(key)?;
        self.map.action_index(&chord).map(|i| ACTIONS[i].action)
    }

    /// "q/Ctrl-C": the keys of an action as the help and the footer show them.
    pub fn label(&self, action: Action) -> String {
        ACTIONS
            .iter()
            .position(|a| a.action == action)
            .map(|i| self.map.label(i))
            .unwrap_or_default()
    }

    /// Every action with its first key, for the one-line footer.
    pub fn footer_bindings(&self) -> impl Iterator<Item = (String, &'static ActionInfo)> + '_ {
        ACTIONS
            .iter()
            .enumerate()
            .map(|(i, a)| (self.map.first_label(i), a))
    }

    /// Every action with its keys, in help order.
    pub fn bindings(&self) -> impl Iterator<Item = (String, &'static ActionInfo)> + '_ {
        ACTIONS
            .iter()
            .enumerate()
            .map(|(i, a)| (self.map.label(i), a))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ghpulse_core::DEFAULT_KEYS;

    #[test]
    fn the_action_table_follows_the_keymap_order() {
        assert_eq!(ACTIONS.len(), DEFAULT_KEYS.len());
        let names = [
            "up",
            "down",
            "page_up",
            "page_down",
            "top",
            "bottom",
            "next_pane",
            "filter",
            "add",
            "remove",
            "sort",
            "reverse_sort",
            "order_repos",
            "poll_now",
            "logs",
            "gap_chart",
            "counts_chart",
            "zoom",
            "actions",
            "feed",
            "feed_all",
            "help",
            "quit",
        ];
        for (i, (name, _)) in DEFAULT_KEYS.iter().enumerate() {
            assert_eq!(*name, names[i]);
        }
    }

    #[test]
    fn default_keys_reach_their_actions() {
        let keys = Keys::default();
        let press = |code, mods| keys.action_for(&KeyEvent::new(code, mods));
        assert_eq!(
            press(KeyCode::Char('c'), KeyModifiers::CONTROL),
            Some(Action::Quit)
        );
        assert_eq!(
            press(KeyCode::Char('G'), KeyModifiers::SHIFT),
            Some(Action::Bottom)
        );
        assert_eq!(
            press(KeyCode::BackTab, KeyModifiers::SHIFT),
            Some(Action::NextPane)
        );
        assert_eq!(press(KeyCode::Char('x'), KeyModifiers::NONE), None);
        assert_eq!(keys.label(Action::Quit), "q/Ctrl-C");
    }
}
