//! Free space and free inodes on the filesystem holding a path (the
//! workspace), against thresholds.
//!
//! statvfs(2) on the one path, not sysinfo's disk list: that list skips
//! tmpfs and network filesystems (on purpose: statvfs on a hard NFS mount
//! may hang, which is why this check runs on a blocking thread of its own)
//! and has no inode counts.

use std::path::PathBuf;
use std::time::Duration;

use crate::{blocking, BoxFuture, Check};

pub struct Disk {
    pub path: PathBuf,
    pub min_free_mb: u64,
    pub min_free_inodes: u64,
}

impl Check for Disk {
    fn name(&self) -> &'static str {
        "disk"
    }

    fn run(&self, _timeout: Duration) -> BoxFuture {
        let (path, min_mb, min_inodes) =
            (self.path.clone(), self.min_free_mb, self.min_free_inodes);
        Box::pin(blocking(move || measure(&path, min_mb, min_inodes)))
    }
}

fn measure(
    path: &std::path::Path,
    min_free_mb: u64,
    min_free_inodes: u64,
) -> Result<String, String> {
    let st =
        nix::sys::statvfs::statvfs(path).map_err(|e| format!("statvfs {}: {e}", path.display()))?;
    let free_mb = st.blocks_available() as u64 * st.fragment_size() as u64 / (1024 * 1024);
    let inodes = st.files_available() as u64;
    // Filesystems without inode accounting (btrfs, some overlays) report 0
    // total files; there is nothing to run out of.
    let counts_inodes = st.files() > 0;
    let detail = format!(
        "{} MiB free on {} (minimum {}), {} inodes free (minimum {})",
        free_mb,
        path.display(),
        min_free_mb,
        if counts_inodes {
            inodes.to_string()
        } else {
            "unlimited".into()
        },
        min_free_inodes
    );
    if free_mb < min_free_mb || (counts_inodes && inodes < min_free_inodes) {
        Err(detail)
    } else {
        Ok(detail)
    }
}
