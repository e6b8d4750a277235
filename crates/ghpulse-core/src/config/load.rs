//! `repositories.toml`: strict loading with file/line/key in every error. Edits of the watch
//! list live in `config_edit`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml_edit::Item;

use crate::config::keys::Keymap;
use crate::github::repo_name::RepoName;

pub const DEFAULT_MAX_REPOSITORIES: usize = 5;
/// One token's 5,000 requests an hour watch this many repositories, each polled as often as
/// GitHub allows, since a `304` is free and most polls find nothing new.
pub const MAX_REPOSITORIES: usize = 200;
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3600);
pub const DEFAULT_MAX_EVENTS: usize = 500;
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(30 * 24 * 3600);
/// A config file is a few lines; anything bigger is a mistake (`-c /dev/zero`, a log file).
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;
/// 100 years (humantime's year is 365.25 days): longer ones overflow date arithmetic.
pub const MAX_DURATION: Duration = Duration::from_secs(100 * 31_557_600);

/// Which events make up the statistics window of a repository.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub max_age: Duration,
    pub max_events: usize,
}

impl Default for Window {
    fn default() -> Self {
        Window {
            max_age: DEFAULT_MAX_AGE,
            max_events: DEFAULT_MAX_EVENTS,
        }
    }
}

/// `[labels]`: the label groups of SPEC section 3a's KPIs, in file order. Label names are kept
/// lowercased, because they compare without case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelGroups(pub Vec<(String, Vec<String>)>);

impl Default for LabelGroups {
    fn default() -> Self {
        let group = |name: &str, labels: &[&str]| {
            (
                name.to_string(),
                labels.iter().map(|l| l.to_string()).collect(),
            )
        };
        LabelGroups(vec![
            group("bug", &["bug", "type: bug", "kind/bug"]),
            group("performance", &["performance", "perf"]),
        ])
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub path: PathBuf,
    /// False when the file does not exist yet; the first added repository creates it.
    pub exists: bool,
    pub repositories: Vec<RepoName>,
    pub max_repositories: usize,
    pub window: Window,
    pub retention: Duration,
    pub api_url: Option<String>,
    pub listen: Option<String>,
    /// `[server] allowed_hosts`: names (or addresses) the REST listener answers to besides
    /// `localhost` and its own address, each as [`parse_host`] gives it. Read at start-up.
    pub allowed_hosts: Vec<String>,
    pub labels: LabelGroups,
    /// `[ui]`: the dashboard's looks. Read at start-up.
    pub ui: Ui,
    /// `[keys]`: the dashboard's keys, defaults with the user's replacements. Read at start-up.
    pub keymap: Keymap,
}

/// The built-in themes, `[ui] theme` / `--theme`.
pub const THEMES: &[&str] = &["default", "light", "high-contrast"];

/// The colours a theme sets and `[ui.colors]` can override.
pub const COLOR_SLOTS: &[&str] = &[
    "text",
    "dim",
    "accent",
    "good",
    "warn",
    "bad",
    "border",
    "focused_border",
    "selection_fg",
    "selection_bg",
];

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ui {
    pub theme: Option<String>,
    /// `(slot, colour)` in file order; both already validated.
    pub colors: Vec<(String, String)>,
}

const COLOR_NAMES: &[&str] = &[
    "reset",
    "black",
    "red",
    "green",
    "yellow",
    "blue",
    "magenta",
    "cyan",
    "gray",
    "darkgray",
    "lightred",
    "lightgreen",
    "lightyellow",
    "lightblue",
    "lightmagenta",
    "lightcyan",
    "white",
];

/// A colour as `[ui.colors]` takes it: a terminal colour name, "#rrggbb" or an index 0–255.
pub fn is_colour(s: &str) -> bool {
    let lower = s.to_ascii_lowercase().replace(['-', '_', ' '], "");
    COLOR_NAMES.contains(&lower.as_str())
        || lower.parse::<u8>().is_ok()
        || (lower.len() == 7
            && lower.starts_with('#')
            && lower[1..].chars().all(|c| c.is_ascii_hexdigit()))
}

/// A theme name or an error that lists them.
pub fn check_theme(s: &str) -> Result<(), String> {
    if THEMES.contains(&s) {
        Ok(())
    } else {
        Err(format!(
            "{s:?} is not a theme; the themes are {}",
            THEMES.join(", ")
        ))
    }
}

/// A config problem, located as precisely as the file allows.
#[derive(Debug, thiserror::Error)]
#[error("{}{}: {key}: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct ConfigError {
    pub path: PathBuf,
    pub line: Option<usize>,
    pub key: String,
    pub message: String,
}

