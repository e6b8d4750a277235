//! Watch-list edits of `repositories.toml`: the entry is spliced into the user's own text, so
//! every comment stays with its entry, and the file is rewritten under an advisory lock,
//! atomically and durably.

use std::fs::File;
use std::io::Write;
use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::config::load::{self, Config, ConfigError};
use crate::github::repo_name::{RepoName, RepoNameError};

/// What a new file starts with.
const NEW_FILE: &str =
    "# Repositories to watch, \"owner/name\". At most max_repositories.\nrepositories = []\n";

/// Why a watch-list change was refused. Each maps to one answer of the REST API.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error("{0}")]
    InvalidName(#[from] RepoNameError),
    #[error("{0} is already watched")]
    Duplicate(RepoName),
    #[error("cannot watch more than {0} repositories (max_repositories in the config file)")]
    OverLimit(usize),
    #[error("{0} is not watched")]
    NotWatched(String),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("ghpulse is shutting down")]
    Stopped,
    #[error("cannot write {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A watch-list change as made: the new config and the repository it added or removed.
#[derive(Debug)]
pub struct Edited {
    pub config: Config,
    pub repo: RepoName,
}

/// Adds a repository at the end of the list, keeping everything else as it was.
pub fn add_repository(path: &Path, input: &str) -> Result<Edited, EditError> {
    let name = RepoName::parse(input)?;
    locked_edit(path, |current, text| {
        if current.repositories.contains(&name) {
            return Err(EditError::Duplicate(name.clone()));
        }
        if current.repositories.len() >= current.max_repositories {
            return Err(EditError::OverLimit(current.max_repositories));
        }
        let mut expected = current.repositories.clone();
        expected.push(name.clone());
        Ok(Change {
            text: splice_add(text, &name).map_err(|m| shape_error(path, m))?,
            expected,
            repo: name.clone(),
        })
    })
}

/// Removes a repository (matched without case) with its comments.
pub fn remove_repository(path: &Path, input: &str) -> Result<Edited, EditError> {
    let name = RepoName::parse(input).map_err(|_| EditError::NotWatched(input.to_string()))?;
    locked_edit(path, |current, text| {
        let Some(index) = current.repositories.iter().position(|r| *r == name) else {
            return Err(EditError::NotWatched(name.to_string()));
        };
        let mut expected = current.repositories.clone();
        // As the file spells it.
        let repo = expected.remove(index);
        Ok(Change {
            text: splice_remove(text, index).map_err(|m| shape_error(path, m))?,
            expected,
            repo,
        })
    })
}

struct Change {
    text: String,
    /// The list the new text must hold: a splice that produced anything else is not written.
    expected: Vec<RepoName>,
    repo: RepoName,
}

fn shape_error(path: &Path, message: String) -> EditError {
    EditError::Config(ConfigError {
        path: path.to_path_buf(),
        line: None,
        key: "repositories".into(),
        message,
    })
}

/// Read-modify-write under an exclusive advisory lock on the file, so parallel edits (other
/// `ghpulse repos` processes, the REST API, the dashboard) are serialized and none is lost.
fn locked_edit(
    path: &Path,
    change: impl FnOnce(&Config, &str) -> Result<Change, EditError>,
) -> Result<Edited, EditError> {
    let io = |source| EditError::Io {
        path: path.to_path_buf(),
        source,
    };
    // A symlinked config is edited at its target; the link stays a link.
    let target = match std::fs::canonicalize(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && path.symlink_metadata().is_err() => {
            create(path).map_err(io)?;
            std::fs::canonicalize(path).map_err(io)?
        }
        Err(e) => return Err(io(e)),
    };
    with_lock(&target, |file| {
        let text = load::read_text(path, file)?;
        let current = Config::parse(path, &text)?;
        let Change {
            text,
            expected,
            repo,
        } = change(&current, &text)?;
        // Validated before writing: an edit never leaves a file ghpulse would refuse.
        let config = Config::parse(path, &text)?;
        if config.repositories != expected {
            return Err(shape_error(
                path,
                "the list could not be edited in place; edit the file by hand".into(),
            ));
        }
        replace(&target, file, &text).map_err(io)?;
        Ok(Edited { config, repo })
    })
    .map_err(io)?
}

