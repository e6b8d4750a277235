//! `ghpulse man`: the man page (roff), generated from the command line's own definition.

use clap::CommandFactory;

use super::{Failure, written};
use crate::cli::Cli;

pub fn run(out: &mut impl std::io::Write) -> Result<(), Failure> {
    let mut page = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut page)
        .map_err(Failure::other)?;
    written(out.write_all(&page).and_then(|()| out.flush()))
}
