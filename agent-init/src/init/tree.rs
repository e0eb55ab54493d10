//! The whole tree at shutdown: besides the command's process group (the
//! policy's) and the services (the supervision's), processes that left
//! them — a `setsid` helper, an MCP server an agent started and forgot —
//! get SIGTERM too, are waited for until the grace period ends, and are
//! SIGKILLed and named if they are still there. As PID 1 that is every
//! other process of the container; as a subreaper, every descendant.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use nix::libc;

use crate::config::SignalTarget;
use crate::process::Target;
use crate::sys::{self, Proc};

/// How often the wait looks whether they are gone: they are not all our
/// children (no SIGCHLD tells), and this runs only while stopping.
const POLL: Duration = Duration::from_millis(50);

/// The processes the init answers for, besides itself: all of them as
/// PID 1, else its descendants. Zombies are already gone. An error when
/// /proc cannot be read: then "nothing is left" is not known.
pub fn others(own_pid: i32) -> std::io::Result<Vec<Proc>> {
    // With the descriptors set aside for it: a table full of probe
    // clients must not make it look as if nothing were left.
    // The reserve is given back only when the table is full: the common
    // case costs no calls for it.
    match scan(own_pid) {
        Err(e) if matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)) => {
            sys::with_reserve(|| scan(own_pid))
        }
        other => other,
    }
}

fn scan(own_pid: i32) -> std::io::Result<Vec<Proc>> {
    // The common case, nothing left, without reading all of /proc: as
    // PID 1 one kill(-1, 0); else every descendant hangs below a child.
    let none_left = if own_pid == 1 {
        !sys::send_all(0).unwrap_or(true)
    } else {
        std::fs::read_to_string(format!("/proc/{own_pid}/task/{own_pid}/children"))
            .is_ok_and(|c| c.trim().is_empty())
    };
    if none_left {
        return Ok(Vec::new());
    }
    let all = sys::try_processes()?;
    let alive = all.iter().filter(|p| p.pid != own_pid && p.state != 'Z');
    if own_pid == 1 {
        return Ok(alive.cloned().collect());
    }
    let parent: BTreeMap<i32, i32> = all.iter().map(|p| (p.pid, p.ppid)).collect();
    Ok(alive
        .filter(|p| {
            // Up the parent chain to us (bounded: a loop cannot happen in
            // one snapshot, but a racy one must not hang the init).
            let mut at = p.ppid;
            for _ in 0..4096 {
                if at == own_pid {
                    return true;
                }
                match parent.get(&at) {
                    Some(&up) if up != at && at > 1 => at = up,
                    _ => return false,
                }
            }
            false
        })
        .cloned()
        .collect())
}

/// Sends SIGTERM (and SIGCONT to the stopped) to every other process
/// except those in `spared` sessions or process groups (the command's,
/// whose signal the policy sends; the services', stopped in order).
/// Returns how many got it.
pub fn terminate_strays(own_pid: i32, spared: &BTreeSet<i32>) -> usize {
    let strays: Vec<Proc> = match others(own_pid) {
        Ok(all) => all
            .into_iter()
            .filter(|p| !spared.contains(&p.pgrp) && !spared.contains(&p.session))
            .collect(),
        Err(e) => {
            tracing::warn!("cannot look for processes outside the command's group: {e}");
            Vec::new()
        }
    };
    for p in &strays {
        // Each alone: its group may hold what is spared.
        let one = Target::new(p.pid, SignalTarget::Child);
        one.signal(libc::SIGTERM);
        if p.state == 'T' {
            one.signal(libc::SIGCONT);
        }
        tracing::debug!(pid = p.pid, name = %p.name, "SIGTERM to a process outside the command's group");
    }
    strays.len()
}

/// Waits until no other process is left (but those of `left_alone`
/// process groups) or `deadline` passes; then SIGKILLs and names what is
/// left. Returns the stragglers' count.
pub async fn finish(own_pid: i32, deadline: Instant, left_alone: &BTreeSet<i32>) -> usize {
    let mut told = false;
    loop {
        let left: Vec<Proc> = match others(own_pid) {
            Ok(all) => all
                .into_iter()
                .filter(|p| !left_alone.contains(&p.pgrp))
                .collect(),
            Err(e) => {
                // Not knowing is not "nothing left": look again until the
                // grace period ends.
                if !told {
                    tracing::warn!("cannot tell which processes are left: {e}; looking again");
                    told = true;
                }
                if Instant::now() >= deadline {
                    if own_pid == 1 {
                        let _ = sys::send_all(libc::SIGKILL);
                    }
                    tracing::warn!("the grace period ended without a look at what is left: {e}");
                    return 1;
                }
                let next = (Instant::now() + POLL).min(deadline);
                tokio::time::sleep_until(next.into()).await;
                continue;
            }
        };
        if left.is_empty() {
            return 0;
        }
        if Instant::now() >= deadline {
            let named: Vec<String> = left
                .iter()
                .map(|p| format!("{} ({})", p.pid, p.name))
                .collect();
            tracing::warn!(
                "still running when the grace period ended, SIGKILL: {}",
                named.join(", ")
            );
            for p in &left {
                Target::new(p.pid, SignalTarget::Child).signal(libc::SIGKILL);
            }
            return left.len();
        }
        let next = (Instant::now() + POLL).min(deadline);
        tokio::time::sleep_until(next.into()).await;
    }
}
