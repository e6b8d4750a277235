//! `repositories.toml`: strict loading, in-place edits of the watch list, following the file
//! while ghpulse runs, and the `[keys]` bindings it carries.

pub(crate) mod edit;
pub(crate) mod keys;
pub(crate) mod load;
pub(crate) mod watch;
