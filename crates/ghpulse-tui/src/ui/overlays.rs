//! Pop-ups drawn over the dashboard: help, the add prompt, the remove confirmation.

use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use crate::app::validate_new;
use crate::keys::Keys;
use crate::theme::Theme;
use crate::ui::fit_text;
use ghpulse_core::RepoName;
use ghpulse_core::Snapshot;

fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let [v] = Layout::vertical([Constraint::Length(height.min(area.height))])
        .flex(Flex::Center)
        .areas(area);
    let [h] = Layout::horizontal([Constraint::Length(width.min(area.width))])
        .flex(Flex::Center)
        .areas(v);
    h
}

fn popup(
    frame: &mut Frame,
    area: Rect,
    title: &str,
    lines: Vec<Line<'static>>,
    width: u16,
    theme: &Theme,
) {
    let height = lines.len() as u16 + 2;
    let rect = centered(area, width, height);
    frame.render_widget(Clear, rect);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.focused_border())
        .title(Span::styled(format!(" {title} "), theme.title()));
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        rect,
    );
}

/// Wide enough for every description beside the longest default key label at 80 columns.
const HELP_WIDTH: u16 = 78;

/// Built from the same table the key handler reads. Taller than the screen, it scrolls
/// (`scroll` is clamped here) and its title says there is more.
pub fn help(frame: &mut Frame, area: Rect, scroll: usize, keys: &Keys, theme: &Theme) {
    // Descriptions are cut with an ellipsis on a narrow screen rather than wrapped, so one
    // binding stays one line.
    let bindings: Vec<_> = keys.bindings().collect();
    let label_width = bindings
        .iter()
        .map(|(label, _)| label.chars().count())
        .max()
        .unwrap_or(8)
        .clamp(8, 16);
    let room = (HELP_WIDTH.min(area.width) as usize).saturating_sub(4 + label_width);
    let mut lines: Vec<Line> = bindings
        .iter()
        .map(|(label, a)| {
            Line::from(vec![
                Span::styled(
                    format!(" {:<label_width$} ", fit_text(label, label_width)),
                    theme.accent(),
                ),
                Span::raw(fit_text(a.description, room)),
            ])
        })
        .collect();
    lines.push(Line::raw(""));
    lines.push(Line::from(Span::styled(
        " Add prompt and / filter: Enter keeps, Esc cancels, Ctrl-U clears.",
        theme.dim(),
    )));
    lines.push(Line::from(Span::styled(
        " Mouse: click selects a row, the wheel scrolls.",
        theme.dim(),
    )));
    lines.push(Line::from(Span::styled(
        " ↑↓ PgUp PgDn scroll, any other key closes this help.",
        theme.dim(),
    )));
    let width = HELP_WIDTH.min(area.width);
    let rect = centered(area, width, lines.len() as u16 + 2);
    let visible = rect.height.saturating_sub(2) as usize;
    let max_scroll = lines.len().saturating_sub(visible);
    let scroll = scroll.min(max_scroll);
    let title = if max_scroll == 0 {
        " Keys ".to_string()
    } else {
        format!(
            " Keys {}-{} of {} (↑↓ scroll) ",
            scroll + 1,
            scroll + visible,
            lines.len()
        )
    };
    frame.render_widget(Clear, rect);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.focused_border())
        .title(Span::styled(title, theme.title()));
    // No wrapping: a wrapped line would make the count of lines, and so the scroll, wrong.
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .scroll((scroll as u16, 0)),
        rect,
    );
}

pub fn add_prompt(frame: &mut Frame, area: Rect, input: &str, snapshot: &Snapshot, theme: &Theme) {
    let verdict = match validate_new(input, snapshot) {
        Ok(name) => Line::from(Span::styled(
            format!(" Enter adds {name}, Esc cancels"),
            theme.good(),
        )),
        Err(e) => Line::from(Span::styled(format!(" {e}"), theme.bad())),
    };
    let lines = vec![
        Line::from(vec![
            Span::styled(" > ", theme.accent()),
            Span::raw(input.to_string()),
            Span::styled("█", theme.accent()),
        ]),
        verdict,
        Line::from(Span::styled(
            // The file name only: a long path would wrap out of the pop-up.
            format!(
                " {} of {} watched; saved to {}",
                snapshot.repos.len(),
                snapshot.max_repositories,
                snapshot.config_path.file_name().map_or_else(
                    || snapshot.config_path.display().to_string(),
                    |n| n.to_string_lossy().into_owned()
                )
            ),
            theme.dim(),
        )),
    ];
    popup(
        frame,
        area,
        "Add a repository (owner/name)",
        lines,
        64,
        theme,
    );
}

pub fn confirm_remove(frame: &mut Frame, area: Rect, repo: &RepoName, theme: &Theme) {
    let lines = vec![
        Line::from(vec![
            Span::raw(" Stop watching "),
            Span::styled(repo.to_string(), theme.title()),
            Span::raw("?"),
        ]),
        Line::from(Span::styled(
            " Its stored events are kept: adding it back re-reads nothing.",
            theme.dim(),
        )),
        Line::from(vec![
            Span::styled(" y", theme.accent()),
            Span::raw(" remove   "),
            Span::styled("n/Esc", theme.accent()),
            Span::raw(" keep"),
        ]),
    ];
    popup(frame, area, "Remove repository", lines, 64, theme);
}
