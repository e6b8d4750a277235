//! The dashboard's key bindings as data: action names, their default keys, the `[keys]` syntax
//! ("q", "G", "ctrl-c", "pgdn") and conflict checks. Plain strings, no terminal library, so
//! the config loader can refuse a bad `[keys]` table with its file and line.

use std::fmt;

/// One key press: a named key or a character, with Ctrl/Alt. A capital letter is its own
/// character ("G"), so Shift is never spelled out except for `shift-tab`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KeyChord {
    pub key: Key,
    pub ctrl: bool,
    pub alt: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Key {
    Char(char),
    F(u8),
    Up,
    Down,
    Left,
    Right,
    PageUp,
    PageDown,
    Home,
    End,
    Tab,
    BackTab,
    Enter,
    Esc,
    Backspace,
    Delete,
    Insert,
}

const NAMED: &[(&str, Key)] = &[
    ("up", Key::Up),
    ("down", Key::Down),
    ("left", Key::Left),
    ("right", Key::Right),
    ("pgup", Key::PageUp),
    ("pageup", Key::PageUp),
    ("pgdn", Key::PageDown),
    ("pagedown", Key::PageDown),
    ("home", Key::Home),
    ("end", Key::End),
    ("tab", Key::Tab),
    ("shift-tab", Key::BackTab),
    ("backtab", Key::BackTab),
    ("enter", Key::Enter),
    ("esc", Key::Esc),
    ("backspace", Key::Backspace),
    ("delete", Key::Delete),
    ("del", Key::Delete),
    ("insert", Key::Insert),
    ("space", Key::Char(' ')),
];

impl KeyChord {
    pub const fn plain(key: Key) -> KeyChord {
        KeyChord {
            key,
            ctrl: false,
            alt: false,
        }
    }

    /// "q", "G", "?", "ctrl-c", "alt-x", "pgdn", "f5", "shift-tab".
    pub fn parse(text: &str) -> Result<KeyChord, String> {
        let bad = || {
            format!(
                "{text:?} is not a key: use a character (\"q\", \"G\", \"?\"), a name (up, down, \
                 pgup, pgdn, home, end, tab, shift-tab, enter, esc, delete, space, f1..f12) or \
                 ctrl-/alt- before one"
            )
        };
        let mut rest = text;
        let mut chord = KeyChord::plain(Key::Esc);
        loop {
            let lower = rest.to_ascii_lowercase();
            if lower.starts_with("ctrl-") && rest.chars().count() > 5 {
                chord.ctrl = true;
                rest = &rest[5..];
            } else if lower.starts_with("alt-") && rest.chars().count() > 4 {
                chord.alt = true;
                rest = &rest[4..];
            } else {
                break;
            }
        }
        let lower = rest.to_ascii_lowercase();
        let mut chars = rest.chars();
        chord.key = match (chars.next(), chars.next()) {
            (Some(c), None) if !c.is_control() => {
                // Terminals report Ctrl with a letter in lower case.
                if chord.ctrl {
                    Key::Char(c.to_ascii_lowercase())
                } else {
                    Key::Char(c)
                }
            }
            _ => {
                if let Some((_, k)) = NAMED.iter().find(|(n, _)| *n == lower) {
                    *k
                } else if let Some(n) = lower.strip_prefix('f').and_then(|n| n.parse::<u8>().ok())
                    && (1..=12).contains(&n)
                {
                    Key::F(n)
                } else {
                    return Err(bad());
                }
            }
        };
        Ok(chord)
    }
}

