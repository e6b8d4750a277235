//! Keeping the resident set small while the fetcher ingests and the REST listener serves.
//!
//! With glibc's allocator, what ghpulse itself holds is a small part of its resident memory
//! after a long ingest: every thread that allocates (Tokio's workers and up to 512 blocking
//! threads) gets its own malloc arena, up to 8 per core, and a freed page inside an arena stays
//! resident until something hands it back. The fetcher's pages of JSON, redb's cache pages and
//! each REST request's buffers are all short-lived, so those arenas fill with free pages.
//!
//! So a watching ghpulse (1) caps the arenas at [`ARENAS`] (the machine this was measured on
//! has 2 cores: more arenas buy no parallelism, only copies of free space), (2) fixes the mmap
//! and trim thresholds, which glibc otherwise raises for good after a large buffer is freed, and
//! (3) hands free pages back to the kernel every [`TRIM_EVERY`] (`malloc_trim`), which
//! a single poll or a burst of requests would otherwise keep.
//!
//! Elsewhere (musl, macOS, other allocators) these are no-ops.

use std::time::Duration;

/// At most this many malloc arenas: one for the engine and Tokio's workers to share with the
/// main thread, one more so that a blocking store write does not serialize every allocation.
pub const ARENAS: i32 = 2;
/// Allocations from this size on get their own mapping, returned to the kernel when freed
/// (a page of 100 events as GitHub sends it, some 400 kB, is one).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: i32 = 128 << 10;
/// Free memory at the top of a heap beyond this is returned at once.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const TRIM_THRESHOLD: i32 = 256 << 10;
/// How often free pages inside the heaps are handed back: each pass costs microseconds on an
/// idle heap, so this is cheap, and it bounds how long a burst's garbage stays resident.
pub const TRIM_EVERY: Duration = Duration::from_secs(2);

/// Sets the allocator up for a long-running ghpulse. Call it first in `main`, before any
/// thread starts: arenas already made are not taken back.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub fn configure() {
    // SAFETY: mallopt only changes glibc's tuning parameters, under its own lock; the
    // parameters and values are documented ones (mallopt(3)). A value glibc refuses leaves the
    // default in force (it returns 0), which costs memory, not correctness.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, ARENAS);
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
        libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn configure() {}

/// Hands the free pages of every arena back to the kernel.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub fn trim() {
    // SAFETY: malloc_trim takes each arena's lock itself and only releases memory no
    // allocation uses (madvise on whole free pages, shrinking the top of each heap).
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn trim() {}

/// Trims every [`TRIM_EVERY`] until `stop` turns true.
pub async fn trim_periodically(mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(TRIM_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            changed = stop.changed() => {
                if changed.is_err() || *stop.borrow() {
                    return;
                }
            }
            _ = tick.tick() => trim(),
        }
    }
}
