//! Colours, or none at all when `NO_COLOR` is set (https://no-color.org). Emphasis that is not
//! colour (bold, reverse) stays, so a selection is still visible.

use ratatui::style::{Color, Modifier, Style};

#[derive(Clone, Copy, Debug)]
pub struct Theme {
    colour: bool,
}

impl Theme {
    pub fn from_env() -> Theme {
        Theme {
            colour: std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        }
    }

    pub fn plain() -> Theme {
        Theme { colour: false }
    }

    pub fn coloured() -> Theme {
        Theme { colour: true }
    }

    fn fg(&self, c: Color) -> Style {
        if self.colour {
            Style::new().fg(c)
        } else {
            Style::new()
        }
    }

    pub fn good(&self) -> Style {
        self.fg(Color::Green)
    }
    pub fn warn(&self) -> Style {
        self.fg(Color::Yellow)
    }
    pub fn bad(&self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }
    pub fn dim(&self) -> Style {
        if self.colour {
            Style::new().fg(Color::DarkGray)
        } else {
            Style::new()
        }
    }
    pub fn accent(&self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }
    pub fn title(&self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }
    pub fn selected(&self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }
    pub fn focused_border(&self) -> Style {
        self.fg(Color::Cyan)
    }
    pub fn gauge(&self, ratio: f64) -> Style {
        match ratio {
            r if r < 0.1 => self.fg(Color::Red),
            r if r < 0.3 => self.fg(Color::Yellow),
            _ => self.fg(Color::Green),
        }
    }
}
