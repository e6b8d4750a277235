//! GitHub's rate-limit figures and ghpulse's request counters: both are kept in the store and
//! shown by every view.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::github::bounds;

/// The last `x-ratelimit-*` figures GitHub sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimit {
    pub limit: u32,
    pub remaining: u32,
    pub used: u32,
    pub reset_at: DateTime<Utc>,
    /// No answer has carried the figures yet: they are what GitHub grants by default, good
    /// enough to plan on but never to show as GitHub's. Stored figures came from an answer.
    #[serde(default)]
    pub assumed: bool,
}

impl RateLimit {
    /// What GitHub grants before it has said anything: a full budget for the next hour.
    pub fn assumed(authenticated: bool, now: DateTime<Utc>) -> RateLimit {
        let limit = if authenticated { 5000 } else { 60 };
        RateLimit {
            limit,
            remaining: limit,
            used: 0,
            reset_at: bounds::shifted(now, TimeDelta::hours(1)),
            assumed: true,
        }
    }

    /// The figures as they stand at `now`: after the reset, the whole budget is back.
    pub fn at(&self, now: DateTime<Utc>) -> RateLimit {
        if now >= self.reset_at {
            RateLimit {
                remaining: self.limit,
                used: 0,
                reset_at: bounds::shifted(now, TimeDelta::hours(1)),
                ..*self
            }
        } else {
            self.clone()
        }
    }
}

/// Requests by outcome, since the store was created.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RequestCounters {
    pub total: u64,
    pub ok: u64,
    pub not_modified: u64,
    pub errors: u64,
    pub rate_limited: u64,
}
