//! A file seen through a copy-on-write layer in memory: redb may repair and check a database
//! on it (which writes headers and allocator state), and every byte it writes stays in
//! memory. `ghpulse stats` and `export` read a store that way when no ghpulse is writing to
//! it, so they never write to it — a read-only file or folder is no obstacle — and a store
//! left by a crash, which redb must repair before reading, is read all the same.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// The unit in which written bytes are kept: redb's page size.
const BLOCK: u64 = 4096;

#[derive(Debug)]
pub(super) struct Overlay {
    file: Mutex<File>,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// The length redb sees.
    len: u64,
    /// The file's bytes below this are visible where nothing was written; above it (past
    /// the file's end, or past a length redb once cut to) the storage reads as zeros.
    base_len: u64,
    /// Written blocks, by block number, each `BLOCK` bytes.
    blocks: BTreeMap<u64, Box<[u8]>>,
}

impl Overlay {
    pub(super) fn new(file: File) -> io::Result<Overlay> {
        let len = file.metadata()?.len();
        Ok(Overlay {
            file: Mutex::new(file),
            state: Mutex::new(State {
                len,
                base_len: len,
                blocks: BTreeMap::new(),
            }),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The file's bytes at `offset`, zeros at and past `base_len`.
    fn read_base(&self, offset: u64, out: &mut [u8], base_len: u64) -> io::Result<()> {
        let from_file = base_len.saturating_sub(offset).min(out.len() as u64) as usize;
        let (head, tail) = out.split_at_mut(from_file);
        if !head.is_empty() {
            let mut file = self.file.lock().unwrap_or_else(PoisonError::into_inner);
            file.seek(SeekFrom::Start(offset))?;
            file.read_exact(head)?;
        }
        tail.fill(0);
        Ok(())
    }
}

fn out_of_range() -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, "past the end of the store")
}

impl redb::StorageBackend for Overlay {
    fn len(&self) -> io::Result<u64> {
        Ok(self.state().len)
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> io::Result<()> {
        let st = self.state();
        let end = offset
            .checked_add(out.len() as u64)
            .filter(|&end| end <= st.len)
            .ok_or_else(out_of_range)?;
        self.read_base(offset, out, st.base_len)?;
        if out.is_empty() {
            return Ok(());
        }
        for (&block, bytes) in st.blocks.range(offset / BLOCK..=(end - 1) / BLOCK) {
            let start = (block * BLOCK).max(offset);
            let stop = ((block + 1) * BLOCK).min(end);
            let (at_block, at_out) = ((start - block * BLOCK) as usize, (start - offset) as usize);
            let n = (stop - start) as usize;
            out[at_out..at_out + n].copy_from_slice(&bytes[at_block..at_block + n]);
        }
        Ok(())
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        let mut st = self.state();
        if len < st.len {
            // What lies past the new end must read as zeros if the storage grows again.
            st.base_len = st.base_len.min(len);
            let first_gone = len.div_ceil(BLOCK);
            st.blocks.split_off(&first_gone);
            if let Some(last) = st.blocks.get_mut(&(len / BLOCK)) {
                last[(len % BLOCK) as usize..].fill(0);
            }
        }
        st.len = len;
        Ok(())
    }

    fn sync_data(&self) -> io::Result<()> {
        Ok(())
    }

    fn write(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        let mut st = self.state();
        let end = offset
            .checked_add(data.len() as u64)
            .filter(|&end| end <= st.len)
            .ok_or_else(out_of_range)?;
        let mut at = offset;
        while at < end {
            let block = at / BLOCK;
            let stop = ((block + 1) * BLOCK).min(end);
            if !st.blocks.contains_key(&block) {
                let mut bytes = vec![0; BLOCK as usize].into_boxed_slice();
                let readable = st.len.saturating_sub(block * BLOCK).min(BLOCK) as usize;
                self.read_base(block * BLOCK, &mut bytes[..readable], st.base_len)?;
                st.blocks.insert(block, bytes);
            }
            if let Some(bytes) = st.blocks.get_mut(&block) {
                let from = (at - block * BLOCK) as usize;
                let n = (stop - at) as usize;
                let src = (at - offset) as usize;
                bytes[from..from + n].copy_from_slice(&data[src..src + n]);
            }
            at = stop;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use redb::StorageBackend;

    fn overlay_on(bytes: &[u8]) -> (tempfile::NamedTempFile, Overlay) {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), bytes).unwrap();
        let overlay = Overlay::new(File::open(file.path()).unwrap()).unwrap();
        (file, overlay)
    }

    fn read(o: &Overlay, offset: u64, len: usize) -> Vec<u8> {
        let mut out = vec![0xAA; len];
        o.read(offset, &mut out).unwrap();
        out
    }

    #[test]
    fn writes_stay_in_memory_and_read_back_over_the_file() {
        let base: Vec<u8> = (0..3 * BLOCK).map(|i| (i % 251) as u8).collect();
        let (file, o) = overlay_on(&base);
        o.write(BLOCK - 2, &[1, 2, 3, 4]).unwrap();
        let mut want = base.clone();
        want[BLOCK as usize - 2..BLOCK as usize + 2].copy_from_slice(&[1, 2, 3, 4]);
        assert_eq!(read(&o, 0, want.len()), want);
        assert_eq!(
            read(&o, BLOCK - 3, 6),
            want[BLOCK as usize - 3..BLOCK as usize + 3]
        );
        assert_eq!(
            std::fs::read(file.path()).unwrap(),
            base,
            "the file is untouched"
        );
    }

    #[test]
    fn growing_reads_zeros_and_cutting_forgets_what_was_past_the_end() {
        let (_file, o) = overlay_on(&[7; 100]);
        assert!(o.read(50, &mut [0; 51]).is_err(), "past the end");
        o.set_len(2 * BLOCK).unwrap();
        assert_eq!(read(&o, 98, 4), [7, 7, 0, 0]);
        o.write(BLOCK + 10, &[9; 5]).unwrap();
        o.set_len(50).unwrap();
        o.set_len(2 * BLOCK).unwrap();
        assert_eq!(
            read(&o, 48, 4),
            [7, 7, 0, 0],
            "the file's bytes past 50 are gone"
        );
        assert_eq!(read(&o, BLOCK + 10, 5), [0; 5], "so are the written ones");
        assert_eq!(o.len().unwrap(), 2 * BLOCK);
    }

    #[test]
    fn redb_repairs_and_reads_a_database_through_it() {
        let file = tempfile::NamedTempFile::new().unwrap();
        const T: redb::TableDefinition<u64, u64> = redb::TableDefinition::new("t");
        {
            let db = redb::Database::create(file.path()).unwrap();
            let txn = db.begin_write().unwrap();
            txn.open_table(T).unwrap().insert(1, 2).unwrap();
            txn.commit().unwrap();
            // A copy taken while the database is open is what a crash leaves: it needs a repair.
            std::fs::copy(file.path(), file.path().with_extension("crashed")).unwrap();
        }
        let crashed = file.path().with_extension("crashed");
        let before = std::fs::read(&crashed).unwrap();
        let overlay = Overlay::new(File::open(&crashed).unwrap()).unwrap();
        let mut db = redb::Database::builder()
            .create_with_backend(overlay)
            .unwrap();
        assert!(db.check_integrity().unwrap());
        let txn = redb::ReadableDatabase::begin_read(&db).unwrap();
        assert_eq!(
            txn.open_table(T).unwrap().get(1).unwrap().unwrap().value(),
            2
        );
        drop(txn);
        drop(db);
        assert_eq!(
            std::fs::read(&crashed).unwrap(),
            before,
            "not a byte written"
        );
        std::fs::remove_file(crashed).unwrap();
    }
}