/// Runs `f` on the file at `target` while holding an exclusive lock on it.
fn with_lock<T>(target: &Path, f: impl FnOnce(&File) -> T) -> std::io::Result<T> {
    loop {
        let mut lock = fd_lock::RwLock::new(File::open(target)?);
        let guard = lock.write()?;
        // An edit that held the lock meanwhile has replaced the file (a rename): holding a
        // lock on the old one would serialize nothing, so lock the new one.
        let locked = same_file::Handle::from_file(guard.try_clone()?)?;
        if locked == same_file::Handle::from_path(target)? {
            return Ok(f(&guard));
        }
    }
}

/// Creates a missing config (and its folder) with an empty list. Never replaces a file that
/// appeared meanwhile: the edit then goes to that one.
fn create(path: &Path) -> std::io::Result<()> {
    let dir = parent(path);
    std::fs::create_dir_all(dir)?;
    let mut tmp = temp_in(dir, path)?;
    tmp.write_all(NEW_FILE.as_bytes())?;
    tmp.as_file().sync_all()?;
    match tmp.persist_noclobber(path) {
        Ok(_) => sync_dir(dir),
        Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e.error),
    }
}

/// Replaces `target` with `text`: a uniquely named temporary file in the same folder, with the
/// old file's permissions, synced, renamed over it, then the folder synced, so a crash leaves
/// the old file or the new one, never half of one, and no stray temporary file.
fn replace(target: &Path, old: &File, text: &str) -> std::io::Result<()> {
    let dir = parent(target);
    let mut tmp = temp_in(dir, target)?;
    std::fs::set_permissions(tmp.path(), old.metadata()?.permissions())?;
    tmp.write_all(text.as_bytes())?;
    tmp.as_file().sync_all()?;
    tmp.persist(target).map_err(|e| e.error)?;
    sync_dir(dir)
}

fn temp_in(dir: &Path, beside: &Path) -> std::io::Result<tempfile::NamedTempFile> {
    let name = beside
        .file_name()
        .map_or_else(|| "config".into(), |n| n.to_string_lossy());
    tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(dir)
}

fn parent(path: &Path) -> &Path {
    path.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Makes a rename in `dir` durable. Only Unix can open a folder to sync it.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Where the `repositories` array and its entries sit in the text (byte offsets).
struct ArrayText<'t> {
    text: &'t str,
    /// The `[` and the `]`.
    open: usize,
    close: usize,
    entries: Vec<Range<usize>>,
}

