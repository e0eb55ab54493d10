//! The workspace: exists, is a directory, is (by default) a mount point,
//! and is writable by the user the command will run as. Never chowns;
//! reports what is wrong instead.

use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;

use healthcheck::workspace::{locate, Located};

use crate::config::Config;
use crate::exit::Error;
use crate::launch::Launch;

/// Whether uid/gids may write to a directory with these owner and mode bits
/// (root may write anywhere that is not mounted read-only).
fn writable_by(meta: &Metadata, uid: u32, gids: &[u32]) -> bool {
    if uid == 0 {
        return true;
    }
    let mode = meta.mode();
    if meta.uid() == uid {
        mode & 0o200 != 0 && mode & 0o100 != 0
    } else if gids.contains(&meta.gid()) {
        mode & 0o020 != 0 && mode & 0o010 != 0
    } else {
        mode & 0o002 != 0 && mode & 0o001 != 0
    }
}

pub fn step(c: &Config, launch: &mut Launch) -> Result<Option<String>, Error> {
    let Some(path) = c.workspace.path.as_deref().filter(|_| c.workspace.enabled) else {
        return Ok(None);
    };
    let fail = |msg: String| Error::Config(format!("workspace: {msg}"));
    let Located { meta, mount } = locate(path, c.workspace.require_mount).map_err(fail)?;
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
    if !writable_by(&meta, uid, &gids) {
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
