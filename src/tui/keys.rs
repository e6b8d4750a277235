//! The one key table: the handler looks keys up here and the help screen is drawn from it, so
//! the two cannot drift apart.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Up,
    Down,
    NextPane,
    Add,
    Remove,
    Sort,
    ReverseSort,
    PollNow,
    ToggleLogs,
    Help,
    Quit,
}

pub struct Binding {
    pub keys: &'static [(KeyCode, KeyModifiers)],
    /// How the keys are shown in the help screen and the footer.
    pub label: &'static str,
    pub action: Action,
    pub description: &'static str,
    /// The word shown in the one-line footer; empty for keys the footer leaves out.
    pub footer: &'static str,
}

const NONE: KeyModifiers = KeyModifiers::NONE;

pub const BINDINGS: &[Binding] = &[
    Binding {
        keys: &[(KeyCode::Up, NONE), (KeyCode::Char('k'), NONE)],
        label: "↑/k",
        action: Action::Up,
        description: "move up",
        footer: "",
    },
    Binding {
        keys: &[(KeyCode::Down, NONE), (KeyCode::Char('j'), NONE)],
        label: "↓/j",
        action: Action::Down,
        description: "move down",
        footer: "",
    },
    Binding {
        keys: &[
            (KeyCode::Tab, NONE),
            (KeyCode::BackTab, KeyModifiers::SHIFT),
        ],
        label: "Tab",
        action: Action::NextPane,
        description: "switch between repositories and statistics",
        footer: "pane",
    },
    Binding {
        keys: &[(KeyCode::Char('a'), NONE)],
        label: "a",
        action: Action::Add,
        description: "add a repository (owner/name)",
        footer: "add",
    },
    Binding {
        keys: &[(KeyCode::Char('d'), NONE), (KeyCode::Delete, NONE)],
        label: "d/Del",
        action: Action::Remove,
        description: "remove the selected repository (asks first)",
        footer: "remove",
    },
    Binding {
        keys: &[(KeyCode::Char('s'), NONE)],
        label: "s",
        action: Action::Sort,
        description: "sort the statistics by the next column",
        footer: "sort",
    },
    Binding {
        keys: &[
            (KeyCode::Char('S'), KeyModifiers::SHIFT),
            (KeyCode::Char('S'), NONE),
        ],
        label: "S",
        action: Action::ReverseSort,
        description: "reverse the sort order",
        footer: "",
    },
    Binding {
        keys: &[(KeyCode::Char('r'), NONE)],
        label: "r",
        action: Action::PollNow,
        description: "poll the selected repository now (within the rate limit)",
        footer: "poll",
    },
    Binding {
        keys: &[(KeyCode::Char('l'), NONE)],
        label: "l",
        action: Action::ToggleLogs,
        description: "show or hide the log pane",
        footer: "logs",
    },
    Binding {
        keys: &[
            (KeyCode::Char('?'), NONE),
            (KeyCode::Char('?'), KeyModifiers::SHIFT),
        ],
        label: "?",
        action: Action::Help,
        description: "this help",
        footer: "help",
    },
    Binding {
        keys: &[
            (KeyCode::Char('q'), NONE),
            (KeyCode::Char('c'), KeyModifiers::CONTROL),
        ],
        label: "q/Ctrl-C",
        action: Action::Quit,
        description: "quit",
        footer: "quit",
    },
];

/// The action bound to a key press, if any.
pub fn action_for(key: &KeyEvent) -> Option<Action> {
    BINDINGS
        .iter()
        .find(|b| {
            b.keys
                .iter()
                .any(|&(code, mods)| key.code == code && key.modifiers == mods)
        })
        .map(|b| b.action)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_has_a_binding_and_keys_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for b in BINDINGS {
            for k in b.keys {
                assert!(seen.insert(*k), "{k:?} bound twice");
                assert_eq!(action_for(&KeyEvent::new(k.0, k.1)), Some(b.action));
            }
        }
        assert_eq!(action_for(&KeyEvent::new(KeyCode::Char('x'), NONE)), None);
    }
}
