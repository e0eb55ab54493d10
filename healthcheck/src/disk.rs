//! Free space and free inodes on the filesystem holding a path (the
//! workspace), against thresholds.

use std::path::PathBuf;
use std::time::Duration;

use crate::Check;

pub struct Disk {
    pub path: PathBuf,
    pub min_free_mb: u64,
    pub min_free_inodes: u64,
}

impl Check for Disk {
    fn name(&self) -> &'static str {
        "disk"
    }

    fn run(&self, _timeout: Duration) -> Result<String, String> {
        let st = nix::sys::statvfs::statvfs(&self.path)
            .map_err(|e| format!("statvfs {}: {e}", self.path.display()))?;
        let free_mb = st.blocks_available() as u64 * st.fragment_size() as u64 / (1024 * 1024);
        let inodes = st.files_available() as u64;
        // Filesystems without inode accounting (btrfs, some overlays) report 0
        // total files; there is nothing to run out of.
        let counts_inodes = st.files() > 0;
        let detail = format!(
            "{} MiB free on {} (minimum {}), {} inodes free (minimum {})",
            free_mb,
            self.path.display(),
            self.min_free_mb,
            if counts_inodes {
                inodes.to_string()
            } else {
                "unlimited".into()
            },
            self.min_free_inodes
        );
        if free_mb < self.min_free_mb || (counts_inodes && inodes < self.min_free_inodes) {
            Err(detail)
        } else {
            Ok(detail)
        }
    }
}
