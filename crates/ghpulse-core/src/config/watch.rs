//! Following `repositories.toml` while ghpulse runs: any change to the file (by hand, by
//! `ghpulse repos`, by another ghpulse) is read when the debounce fires, and reported to the
//! engine.
//!
//! The file is read at the moment the debounce fires, not when the engine gets round to it:
//! a valid file in place then is never skipped because an invalid one replaced it before the
//! engine looked (under load, the engine can be a while). Reads the engine has not taken yet
//! are folded in order — the last valid config, and the error of a read after it — so
//! nothing is queued without bound and the outcome is that of taking each in turn.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use notify_debouncer_mini::notify::{RecommendedWatcher, RecursiveMode};
use notify_debouncer_mini::{DebounceEventResult, Debouncer, new_debouncer};
use tokio::sync::mpsc;
use tracing::warn;

use crate::config::load::Config;

/// An editor's save is several events (write, rename, chmod): one read after they settle.
/// Well under the 2 s in which a change must take effect.
pub const DEBOUNCE: Duration = Duration::from_millis(300);

/// What the file held when the watch fired, since the engine last looked: the last valid
/// config read, and the error of a later read that was not valid. Each with when it was read.
#[derive(Debug, Default)]
pub struct Reads {
    pub valid: Option<(Instant, Config)>,
    pub error: Option<(Instant, String)>,
}

#[derive(Default)]
struct Folded {
    reads: Reads,
    /// The file existed once: its disappearance is an error, not an empty watch list.
    had_file: bool,
}

impl Folded {
    fn push(&mut self, path: &Path, loaded: Result<Config, String>) {
        let now = Instant::now();
        match loaded {
            Ok(c) if !c.exists && self.had_file => {
                self.reads.error = Some((now, format!("{}: the file is gone", path.display())));
            }
            Ok(c) => {
                self.had_file |= c.exists;
                self.reads = Reads {
                    valid: Some((now, c)),
                    error: None,
                };
            }
            Err(e) => self.reads.error = Some((now, e)),
        }
    }
}

/// Keeps the watch alive; `changed` resolves with what the file held when it changed.
pub struct ConfigWatch {
    debouncer: Option<Debouncer<RecommendedWatcher>>,
    folded: Arc<Mutex<Folded>>,
    changes: mpsc::Receiver<()>,
    /// Kept so that `changed` waits forever rather than ending when nothing is watched.
    _sender: mpsc::Sender<()>,
}

impl ConfigWatch {
    /// Watches the folder of the file, and of its target when it is a symlink: edits replace
    /// the file with a rename, which a watch on the file itself would not survive. A folder
    /// that cannot be watched is logged; the file is then read at start-up only.
    pub fn start(path: &Path) -> ConfigWatch {
        let (sender, changes) = mpsc::channel(1);
        let folded = Arc::new(Mutex::new(Folded {
            had_file: path.exists(),
            ..Folded::default()
        }));
        let debouncer = match watch(path, folded.clone(), sender.clone()) {
            Ok(d) => Some(d),
            Err(e) => {
                warn!(
                    "cannot follow {}: {e}; changes to it take effect when ghpulse restarts",
                    path.display()
                );
                None
            }
        };
        ConfigWatch {
            debouncer,
            folded,
            changes,
            _sender: sender,
        }
    }

    pub fn is_following(&self) -> bool {
        self.debouncer.is_some()
    }

    /// What the file held since the last call, once it changed.
    pub async fn changed(&mut self) -> Reads {
        let _ = self.changes.recv().await;
        let mut folded = self.folded.lock().unwrap_or_else(PoisonError::into_inner);
        std::mem::take(&mut folded.reads)
    }
}

