//! GitHub's primary rate limit: a fixed window per client that starts at the client's first
//! request and resets `window` later. Pure: the clock is passed in.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// What the `x-ratelimit-*` headers say after a request was accounted for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Figures {
    pub limit: u32,
    pub remaining: u32,
    pub used: u32,
    /// Epoch seconds at which the window ends.
    pub reset: u64,
}

#[derive(Debug)]
pub(crate) struct Bucket {
    limit: u32,
    used: u32,
    /// Start of the current window, on both clocks: `Instant` to decide when it ends,
    /// `SystemTime` to announce that moment as epoch seconds.
    window_start: Option<(Instant, SystemTime)>,
}

impl Bucket {
    pub fn new(limit: u32) -> Self {
        Bucket {
            limit,
            used: 0,
            window_start: None,
        }
    }

    /// Opens a window on the first request and a fresh one once the current one has ended.
    pub fn roll(&mut self, now: Instant, now_wall: SystemTime, window: Duration) {
        let expired = match self.window_start {
            None => true,
            Some((start, _)) => now.saturating_duration_since(start) >= window,
        };
        if expired {
            self.window_start = Some((now, now_wall));
            self.used = 0;
        }
    }

    pub fn exhausted(&self) -> bool {
        self.used >= self.limit
    }

    pub fn spend(&mut self) {
        self.used = self.used.saturating_add(1).min(self.limit);
    }

    pub fn figures(&self, window: Duration) -> Figures {
        let reset = match self.window_start {
            Some((_, wall)) => {
                let end = (wall + window)
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default();
                // Round up: a client waiting until `reset` must not arrive before the window ends.
                end.as_secs() + u64::from(end.subsec_nanos() > 0)
            }
            None => 0,
        };
        Figures {
            limit: self.limit,
            remaining: self.limit - self.used,
            used: self.used,
            reset,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_counts_down_and_resets() {
        let window = Duration::from_secs(10);
        let t0 = Instant::now();
        let wall = SystemTime::now();
        let mut b = Bucket::new(2);
        b.roll(t0, wall, window);
        b.spend();
        b.spend();
        assert!(b.exhausted());
        let f = b.figures(window);
        assert_eq!((f.limit, f.remaining, f.used), (2, 0, 2));
        let wall_secs = wall
            .duration_since(UNIX_EPOCH)
            .expect("after epoch")
            .as_secs_f64();
        assert!(f.reset as f64 >= wall_secs + 10.0 && (f.reset as f64) < wall_secs + 11.0);

        b.roll(t0 + Duration::from_secs(9), wall, window);
        assert!(b.exhausted(), "still the same window");
        b.roll(
            t0 + Duration::from_secs(10),
            wall + Duration::from_secs(10),
            window,
        );
        assert!(!b.exhausted());
        assert_eq!(b.figures(window).remaining, 2);
    }
}