impl<'t> ArrayText<'t> {
    fn find(text: &'t str) -> Result<ArrayText<'t>, String> {
        let doc = toml_edit::Document::parse(text.to_string()).map_err(|e| e.to_string())?;
        let array = doc
            .as_table()
            .get("repositories")
            .and_then(|i| i.as_value())
            .and_then(|v| v.as_array())
            .ok_or("must be an array of \"owner/name\" strings")?;
        let span = array.span().ok_or("no position for the array")?;
        let entries = array
            .iter()
            .map(|v| v.span().ok_or("no position for an entry"))
            .collect::<Result<Vec<_>, _>>()?;
        let bytes = text.as_bytes();
        if span.is_empty() || bytes[span.start] != b'[' || bytes[span.end - 1] != b']' {
            return Err("the array is not where it was read".into());
        }
        Ok(ArrayText {
            text,
            open: span.start,
            close: span.end - 1,
            entries,
        })
    }

    fn line_start(&self, pos: usize) -> usize {
        self.text[..pos].rfind('\n').map_or(0, |i| i + 1)
    }

    /// The offset of the `\n` ending the line of `pos` (or the end of the text).
    fn line_end(&self, pos: usize) -> usize {
        self.text[pos..]
            .find('\n')
            .map_or(self.text.len(), |i| pos + i)
    }

    /// The separating comma in the text between two entries (comments skipped).
    fn comma_in(&self, range: Range<usize>) -> Option<usize> {
        let mut in_comment = false;
        for (i, b) in self.text.as_bytes()[range.clone()].iter().enumerate() {
            match b {
                b'\n' => in_comment = false,
                b'#' => in_comment = true,
                b',' if !in_comment => return Some(range.start + i),
                _ => {}
            }
        }
        None
    }

    /// The gap after entry `i`, up to the next entry or the `]`.
    fn after(&self, i: usize) -> Range<usize> {
        let end = self.entries.get(i + 1).map_or(self.close, |e| e.start);
        self.entries[i].end..end
    }

    /// Entry `i` has its line to itself: indentation, the entry, a comma, a comment.
    fn alone(&self, i: usize) -> bool {
        let e = &self.entries[i];
        let before = &self.text[self.line_start(e.start)..e.start];
        let end = self.line_end(e.end);
        let rest = self.text[e.end..end].trim_start();
        let rest = rest.strip_prefix(',').unwrap_or(rest).trim_start();
        before.trim().is_empty() && end < self.close && (rest.is_empty() || rest.starts_with('#'))
    }

    /// The line of `pos` is inside the brackets and holds only a comment / only blanks.
    fn line_is(&self, line: Range<usize>, test: impl Fn(&str) -> bool) -> bool {
        line.start > self.open && line.end <= self.close && test(&self.text[line])
    }
}

fn apply(text: &str, mut edits: Vec<(Range<usize>, String)>) -> String {
    edits.sort_by_key(|(r, _)| std::cmp::Reverse(r.start));
    let mut out = text.to_string();
    for (range, with) in edits {
        out.replace_range(range, &with);
    }
    out
}

/// `text` with `name` added as the last entry, written like the entries already there.
fn splice_add(text: &str, name: &RepoName) -> Result<String, String> {
    let a = ArrayText::find(text)?;
    let quote = a.entries.last().map_or('"', |e| {
        if text[e.clone()].starts_with('\'') {
            '\''
        } else {
            '"'
        }
    });
    let new = format!("{quote}{name}{quote}");
    let eol = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let mut edits = Vec::new();
    match a.entries.len().checked_sub(1) {
        None => {
            let inner = &text[a.open + 1..a.close];
            let close_line = a.line_start(a.close);
            if inner.contains('\n') && text[close_line..a.close].trim().is_empty() {
                // `[` and `]` on lines of their own: one entry a line, indented like the
                // comments inside, if any.
                let indent = inner
                    .lines()
                    .find(|l| l.trim_start().starts_with('#'))
                    .map_or("  ", |l| &l[..l.len() - l.trim_start().len()]);
                edits.push((close_line..close_line, format!("{indent}{new},{eol}")));
            } else {
                edits.push((a.open + 1..a.close, new));
            }
        }
        Some(last) if a.alone(last) => {
            let e = &a.entries[last];
            let indent = &text[a.line_start(e.start)..e.start];
            let trailing_comma = a.comma_in(a.after(last)).is_some();
            let next_line = a.line_end(e.end) + 1;
            if trailing_comma {
                edits.push((next_line..next_line, format!("{indent}{new},{eol}")));
            } else {
                edits.push((e.end..e.end, ",".into()));
                edits.push((next_line..next_line, format!("{indent}{new}{eol}")));
            }
        }
        Some(last) => {
            // Inline: the separator the list already uses, else ", ".
            let sep = last
                .checked_sub(1)
                .map(|prev| &text[a.entries[prev].end..a.entries[last].start])
                .filter(|s| !s.contains('\n') && !s.contains('#'))
                .unwrap_or(", ");
            let end = a.entries[last].end;
            edits.push((end..end, format!("{sep}{new}")));
        }
    }
    Ok(apply(text, edits))
}

/// `text` without entry `index`: its line, its comment, and the comment lines directly above
/// it go; every other line stays as it was.
fn splice_remove(text: &str, index: usize) -> Result<String, String> {
    let a = ArrayText::find(text)?;
    let n = a.entries.len();
    let e = a.entries.get(index).ok_or("no such entry")?.clone();
    let mut edits = Vec::new();
    if a.alone(index) {
        let mut start = a.line_start(e.start);
        while start > 0 {
            let above = a.line_start(start - 1)..start - 1;
            if !a.line_is(above.clone(), |l| l.trim_start().starts_with('#')) {
                break;
            }
            start = above.start;
        }
        let mut end = a.line_end(e.end) + 1;
        // No run of blank lines is left behind: a blank line above the entry goes when a blank
        // line or the `]` follows; one below goes when the entry followed the `[`.
        let blank = |l: &str| l.trim().is_empty();
        if start > 0 {
            let above = a.line_start(start - 1)..start - 1;
            let below = end..a.line_end(end);
            let below_blank = a.line_is(below.clone(), blank);
            let below_close = a.text[below.clone()].trim_start().starts_with(']');
            if a.line_is(above.clone(), blank) && (below_blank || below_close) {
                start = above.start;
            } else if above.start <= a.open && below_blank {
                end = below.end + 1;
            }
        }
        edits.push((start..end, String::new()));
        // The new last entry keeps the list's trailing-comma style.
        if index + 1 == n
            && n > 1
            && a.comma_in(a.after(index)).is_none()
            && let Some(c) = a.comma_in(a.after(index - 1)).filter(|&c| c < start)
        {
            edits.push((c..c + 1, String::new()));
        }
    } else {
        let same_line = |r: Range<usize>| !text[r].contains('\n');
        if n == 1 && same_line(a.open..a.close) {
            edits.push((a.open + 1..a.close, String::new()));
        } else if index + 1 < n && same_line(a.after(index)) {
            // `"this", "next"`: up to the next entry.
            edits.push((e.start..a.entries[index + 1].start, String::new()));
        } else if index > 0 && same_line(a.after(index - 1)) {
            // `"previous", "this"`: from the comma after the previous entry.
            let c = a.comma_in(a.after(index - 1)).ok_or("no comma")?;
            edits.push((c..e.end, String::new()));
        } else {
            // Alone but for the `[` or `]`: the entry, its comma and the blanks after it.
            let after = a.after(index);
            let mut end = a.comma_in(after.clone()).map_or(e.end, |c| c + 1);
            end += text[end..after.end].len()
                - text[end..after.end].trim_start_matches([' ', '\t']).len();
            edits.push((e.start..end, String::new()));
        }
    }
    Ok(apply(text, edits))
}

#[cfg(test)]
mod tests {
    use super::*;

