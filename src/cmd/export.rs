//! `ghpulse export`: stored events to stdout, oldest first, from a store opened read-only.

use std::io::Write;
use std::path::Path;

use chrono::Utc;
use ghpulse_core::{Config, RepoName, Store, export_events, parse_instant};

use super::Failure;
use crate::cli::ExportArgs;

pub fn run(
    config: &Config,
    data: &Path,
    args: &ExportArgs,
    out: &mut impl Write,
) -> Result<(), Failure> {
    let now = Utc::now();
    let instant = |flag: &str, value: &Option<String>| {
        value
            .as_deref()
            .map(|v| parse_instant(v, now))
            .transpose()
            .map_err(|e| Failure::usage(format!("{flag}: {e}")))
    };
    let since = instant("--since", &args.since)?;
    let until = instant("--until", &args.until)?;
    if let (Some(s), Some(u)) = (since, until)
        && s >= u
    {
        return Err(Failure::usage(format!(
            "--since ({}) is not before --until ({})",
            humanize_time(s),
            humanize_time(u)
        )));
    }
    let repos: Vec<(String, String)> = match &args.repo {
        // A repository no longer watched may still have events stored.
        Some(r) => {
            let name = RepoName::parse(r).map_err(Failure::usage)?;
            let listed = config.repositories.iter().find(|w| **w == name);
            vec![(listed.unwrap_or(&name).to_string(), name.key())]
        }
        None => config
            .repositories
            .iter()
            .map(|n| (n.to_string(), n.key()))
            .collect(),
    };
    let store = Store::open_read_only(data).map_err(Failure::other)?;
    export_events(&store, &repos, since, until, args.format, out).map_err(Failure::other)?;
    Ok(())
}

fn humanize_time(t: chrono::DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
