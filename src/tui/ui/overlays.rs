//! Pop-ups drawn over the dashboard: help, the add prompt, the remove confirmation.

use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use crate::repo::RepoName;
use crate::snapshot::Snapshot;
use crate::tui::app::validate_new;
use crate::tui::keys::BINDINGS;
use crate::tui::theme::Theme;

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

/// Built from the same table the key handler reads.
pub fn help(frame: &mut Frame, area: Rect, theme: &Theme) {
    let mut lines: Vec<Line> = BINDINGS
        .iter()
        .map(|b| {
            Line::from(vec![
                Span::styled(format!(" {:<10}", b.label), theme.accent()),
                Span::raw(b.description),
            ])
        })
        .collect();
    lines.push(Line::raw(""));
    lines.push(Line::from(Span::styled(
        " Add prompt: Enter adds, Esc cancels, Ctrl-U clears.",
        theme.dim(),
    )));
    lines.push(Line::from(Span::styled(
        " Mouse: click selects a row, the wheel scrolls.",
        theme.dim(),
    )));
    lines.push(Line::from(Span::styled(
        " Any key closes this help.",
        theme.dim(),
    )));
    popup(frame, area, "Keys", lines, 70, theme);
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
