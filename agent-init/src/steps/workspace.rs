//! The workspace: exists, is a directory, is (by default) a mount point,
//! and is writable by the user the command will run as. Never chowns;
//! reports what is wrong instead.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::{Launch, Pause};
use crate::config::Config;
use crate::exit::Error;

/// Whether uid/gids may write to `path` by its mode bits (root may write
/// anywhere that is not mounted read-only).
fn writable_by(path: &Path, uid: u32, gids: &[u32]) -> Result<bool, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if uid == 0 {
        return Ok(true);
    }
    let mode = meta.mode();
    Ok(if meta.uid() == uid {
        mode & 0o200 != 0 && mode & 0o100 != 0
    } else if gids.contains(&meta.gid()) {
        mode & 0o020 != 0 && mode & 0o010 != 0
    } else {
        mode & 0o002 != 0 && mode & 0o001 != 0
    })
}

pub fn step(c: &Config, launch: &mut Launch, _: &mut Pause) -> Result<Option<String>, Error> {
    let Some(path) = c.workspace.path.as_deref().filter(|_| c.workspace.enabled) else {
        return Ok(None);
    };
    let fail = |msg: String| Error::Config(format!("workspace: {msg}"));
    let meta = std::fs::metadata(path).map_err(|e| fail(format!("{}: {e}", path.display())))?;
    if !meta.is_dir() {
        return Err(fail(format!("{} is not a directory", path.display())));
    }
    let mounts = healthcheck::mountinfo::read().map_err(fail)?;
    let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let mount = healthcheck::mountinfo::mount_at(&mounts, &canonical);
    if c.workspace.require_mount && mount.is_none() {
        return Err(fail(format!(
            "{} is not a mount point: mount the project there (docker run -v \"$PWD\":{0}) \
             or set workspace.require_mount = false",
            path.display()
        )));
    }
    let (uid, gids) = launch.ids();
    let read_only = nix::sys::statvfs::statvfs(path)
        .map(|s| s.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY))
        .unwrap_or(false);
    if read_only {
        return Err(fail(match mount {
            Some(_) => format!("{} is mounted read-only", path.display()),
            None => format!(
                "{} is on a read-only filesystem (the root filesystem?): mount a volume \
                 or tmpfs there",
                path.display()
            ),
        }));
    }
    if !writable_by(path, uid, &gids).map_err(fail)? {
        return Err(fail({
            format!(
                "{} is not writable by uid {uid} (owner uid {}, gid {}, mode {:o}); \
                 fix the owner on the host or run with --user {}:{}",
                path.display(),
                meta.uid(),
                meta.gid(),
                meta.mode() & 0o7777,
                meta.uid(),
                meta.gid()
            )
        }));
    }
    Ok(Some(format!(
        "{} is a {}directory writable by uid {uid}",
        path.display(),
        mount
            .map(|m| format!("mounted ({}) ", m.fstype))
            .unwrap_or_default()
    )))
}
