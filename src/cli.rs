//! The command line. clap applies "command line > environment"; `settings` adds the config
//! file and the defaults. Each subcommand takes only the options it uses.

use std::path::PathBuf;

use clap::builder::TypedValueParser;
use clap::parser::ValueSource;
use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "ghpulse",
    version,
    about = "Watch GitHub repository activity from a terminal",
    long_about = "Watch GitHub repository activity from a terminal.\n\n\
        Without a subcommand, ghpulse polls the GitHub Events API for the repositories in the \
        config file and shows a live dashboard (or, with --headless or when stdout is not a \
        terminal, runs the fetcher alone with logs on stderr until SIGINT, SIGTERM, SIGHUP, \
        SIGQUIT, SIGUSR1 or SIGUSR2, each of which ends it cleanly). It follows \
        the config file while it runs: an edit applies within 2 s, an invalid one is reported \
        and the last valid config stays in force. The dashboard also logs to \
        $XDG_STATE_HOME/ghpulse/ghpulse.log.\n\n\
        `ghpulse demo` shows the dashboard over a replay of recorded public events, with no \
        network and no token.\n\n\
        Token: GITHUB_TOKEN, else GH_TOKEN, else the gh CLI's login (`gh auth token`, for \
        GH_HOST when set); none: unauthenticated, 60 requests/hour.\n\
        REST key for changes: GHPULSE_API_KEY (none: changing endpoints answer 403).\n\
        Log filter: GHPULSE_LOG (tracing syntax, default ghpulse=info).\n\
        REST listener: GHPULSE_REST_MAX_CONNECTIONS (open connections, default 1024, kept under \
        the descriptors free; at the cap the longest-idle one is closed for a new client) and \
        GHPULSE_REST_TIMEOUT (for a request head, an idle keep-alive connection, a whole \
        request and an answer left unread, default 30s). It answers to localhost, its listen \
        address and the names of the config's [server] allowed_hosts; other Host names get \
        421.",
    after_help = "Exit codes: 0 clean exit, 2 bad usage or bad config, 1 any other failure."
)]
pub struct Cli {
    #[command(flatten)]
    pub files: Files,

    /// Serve the REST API on this address, e.g. 127.0.0.1:5001 [default: config [server] listen, else off]
    #[arg(short, long, env = "GHPULSE_LISTEN", value_name = "ADDR")]
    pub listen: Option<String>,

    /// GitHub API base URL [default: config [github] api_url, else https://api.github.com]
    #[arg(long, env = "GITHUB_API_URL", value_name = "URL")]
    pub api_url: Option<String>,

    /// Run the fetcher (and REST listener) without the dashboard; logs go to stderr
    #[arg(long)]
    pub headless: bool,

    /// Dashboard theme: default, light or high-contrast [default: config [ui] theme, else default]
    #[arg(long, env = "GHPULSE_THEME", value_name = "NAME")]
    pub theme: Option<String>,