impl Config {
    /// Loads and validates the file. A missing file is an empty watch list, so a first run can
    /// start with nothing and create the file on the first add.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        match std::fs::File::open(path) {
            Ok(file) => Config::parse(path, &read_text(path, file)?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Config::missing(path)),
            Err(e) => Err(file_error(path, format!("cannot read: {e}"))),
        }
    }

    /// The config of a file that does not exist (yet).
    pub fn missing(path: &Path) -> Config {
        Config {
            path: path.to_path_buf(),
            exists: false,
            repositories: Vec::new(),
            max_repositories: DEFAULT_MAX_REPOSITORIES,
            window: Window::default(),
            retention: DEFAULT_RETENTION,
            api_url: None,
            listen: None,
            allowed_hosts: Vec::new(),
            labels: LabelGroups::default(),
            ui: Ui::default(),
            keymap: Keymap::default(),
        }
    }

    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
        Parser { path, text }.parse()
    }
}

/// Reads at most `MAX_FILE_BYTES` (+1 to tell "too big"), so no file can make ghpulse grow.
pub fn read_text(path: &Path, reader: impl Read) -> Result<String, ConfigError> {
    let mut bytes = Vec::new();
    reader
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| file_error(path, format!("cannot read: {e}")))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(file_error(
            path,
            "larger than 1 MiB; is this the right file?".into(),
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        file_error(
            path,
            format!(
                "not UTF-8 text (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
        )
    })
}

fn file_error(path: &Path, message: String) -> ConfigError {
    ConfigError {
        path: path.to_path_buf(),
        line: None,
        key: "file".into(),
        message,
    }
}

