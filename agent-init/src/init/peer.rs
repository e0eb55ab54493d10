//! Who is on the other end of the status socket. The abstract socket
//! belongs to the network namespace, which a pod's sidecars (and, with
//! `--network host`, the whole host) share; so every client must prove it
//! is a process of this container: in agent-init's PID namespace and in its
//! mount namespace (what `docker exec` and `kubectl exec` join; a sidecar
//! sharing the process namespace still has its own mounts).

use std::os::fd::AsFd;

/// A client that passed the check.
#[derive(Debug, Clone, Copy)]
pub struct Peer {
    pub pid: i32,
    pub uid: u32,
}

/// What this process's namespaces look like, read once at start.
pub struct Own {
    pid_ns: Option<std::path::PathBuf>,
    mnt_ns: Option<std::path::PathBuf>,
    /// Whether the /proc mounted here belongs to our PID namespace, so that
    /// a pid from SO_PEERCRED names the same process in /proc.
    proc_is_ours: bool,
}

impl Own {
    pub fn read() -> Own {
        let proc_is_ours = std::fs::read_link("/proc/self")
            .ok()
            .and_then(|p| p.to_str()?.parse::<u32>().ok())
            == Some(std::process::id());
        if !proc_is_ours {
            tracing::warn!(
                "/proc does not belong to this PID namespace: the status socket can only \
                 refuse clients outside the namespace, not tell the container's mounts apart"
            );
        }
        Own {
            pid_ns: std::fs::read_link("/proc/self/ns/pid").ok(),
            mnt_ns: std::fs::read_link("/proc/self/ns/mnt").ok(),
            proc_is_ours,
        }
    }

    /// Checks the client of `conn`; `Err` says why it is refused.
    pub fn check(&self, conn: &impl AsFd) -> Result<Peer, String> {
        use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};
        let cred = getsockopt(conn, PeerCredentials)
            .map_err(|e| format!("cannot identify the client: {e}"))?;
        let peer = Peer {
            pid: cred.pid(),
            uid: cred.uid(),
        };
        // The kernel reports pid 0 for a process it cannot name in our PID
        // namespace: one outside it (a sidecar, the host).
        if peer.pid <= 0 {
            return Err(OUTSIDE.into());
        }
        if !self.proc_is_ours {
            return Ok(peer);
        }
        same(
            peer.pid,
            "pid",
            self.pid_ns.as_deref(),
            same_pid_ns_by_status,
        )?;
        same(peer.pid, "mnt", self.mnt_ns.as_deref(), same_mounts)?;
        Ok(peer)
    }
}

const OUTSIDE: &str = "permission denied: the client is not a process of this container";

/// Compares `/proc/PID/ns/KIND` with ours; when that link may not be read
/// (a client of another uid while agent-init has no CAP_SYS_PTRACE), falls
/// back to `fallback`, which reads only world-readable files.
fn same(
    pid: i32,
    kind: &str,
    own: Option<&std::path::Path>,
    fallback: fn(i32) -> Option<bool>,
) -> Result<(), String> {
    let theirs = std::fs::read_link(format!("/proc/{pid}/ns/{kind}"));
    let equal = match (theirs, own) {
        (Ok(t), Some(o)) => Some(t == o),
        _ => fallback(pid),
    };
    match equal {
        Some(true) => Ok(()),
        Some(false) => Err(OUTSIDE.into()),
        None => Err(format!(
            "permission denied: cannot tell whether the client (pid {pid}) is in this container"
        )),
    }
}

/// NSpid lists a process's pid in each namespace from the one /proc belongs
/// to (ours) down: exactly one entry means it is in ours, not a nested one.
fn same_pid_ns_by_status(pid: i32) -> Option<bool> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find_map(|l| l.strip_prefix("NSpid:"))?;
    Some(line.split_whitespace().count() == 1)
}

/// Mount ids are unique across namespaces: two processes in one mount
/// namespace list the same ones.
fn same_mounts(pid: i32) -> Option<bool> {
    let ids = |path: &str| -> Option<Vec<String>> {
        let text = std::fs::read_to_string(path).ok()?;
        let mut v: Vec<String> = text
            .lines()
            .filter_map(|l| l.split(' ').next().map(str::to_string))
            .collect();
        v.sort();
        Some(v)
    };
    Some(ids(&format!("/proc/{pid}/mountinfo"))? == ids("/proc/self/mountinfo")?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_in_its_own_namespaces() {
        let me = std::process::id() as i32;
        assert_eq!(same_pid_ns_by_status(me), Some(true));
        assert_eq!(same_mounts(me), Some(true));
        assert_eq!(same_mounts(-1), None);
    }

    #[test]
    fn a_connected_pair_in_one_process_passes() {
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let peer = Own::read().check(&a).unwrap();
        assert_eq!(peer.pid, std::process::id() as i32);
    }
}
