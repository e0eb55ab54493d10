//! The workspace is still there: a directory, a mount point (when required)
//! and writable, checked with access(2), never by writing.

use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::unistd::{access, AccessFlags};

use crate::{blocking, mountinfo, BoxFuture, Check};

pub struct Workspace {
    pub path: PathBuf,
    pub require_mount: bool,
}

/// A workspace that exists, is a directory and, when required, a mount point.
pub struct Located {
    pub meta: std::fs::Metadata,
    /// The mount whose mount point it is, if any.
    pub mount: Option<mountinfo::Mount>,
}

/// What the startup step and the health check both require of the
/// workspace; each then checks writability its own way.
pub fn locate(path: &Path, require_mount: bool) -> Result<Located, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if !meta.is_dir() {
        return Err(format!("{} is not a directory", path.display()));
    }
    let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let mount = mountinfo::read_mount_at(&canonical)?;
    if require_mount && mount.is_none() {
        return Err(format!(
            "{0} is not a mount point: mount the project there (docker run -v \"$PWD\":{0}) \
             or set workspace.require_mount = false",
            path.display()
        ));
    }
    Ok(Located { meta, mount })
}

/// Validates the workspace for this process's user: returns a detail line
/// or what is wrong.
pub fn validate(path: &Path, require_mount: bool) -> Result<String, String> {
    let mount = locate(path, require_mount)?.mount;
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

    fn run(&self, _timeout: Duration) -> BoxFuture {
        let (path, require_mount) = (self.path.clone(), self.require_mount);
        Box::pin(blocking(move || validate(&path, require_mount)))
    }
}
