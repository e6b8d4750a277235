//! The command line. clap applies "command line > environment"; `settings` adds the config
//! file and the defaults.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "ghpulse",
    version,
    about = "Watch GitHub repository activity from a terminal",
    long_about = "Watch GitHub repository activity from a terminal.\n\n\
        Without a subcommand, ghpulse polls the GitHub Events API for the repositories in the \
        config file and shows a live dashboard (or, with --headless or when stdout is not a \
        terminal, runs the fetcher alone with logs on stderr until SIGINT/SIGTERM).\n\n\
        Token: GITHUB_TOKEN, else GH_TOKEN (none: unauthenticated, 60 requests/hour).\n\
        REST key for changes: GHPULSE_API_KEY (none: changing endpoints answer 403).\n\
        Log filter: GHPULSE_LOG (tracing syntax, default ghpulse=info).",
    after_help = "Exit codes: 0 clean exit, 2 bad usage or bad config, 1 any other failure."
)]
pub struct Cli {
    /// Config file [default: ./repositories.toml, else $XDG_CONFIG_HOME/ghpulse/repositories.toml]
    #[arg(
        short,
        long,
        env = "GHPULSE_CONFIG",
        global = true,
        value_name = "PATH"
    )]
    pub config: Option<PathBuf>,

    /// The redb store [default: $XDG_DATA_HOME/ghpulse/ghpulse.redb]
    #[arg(short, long, env = "GHPULSE_DATA", global = true, value_name = "PATH")]
    pub data: Option<PathBuf>,

    /// Serve the REST API on this address, e.g. 127.0.0.1:5001 [default: config [server] listen, else off]
    #[arg(
        short,
        long,
        env = "GHPULSE_LISTEN",
        global = true,
        value_name = "ADDR"
    )]
    pub listen: Option<String>,

    /// GitHub API base URL [default: config [github] api_url, else https://api.github.com]
    #[arg(long, env = "GITHUB_API_URL", global = true, value_name = "URL")]
    pub api_url: Option<String>,

    /// Run the fetcher (and REST listener) without the dashboard; logs go to stderr
    #[arg(long)]
    pub headless: bool,

    /// Dashboard theme: default, light or high-contrast [default: config [ui] theme, else default]
    #[arg(long, env = "GHPULSE_THEME", value_name = "NAME")]
    pub theme: Option<String>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the statistics from the store (no network)
    Stats {
        /// Print the JSON body of GET /api/stats
        #[arg(long)]
        json: bool,
        /// Only this repository (owner/name)
        #[arg(long, value_name = "R")]
        repo: Option<String>,
    },
    /// Edit the watch list in the config file (comments and layout are kept)
    Repos {
        #[command(subcommand)]
        action: ReposAction,
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
