//! Everything start-up needs, resolved once: command line > environment > config file > default.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::cli::Cli;
use ghpulse_core::{Config, ConfigError, DEFAULT_API_URL, Token};

pub struct Settings {
    pub config: Config,
    pub data_path: PathBuf,
    pub listen: Option<std::net::SocketAddr>,
    pub api_url: String,
    pub token: Option<Token>,
    pub api_key: Option<String>,
    /// `--theme`, checked; the config's `[ui] theme` is in `config.ui`.
    pub theme: Option<String>,
}

fn project_dirs() -> Option<directories::ProjectDirs> {
    directories::ProjectDirs::from("", "", "ghpulse")
}

/// `./repositories.toml` when it exists, else the per-user config file.
pub fn config_path(cli: &Cli) -> PathBuf {
    if let Some(p) = cli.config() {
        return p.clone();
    }
    let local = PathBuf::from("repositories.toml");
    if local.exists() {
        return local;
    }
    project_dirs().map_or(local, |d| d.config_dir().join("repositories.toml"))
}

pub fn data_path(cli: &Cli) -> PathBuf {
    cli.data().cloned().unwrap_or_else(|| {
        project_dirs().map_or_else(
            || PathBuf::from("ghpulse.redb"),
            |d| d.data_dir().join("ghpulse.redb"),
        )
    })
}

fn env_nonempty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The settings of the command that runs: only watching listens and talks to GitHub, so
/// `listen` and `api_url` are checked only then (a stray `GHPULSE_LISTEN` cannot break
/// `ghpulse stats`).
pub fn resolve(cli: &Cli) -> Result<Settings, ConfigError> {
    let config = Config::load(&config_path(cli))?;
    if let Some(named) = cli.config()
        && !config.exists
        && !cli.may_create_config()
    {
        return Err(ConfigError {
            path: named.clone(),
            line: None,
            key: "file".into(),
            message: format!(
                "no such file (`ghpulse repos add OWNER/NAME -c {}` creates it)",
                named.display()
            ),
        });
    }
    let watching = cli.command.is_none();
    let usage = |origin: &str, key: &str, message: String| ConfigError {
        path: PathBuf::from(origin),
        line: None,
        key: key.into(),
        message,
    };
    let config_usage = |key: &str, message: String| ConfigError {
        path: config.path.clone(),
        line: None,
        key: key.into(),
        message,
    };

    let listen = match (&cli.listen, &config.listen) {
        _ if !watching => None,
        (None, None) => None,
        (Some(s), _) => Some(
            s.parse()
                .map_err(|_| usage(&cli.origins.listen, "listen", not_an_address(s)))?,
        ),
        (None, Some(s)) => Some(
            s.parse()
                .map_err(|_| config_usage("listen", not_an_address(s)))?,
        ),
    };

    let gh = if let Some(t) = env_nonempty("GITHUB_TOKEN").or_else(|| env_nonempty("GH_TOKEN")) {
        GhLogin {
            token: Some(t),
            api_url: None,
        }
    } else {
        gh_login(env_nonempty("GH_HOST").as_deref(), Path::new("gh"))
    };

    let (api_url, blame) = match (&cli.api_url, &config.api_url) {
        (Some(u), _) => (u.clone(), Some(cli.origins.api_url.as_str())),
        (None, Some(u)) => (u.clone(), None),
        (None, None) => (
            gh.api_url.unwrap_or_else(|| DEFAULT_API_URL.to_string()),
            None,
        ),
    };
    if watching && let Err(message) = ghpulse_core::check_api_url(&api_url) {
        return Err(match blame {
            Some(origin) => usage(origin, "api_url", message),
            None => config_usage("api_url", message),
        });
    }
    Ok(Settings {
        theme: checked_theme(cli.theme.clone())?,
        data_path: data_path(cli),
        listen,
        api_url: api_url.trim_end_matches('/').to_string(),
        token: gh.token.and_then(Token::new),
        api_key: env_nonempty("GHPULSE_API_KEY"),
        config,
    })
}

/// `--theme` (or `GHPULSE_THEME`), checked.
pub fn checked_theme(theme: Option<String>) -> Result<Option<String>, ConfigError> {
    if let Some(name) = &theme {
        ghpulse_core::check_theme(name).map_err(|message| ConfigError {
            path: PathBuf::from("command line"),
            line: None,
            key: "--theme".into(),
            message,
        })?;
    }
    Ok(theme)
}

fn not_an_address(s: &str) -> String {
    format!("{s:?} is not an address like 127.0.0.1:5001")
}

/// What the gh CLI's login gives: its token, and for a GitHub Enterprise host its API root.
struct GhLogin {
    token: Option<String>,
    api_url: Option<String>,
}

/// The token of `gh auth token` (for `host` when given), as gh-dash and other gh companions
/// use it. No gh, no login, or any failure of gh simply means no token: gh's own messages
/// are not shown, and the token is never printed.
fn gh_login(host: Option<&str>, gh: &Path) -> GhLogin {
    let mut cmd = Command::new(gh);
    cmd.args(["auth", "token"]);
    if let Some(h) = host {
        cmd.args(["--hostname", h]);
    }
    let token = cmd
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|out| out.status.success())
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    let api_url = match host {
        Some(h) if token.is_some() && !h.eq_ignore_ascii_case("github.com") => {
            Some(format!("https://{h}/api/v3"))
        }
        _ => None,
    };
    GhLogin { token, api_url }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    /// A `gh` that prints a token per host, or fails for `unknown.example`.
    fn fake_gh(dir: &Path) -> PathBuf {
        let path = dir.join("gh");
        std::fs::write(
            &path,
            "#!/bin/sh\n\
             [ \"$1 $2\" = \"auth token\" ] || exit 1\n\
             case \"$4\" in unknown.example) echo 'no oauth token' >&2; exit 1;; esac\n\
             echo \"  gho_for_${4:-github.com}\"\n",
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    #[test]
    fn the_gh_login_gives_the_token_and_for_an_enterprise_host_its_api() {
        let dir = tempfile::tempdir().unwrap();
        let gh = fake_gh(dir.path());

        let login = gh_login(None, &gh);
        assert_eq!(login.token.as_deref(), Some("gho_for_github.com"));
        assert_eq!(login.api_url, None);

        let login = gh_login(Some("ghe.example.com"), &gh);
        assert_eq!(login.token.as_deref(), Some("gho_for_ghe.example.com"));
        assert_eq!(
            login.api_url.as_deref(),
            Some("https://ghe.example.com/api/v3")
        );

        let login = gh_login(Some("github.com"), &gh);
        assert_eq!(login.api_url, None);

        let login = gh_login(Some("unknown.example"), &gh);
        assert!(login.token.is_none() && login.api_url.is_none());

        let login = gh_login(None, &dir.path().join("no-such-gh"));
        assert!(login.token.is_none() && login.api_url.is_none());
    }
}