impl fmt::Display for KeyChord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ctrl {
            f.write_str("Ctrl-")?;
        }
        if self.alt {
            f.write_str("Alt-")?;
        }
        match self.key {
            Key::Char(' ') => f.write_str("Space"),
            // "Ctrl-C", as terminals and manuals write it.
            Key::Char(c) if self.ctrl => write!(f, "{}", c.to_ascii_uppercase()),
            Key::Char(c) => write!(f, "{c}"),
            Key::F(n) => write!(f, "F{n}"),
            Key::Up => f.write_str("↑"),
            Key::Down => f.write_str("↓"),
            Key::Left => f.write_str("←"),
            Key::Right => f.write_str("→"),
            Key::PageUp => f.write_str("PgUp"),
            Key::PageDown => f.write_str("PgDn"),
            Key::Home => f.write_str("Home"),
            Key::End => f.write_str("End"),
            Key::Tab => f.write_str("Tab"),
            Key::BackTab => f.write_str("Shift-Tab"),
            Key::Enter => f.write_str("Enter"),
            Key::Esc => f.write_str("Esc"),
            Key::Backspace => f.write_str("Backspace"),
            Key::Delete => f.write_str("Del"),
            Key::Insert => f.write_str("Ins"),
        }
    }
}

/// Every rebindable action (its `[keys]` name) and its default keys, in help order.
pub const DEFAULT_KEYS: &[(&str, &[&str])] = &[
    ("up", &["up", "k"]),
    ("down", &["down", "j"]),
    ("page_up", &["pgup"]),
    ("page_down", &["pgdn"]),
    ("top", &["g", "home"]),
    ("bottom", &["G", "end"]),
    ("next_pane", &["tab", "shift-tab"]),
    ("filter", &["/"]),
    ("add", &["a"]),
    ("remove", &["d", "delete"]),
    ("sort", &["s"]),
    ("reverse_sort", &["S"]),
    ("order_repos", &["O"]),
    ("poll_now", &["r"]),
    ("logs", &["l"]),
    ("gap_chart", &["enter"]),
    ("counts_chart", &["o"]),
    ("zoom", &["z"]),
    ("actions", &["A"]),
    ("feed", &["e"]),
    ("feed_all", &["E"]),
    ("help", &["?"]),
    ("quit", &["q", "ctrl-c"]),
];

/// The keys in force: the defaults with the user's `[keys]` entries replacing an action's
/// keys. Indexed like `DEFAULT_KEYS`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Keymap {
    pub keys: Vec<Vec<KeyChord>>,
}

impl Default for Keymap {
    fn default() -> Self {
        Keymap {
            keys: DEFAULT_KEYS
                .iter()
                .map(|(_, keys)| {
                    // Every default parses: `defaults_have_no_conflicts_and_labels_read_well`.
                    keys.iter()
                        .filter_map(|k| KeyChord::parse(k).ok())
                        .collect()
                })
                .collect(),
        }
    }
}

/// A `[keys]` entry that cannot be used: which entry (its index in the overrides) and why.
#[derive(Debug, PartialEq, Eq)]
pub struct KeymapError {
    pub entry: usize,
    pub message: String,
}

impl Keymap {
    /// Applies `(action, keys)` overrides. Unknown actions, unknown keys, an action left
    /// without keys, and one key bound to two actions are refused.
    pub fn with_overrides(overrides: &[(String, Vec<String>)]) -> Result<Keymap, KeymapError> {
        let mut map = Keymap::default();
        let mut chosen_by = vec![None; DEFAULT_KEYS.len()];
        for (entry, (action, keys)) in overrides.iter().enumerate() {
            let err = |message: String| KeymapError { entry, message };
            let Some(i) = DEFAULT_KEYS.iter().position(|(name, _)| name == action) else {
                let names: Vec<&str> = DEFAULT_KEYS.iter().map(|(n, _)| *n).collect();
                return Err(err(format!(
                    "unknown action; the actions are {}",
                    names.join(", ")
                )));
            };
            if keys.is_empty() {
                return Err(err("an action needs at least one key".into()));
            }
            let parsed = keys
                .iter()
                .map(|k| KeyChord::parse(k))
                .collect::<Result<Vec<_>, _>>()
                .map_err(err)?;
            map.keys[i] = parsed;
            chosen_by[i] = Some(entry);
        }
        // Conflicts are reported at the user's entry (a default cannot be wrong on its own).
        for i in 0..DEFAULT_KEYS.len() {
            for j in (i + 1)..DEFAULT_KEYS.len() {
                if let Some(k) = map.keys[i].iter().find(|k| map.keys[j].contains(k)) {
                    let entry = chosen_by[j].or(chosen_by[i]).unwrap_or(0);
                    return Err(KeymapError {
                        entry,
                        message: format!(
                            "{k} is bound to both {} and {}",
                            DEFAULT_KEYS[i].0, DEFAULT_KEYS[j].0
                        ),
                    });
                }
            }
        }
        Ok(map)
    }

