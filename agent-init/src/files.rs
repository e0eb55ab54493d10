//! Staging files for the command's user: written atomically (a temporary
//! file renamed into place), with the mode asked for, owned by the user the
//! command runs as; missing parent directories are created private to it.

// Arithmetic on lengths and counts taken from input: checked or
// saturating, never a panic or a wrap.
#![cfg_attr(not(test), deny(clippy::arithmetic_side_effects))]

use std::path::Path;

use crate::launch::Launch;

/// Writes `bytes` to `dest` atomically (temp file + rename) with `mode`,
/// owned by the command's user; parent directories are created for it.
pub fn install(dest: &Path, bytes: &[u8], mode: u32, launch: &Launch) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let (owner, group) = owner_of(launch);
    let parent = dest.parent().unwrap_or(Path::new("/"));
    create_dirs(parent, launch)?;
    let tmp = parent.join(format!(
        ".{}.agent-init.tmp",
        dest.file_name().unwrap_or_default().to_string_lossy()
    ));
    // Created private: the secret is never readable by others, not even
    // for the moment before its final mode is set.
    let _ = std::fs::remove_file(&tmp);
    let mut f = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| format!("writing {}: {e}", tmp.display()))?
    };
    // From here on every way out but success removes the temporary file: a
    // full disk must not leave half a secret behind.
    let mut finish = || -> Result<(), String> {
        use std::io::Write;
        f.write_all(bytes)
            .and_then(|()| f.sync_all())
            .map_err(|e| format!("writing {}: {e}", tmp.display()))?;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode))
            .map_err(|e| format!("chmod {}: {e}", tmp.display()))?;
        if nix::unistd::geteuid().is_root() {
            nix::unistd::chown(&tmp, owner, group)
                .map_err(|e| format!("chown {}: {e}", tmp.display()))?;
        }
        std::fs::rename(&tmp, dest).map_err(|e| format!("renaming to {}: {e}", dest.display()))
    };
    finish().inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

fn owner_of(launch: &Launch) -> (Option<nix::unistd::Uid>, Option<nix::unistd::Gid>) {
    let (uid, gids) = launch.ids();
    (
        Some(nix::unistd::Uid::from_raw(uid)),
        gids.first().copied().map(nix::unistd::Gid::from_raw),
    )
}

/// Creates `dir` and its missing parents, private (0700) and owned by the
/// command's user.
pub fn create_dirs(dir: &Path, launch: &Launch) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let (owner, group) = owner_of(launch);
    let mut missing = Vec::new();
    let mut p = dir;
    while !p.exists() {
        missing.push(p.to_path_buf());
        p = p.parent().unwrap_or(Path::new("/"));
    }
    for d in missing.iter().rev() {
        std::fs::create_dir(d).map_err(|e| format!("creating {}: {e}", d.display()))?;
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o700)).ok();
        nix::unistd::chown(d, owner, group).ok();
    }
    Ok(())
}

/// Replaces what `path` holds with `bytes`, whole or not at all: a failed
/// write (a full disk) leaves the previous content, never a truncated or
/// empty file. A temporary file beside it is renamed over it; where that
/// is impossible (a file bind-mounted on its own, like the kubelet's
/// `/dev/termination-log`, cannot be renamed over; a directory we may not
/// write), the file is overwritten in place, but only once the space for
/// the new content is reserved (fallocate), and cut to its length after.
/// On a filesystem that cannot reserve space, an in-place write that runs
/// out of room leaves the new content's beginning over the old one's.
pub fn replace(path: &Path, bytes: &[u8]) -> Result<(), String> {
    match replace_by_rename(path, bytes) {
        Ok(()) => Ok(()),
        Err(e) if is_no_room(&e) => Err(format!(
            "writing {}: {e}; its previous content is kept",
            path.display()
        )),
        Err(_) => overwrite(path, bytes).map_err(|e| {
            format!(
                "writing {}: {e}{}",
                path.display(),
                if is_no_room(&e) {
                    "; its previous content is kept"
                } else {
                    ""
                }
            )
        }),
    }
}

fn is_no_room(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(nix::libc::ENOSPC | nix::libc::EDQUOT)
    )
}

fn replace_by_rename(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let parent = path.parent().unwrap_or(Path::new("/"));
    let tmp = parent.join(format!(
        ".{}.agent-init.tmp",
        path.file_name().unwrap_or_default().to_string_lossy()
    ));
    let mode = std::fs::metadata(path).map_or(0o644, |m| m.permissions().mode() & 0o7777);
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)?;
    let written = f
        .write_all(bytes)
        .and_then(|()| f.sync_all())
        .and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

fn overwrite(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    let f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)?;
    let len = i64::try_from(bytes.len()).unwrap_or(i64::MAX);
    if len > 0 {
        use std::os::fd::AsRawFd;
        if let Err(e) = nix::fcntl::fallocate(
            f.as_raw_fd(),
            nix::fcntl::FallocateFlags::FALLOC_FL_KEEP_SIZE,
            0,
            len,
        ) {
            // Not every filesystem can reserve space (then the write below
            // is all there is); a full one says so here, before anything
            // was overwritten.
            if e != nix::errno::Errno::EOPNOTSUPP && e != nix::errno::Errno::ENOSYS {
                return Err(e.into());
            }
        }
    }
    f.write_all_at(bytes, 0)?;
    f.set_len(bytes.len() as u64)?;
    f.sync_all()
}
