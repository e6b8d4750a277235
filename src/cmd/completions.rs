//! `ghpulse completions SHELL`: a shell completion script, generated from the command line's
//! own definition.

use clap::CommandFactory;

use super::{Failure, written};
use crate::cli::Cli;

pub fn run(shell: clap_complete::Shell, out: &mut impl std::io::Write) -> Result<(), Failure> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "ghpulse", &mut script);
    written(out.write_all(&script).and_then(|()| out.flush()))
}