    enum Op {
        Add(&'static str),
        Remove(&'static str),
    }
    use Op::{Add, Remove};

    /// (what, file before, edit, file after): each after-file written out in full.
    const CASES: &[(&str, &str, Op, &str)] = &[
        (
            "remove the middle entry: its comment goes with it",
            "repositories = [\n  \"a/one\",  # first\n  \"b/two\",  # second\n  \"c/three\",  # third\n]\n",
            Remove("b/two"),
            "repositories = [\n  \"a/one\",  # first\n  \"c/three\",  # third\n]\n",
        ),
        (
            "remove the first entry: a comment after [ stays",
            "repositories = [  # watched\n  \"a/one\",  # first\n  \"b/two\",  # second\n]\n",
            Remove("a/one"),
            "repositories = [  # watched\n  \"b/two\",  # second\n]\n",
        ),
        (
            "remove the last entry (trailing comma)",
            "repositories = [\n  \"a/one\",  # first\n  \"b/two\",  # second\n]\n",
            Remove("b/two"),
            "repositories = [\n  \"a/one\",  # first\n]\n",
        ),
        (
            "remove the last entry (no trailing comma): the new last one loses its comma",
            "repositories = [\n  \"a/one\",  # first\n  \"b/two\"  # second\n]\n",
            Remove("B/TWO"),
            "repositories = [\n  \"a/one\"  # first\n]\n",
        ),
        (
            "remove the only entry",
            "repositories = [\n    \"a/one\", # mine\n]\nmax_repositories = 2 # small\n",
            Remove("a/one"),
            "repositories = [\n]\nmax_repositories = 2 # small\n",
        ),
        (
            "remove an entry with comment lines above it; the next entry keeps its own",
            "# watch list\nrepositories = [\n  # Rust\n  \"rust-lang/rust\",\n  # Mine,\n  # all of them\n  \"me/a\",\n  # tokio\n  \"tokio-rs/tokio\",\n]\n",
            Remove("me/a"),
            "# watch list\nrepositories = [\n  # Rust\n  \"rust-lang/rust\",\n  # tokio\n  \"tokio-rs/tokio\",\n]\n",
        ),
        (
            "a comment separated by a blank line belongs to no entry and stays",
            "repositories = [\n  # Work\n\n  \"a/one\",\n  \"b/two\",\n]\n",
            Remove("a/one"),
            "repositories = [\n  # Work\n\n  \"b/two\",\n]\n",
        ),
        (
            "blank lines around a removed entry do not pile up",
            "repositories = [\n  \"a/one\",\n\n  # b\n  \"b/two\",\n\n  \"c/three\",\n]\n",
            Remove("b/two"),
            "repositories = [\n  \"a/one\",\n\n  \"c/three\",\n]\n",
        ),
        (
            "a blank line before ] goes with the last entry",
            "repositories = [\n  \"a/one\",\n\n  \"b/two\",\n]\n",
            Remove("b/two"),
            "repositories = [\n  \"a/one\",\n]\n",
        ),
        (
            "a blank line after the removed first entry goes",
            "repositories = [\n  \"a/one\",\n\n  \"b/two\",\n]\n",
            Remove("a/one"),
            "repositories = [\n  \"b/two\",\n]\n",
        ),
        (
            "add to a multi-line array: a line of its own, same indentation, comments in place",
            "repositories = [\n    \"a/one\",  # first\n    \"c/three\",  # third\n    # \"x/old\",\n]\n",
            Add("d/four"),
            "repositories = [\n    \"a/one\",  # first\n    \"c/three\",  # third\n    \"d/four\",\n    # \"x/old\",\n]\n",
        ),
        (
            "add to a multi-line array without a trailing comma",
            "repositories = [\n  \"a/one\",  # first\n  \"c/three\"  # third\n]\n",
            Add("d/four"),
            "repositories = [\n  \"a/one\",  # first\n  \"c/three\",  # third\n  \"d/four\"\n]\n",
        ),
        (
            "add to an empty multi-line array",
            "repositories = [\n    # none yet\n]\n",
            Add("a/one"),
            "repositories = [\n    # none yet\n    \"a/one\",\n]\n",
        ),
        (
            "add to an inline array keeps its spacing",
            "repositories = [\"a/b\", \"c/d\"]  # mine\n",
            Add("e/f"),
            "repositories = [\"a/b\", \"c/d\", \"e/f\"]  # mine\n",
        ),
        (
            "add to a tight inline array keeps it tight",
            "repositories = ['a/b','c/d']\n",
            Add("e/f"),
            "repositories = ['a/b','c/d','e/f']\n",
        ),
        (
            "add to a one-entry inline array with a trailing comma",
            "repositories = [ \"a/b\", ]\n",
            Add("e/f"),
            "repositories = [ \"a/b\", \"e/f\", ]\n",
        ),
        (
            "add to an empty inline array",
            "repositories = []\nmax_repositories = 3\n",
            Add("a/b"),
            "repositories = [\"a/b\"]\nmax_repositories = 3\n",
        ),
        (
            "remove the first of an inline array",
            "repositories = [\"a/b\", \"c/d\", \"e/f\"]\n",
            Remove("a/b"),
            "repositories = [\"c/d\", \"e/f\"]\n",
        ),
        (
            "remove the middle of an inline array",
            "repositories = [\"a/b\", \"c/d\", \"e/f\"]\n",
            Remove("c/d"),
            "repositories = [\"a/b\", \"e/f\"]\n",
        ),
        (
            "remove the last of an inline array",
            "repositories = [\"a/b\", \"c/d\", \"e/f\"]  # mine\n",
            Remove("e/f"),
            "repositories = [\"a/b\", \"c/d\"]  # mine\n",
        ),
        (
            "remove the only entry of an inline array",
            "repositories = [ \"a/b\" ]  # mine\n",
            Remove("a/b"),
            "repositories = []  # mine\n",
        ),
        (
            "remove the first entry (no trailing comma)",
            "repositories = [\n  \"a/one\",  # first\n  \"b/two\"  # second\n]\n",
            Remove("a/one"),
            "repositories = [\n  \"b/two\"  # second\n]\n",
        ),
        (
            "remove the middle entry (no trailing comma)",
            "repositories = [\n  \"a/one\",  # first\n  \"b/two\",  # second\n  \"c/three\"  # third\n]\n",
            Remove("b/two"),
            "repositories = [\n  \"a/one\",  # first\n  \"c/three\"  # third\n]\n",
        ),
        (
            "two entries on one line: only the one named goes",
            "repositories = [\n  \"a/b\", \"c/d\",  # pair\n  \"e/f\",\n]\n",
            Remove("c/d"),
            "repositories = [\n  \"a/b\",  # pair\n  \"e/f\",\n]\n",
        ),
        (
            "Windows line ends stay Windows line ends",
            "repositories = [\r\n  \"a/one\",  # first\r\n]\r\n",
            Add("b/two"),
            "repositories = [\r\n  \"a/one\",  # first\r\n  \"b/two\",\r\n]\r\n",
        ),
        (
            "Windows line ends: remove",
            "repositories = [\r\n  # one\r\n  \"a/one\",  # first\r\n  \"b/two\",\r\n]\r\n",
            Remove("a/one"),
            "repositories = [\r\n  \"b/two\",\r\n]\r\n",
        ),
        (
            "the rest of the file is untouched",
            "# top\nmax_repositories = 3 # three\nrepositories = [\n  \"a/one\",\n  \"b/two\",\n] # end\n\n[window]\n# a week\nmax_age = \"7d\"\n",
            Remove("a/one"),
            "# top\nmax_repositories = 3 # three\nrepositories = [\n  \"b/two\",\n] # end\n\n[window]\n# a week\nmax_age = \"7d\"\n",
        ),
    ];

    #[test]
    fn edits_keep_every_comment_with_its_entry() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("repositories.toml");
        for (what, before, op, after) in CASES {
            std::fs::write(&path, before).unwrap();
            let edited = match op {
                Add(r) => add_repository(&path, r),
                Remove(r) => remove_repository(&path, r),
            };
            if let Err(e) = edited {
                panic!("{what}: {e}");
            }
            let text = std::fs::read_to_string(&path).unwrap();
            assert_eq!(text, *after, "{what}");
        }
    }

