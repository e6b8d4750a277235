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
        Log filter: GHPULSE_LOG (tracing syntax, default ghpulse=info).\n\
        REST listener: GHPULSE_REST_MAX_CONNECTIONS (open connections, default 1024, kept under \
        the open-file limit; at the cap the longest-idle one is closed for a new client) and \
        GHPULSE_REST_TIMEOUT (for a request head, an idle keep-alive connection and a whole \
        request, default 30s).",
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
        #[command(flatten)]
        questions: StatsQuestions,
    },
    /// Write stored events to stdout, oldest first (no network; works while ghpulse runs)
    Export(ExportArgs),
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
}

impl StatsQuestions {
    pub fn any(&self) -> bool {
        self.action.is_some() || self.by_action || self.combined || self.labels
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
    #[arg(long, value_enum, default_value_t)]
    pub format: crate::export::Format,
}
