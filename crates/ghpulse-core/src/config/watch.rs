//! Following `repositories.toml` while ghpulse runs: any change to the file (by hand, by
//! `ghpulse repos`, by another ghpulse) is reported to the engine, debounced.

use std::path::{Path, PathBuf};
use std::time::Duration;

use notify_debouncer_mini::notify::{RecommendedWatcher, RecursiveMode};
use notify_debouncer_mini::{DebounceEventResult, Debouncer, new_debouncer};
use tokio::sync::mpsc;
use tracing::warn;

/// An editor's save is several events (write, rename, chmod): one reload after they settle.
/// Well under the 2 s in which a change must take effect.
pub const DEBOUNCE: Duration = Duration::from_millis(300);

/// Keeps the watch alive; `changed` resolves when the file may have changed.
pub struct ConfigWatch {
    debouncer: Option<Debouncer<RecommendedWatcher>>,
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
        let debouncer = match watch(path, sender.clone()) {
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
            changes,
            _sender: sender,
        }
    }

    pub fn is_following(&self) -> bool {
        self.debouncer.is_some()
    }

    pub async fn changed(&mut self) {
        let _ = self.changes.recv().await;
    }
}

fn watch(
    path: &Path,
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
    let mut debouncer = new_debouncer(DEBOUNCE, move |result: DebounceEventResult| {
        match result {
            Ok(events) => {
                if events.iter().any(|e| wanted.contains(&e.path)) {
                    // Full means a reload is already due; it will read the newest file.
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
        tokio::time::timeout(Duration::from_secs(5), watch.changed())
            .await
            .expect("the rename is reported");
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