    #[test]
    fn refusals_leave_the_file_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("repositories.toml");
        let original = "repositories = [\"a/b\", \"c/d\"]\nmax_repositories = 2\n";
        std::fs::write(&path, original).unwrap();
        assert!(matches!(
            add_repository(&path, "C/D"),
            Err(EditError::Duplicate(_))
        ));
        assert!(matches!(
            add_repository(&path, "e/f"),
            Err(EditError::OverLimit(2))
        ));
        assert!(matches!(
            add_repository(&path, "nope"),
            Err(EditError::InvalidName(_))
        ));
        assert!(matches!(
            remove_repository(&path, "x/y"),
            Err(EditError::NotWatched(_))
        ));
        std::fs::write(&path, "repositories = [\"a/b\"\n").unwrap();
        assert!(matches!(
            add_repository(&path, "e/f"),
            Err(EditError::Config(_))
        ));
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "repositories = [\"a/b\"\n",
            "a broken file is not overwritten"
        );
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "no temporary file is left: {names:?}");
    }

    #[test]
    fn removal_names_the_entry_as_listed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("repositories.toml");
        std::fs::write(&path, "repositories = [\"Owner/Name\"]\n").unwrap();
        let edited = remove_repository(&path, "owner/name").unwrap();
        assert_eq!(edited.repo.as_str(), "Owner/Name");
        assert!(edited.config.repositories.is_empty());
    }

    #[test]
    fn a_missing_file_is_created_with_its_folder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/repositories.toml");
        assert!(!Config::load(&path).unwrap().exists);
        add_repository(&path, "a/b").unwrap();
        add_repository(&path, "c/d").unwrap();
        remove_repository(&path, "a/b").unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!("{}", NEW_FILE.replace("[]", "[\"c/d\"]"))
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_symlinked_file_is_edited_at_its_target_and_keeps_its_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("real")).unwrap();
        let target = dir.path().join("real/repositories.toml");
        std::fs::write(&target, "repositories = []\n").unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600)).unwrap();
        let link = dir.path().join("link.toml");
        std::os::unix::fs::symlink(&target, &link).unwrap();

        add_repository(&link, "a/b").unwrap();
        assert!(link.symlink_metadata().unwrap().file_type().is_symlink());
        assert_eq!(
            std::fs::read_to_string(&target).unwrap(),
            "repositories = [\"a/b\"]\n"
        );
        let mode = std::fs::metadata(&target).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn parallel_edits_are_serialized() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("repositories.toml");
        std::fs::write(&path, "repositories = [\n]\nmax_repositories = 30\n").unwrap();
        std::thread::scope(|s| {
            for i in 0..16 {
                let path = &path;
                s.spawn(move || add_repository(path, &format!("o/r{i}")).unwrap());
            }
        });
        assert_eq!(Config::load(&path).unwrap().repositories.len(), 16);
    }

    /// One entry of a generated multi-line list: comment lines above it, a comment on its line,
    /// a blank line before it.
    #[derive(Clone, Debug)]
    struct Entry {
        above: usize,
        trailing: bool,
        blank_before: bool,
    }

    fn entry_line(i: usize, e: &Entry, comma: bool) -> String {
        let comma = if comma { "," } else { "" };
        let trailing = if e.trailing {
            format!("  # t{i}")
        } else {
            String::new()
        };
        format!("  \"o/r{i}\"{comma}{trailing}")
    }

    fn list_text(entries: &[Entry], trailing_comma: bool) -> String {
        let mut text = String::from("# head\nrepositories = [  # open\n");
        for (i, e) in entries.iter().enumerate() {
            if e.blank_before {
                text.push('\n');
            }
            for j in 0..e.above {
                text.push_str(&format!("  # a{i}-{j}\n"));
            }
            let comma = trailing_comma || i + 1 < entries.len();
            text.push_str(&entry_line(i, e, comma));
            text.push('\n');
        }
        text.push_str("]  # close\nmax_repositories = 100\n");
        text
    }

    /// Every entry still in `text` has its own comments, on its line and directly above it.
    fn comments_in_place(text: &str, entries: &[(usize, &Entry)]) {
        let lines: Vec<&str> = text.lines().collect();
        for &(i, e) in entries {
            let at = lines
                .iter()
                .position(|l| l.contains(&format!("\"o/r{i}\"")))
                .unwrap_or_else(|| panic!("o/r{i} lost:\n{text}"));
            assert_eq!(
                lines[at].contains(&format!("# t{i}")),
                e.trailing,
                "o/r{i}'s own comment:\n{text}"
            );
            for j in 0..e.above {
                assert_eq!(
                    lines[at - e.above + j],
                    format!("  # a{i}-{j}"),
                    "comment lines above o/r{i}:\n{text}"
                );
            }
        }
        for (k, l) in lines.iter().enumerate() {
            if let Some(i) = l.find("# t").map(|p| &l[p + 3..]) {
                assert!(l.contains(&format!("\"o/r{i}\"")), "{l:?} moved:\n{text}");
            }
            assert!(
                !(l.trim().is_empty() && lines.get(k + 1).is_some_and(|n| n.trim().is_empty())),
                "two blank lines in a row:\n{text}"
            );
        }
        assert!(
            text.starts_with("# head\nrepositories = [  # open\n"),
            "{text}"
        );
        assert!(
            text.ends_with("]  # close\nmax_repositories = 100\n"),
            "{text}"
        );
    }

    use proptest::prelude::*;

    proptest! {
        #[test]
        fn no_comment_ever_moves(
            entries in proptest::collection::vec(
                (0..3usize, any::<bool>(), any::<bool>())
                    .prop_map(|(above, trailing, blank_before)| Entry { above, trailing, blank_before }),
                1..6,
            ),
            trailing_comma in any::<bool>(),
            pick in 0..6usize,
        ) {
            let text = list_text(&entries, trailing_comma);
            let path = Path::new("repositories.toml");
            let before = Config::parse(path, &text).unwrap();
            let index = pick % entries.len();

            let removed = splice_remove(&text, index).unwrap();
            let after = Config::parse(path, &removed).unwrap();
            let mut expected = before.repositories.clone();
            expected.remove(index);
            prop_assert_eq!(&after.repositories, &expected);
            let kept: Vec<(usize, &Entry)> =
                entries.iter().enumerate().filter(|(i, _)| *i != index).collect();
            comments_in_place(&removed, &kept);
            for j in 0..entries[index].above {
                let comment = format!("# a{index}-{j}");
                prop_assert!(!removed.contains(&comment), "{} kept", comment);
            }
            let comment = format!("# t{index}\n");
            prop_assert!(!removed.contains(&comment), "{} kept", comment);

            let name = RepoName::parse("new/one").unwrap();
            let added = splice_add(&text, &name).unwrap();
            let after = Config::parse(path, &added).unwrap();
            let mut expected = before.repositories.clone();
            expected.push(name);
            prop_assert_eq!(&after.repositories, &expected);
            let all: Vec<(usize, &Entry)> = entries.iter().enumerate().collect();
            comments_in_place(&added, &all);
        }
    }
}
