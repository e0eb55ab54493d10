//! Available memory measured against the container's cgroup limit (v1 or
//! v2), not the host's RAM: a container at 95 % of a 2 GiB limit on a 64 GiB
//! host is about to be OOM-killed whatever /proc/meminfo says.
//!
//! sysinfo finds this process's cgroup (from /proc/self/cgroup and the
//! mount table, with or without a cgroup namespace) and the smallest limit
//! up its hierarchy. What counts as used is the cgroup's anonymous memory:
//! its page cache (a workspace full of files read by git fills it up to the
//! limit) is reclaimed by the kernel before it OOM-kills anything, so
//! counting it would report a healthy container as out of memory.

use std::time::Duration;

use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System};

use crate::{BoxFuture, Check};

pub struct Memory {
    pub min_free_mb: u64,
}

/// What the memory situation is, in bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub available: u64,
    /// The cgroup limit, when there is one.
    pub limit: Option<u64>,
}

pub fn snapshot() -> Result<Snapshot, String> {
    let mut system = System::new().map_err(|e| format!("reading memory: {e}"))?;
    system.refresh_memory();
    let host = system.available_memory();
    let me = Pid::from_u32(std::process::id());
    system.refresh_processes_specifics(
        ProcessesToUpdate::Some(&[me]),
        false,
        ProcessRefreshKind::nothing(),
    );
    let limits = system.process(me).and_then(|p| p.cgroup_limits());
    Ok(match limits {
        Some(l) => Snapshot {
            available: l.total_memory.saturating_sub(l.rss).min(host),
            limit: Some(l.total_memory),
        },
        None => Snapshot {
            available: host,
            limit: None,
        },
    })
}

impl Check for Memory {
    fn name(&self) -> &'static str {
        "memory"
    }

    fn run(&self, _timeout: Duration) -> BoxFuture {
        // procfs and cgroupfs answer at once: no thread needed.
        Box::pin(std::future::ready(judge(self.min_free_mb)))
    }
}

fn judge(min: u64) -> Result<String, String> {
    let s = snapshot()?;
    let mib = |b: u64| b / (1024 * 1024);
    let detail = match s.limit {
        Some(limit) => format!(
            "{} MiB available of a {} MiB limit (cgroup), minimum {min}",
            mib(s.available),
            mib(limit),
        ),
        None => format!(
            "{} MiB available (no cgroup limit), minimum {min}",
            mib(s.available),
        ),
    };
    if mib(s.available) < min {
        Err(detail)
    } else {
        Ok(detail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_reads_this_machine() {
        let s = snapshot().unwrap();
        assert!(s.available > 0, "{s:?}");
    }
}
