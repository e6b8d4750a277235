//! Where log lines go: stderr when headless; the dashboard's log pane and a size-capped,
//! rotated log file otherwise. A write that fails (a closed pipe, a full disk) costs the line,
//! never the process.

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use tracing_subscriber::EnvFilter;

/// A log file is rotated when it passes this size...
pub const LOG_FILE_BYTES: usize = 1024 * 1024;
/// ...and this many older files are kept (`ghpulse.log.1` is the newest of them).
pub const LOG_FILES_KEPT: usize = 3;

fn filter() -> EnvFilter {
    EnvFilter::try_from_env("GHPULSE_LOG").unwrap_or_else(|_| EnvFilter::new("ghpulse=info"))
}

/// Logs to stderr until the guard is dropped, which reports the lines lost, if any.
pub fn to_stderr() -> LogGuard {
    let sink = Arc::new(Lossy::new(Box::new(std::io::stderr())));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter())
        .with_writer(sink.clone())
        .with_ansi(
            std::io::IsTerminal::is_terminal(&std::io::stderr())
                && std::env::var_os("NO_COLOR").is_none(),
        )
        .with_target(false)
        .log_internal_errors(false)
        .try_init();
    LogGuard(Some(sink))
}

/// Held while ghpulse runs; dropped at exit, it says how many log lines were lost, if any were
/// and the sink takes the note.
pub struct LogGuard(Option<Arc<Lossy>>);

impl Drop for LogGuard {
    fn drop(&mut self) {
        if let Some(sink) = &self.0 {
            sink.report_lost();
        }
    }
}

/// A log sink whose failed writes are counted instead of reported. tracing-subscriber reports
/// a failed write with `eprintln!`, which panics when stderr is the sink that failed
/// (`ghpulse --headless 2>&1 | head -1`); here the line is dropped, and how many were is said
/// in the next line that gets through, or by [`Lossy::report_lost`] at exit.
pub struct Lossy {
    sink: Mutex<Sink>,
}

struct Sink {
    out: Box<dyn Write + Send>,
    lost: u64,
    why: String,
}

