//! Colours: the built-in themes (`default`, `light`, `high-contrast`), the user's `[ui.colors]`
//! over them, or none at all when `NO_COLOR` is set (https://no-color.org). Emphasis that is
//! not colour (bold, reverse) stays, so a selection is still visible without colour.

use std::str::FromStr;

use ratatui::style::{Color, Modifier, Style};

/// Every colour the panes use; `None` leaves the terminal's own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Theme {
    colour: bool,
    text: Option<Color>,
    dim: Option<Color>,
    accent: Option<Color>,
    good: Option<Color>,
    warn: Option<Color>,
    bad: Option<Color>,
    border: Option<Color>,
    focused_border: Option<Color>,
    selection_fg: Option<Color>,
    selection_bg: Option<Color>,
}

impl Theme {
    /// The built-in theme of that name (`ghpulse_core::THEMES`); unknown names are refused
    /// when the config or the command line is read, so they fall back to `default` here.
    pub fn named(name: &str) -> Theme {
        let default = Theme {
            colour: true,
            text: None,
            dim: Some(Color::DarkGray),
            accent: Some(Color::Cyan),
            good: Some(Color::Green),
            warn: Some(Color::Yellow),
            bad: Some(Color::Red),
            border: None,
            focused_border: Some(Color::Cyan),
            selection_fg: None,
            selection_bg: None,
        };
        match name {
            // Dark-on-light: no yellow or light grey, which vanish on a white background.
            "light" => Theme {
                dim: Some(Color::Indexed(242)),
                accent: Some(Color::Blue),
                good: Some(Color::Indexed(28)),
                warn: Some(Color::Indexed(130)),
                bad: Some(Color::Indexed(160)),
                focused_border: Some(Color::Blue),
                ..default
            },
            // Bright colours only, no grey text, a selection that does not rely on reverse.
            "high-contrast" => Theme {
                text: Some(Color::White),
                dim: Some(Color::White),
                accent: Some(Color::LightCyan),
                good: Some(Color::LightGreen),
                warn: Some(Color::LightYellow),
                bad: Some(Color::LightRed),
                border: Some(Color::White),
                focused_border: Some(Color::LightYellow),
                selection_fg: Some(Color::Black),
                selection_bg: Some(Color::LightYellow),
                ..default
            },
            _ => default,
        }
    }

    /// A theme with `[ui.colors]` overrides (`(slot, colour)`, validated by the config
    /// loader); `no_color` wins over everything.
    pub fn build(name: &str, overrides: &[(String, String)], no_color: bool) -> Theme {
        if no_color {
            return Theme::plain();
        }
        let mut t = Theme::named(name);
        for (slot, colour) in overrides {
            let Ok(c) = Color::from_str(colour) else {
                continue;
            };
            let field = match slot.as_str() {
                "text" => &mut t.text,
                "dim" => &mut t.dim,
                "accent" => &mut t.accent,
                "good" => &mut t.good,
                "warn" => &mut t.warn,
                "bad" => &mut t.bad,
                "border" => &mut t.border,
                "focused_border" => &mut t.focused_border,
                "selection_fg" => &mut t.selection_fg,
                "selection_bg" => &mut t.selection_bg,
                _ => continue,
            };
            *field = Some(c);
        }
        t
    }

    /// Is `NO_COLOR` set (to anything but the empty string)?
    pub fn no_color_env() -> bool {
        std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
    }

    pub fn from_env() -> Theme {
        Theme::build("default", &[], Theme::no_color_env())
    }

    pub fn plain() -> Theme {
        Theme {
            colour: false,
            ..Theme::named("default")
        }
    }

    pub fn coloured() -> Theme {
        Theme::named("default")
    }

    fn fg(&self, c: Option<Color>) -> Style {
        match c {
            Some(c) if self.colour => Style::new().fg(c),
            _ => Style::new(),
        }
    }

    /// The base style of every pane.
    pub fn text(&self) -> Style {
        self.fg(self.text)
    }
    pub fn good(&self) -> Style {
        self.fg(self.good)
    }
    pub fn warn(&self) -> Style {
        self.fg(self.warn)
    }
    pub fn bad(&self) -> Style {
        self.fg(self.bad).add_modifier(Modifier::BOLD)
    }
    pub fn dim(&self) -> Style {
        self.fg(self.dim)
    }
    pub fn accent(&self) -> Style {
        self.fg(self.accent).add_modifier(Modifier::BOLD)
    }
    pub fn title(&self) -> Style {
        self.text().add_modifier(Modifier::BOLD)
    }
    pub fn selected(&self) -> Style {
        match (self.colour, self.selection_fg, self.selection_bg) {
            (true, fg, Some(bg)) => {
                let s = Style::new().bg(bg).add_modifier(Modifier::BOLD);
                fg.map_or(s, |fg| s.fg(fg))
            }
            _ => Style::new().add_modifier(Modifier::REVERSED),
        }
    }
    pub fn border(&self) -> Style {
        self.fg(self.border)
    }
    pub fn focused_border(&self) -> Style {
        self.fg(self.focused_border)
    }
    pub fn gauge(&self, ratio: f64) -> Style {
        match ratio {
            r if r < 0.1 => self.fg(self.bad),
            r if r < 0.3 => self.fg(self.warn),
            _ => self.fg(self.good),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn themes_differ_overrides_apply_and_no_color_wins() {
        assert_ne!(Theme::named("light"), Theme::named("default"));
        assert_ne!(Theme::named("high-contrast"), Theme::named("default"));
        let t = Theme::build("light", &[("good".into(), "#00ff00".into())], false);
        assert_eq!(t.good().fg, Some(Color::Rgb(0, 255, 0)));
        assert_eq!(t.bad().fg, Some(Color::Indexed(160)));
        let plain = Theme::build("light", &[("good".into(), "#00ff00".into())], true);
        assert_eq!(plain.good().fg, None);
        assert_eq!(plain.selected().add_modifier, Modifier::REVERSED);
    }
}