fn watch(
    path: &Path,
    folded: Arc<Mutex<Folded>>,
    sender: mpsc::Sender<()>,
) -> Result<Debouncer<RecommendedWatcher>, Box<dyn std::error::Error>> {
    let file = std::path::absolute(path)?;
    let mut files = vec![file.clone()];
    if let Ok(target) = std::fs::canonicalize(&file)
        && target != file
    {
        files.push(target);
    }
    let dirs: Vec<PathBuf> = files
        .iter()
        .filter_map(|f| f.parent().map(Path::to_path_buf))
        .collect();
    let wanted = files.clone();
    let config_path = path.to_path_buf();
    let mut debouncer = new_debouncer(DEBOUNCE, move |result: DebounceEventResult| {
        match result {
            Ok(events) => {
                if events.iter().any(|e| wanted.contains(&e.path)) {
                    let loaded = Config::load(&config_path).map_err(|e| e.to_string());
                    folded
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(&config_path, loaded);
                    // Full means the engine is already told; it will take this read too.
                    let _ = sender.try_send(());
                }
            }
            Err(e) => warn!("watching the config file: {e}"),
        }
    })?;
    for dir in dirs {
        debouncer
            .watcher()
            .watch(&dir, RecursiveMode::NonRecursive)?;
    }
    Ok(debouncer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_replaced_file_is_reported_and_other_files_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("repositories.toml");
        std::fs::write(&path, "repositories = []\n").unwrap();
        let mut watch = ConfigWatch::start(&path);

        std::fs::write(dir.path().join("other.redb"), "x").unwrap();
        let quiet = tokio::time::timeout(DEBOUNCE * 4, watch.changed()).await;
        assert!(quiet.is_err(), "another file in the folder is no change");

        let tmp = dir.path().join(".repositories.toml.x.tmp");
        std::fs::write(&tmp, "repositories = [\"a/b\"]\n").unwrap();
        std::fs::rename(&tmp, &path).unwrap();
        let reads = tokio::time::timeout(Duration::from_secs(5), watch.changed())
            .await
            .expect("the rename is reported");
        let (_, config) = reads.valid.expect("read when it fired");
        assert_eq!(config.repositories.len(), 1);
    }

    #[tokio::test]
    async fn a_valid_file_in_place_when_the_watch_fired_is_never_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("repositories.toml");
        std::fs::write(&path, "repositories = []\n").unwrap();
        let mut watch = ConfigWatch::start(&path);
        // A valid file, in place long enough for the watch to fire, then an invalid one,
        // before the engine (busy elsewhere) looks: it gets the valid one, then the error.
        std::fs::write(&path, "repositories = [\"a/b\"]\n").unwrap();
        tokio::time::sleep(DEBOUNCE * 4).await;
        std::fs::write(&path, "repositories = [\"not a repo\"]\n").unwrap();
        tokio::time::sleep(DEBOUNCE * 4).await;
        let reads = watch.changed().await;
        let (valid_at, config) = reads.valid.expect("the valid file was read");
        assert_eq!(config.repositories[0].as_str(), "a/b");
        let (error_at, error) = reads.error.expect("and so was the invalid one after it");
        assert!(error.contains("not a repo"), "{error}");
        assert!(error_at > valid_at);

        // Fixed again: the valid read clears the error before it. On a busy machine a late
        // event can report the invalid file once more first.
        std::fs::write(&path, "repositories = [\"c/d\"]\n").unwrap();
        let reads = loop {
            let reads = tokio::time::timeout(Duration::from_secs(5), watch.changed())
                .await
                .unwrap();
            let fixed = reads
                .valid
                .as_ref()
                .is_some_and(|(_, c)| c.repositories[0].as_str() == "c/d");
            if fixed {
                break reads;
            }
        };
        assert!(reads.error.is_none());

        std::fs::remove_file(&path).unwrap();
        let reads = tokio::time::timeout(Duration::from_secs(5), watch.changed())
            .await
            .unwrap();
        assert!(reads.error.unwrap().1.ends_with("the file is gone"));
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn an_edit_at_a_symlinks_target_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("real")).unwrap();
        let target = dir.path().join("real/repositories.toml");
        std::fs::write(&target, "repositories = []\n").unwrap();
        let link = dir.path().join("repositories.toml");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let mut watch = ConfigWatch::start(&link);

        crate::config::edit::add_repository(&link, "a/b").unwrap();
        tokio::time::timeout(Duration::from_secs(5), watch.changed())
            .await
            .expect("the edit at the target is reported");
    }
}
