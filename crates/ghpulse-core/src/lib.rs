//! ghpulse's engine: it follows the config file, polls GitHub's repository events as cheaply as
//! the API allows, keeps every event in a redb store, and publishes snapshots from which every
//! figure (SPEC sections 3 and 3a) is computed.
//!
//! It knows nothing of the views: the dashboard and the REST listener hold an
//! [`EngineHandle`], read its snapshots, ask it [`Query`] questions and request changes through
//! its methods. Its modules are private; what a view may use is listed here.
//!
//! - `config`: `repositories.toml` — loading (`load`), in-place edits (`edit`), following the
//!   file (`watch`) and the `[keys]` bindings (`keys`).
//! - `github`: one request (`client`), the events it returns (`event`), rate-limit figures
//!   (`rate_limit`) and repository names (`repo_name`).
//! - `poll`: one poll of one repository (`once`), which repository next (`planner`), and when
//!   (`schedule`, pure).
//! - `store`: the redb file, split by job (open, schema, read, write, count index, codec).
//! - `stats`: pure figures — section 3 (`figures`), section 3a (`activity`, `labels`),
//!   section 3b (`response`).
//! - `feed`: one line and one web page per event (section 9), from its stored JSON.
//! - `snapshot`: the published picture; `query`: questions asked of it and the store.
//! - `live`: events as they are stored, broadcast to the live stream's subscribers.
//! - `engine`: the fetcher loop and its handle; `export`: stored events to a writer.

#![deny(clippy::unwrap_used, clippy::expect_used)]

mod config;
mod engine;
mod export;
mod feed;
mod github;
mod humanize;
mod live;
mod poll;
mod query;
mod snapshot;
mod stats;
mod store;

pub use config::edit::{EditError, Edited, add_repository, remove_repository};
pub use config::keys::{DEFAULT_KEYS, Key, KeyChord, Keymap, KeymapError};
pub use config::load::{
    Config, ConfigError, LabelGroups, MAX_REPOSITORIES, THEMES, Ui, Window, check_api_url,
    check_theme, parse_host,
};
pub use engine::{EngineHandle, EngineSettings, start_engine};
pub use export::{ExportError, ExportFormat, export_events, key_bounds, parse_instant};
pub use feed::{EventEntry, FeedLine, WebOrigin, feed_line};
pub use github::client::{
    Answer, Client, DEFAULT_API_URL, EventsPage, FetchError, Outcome, ResponseMeta, Skipped, Token,
    Transport,
};
pub use github::event::{EventMeta, Sym};
pub use github::rate_limit::{RateLimit, RequestCounters};
pub use github::repo_name::{RepoName, RepoNameError};
pub use humanize::humanize_seconds;
pub use live::{LIVE_CAPACITY, LiveEvent, StreamFilter};
pub use poll::once::{PollInput, PollOutcome, poll_once};
pub use poll::planner::{Planner, Watched};
pub use poll::schedule::{MAX_POLLS_PER_MINUTE, unauthenticated_gap};
pub use query::{EventsAsk, MAX_OFFSET_MINUTES, Query, StatsAnswer, StatsAsk};
pub use snapshot::{FetcherState, RepoView, Snapshot, StatsQuery};
pub use stats::activity::{COMBINED, RepoActivity, RepoTypeCount, counts_by_type};
pub use stats::figures::{
    ActionStats, Gap, PartialReason, RepoEvents, RepoReport, RepoStats, Selection, StatsReport,
    TypeStats, WindowReport, hourly_counts, percentile_ms, repo_stats, type_gaps, window_events,
    window_stats,
};
pub use stats::labels::{GroupKpi, LabelsReport, RepoLabels};
pub use stats::response::{RepoResponseTimes, ResponseFigures, ResponseTimesReport};
pub use store::{
    PRUNE_SLICE_EVENTS, PollRecord, PrunedSlice, ReadOn, RepoState, RepoStatus, Store, StoreError,
    Stored,
};