    pub fn action_index(&self, chord: &KeyChord) -> Option<usize> {
        self.keys.iter().position(|keys| keys.contains(chord))
    }

    /// "q": the first key of an action, as the one-line footer shows it.
    pub fn first_label(&self, action: usize) -> String {
        self.keys[action]
            .first()
            .map(ToString::to_string)
            .unwrap_or_default()
    }

    /// "q/Ctrl-C", as the help shows an action's keys.
    pub fn label(&self, action: usize) -> String {
        self.keys[action]
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn o(action: &str, keys: &[&str]) -> (String, Vec<String>) {
        (
            action.to_string(),
            keys.iter().map(ToString::to_string).collect(),
        )
    }

    #[test]
    fn defaults_have_no_conflicts_and_labels_read_well() {
        let map = Keymap::with_overrides(&[]).unwrap();
        assert_eq!(map, Keymap::default());
        let quit = DEFAULT_KEYS.iter().position(|(n, _)| *n == "quit").unwrap();
        assert_eq!(map.label(quit), "q/Ctrl-C");
    }

    #[test]
    fn every_default_key_parses() {
        for (action, keys) in DEFAULT_KEYS {
            for k in *keys {
                assert!(KeyChord::parse(k).is_ok(), "{action}: {k}");
            }
        }
    }

    #[test]
    fn overrides_replace_and_conflicts_are_refused() {
        let map = Keymap::with_overrides(&[o("quit", &["x", "ctrl-q"])]).unwrap();
        let quit = DEFAULT_KEYS.iter().position(|(n, _)| *n == "quit").unwrap();
        assert_eq!(map.action_index(&KeyChord::parse("x").unwrap()), Some(quit));
        assert_eq!(map.action_index(&KeyChord::parse("q").unwrap()), None);

        let e = Keymap::with_overrides(&[o("help", &["h"]), o("add", &["q"])]).unwrap_err();
        assert_eq!(e.entry, 1);
        assert!(
            e.message.contains("q is bound to both add and quit"),
            "{e:?}"
        );
        assert_eq!(
            Keymap::with_overrides(&[o("jump", &["x"])])
                .unwrap_err()
                .entry,
            0
        );
        assert!(Keymap::with_overrides(&[o("quit", &["ctrl-"])]).is_err());
        assert!(Keymap::with_overrides(&[o("quit", &[])]).is_err());
    }

    #[test]
    fn key_syntax() {
        assert_eq!(
            KeyChord::parse("Ctrl-C").unwrap(),
            KeyChord {
                key: Key::Char('c'),
                ctrl: true,
                alt: false
            }
        );
        assert_eq!(KeyChord::parse("G").unwrap().key, Key::Char('G'));
        assert_eq!(KeyChord::parse("PgDn").unwrap().key, Key::PageDown);
        assert_eq!(KeyChord::parse("f12").unwrap().key, Key::F(12));
        assert_eq!(KeyChord::parse("-").unwrap().key, Key::Char('-'));
        for bad in ["", "f13", "hello", "ctrl-"] {
            assert!(KeyChord::parse(bad).is_err(), "{bad:?}");
        }
    }
}
