//! GitHub's side: one request to the events endpoint, the events it returns, its rate-limit
//! figures, repository names as GitHub accepts them, and the bounds every number it sends
//! is held to.

pub(crate) mod bounds;
pub(crate) mod client;
pub(crate) mod event;
pub(crate) mod rate_limit;
pub(crate) mod repo_name;