struct Parser<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Parser<'_> {
    fn err(&self, span: Option<std::ops::Range<usize>>, key: &str, message: String) -> ConfigError {
        ConfigError {
            path: self.path.to_path_buf(),
            line: span.map(|s| line_of(self.text, s.start)),
            key: key.to_string(),
            message,
        }
    }

    fn parse(&self) -> Result<Config, ConfigError> {
        let doc = toml_edit::Document::parse(self.text.to_string())
            .map_err(|e| self.err(e.span(), "syntax", e.message().trim().to_string()))?;
        let root = doc.as_table();
        for (key, item) in root.iter() {
            if ![
                "repositories",
                "max_repositories",
                "window",
                "store",
                "github",
                "server",
                "labels",
                "ui",
                "keys",
            ]
            .contains(&key)
            {
                return Err(self.err(span_of(root, key, item), key, "unknown key".into()));
            }
        }

        let max_repositories = match root.get("max_repositories") {
            None => DEFAULT_MAX_REPOSITORIES,
            Some(item) => match item.as_integer() {
                Some(n) if (1..=MAX_REPOSITORIES as i64).contains(&n) => n as usize,
                _ => {
                    return Err(self.err(
                        item.span(),
                        "max_repositories",
                        format!(
                            "{} is not a whole number from 1 to {MAX_REPOSITORIES}",
                            show(item)
                        ),
                    ));
                }
            },
        };

        let mut window = Window::default();
        let mut retention = DEFAULT_RETENTION;
        let mut api_url = None;
        let mut listen = None;
        let mut allowed_hosts = Vec::new();
        for (section, allowed) in [
            ("window", &["max_age", "max_events"][..]),
            ("store", &["retention"][..]),
            ("github", &["api_url"][..]),
            ("server", &["listen", "allowed_hosts"][..]),
        ] {
            let Some(item) = root.get(section) else {
                continue;
            };
            let Some(table) = item.as_table_like() else {
                return Err(self.err(item.span(), section, "must be a table".into()));
            };
            for (key, value) in table.iter() {
                let full = format!("{section}.{key}");
                if !allowed.contains(&key) {
                    return Err(self.err(value.span(), &full, "unknown key".into()));
                }
                match full.as_str() {
                    "window.max_age" => window.max_age = self.duration(value, &full)?,
                    "store.retention" => retention = self.duration(value, &full)?,
                    "window.max_events" => {
                        window.max_events = match value.as_integer() {
                            Some(n) if (1..=100_000).contains(&n) => n as usize,
                            _ => {
                                return Err(self.err(
                                    value.span(),
                                    &full,
                                    format!(
                                        "{} is not a whole number from 1 to 100000",
                                        show(value)
                                    ),
                                ));
                            }
                        }
                    }
                    "github.api_url" => {
                        let s = self.string(value, &full)?;
                        check_api_url(s).map_err(|m| self.err(value.span(), &full, m))?;
                        api_url = Some(s.trim_end_matches('/').to_string());
                    }
                    "server.listen" => {
                        let s = self.string(value, &full)?;
                        s.parse::<std::net::SocketAddr>().map_err(|_| {
                            self.err(
                                value.span(),
                                &full,
                                format!("{s:?} is not an address like 127.0.0.1:5001"),
                            )
                        })?;
                        listen = Some(s.to_string());
                    }
                    "server.allowed_hosts" => allowed_hosts = self.hosts(value, &full)?,
                    _ => unreachable!("keys are checked against the allowed list above"),
                }
            }
        }
        if retention < window.max_age {
            let span = root
                .get("store")
                .and_then(|s| s.get("retention"))
                .and_then(Item::span);
            return Err(self.err(
                span,
                "store.retention",
                format!(
                    "{} is shorter than window.max_age ({}); the window would lose events",
                    humantime::format_duration(retention),
                    humantime::format_duration(window.max_age)
                ),
            ));
        }

        let Some(repos_item) = root.get("repositories") else {
            return Err(self.err(
                None,
                "repositories",
                "missing; add repositories = [\"owner/name\"]".into(),
            ));
        };
        let Some(array) = repos_item.as_array() else {
            return Err(self.err(
                repos_item.span(),
                "repositories",
                "must be an array of \"owner/name\" strings".into(),
            ));
        };
        let mut repositories: Vec<RepoName> = Vec::new();
        for (i, value) in array.iter().enumerate() {
            let key = format!("repositories[{i}]");
            let Some(s) = value.as_str() else {
                return Err(self.err(
                    value.span(),
                    &key,
                    format!("{} is not a string", value.to_string().trim()),
                ));
            };
            let name =
                RepoName::parse(s).map_err(|e| self.err(value.span(), &key, e.to_string()))?;
            if repositories.contains(&name) {
                return Err(self.err(value.span(), &key, format!("{s:?} is listed twice")));
            }
            repositories.push(name);
        }
        if repositories.len() > max_repositories {
            let span = array.get(max_repositories).and_then(|v| v.span());
            return Err(self.err(
                span,
                &format!("repositories[{max_repositories}]"),
                format!(
                    "{} repositories listed but max_repositories is {max_repositories}",
                    repositories.len()
                ),
            ));
        }

        let ui = self.ui(root)?;
        let keymap = self.keys(root)?;
        Ok(Config {
            path: self.path.to_path_buf(),
            exists: true,
            repositories,
            max_repositories,
            window,
            retention,
            api_url,
            listen,
            allowed_hosts,
            labels: self.labels(root.get("labels"))?,
            ui,
            keymap,
        })
    }

    fn ui(&self, root: &toml_edit::Table) -> Result<Ui, ConfigError> {
        let mut ui = Ui::default();
        let Some(item) = root.get("ui") else {
            return Ok(ui);
        };
        let Some(table) = item.as_table_like() else {
            return Err(self.err(item.span(), "ui", "must be a table".into()));
        };
        for (key, value) in table.iter() {
            let full = format!("ui.{key}");
            match key {
                "theme" => {
                    let s = self.string(value, &full)?;
                    check_theme(s).map_err(|m| self.err(value.span(), &full, m))?;
                    ui.theme = Some(s.to_string());
                }
                "colors" => {
                    let Some(colors) = value.as_table_like() else {
                        return Err(self.err(value.span(), &full, "must be a table".into()));
                    };
                    for (slot, colour) in colors.iter() {
                        let full = format!("ui.colors.{slot}");
                        if !COLOR_SLOTS.contains(&slot) {
                            return Err(self.err(
                                colour.span(),
                                &full,
                                format!(
                                    "unknown colour; the colours are {}",
                                    COLOR_SLOTS.join(", ")
                                ),
                            ));
                        }
                        let c = self.string(colour, &full)?;
                        if !is_colour(c) {
                            return Err(self.err(
                                colour.span(),
                                &full,
                                format!("{c:?} is not a colour: a name (red, lightblue, darkgray…), \"#rrggbb\" or 0-255"),
                            ));
                        }
                        ui.colors.push((slot.to_string(), c.to_string()));
                    }
                }
                _ => return Err(self.err(value.span(), &full, "unknown key".into())),
            }
        }
        Ok(ui)
    }

    fn keys(&self, root: &toml_edit::Table) -> Result<Keymap, ConfigError> {
        let Some(item) = root.get("keys") else {
            return Ok(Keymap::default());
        };
        let Some(table) = item.as_table_like() else {
            return Err(self.err(item.span(), "keys", "must be a table".into()));
        };
        let mut overrides = Vec::new();
        let mut spans = Vec::new();
        for (action, value) in table.iter() {
            let full = format!("keys.{action}");
            let keys: Vec<String> = if let Some(s) = value.as_str() {
                vec![s.to_string()]
            } else if let Some(array) = value.as_array() {
                array
                    .iter()
                    .map(|v| {
                        v.as_str().map(str::to_string).ok_or_else(|| {
                            self.err(
                                value.span(),
                                &full,
                                format!("{} is not a string", v.to_string().trim()),
                            )
                        })
                    })
                    .collect::<Result<_, _>>()?
            } else {
                return Err(self.err(
                    value.span(),
                    &full,
                    "must be a key or a list of keys, like [\"q\", \"ctrl-c\"]".into(),
                ));
            };
            overrides.push((action.to_string(), keys));
            spans.push((full, value.span()));
        }
        Keymap::with_overrides(&overrides).map_err(|e| {
            let (key, span) = spans[e.entry].clone();
            self.err(span, &key, e.message)
        })
    }

    /// `[labels]` replaces the default groups: `group = ["label", ...]`, at least one label each.
    fn labels(&self, item: Option<&Item>) -> Result<LabelGroups, ConfigError> {
        let Some(item) = item else {
            return Ok(LabelGroups::default());
        };
        let Some(table) = item.as_table_like() else {
            return Err(self.err(item.span(), "labels", "must be a table".into()));
        };
        let mut groups = Vec::new();
        for (group, value) in table.iter() {
            let key = format!("labels.{group}");
            let names = value.as_array().filter(|a| !a.is_empty()).ok_or_else(|| {
                self.err(
                    value.span(),
                    &key,
                    format!("{} is not a non-empty array of label names", show(value)),
                )
            })?;
            let mut labels = Vec::new();
            for (i, v) in names.iter().enumerate() {
                match v.as_str().map(str::trim) {
                    Some(name) if !name.is_empty() => labels.push(name.to_lowercase()),
                    _ => {
                        return Err(self.err(
                            v.span(),
                            &format!("{key}[{i}]"),
                            format!("{} is not a label name", v.to_string().trim()),
                        ));
                    }
                }
            }
            groups.push((group.to_string(), labels));
        }
        Ok(LabelGroups(groups))
    }

    /// `allowed_hosts = ["ghpulse.lan", "192.168.1.10"]`: each a name or an address, no port.
    fn hosts(&self, item: &Item, key: &str) -> Result<Vec<String>, ConfigError> {
        let Some(array) = item.as_array() else {
            return Err(self.err(
                item.span(),
                key,
                format!("{} is not an array of host names", show(item)),
            ));
        };
        let mut hosts = Vec::new();
        for (i, v) in array.iter().enumerate() {
            let host = v
                .as_str()
                .ok_or_else(|| format!("{} is not a string", v.to_string().trim()))
                .and_then(parse_host)
                .map_err(|m| self.err(v.span(), &format!("{key}[{i}]"), m))?;
            hosts.push(host.to_string());
        }
        Ok(hosts)
    }

    fn string<'v>(&self, item: &'v Item, key: &str) -> Result<&'v str, ConfigError> {
        item.as_str()
            .ok_or_else(|| self.err(item.span(), key, format!("{} is not a string", show(item))))
    }

    fn duration(&self, item: &Item, key: &str) -> Result<Duration, ConfigError> {
        let s = self.string(item, key)?;
        match humantime::parse_duration(s) {
            Ok(d) if !d.is_zero() && d <= MAX_DURATION => Ok(d),
            Ok(d) if !d.is_zero() => {
                Err(self.err(item.span(), key, format!("{s:?} is longer than 100 years")))
            }
            _ => Err(self.err(
                item.span(),
                key,
                format!("{s:?} is not a duration like \"7d\" or \"12h\""),
            )),
        }
    }
}

