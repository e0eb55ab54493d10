//! git trusts the workspace: `safe.directory` entries passed in the
//! command's environment (GIT_CONFIG_COUNT / GIT_CONFIG_KEY_n /
//! GIT_CONFIG_VALUE_n, read by git at command scope), so nothing is written
//! and a read-only root filesystem is fine. Entries already in the
//! environment are kept.
//!
//! An agent killed mid-commit leaves `.git/index.lock` behind, and every
//! later git command in the workspace fails. Lock files untouched for a
//! minute are removed at startup and each is logged (`git.stale_locks`);
//! `agent-init check` only reports them.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::config::{Config, StaleLocks};
use crate::exit::Error;
use crate::launch::Launch;

pub fn step(c: &Config, launch: &mut Launch) -> Result<Option<String>, Error> {
    if !c.git.enabled {
        return Ok(None);
    }
    let dirs: Vec<String> = if c.git.safe_directories.is_empty() {
        match &c.workspace.path {
            Some(p) => vec![p.to_string_lossy().into_owned()],
            None => return Ok(None),
        }
    } else {
        c.git.safe_directories.clone()
    };
    let mut n: usize = match launch.env.get("GIT_CONFIG_COUNT") {
        Some(v) => v.parse().map_err(|_| {
            Error::Config(format!(
                "GIT_CONFIG_COUNT in the environment is `{v}`, not a number"
            ))
        })?,
        None => 0,
    };
    for dir in &dirs {
        launch
            .env
            .insert(format!("GIT_CONFIG_KEY_{n}"), "safe.directory".into());
        launch
            .env
            .insert(format!("GIT_CONFIG_VALUE_{n}"), dir.clone());
        n += 1;
    }
    launch.env.insert("GIT_CONFIG_COUNT".into(), n.to_string());
    let mut outcome = format!("safe.directory {} (through GIT_CONFIG_*)", dirs.join(", "));
    if c.git.stale_locks != StaleLocks::Ignore {
        let now = SystemTime::now();
        for dir in &dirs {
            for (lock, age) in stale_locks(Path::new(dir), now) {
                let age = crate::config::value::format_duration(Duration::from_secs(age.as_secs()));
                let remove = c.git.stale_locks == StaleLocks::Remove && !launch.dry_run;
                if !remove {
                    tracing::warn!(
                        "stale git lock {} (untouched for {age}): git commands there fail until it is removed",
                        lock.display()
                    );
                    continue;
                }
                match std::fs::remove_file(&lock) {
                    Ok(()) => {
                        tracing::warn!(
                            "removed stale git lock {} (untouched for {age})",
                            lock.display()
                        );
                        outcome.push_str(&format!("; removed {}", lock.display()));
                    }
                    Err(e) => {
                        tracing::warn!("stale git lock {}: cannot remove it: {e}", lock.display())
                    }
                }
            }
        }
    }
    Ok(Some(outcome))
}

/// Untouched this long, a lock's git is gone.
const STALE_AFTER: Duration = Duration::from_secs(60);

/// The git directory of a work tree: `.git`, or where a `.git` file (a
/// worktree, a submodule) points.
fn git_dir(work_tree: &Path) -> Option<PathBuf> {
    let dot_git = work_tree.join(".git");
    let meta = std::fs::symlink_metadata(&dot_git).ok()?;
    if meta.is_dir() {
        return Some(dot_git);
    }
    let text = std::fs::read_to_string(&dot_git).ok()?;
    let target = PathBuf::from(text.trim().strip_prefix("gitdir:")?.trim());
    Some(if target.is_absolute() {
        target
    } else {
        work_tree.join(target)
    })
}

/// The `*.lock` files of `work_tree`'s git directory (top level, and under
/// `refs/`) not modified for [`STALE_AFTER`], with their ages. Links are
/// never followed.
pub fn stale_locks(work_tree: &Path, now: SystemTime) -> Vec<(PathBuf, Duration)> {
    let Some(git) = git_dir(work_tree) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    let mut dirs = vec![(git.clone(), 0)];
    while let Some((dir, depth)) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(meta) = entry.metadata() else { continue };
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if meta.is_dir() {
                let into = (depth == 0 && name == "refs") || (depth > 0 && depth < 8);
                if into {
                    dirs.push((path, depth + 1));
                }
            } else if meta.is_file() && name.ends_with(".lock") {
                let age = meta
                    .modified()
                    .ok()
                    .and_then(|m| now.duration_since(m).ok())
                    .unwrap_or_default();
                if age >= STALE_AFTER {
                    found.push((path, age));
                }
            }
        }
    }
    found.sort();
    found
}
