//! Everything start-up needs, resolved once: command line > environment > config file > default.

use std::path::PathBuf;

use crate::cli::Cli;
use crate::config::{Config, ConfigError};
use crate::github::{DEFAULT_API_URL, Token};

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
    if let Some(p) = &cli.config {
        return p.clone();
    }
    let local = PathBuf::from("repositories.toml");
    if local.exists() {
        return local;
    }
    project_dirs().map_or(local, |d| d.config_dir().join("repositories.toml"))
}

pub fn data_path(cli: &Cli) -> PathBuf {
    cli.data.clone().unwrap_or_else(|| {
        project_dirs().map_or_else(
            || PathBuf::from("ghpulse.redb"),
            |d| d.data_dir().join("ghpulse.redb"),
        )
    })
}

fn env_nonempty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

pub fn resolve(cli: &Cli) -> Result<Settings, ConfigError> {
    let config = Config::load(&config_path(cli))?;
    let usage = |key: &str, message: String| ConfigError {
        path: if cli.listen.is_some() || cli.api_url.is_some() {
            PathBuf::from("command line")
        } else {
            config.path.clone()
        },
        line: None,
        key: key.into(),
        message,
    };
    let listen = match cli.listen.as_deref().or(config.listen.as_deref()) {
        None => None,
        Some(s) => Some(s.parse().map_err(|_| {
            usage(
                "listen",
                format!("{s:?} is not an address like 127.0.0.1:5001"),
            )
        })?),
    };
    let api_url = cli
        .api_url
        .clone()
        .or(config.api_url.clone())
        .unwrap_or_else(|| DEFAULT_API_URL.to_string());
    match reqwest::Url::parse(&api_url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => {}
        _ => {
            return Err(usage(
                "api_url",
                format!("{api_url:?} is not an http(s) URL"),
            ));
        }
    }
    if let Some(theme) = &cli.theme {
        crate::config::check_theme(theme).map_err(|message| ConfigError {
            path: PathBuf::from("command line"),
            line: None,
            key: "--theme".into(),
            message,
        })?;
    }
    Ok(Settings {
        theme: cli.theme.clone(),
        data_path: data_path(cli),
        listen,
        api_url: api_url.trim_end_matches('/').to_string(),
        token: env_nonempty("GITHUB_TOKEN")
            .or_else(|| env_nonempty("GH_TOKEN"))
            .and_then(Token::new),
        api_key: env_nonempty("GHPULSE_API_KEY"),
        config,
    })
}