pub fn check_api_url(s: &str) -> Result<(), String> {
    match reqwest::Url::parse(s) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(()),
        _ => Err(format!("{s:?} is not an http(s) URL")),
    }
}

/// A host as `[server] allowed_hosts` lists it and a `Host` header names it (without its port):
/// a DNS name, lowercased and in its ASCII (`xn--`) form, without a final dot; or an IP
/// address, IPv6 in brackets.
pub fn parse_host(s: &str) -> Result<url::Host, String> {
    let refuse = |why: &str| format!("{s:?} is not a host name or IP address ({why})");
    if s.contains('*') {
        return Err(refuse("no wildcards: list each name"));
    }
    let name = s.strip_suffix('.').unwrap_or(s);
    match url::Host::parse(name) {
        Ok(url::Host::Domain(d)) if d.is_empty() => Err(refuse("empty")),
        Ok(host) => Ok(host),
        Err(_)
            if name.contains(':')
                && !name.starts_with('[')
                && name.parse::<std::net::Ipv6Addr>().is_ok() =>
        {
            Err(refuse("an IPv6 address goes in brackets, e.g. [::1]"))
        }
        Err(_) if name.contains(':') || name.contains('/') => {
            Err(refuse("a name alone: no scheme, port or path"))
        }
        Err(e) => Err(refuse(&e.to_string())),
    }
}

