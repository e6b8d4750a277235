//! GitHub's side: one request to the events endpoint, the events it returns, its rate-limit
//! figures, and repository names as GitHub accepts them.

pub(crate) mod client;
pub(crate) mod event;
pub(crate) mod rate_limit;
pub(crate) mod repo_name;
