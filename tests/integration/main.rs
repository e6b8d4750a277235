//! The tests that run the real `ghpulse` binary against the fake GitHub server, linked into one
//! test binary (one link instead of ten; the modules' tests interleave on the test threads).

mod support;

mod cli;
mod crash;
mod dashboard_tmux;
mod docs_browser;
mod event_stream;
mod faults;
mod headers;
mod headless;
mod odd_events;
mod process;
mod prometheus;
mod rest_api;
mod rest_connections;
mod rest_questions;
mod spreads;
mod store_files;
mod watch_list;
