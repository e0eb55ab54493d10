//! Staging files for the command's user: written atomically (a temporary
//! file renamed into place), with the mode asked for, owned by the user the
//! command runs as; missing parent directories are created private to it.

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
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| format!("writing {}: {e}", tmp.display()))?;
        f.write_all(bytes)
            .map_err(|e| format!("writing {}: {e}", tmp.display()))?;
    }
    let finish = || -> Result<(), String> {
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
        Some(nix::unistd::Gid::from_raw(gids[0])),
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
