//! Available memory measured against the container's cgroup limit (v1 or
//! v2), not the host's RAM: a container at 95 % of a 2 GiB limit on a 64 GiB
//! host is about to be OOM-killed whatever /proc/meminfo says.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::{mountinfo, Check};

pub struct Memory {
    pub min_free_mb: u64,
}

/// What the memory situation is, in bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub available: u64,
    /// The cgroup limit, when there is one.
    pub limit: Option<u64>,
    /// Where the numbers came from ("cgroup v2 /sys/fs/cgroup", "/proc/meminfo").
    pub source: String,
}

/// Limits at or above this are "no limit" (cgroup v1 reports ~2^63).
const UNLIMITED: u64 = 1 << 60;

pub fn snapshot() -> Result<Snapshot, String> {
    let host = meminfo_available()?;
    let mounts = mountinfo::read()?;
    let cgroups = std::fs::read_to_string("/proc/self/cgroup")
        .map_err(|e| format!("reading /proc/self/cgroup: {e}"))?;
    let cg = v1_dir(&mounts, &cgroups)
        .map(|d| (d, 1))
        .or_else(|| v2_dir(&mounts, &cgroups).map(|d| (d, 2)));
    if let Some((dir, version)) = cg {
        let measured = if version == 1 { v1(&dir) } else { v2(&dir) };
        if let Some((limit, used)) = measured {
            if limit < UNLIMITED {
                return Ok(Snapshot {
                    available: limit.saturating_sub(used).min(host),
                    limit: Some(limit),
                    source: format!("cgroup v{version} {}", dir.display()),
                });
            }
        }
    }
    Ok(Snapshot {
        available: host,
        limit: None,
        source: "/proc/meminfo (no cgroup limit)".into(),
    })
}

fn meminfo_available() -> Result<u64, String> {
    let text = std::fs::read_to_string("/proc/meminfo")
        .map_err(|e| format!("reading /proc/meminfo: {e}"))?;
    kib_field(&text, "MemAvailable:")
        .map(|k| k * 1024)
        .ok_or_else(|| "no MemAvailable in /proc/meminfo".into())
}

fn kib_field(text: &str, name: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The directory of this process's cgroup in the mounted hierarchy whose
/// mount matches `wanted`, given the hierarchy's line in /proc/self/cgroup.
fn cgroup_dir(mount: &mountinfo::Mount, cg_path: &str) -> PathBuf {
    // With a cgroup namespace the mount root is "/" and the path is relative
    // to it; without one the mount root is a prefix of the path.
    let rel = Path::new(cg_path)
        .strip_prefix(&mount.root)
        .unwrap_or(Path::new(cg_path));
    let rel = rel.strip_prefix("/").unwrap_or(rel);
    mount.mount_point.join(rel)
}

fn v1_dir(mounts: &[mountinfo::Mount], cgroups: &str) -> Option<PathBuf> {
    let mount = mounts
        .iter()
        .find(|m| m.fstype == "cgroup" && m.super_options.split(',').any(|o| o == "memory"))?;
    let path = cgroups.lines().find_map(|l| {
        let mut f = l.splitn(3, ':');
        let (_, controllers, path) = (f.next()?, f.next()?, f.next()?);
        controllers
            .split(',')
            .any(|c| c == "memory")
            .then_some(path)
    })?;
    Some(cgroup_dir(mount, path))
}

fn v2_dir(mounts: &[mountinfo::Mount], cgroups: &str) -> Option<PathBuf> {
    let mount = mounts.iter().find(|m| m.fstype == "cgroup2")?;
    let path = cgroups.lines().find_map(|l| l.strip_prefix("0::"))?;
    let dir = cgroup_dir(mount, path);
    dir.join("memory.current").exists().then_some(dir)
}

fn read_u64(p: PathBuf) -> Option<u64> {
    std::fs::read_to_string(p).ok()?.trim().parse().ok()
}

fn stat_field(dir: &Path, name: &str) -> u64 {
    let text = std::fs::read_to_string(dir.join("memory.stat")).unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or(0)
}

/// (limit, used) for v1; used excludes reclaimable inactive page cache.
fn v1(dir: &Path) -> Option<(u64, u64)> {
    // hierarchical_memory_limit already is the smallest limit up the tree.
    let limit = match stat_field(dir, "hierarchical_memory_limit") {
        0 => read_u64(dir.join("memory.limit_in_bytes"))?,
        l => l,
    };
    let usage = read_u64(dir.join("memory.usage_in_bytes"))?;
    Some((
        limit,
        usage.saturating_sub(stat_field(dir, "total_inactive_file")),
    ))
}

/// (limit, used) for v2: the smallest memory.max from here up to the mount.
fn v2(dir: &Path) -> Option<(u64, u64)> {
    let usage = read_u64(dir.join("memory.current"))?;
    let mut limit = u64::MAX;
    let mut d = Some(dir);
    while let Some(cur) = d {
        match std::fs::read_to_string(cur.join("memory.max")) {
            Ok(v) => {
                if let Ok(n) = v.trim().parse::<u64>() {
                    limit = limit.min(n);
                }
            }
            Err(_) => break,
        }
        d = cur.parent();
    }
    Some((
        limit,
        usage.saturating_sub(stat_field(dir, "inactive_file")),
    ))
}

impl Check for Memory {
    fn name(&self) -> &'static str {
        "memory"
    }

    fn run(&self, _timeout: Duration) -> Result<String, String> {
        let s = snapshot()?;
        let mib = |b: u64| b / (1024 * 1024);
        let detail = match s.limit {
            Some(limit) => format!(
                "{} MiB available of a {} MiB limit ({}), minimum {}",
                mib(s.available),
                mib(limit),
                s.source,
                self.min_free_mb
            ),
            None => format!(
                "{} MiB available ({}), minimum {}",
                mib(s.available),
                s.source,
                self.min_free_mb
            ),
        };
        if mib(s.available) < self.min_free_mb {
            Err(detail)
        } else {
            Ok(detail)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroup_dirs_with_and_without_namespace() {
        let mounts = mountinfo::parse(
            "30 22 0:26 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n\
             31 22 0:27 /kubepods/pod1 /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n",
        );
        let v1 = v1_dir(&mounts, "4:memory:/docker/abc\n0::/kubepods/pod1/c1\n").unwrap();
        assert_eq!(v1, Path::new("/sys/fs/cgroup/memory/docker/abc"));
        let v2 = cgroup_dir(&mounts[1], "/kubepods/pod1/c1");
        assert_eq!(v2, Path::new("/sys/fs/cgroup/c1"));
        let ns = cgroup_dir(&mounts[1], "/");
        assert_eq!(ns, Path::new("/sys/fs/cgroup"));
    }

    #[test]
    fn snapshot_reads_this_machine() {
        let s = snapshot().unwrap();
        assert!(s.available > 0, "{s:?}");
    }
}
