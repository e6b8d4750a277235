//! Polling: one poll of one repository (`once`), the decisions of which to poll next
//! (`planner`), and when, as pure functions of a clock and a budget (`schedule`).

pub(crate) mod once;
pub(crate) mod planner;
pub(crate) mod schedule;
