//! ghpulse: watch GitHub repository activity from a terminal.
//!
//! The engine (config, github, scheduler, fetcher, store, stats, engine) knows nothing of the
//! views; the dashboard and the REST listener read the snapshots it publishes and send it
//! commands.

pub mod answers;
pub mod cli;
pub mod commands;
pub mod config;
pub mod config_edit;
pub mod config_watch;
pub mod engine;
pub mod event;
pub mod export;
pub mod fetcher;
pub mod github;
pub mod humanize;
pub mod keymap;
pub mod logging;
pub mod memory;
pub mod planner;
pub mod questions;
pub mod ratelimit;
pub mod repo;
pub mod reports;
pub mod rest;
pub mod scheduler;
pub mod settings;
pub mod shutdown;
pub mod snapshot;
pub mod stats;
pub mod store;
pub mod tui;