impl Lossy {
    pub fn new(out: Box<dyn Write + Send>) -> Lossy {
        Lossy {
            sink: Mutex::new(Sink {
                out,
                lost: 0,
                why: String::new(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Sink> {
        self.sink.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn write_line(&self, line: &[u8]) {
        let mut sink = self.lock();
        if !sink.report() {
            sink.lost += 1;
            return;
        }
        if let Err(e) = sink.out.write_all(line).and_then(|()| sink.out.flush()) {
            sink.lost += 1;
            sink.why = e.to_string();
        }
    }

    /// Says how many lines were lost, if any were and the sink takes writes again.
    fn report_lost(&self) {
        self.lock().report();
    }
}

impl Sink {
    /// Writes the note on lines lost, if any; false when the sink still fails.
    fn report(&mut self) -> bool {
        if self.lost == 0 {
            return true;
        }
        let note = format!(
            "{}  WARN {} log line{} could not be written ({}) and {} lost\n",
            chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.6fZ"),
            self.lost,
            if self.lost == 1 { "" } else { "s" },
            self.why,
            if self.lost == 1 { "is" } else { "are" },
        );
        let written = self
            .out
            .write_all(note.as_bytes())
            .and_then(|()| self.out.flush());
        if written.is_ok() {
            self.lost = 0;
        }
        written.is_ok()
    }
}

/// The writer tracing-subscriber gets for each line (through `Arc<Lossy>`): every line is
/// taken, written or counted as lost.
impl Write for &Lossy {
    fn write(&mut self, line: &[u8]) -> std::io::Result<usize> {
        self.write_line(line);
        Ok(line.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `$XDG_STATE_HOME/ghpulse/ghpulse.log` (`~/.local/state/ghpulse/ghpulse.log`); where the
/// platform has no state directory, the local data directory.
pub fn log_file_path() -> Option<PathBuf> {
    let dirs = directories::ProjectDirs::from("", "", "ghpulse")?;
    let dir = dirs
        .state_dir()
        .unwrap_or_else(|| dirs.data_local_dir())
        .to_path_buf();
    Some(dir.join("ghpulse.log"))
}

/// A rotating writer for `path`, or why not. The folder is made here, first: file-rotate
/// would panic if it could not make it.
pub fn log_file(
    path: &std::path::Path,
) -> std::io::Result<file_rotate::FileRotate<file_rotate::suffix::AppendCount>> {
    use file_rotate::{ContentLimit, FileRotate, compression::Compression, suffix::AppendCount};
    let dir = path
        .parent()
        .ok_or_else(|| std::io::Error::other("the log file has no folder"))?;
    std::fs::create_dir_all(dir)?;
    // Opened once by us so that an unwritable file is an error here, not a silent loss.
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    Ok(FileRotate::new(
        path,
        AppendCount::new(LOG_FILES_KEPT),
        ContentLimit::BytesSurpassed(LOG_FILE_BYTES),
        Compression::None,
        None,
    ))
}

/// Into the dashboard's log pane (tui-logger) and the log file at `path` (see
/// [`log_file_path`]); nothing reaches stdout while the dashboard is up. A log file that
/// cannot be opened is said in the pane, not fatal.
pub fn to_dashboard(path: Option<PathBuf>) -> LogGuard {
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let file = path.as_deref().map(log_file);
    let (sink, problem) = match file {
        Some(Ok(writer)) => (Some(Arc::new(Lossy::new(Box::new(writer)))), None),
        Some(Err(e)) => (None, Some(e.to_string())),
        None => (None, Some("no home directory".to_string())),
    };
    let layer = sink.clone().map(|sink| {
        tracing_subscriber::fmt::layer()
            .with_writer(sink)
            .with_ansi(false)
            .with_target(false)
            .log_internal_errors(false)
            .boxed()
    });
    let _ = tracing_subscriber::registry()
        .with(filter())
        .with(ghpulse_tui::log_pane_layer())
        .with(layer)
        .try_init();
    match (path, problem) {
        (Some(p), None) => tracing::info!("log file: {}", p.display()),
        (p, Some(e)) => tracing::warn!(
            "no log file{}: {e}",
            p.map(|p| format!(" at {}", p.display()))
                .unwrap_or_default()
        ),
        (None, None) => {}
    }
    LogGuard(sink)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;

    /// Collects what is written, or fails like a closed pipe while `broken` is set.
    #[derive(Clone, Default)]
    struct Pipe {
        broken: Arc<AtomicBool>,
        got: Arc<Mutex<Vec<u8>>>,
    }

    impl Write for Pipe {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.broken.load(Ordering::SeqCst) {
                return Err(std::io::ErrorKind::BrokenPipe.into());
            }
            self.got.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Pipe {
        fn lines(&self) -> Vec<String> {
            let got = self.got.lock().unwrap();
            String::from_utf8_lossy(&got)
                .lines()
                .map(str::to_string)
                .collect()
        }
    }

    #[test]
    fn lines_lost_to_a_failing_sink_are_counted_and_said_once_it_works_again() {
        let pipe = Pipe::default();
        let log = Lossy::new(Box::new(pipe.clone()));
        let mut w = &log;
        w.write_all(b"first\n").unwrap();
        pipe.broken.store(true, Ordering::SeqCst);
        for _ in 0..3 {
            // Every line is taken: the subscriber never sees an error to report.
            w.write_all(b"lost\n").unwrap();
        }
        log.report_lost();
        pipe.broken.store(false, Ordering::SeqCst);
        w.write_all(b"second\n").unwrap();
        w.write_all(b"third\n").unwrap();
        let lines = pipe.lines();
        assert_eq!(lines.len(), 4, "{lines:?}");
        assert_eq!(lines[0], "first");
        assert!(
            lines[1].ends_with("WARN 3 log lines could not be written (broken pipe) and are lost"),
            "{lines:?}"
        );
        assert_eq!(lines[2..], ["second", "third"]);
    }

    #[test]
    fn lines_lost_at_the_end_are_said_at_exit() {
        let pipe = Pipe::default();
        let log = Arc::new(Lossy::new(Box::new(pipe.clone())));
        let guard = LogGuard(Some(log.clone()));
        pipe.broken.store(true, Ordering::SeqCst);
        (&*log).write_all(b"lost\n").unwrap();
        pipe.broken.store(false, Ordering::SeqCst);
        assert!(pipe.lines().is_empty());
        drop(guard);
        let lines = pipe.lines();
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(
            lines[0].ends_with("WARN 1 log line could not be written (broken pipe) and is lost"),
            "{lines:?}"
        );
        // Said once.
        log.report_lost();
        assert_eq!(pipe.lines().len(), 1);
    }
}
