//! The file a writing ghpulse opens, behind a switch: once its pages are found damaged, not
//! one byte more reaches it — not a commit, not even the header redb writes on closing, which
//! would mark a damaged file as cleanly closed.

use std::fmt;
use std::io;
use std::ops::Bound;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use redb::backends::FileBackend;
use redb::{BackendError, StorageBackend};

/// Shared by every opening of one store, so a reopen after a failed write stays shut too.
#[derive(Clone, Debug, Default)]
pub(super) struct Switch(Arc<AtomicBool>);

impl Switch {
    pub(super) fn shut(&self) {
        self.0.store(true, Ordering::Release);
    }

    fn is_shut(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

pub(super) struct Barrier {
    file: FileBackend,
    switch: Switch,
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Barrier")
            .field("shut", &self.switch.is_shut())
            .finish()
    }
}

impl Barrier {
    pub(super) fn new(file: FileBackend, switch: Switch) -> Barrier {
        Barrier { file, switch }
    }

    fn open(&self) -> io::Result<()> {
        if self.switch.is_shut() {
            Err(io::Error::other(
                "the store is damaged: nothing more is written to it",
            ))
        } else {
            Ok(())
        }
    }
}

impl StorageBackend for Barrier {
    fn len(&self) -> io::Result<u64> {
        self.file.len()
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> io::Result<()> {
        self.file.read(offset, out)
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.open()?;
        self.file.set_len(len)
    }

    fn sync_data(&self) -> io::Result<()> {
        self.open()?;
        self.file.sync_data()
    }

    fn write(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.open()?;
        self.file.write(offset, data)
    }

    fn close(&self) -> io::Result<()> {
        self.file.close()
    }

    fn try_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.file.try_lock_range(start, end)
    }

    fn try_lock_shared_range(
        &self,
        start: Bound<u64>,
        end: Bound<u64>,
    ) -> Result<bool, BackendError> {
        self.file.try_lock_shared_range(start, end)
    }

    fn lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.file.lock_range(start, end)
    }

    fn lock_shared_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.file.lock_shared_range(start, end)
    }

    fn unlock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.file.unlock_range(start, end)
    }

    fn query_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.file.query_lock_range(start, end)
    }
}
