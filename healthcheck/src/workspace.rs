//! The workspace is still there: a directory, a mount point (when required)
//! and writable, checked with access(2), never by writing.

use std::path::PathBuf;
use std::time::Duration;

use nix::unistd::{access, AccessFlags};

use crate::{mountinfo, Check};

pub struct Workspace {
    pub path: PathBuf,
    pub require_mount: bool,
}

/// Validates the workspace: returns a detail line or what is wrong.
pub fn validate(path: &std::path::Path, require_mount: bool) -> Result<String, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if !meta.is_dir() {
        return Err(format!("{} is not a directory", path.display()));
    }
    let mounts = mountinfo::read()?;
    let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let mount = mountinfo::mount_at(&mounts, &canonical);
    if require_mount && mount.is_none() {
        return Err(format!(
            "{} is not a mount point (nothing is mounted there; mount the project with -v or a volume)",
            path.display()
        ));
    }
    match access(path, AccessFlags::W_OK) {
        Ok(()) => {}
        Err(nix::errno::Errno::EROFS) => {
            return Err(format!("{} is mounted read-only", path.display()))
        }
        Err(e) => {
            return Err(format!(
                "{} is not writable by uid {}: {e}",
                path.display(),
                nix::unistd::geteuid()
            ))
        }
    }
    Ok(match mount {
        Some(m) => format!("{} mounted ({}), writable", path.display(), m.fstype),
        None => format!("{} writable", path.display()),
    })
}

impl Check for Workspace {
    fn name(&self) -> &'static str {
        "workspace"
    }

    fn run(&self, _timeout: Duration) -> Result<String, String> {
        validate(&self.path, self.require_mount)
    }
}