    /// Where `listen` and `api_url` came from, for error messages.
    #[arg(skip)]
    pub origins: Origins,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The config file and the store. Accepted before a subcommand (`ghpulse -c F stats`) and
/// after it (`ghpulse stats -c F`); the latter wins.
#[derive(Debug, Default, Args)]
pub struct Files {
    /// Config file [default: ./repositories.toml, else $XDG_CONFIG_HOME/ghpulse/repositories.toml]
    #[arg(short, long, env = "GHPULSE_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// The redb store [default: $XDG_DATA_HOME/ghpulse/ghpulse.redb]
    #[arg(short, long, env = "GHPULSE_DATA", value_name = "PATH")]
    pub data: Option<PathBuf>,
}

/// `repos`'s config file: global within `repos`, so it may follow the action too
/// (`ghpulse repos add o/n -c F`), as people type options last.
#[derive(Debug, Default, Args)]
pub struct ConfigFile {
    /// Config file [default: ./repositories.toml, else $XDG_CONFIG_HOME/ghpulse/repositories.toml]
    #[arg(
        short,
        long,
        env = "GHPULSE_CONFIG",
        value_name = "PATH",
        global = true
    )]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the statistics from the store (no network; the store is never written to)
    Stats {
        /// Print the JSON body of GET /api/stats
        #[arg(long)]
        json: bool,
        /// Only this repository (owner/name)
        #[arg(long, value_name = "R")]
        repo: Option<String>,
        #[command(flatten)]
        questions: StatsQuestions,
        #[command(flatten)]
        files: Files,
    },
    /// Write stored events to stdout, oldest first (no network; works while ghpulse runs; the
    /// store is never written to)
    Export(ExportArgs),
    /// Edit the watch list in the config file (comments and layout are kept)
    Repos {
        #[command(subcommand)]
        action: ReposAction,
        #[command(flatten)]
        file: ConfigFile,
    },
    /// Print a shell completion script, e.g. `ghpulse completions bash > ~/.local/share/bash-completion/completions/ghpulse`
    Completions {
        #[arg(value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), e.g. `ghpulse man | man -l -`
    Man,
    /// The dashboard over a replay of recorded public events: no network, no token; its
    /// store, config and log are temporary, and nothing of yours is read or written
    Demo {
        /// Dashboard theme: default, light or high-contrast
        #[arg(long, env = "GHPULSE_THEME", value_name = "NAME")]
        theme: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ReposAction {
    /// List the watched repositories
    List,
    /// Watch a repository (owner/name)
    Add { repo: String },
    /// Stop watching a repository (its stored events are kept until retention prunes them)
    Remove { repo: String },
}

/// `ghpulse stats`'s questions beyond section 3's figures (SPEC section 3a).
#[derive(Debug, Default, clap::Args)]
pub struct StatsQuestions {
    /// Figures of each type over its events with this payload.action only (e.g. opened)
    #[arg(long, value_name = "A")]
    pub action: Option<String>,
    /// Also break each event type down by action
    #[arg(long)]
    pub by_action: bool,
    /// Add the figures of all watched repositories together, as one timeline
    #[arg(long)]
    pub combined: bool,
    /// Print the label KPIs (share of issues and pull requests in each [labels] group) instead
    #[arg(long, conflicts_with_all = ["action", "by_action", "combined"])]
    pub labels: bool,
    /// Print the response times instead: for the issues and pull requests opened in each
    /// window, time to first answer (not by the author or a bot), waiting items, time to close
    #[arg(long, conflicts_with_all = ["action", "by_action", "combined", "labels"])]
    pub response_times: bool,
}

impl StatsQuestions {
    pub fn any(&self) -> bool {
        self.action.is_some()
            || self.by_action
            || self.combined
            || self.labels
            || self.response_times
    }
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// Only this repository (owner/name) [default: every watched repository]
    #[arg(long, value_name = "R")]
    pub repo: Option<String>,
    /// Events created at or after T: RFC 3339 (2026-11-22T10:00:00Z) or an age (2h, 7d)
    #[arg(long, value_name = "T")]
    pub since: Option<String>,
    /// Events created before T: RFC 3339 or an age
    #[arg(long, value_name = "T")]
    pub until: Option<String>,
    /// jsonl: one event a line exactly as GitHub served it; csv: id,repo,type,action,actor,created_at
    #[arg(long, default_value = "jsonl", value_parser = format_parser())]
    pub format: ghpulse_core::ExportFormat,
    #[command(flatten)]
    pub files: Files,
}

/// `--format`'s names, offered in help and completions, read by the engine's own parser.
fn format_parser() -> impl TypedValueParser<Value = ghpulse_core::ExportFormat> {
    clap::builder::PossibleValuesParser::new(ghpulse_core::ExportFormat::NAMES)
        .try_map(|name| name.parse::<ghpulse_core::ExportFormat>())
}

/// Which source gave an option its value: a bad value must blame the right one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Origins {
    pub listen: String,
    pub api_url: String,
}

fn origin(matches: &ArgMatches, id: &str, flag: &str, env: &str) -> String {
    match matches.value_source(id) {
        Some(ValueSource::EnvVariable) => format!("environment variable {env}"),
        _ => format!("command line ({flag})"),
    }
}

impl Cli {
    /// Parses the process's arguments; exits with clap's message (status 2) on bad usage.
    pub fn parse_args() -> Cli {
        Cli::from_matches(Cli::command().get_matches())
    }

    /// Like `parse_args`, over given arguments.
    #[cfg(test)]
    pub fn try_parse_args<I, T>(args: I) -> Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        Ok(Cli::from_matches(
            Cli::command().try_get_matches_from(args)?,
        ))
    }

    fn from_matches(matches: ArgMatches) -> Cli {
        let mut cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
        cli.origins = Origins {
            listen: origin(&matches, "listen", "--listen", "GHPULSE_LISTEN"),
            api_url: origin(&matches, "api_url", "--api-url", "GITHUB_API_URL"),
        };
        cli
    }

    /// The config file named for the command that runs.
    pub fn config(&self) -> Option<&PathBuf> {
        let given = match &self.command {
            Some(Command::Stats { files, .. }) => files.config.as_ref(),
            Some(Command::Export(args)) => args.files.config.as_ref(),
            Some(Command::Repos { file, .. }) => file.config.as_ref(),
            _ => None,
        };
        given.or(self.files.config.as_ref())
    }

    /// Only `repos add` may create a config file that was named but does not exist; anything
    /// else would quietly run on an empty watch list because of a typo.
    pub fn may_create_config(&self) -> bool {
        matches!(
            &self.command,
            Some(Command::Repos {
                action: ReposAction::Add { .. },
                ..
            })
        )
    }

    /// The store named for the command that runs.
    pub fn data(&self) -> Option<&PathBuf> {
        let given = match &self.command {
            Some(Command::Stats { files, .. }) => files.data.as_ref(),
            Some(Command::Export(args)) => args.files.data.as_ref(),
            _ => None,
        };
        given.or(self.files.data.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn files_are_accepted_before_and_after_the_subcommand() {
        let before = Cli::try_parse_args(["ghpulse", "-c", "a.toml", "stats"]).unwrap();
        assert_eq!(before.config(), Some(&PathBuf::from("a.toml")));
        let after = Cli::try_parse_args(["ghpulse", "-c", "a.toml", "stats", "-c", "b.toml"]);
        assert_eq!(after.unwrap().config(), Some(&PathBuf::from("b.toml")));
        let repos = Cli::try_parse_args(["ghpulse", "repos", "--config", "c.toml", "list"]);
        assert_eq!(repos.unwrap().config(), Some(&PathBuf::from("c.toml")));
    }

    #[test]
    fn repos_takes_its_config_before_or_after_the_action() {
        for args in [
            &["ghpulse", "repos", "add", "o/n", "-c", "f.toml"][..],
            &["ghpulse", "repos", "-c", "f.toml", "add", "o/n"],
            &["ghpulse", "-c", "f.toml", "repos", "add", "o/n"],
            &["ghpulse", "repos", "list", "--config", "f.toml"],
            &["ghpulse", "repos", "remove", "o/n", "--config=f.toml"],
        ] {
            let cli = Cli::try_parse_args(args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
            assert_eq!(cli.config(), Some(&PathBuf::from("f.toml")), "{args:?}");
        }
    }

    #[test]
    fn options_are_offered_only_where_they_apply() {
        let mut cmd = Cli::command();
        let names = |c: &clap::Command| -> Vec<String> {
            c.get_arguments()
                .filter_map(|a| a.get_long().map(str::to_string))
                .collect()
        };
        let stats = names(cmd.find_subcommand_mut("stats").unwrap());
        assert!(stats.contains(&"data".to_string()), "{stats:?}");
        assert!(!stats.contains(&"listen".to_string()), "{stats:?}");
        assert!(!stats.contains(&"api-url".to_string()), "{stats:?}");
        let repos = names(cmd.find_subcommand_mut("repos").unwrap());
        assert_eq!(repos, ["config"]);
        let man = names(cmd.find_subcommand_mut("man").unwrap());
        assert!(man.is_empty(), "{man:?}");
    }

    #[test]
    fn a_value_from_the_command_line_is_said_to_come_from_there() {
        let cli = Cli::try_parse_args(["ghpulse", "--listen", "x"]).unwrap();
        assert_eq!(cli.origins.listen, "command line (--listen)");
    }
}