fn show(item: &Item) -> String {
    item.to_string().trim().to_string()
}

fn span_of(table: &toml_edit::Table, key: &str, item: &Item) -> Option<std::ops::Range<usize>> {
    table
        .key(key)
        .and_then(|k| k.span())
        .or_else(|| item.span())
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(Path::new("repositories.toml"), text)
    }

    #[test]
    fn reads_the_documented_example() {
        let c = parse(
            r#"# Repositories to watch
repositories = ["rust-lang/rust", "tokio-rs/tokio", "ratatui/ratatui"]
max_repositories = 5

[window]
max_age = "7d"
max_events = 500

[store]
retention = "30d"

[github]
api_url = "https://api.github.com"

[server]
# listen = "127.0.0.1:5001"
"#,
        )
        .unwrap();
        assert_eq!(c.repositories.len(), 3);
        assert_eq!(c.window, Window::default());
        assert_eq!(c.api_url.as_deref(), Some("https://api.github.com"));
        assert_eq!(c.listen, None);
    }

    #[test]
    fn errors_name_file_line_and_key() {
        let cases = [
            (
                "repositories = [\n  \"a/b\",\n  \"bad name\",\n]\n",
                3,
                "repositories[1]",
            ),
            ("repositories = [\"a/b\", \"A/B\"]\n", 1, "repositories[1]"),
            ("repositories = []\ncolour = 1\n", 2, "colour"),
            (
                "repositories = []\n[window]\nmax_age = \"soon\"\n",
                3,
                "window.max_age",
            ),
            (
                "repositories = []\n[window]\nmax_events = 0\n",
                3,
                "window.max_events",
            ),
            (
                "repositories = []\n[store]\nretention = \"1d\"\n",
                3,
                "store.retention",
            ),
            (
                "repositories = []\n[server]\nlisten = \"here\"\n",
                3,
                "server.listen",
            ),
            (
                "repositories = []\n[github]\napi_url = \"ftp://x\"\n",
                3,
                "github.api_url",
            ),
            (
                "max_repositories = 1\nrepositories = [\"a/b\", \"c/d\"]\n",
                2,
                "repositories[1]",
            ),
            ("repositories = [1]\n", 1, "repositories[0]"),
            ("repositories = [\n", 1, "syntax"),
            (
                "repositories = []\n[window]\nmax_age = \"300000y\"\n",
                3,
                "window.max_age",
            ),
            (
                "repositories = []\n[store]\nretention = \"300000y\"\n",
                3,
                "store.retention",
            ),
            (
                "repositories = []\n[window]\nmax_age = \"100y 1s\"\n",
                3,
                "window.max_age",
            ),
            ("repositories = []\n[ui]\ntheme = \"dark\"\n", 3, "ui.theme"),
            ("repositories = []\n[ui]\nfont = \"x\"\n", 3, "ui.font"),
            (
                "repositories = []\n[ui.colors]\ngood = \"greenish\"\n",
                3,
                "ui.colors.good",
            ),
            (
                "repositories = []\n[ui.colors]\nsky = \"blue\"\n",
                3,
                "ui.colors.sky",
            ),
            (
                "repositories = []\n[keys]\nhelp = \"h\"\nadd = [\"q\"]\n",
                4,
                "keys.add",
            ),
            ("repositories = []\n[keys]\njump = \"x\"\n", 3, "keys.jump"),
            (
                "repositories = []\n[keys]\nquit = [\"ctrl-\"]\n",
                3,
                "keys.quit",
            ),
        ];
        for (text, line, key) in cases {
            let e = parse(text).unwrap_err();
            assert_eq!((e.line, e.key.as_str()), (Some(line), key), "{text:?}: {e}");
            assert!(
                e.to_string()
                    .starts_with(&format!("repositories.toml:{line}: {key}: ")),
                "{e}"
            );
        }
        assert_eq!(
            parse("max_repositories = 3\n").unwrap_err().key,
            "repositories"
        );
    }

    #[test]
    fn up_to_two_hundred_repositories_may_be_watched() {
        let names: Vec<String> = (0..200).map(|k| format!("\"o{k}/r\"")).collect();
        let text = format!(
            "max_repositories = 200\nrepositories = [{}]\n",
            names.join(", ")
        );
        let c = parse(&text).unwrap();
        assert_eq!((c.max_repositories, c.repositories.len()), (200, 200));
        let e = parse("max_repositories = 201\nrepositories = []\n").unwrap_err();
        assert_eq!(e.key, "max_repositories");
        assert!(
            e.to_string()
                .ends_with("201 is not a whole number from 1 to 200"),
            "{e}"
        );
    }

    #[test]
    fn allowed_hosts_are_names_or_addresses_without_a_port() {
        let c = parse(
            "repositories = []\n[server]\nallowed_hosts = [\"GHPulse.LAN.\", \"192.168.1.10\", \"[::1]\", \"bücher.lan\"]\n",
        )
        .unwrap();
        assert_eq!(
            c.allowed_hosts,
            ["ghpulse.lan", "192.168.1.10", "[::1]", "xn--bcher-kva.lan"]
        );
        assert!(
            parse("repositories = []\n")
                .unwrap()
                .allowed_hosts
                .is_empty()
        );
        for (value, line, key, says) in [
            ("\"ghpulse.lan\"", 3, "server.allowed_hosts", "not an array"),
            (
                "[\n  \"a.lan\",\n  \"ghpulse.lan:8080\",\n]",
                5,
                "server.allowed_hosts[1]",
                "no scheme, port or path",
            ),
            (
                "[\"http://ghpulse.lan\"]",
                3,
                "server.allowed_hosts[0]",
                "no scheme, port or path",
            ),
            ("[\"*.lan\"]", 3, "server.allowed_hosts[0]", "no wildcards"),
            ("[\"::1\"]", 3, "server.allowed_hosts[0]", "in brackets"),
            ("[\"\"]", 3, "server.allowed_hosts[0]", "empty"),
            ("[\"a b\"]", 3, "server.allowed_hosts[0]", "not a host name"),
            ("[3]", 3, "server.allowed_hosts[0]", "not a string"),
        ] {
            let text = format!("repositories = []\n[server]\nallowed_hosts = {value}\n");
            let e = parse(&text).unwrap_err();
            assert_eq!((e.line, e.key.as_str()), (Some(line), key), "{text:?}: {e}");
            assert!(e.to_string().contains(says), "{text:?}: {e}");
        }
    }

    #[test]
    fn ui_and_keys_are_read() {
        let c = parse(
            "repositories = []\n[ui]\ntheme = \"light\"\n[ui.colors]\ngood = \"#00aa00\"\nselection_bg = \"lightyellow\"\n[keys]\nquit = [\"x\", \"ctrl-c\"]\npoll_now = \"R\"\n",
        )
        .unwrap();
        assert_eq!(c.ui.theme.as_deref(), Some("light"));
        assert_eq!(c.ui.colors.len(), 2);
        assert_ne!(c.keymap, Keymap::default());
        let e = parse("repositories = []\n[keys]\nhelp = \"h\"\nadd = [\"q\"]\n").unwrap_err();
        assert!(
            e.to_string().contains("q is bound to both add and quit"),
            "{e}"
        );
    }

    #[test]
    fn a_hundred_years_is_the_longest_duration() {
        let c = parse(
            "repositories = []\n[window]\nmax_age = \"100y\"\n[store]\nretention = \"100y\"\n",
        )
        .unwrap();
        assert_eq!(c.window.max_age, MAX_DURATION);
    }

    #[test]
    fn reading_stops_after_one_mebibyte() {
        let path = Path::new("/dev/zero");
        // An endless reader: the cap is what ends the read.
        let e = read_text(path, std::io::repeat(b' ')).unwrap_err();
        assert_eq!(e.key, "file");
        assert!(e.to_string().contains("larger than 1 MiB"), "{e}");
        let exactly = " ".repeat(MAX_FILE_BYTES as usize);
        assert_eq!(
            read_text(path, exactly.as_bytes()).unwrap().len(),
            exactly.len()
        );
        let e = read_text(path, &b"repositories = [\"\xff\"]"[..]).unwrap_err();
        assert!(e.to_string().contains("not UTF-8"), "{e}");
    }

    #[test]
    fn label_groups_default_replace_and_refuse_bad_entries() {
        assert_eq!(
            parse("repositories = []\n").unwrap().labels,
            LabelGroups::default()
        );
        let c =
            parse("repositories = []\n[labels]\nbug = [\"Bug\", \" Type: Bug \"]\nui = [\"UX\"]\n")
                .unwrap();
        assert_eq!(
            c.labels.0,
            [
                (
                    "bug".to_string(),
                    vec!["bug".to_string(), "type: bug".to_string()]
                ),
                ("ui".to_string(), vec!["ux".to_string()]),
            ],
            "file order, lowercased, and the defaults replaced"
        );
        for (text, line, key) in [
            ("repositories = []\nlabels = 3\n", 2, "labels"),
            ("repositories = []\n[labels]\nbug = []\n", 3, "labels.bug"),
            (
                "repositories = []\n[labels]\nbug = \"bug\"\n",
                3,
                "labels.bug",
            ),
            (
                "repositories = []\n[labels]\nperf = [\n  \"perf\",\n  2,\n]\n",
                5,
                "labels.perf[1]",
            ),
            (
                "repositories = []\n[labels]\nbug = [\" \"]\n",
                3,
                "labels.bug[0]",
            ),
        ] {
            let e = parse(text).unwrap_err();
            assert_eq!((e.line, e.key.as_str()), (Some(line), key), "{text:?}: {e}");
        }
    }
}
