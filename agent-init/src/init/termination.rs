//! The termination report: on exit, a short summary for whoever looks at
//! the container afterwards (`kubectl describe pod` shows the kubelet's
//! `/dev/termination-log`): how startup or the command ended, whether the
//! grace period ran out, how long it all took, and OOM kills the memory
//! cgroup saw. Redacted like every log line, and at most 4 KiB, the
//! kubelet's limit.

use std::path::PathBuf;
use std::time::Instant;

use crate::config::Config;
use crate::exit::Error;

/// Where the kubelet looks by default.
pub const KUBELET_PATH: &str = "/dev/termination-log";
/// What the kubelet keeps.
pub const MAX: usize = 4096;

/// What the init saw, filled in as it goes.
pub struct Termination {
    pub started: Instant,
    /// How the command ended: "exited with 3", "killed by SIGTERM".
    pub command: Option<String>,
    /// The grace period ran out and SIGKILL was sent.
    pub forced: bool,
    /// The command's exit code and the one agent-init exited with instead
    /// (`remap_exit`).
    pub remapped: Option<(u8, u8)>,
}

impl Termination {
    pub fn new() -> Termination {
        Termination {
            started: Instant::now(),
            command: None,
            forced: false,
            remapped: None,
        }
    }
}

/// Where to write: `termination_log` when set (empty: nowhere), else the
/// kubelet's file when it exists and is writable.
fn path(c: &Config) -> Option<PathBuf> {
    match c.termination_log.as_deref() {
        Some("") => None,
        Some(p) => Some(PathBuf::from(p)),
        None => {
            let p = PathBuf::from(KUBELET_PATH);
            let writable = nix::unistd::access(&p, nix::unistd::AccessFlags::W_OK).is_ok();
            (p.exists() && writable).then_some(p)
        }
    }
}

/// The summary, redacted and cut to [`MAX`] bytes.
pub fn summary(t: &Termination, result: &Result<u8, Error>, oom_kills: Option<u64>) -> String {
    let mut lines = Vec::new();
    match (result, &t.command) {
        (Err(e), None) => lines.push(format!(
            "agent-init: startup failed (exit {}): {e}",
            e.code()
        )),
        (Err(e), Some(how)) => lines.push(format!(
            "agent-init: command {how}; then: {e} (exit {})",
            e.code()
        )),
        (Ok(code), Some(how)) => lines.push(format!("agent-init: command {how} (exit {code})")),
        (Ok(code), None) => lines.push(format!("agent-init: stopped (exit {code})")),
    }
    if let Some((from, to)) = t.remapped {
        lines.push(format!(
            "the command's exit code {from} was remapped to {to}"
        ));
    }
    if t.forced {
        lines.push("the grace period ran out: what was left got SIGKILL".into());
    }
    lines.push(format!(
        "ran for {:.1} s",
        t.started.elapsed().as_secs_f64()
    ));
    if let Some(n) = oom_kills.filter(|n| *n > 0) {
        lines.push(format!(
            "the memory cgroup's OOM killer killed {n} process(es)"
        ));
    }
    let mut text = crate::logging::scrub(&(lines.join("\n") + "\n")).into_owned();
    if text.len() > MAX {
        let mut cut = MAX - 4;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push_str("…\n");
    }
    text
}

/// OOM kills counted by the container's memory cgroup: v2's
/// `memory.events` (`oom_kill N`), v1's `memory.oom_control`.
pub fn oom_kills() -> Option<u64> {
    [
        "/sys/fs/cgroup/memory.events",
        "/sys/fs/cgroup/memory/memory.oom_control",
    ]
    .iter()
    .find_map(|p| {
        let text = std::fs::read_to_string(p).ok()?;
        text.lines()
            .find_map(|l| l.strip_prefix("oom_kill ")?.trim().parse().ok())
    })
}

/// Writes the report where the configuration says; failures are logged.
pub fn write(c: &Config, t: &Termination, result: &Result<u8, Error>) {
    let Some(path) = path(c) else {
        return;
    };
    let text = summary(t, result, oom_kills());
    // Whole or not at all: a full disk keeps the last report, never an
    // empty one.
    if let Err(e) = crate::files::replace(&path, text.as_bytes()) {
        tracing::warn!("cannot write the termination report: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_says_what_happened_and_fits_the_kubelets_limit() {
        let mut t = Termination::new();
        t.command = Some("killed by SIGKILL".into());
        t.forced = true;
        let s = summary(&t, &Ok(137), Some(2));
        assert!(!s.contains("remapped"), "{s}");
        let mut remapped = Termination::new();
        remapped.command = Some("exited with 143".into());
        remapped.remapped = Some((143, 0));
        let r = summary(&remapped, &Ok(0), None);
        assert!(r.starts_with("agent-init: command exited with 143 (exit 0)\nthe command's exit code 143 was remapped to 0\n"), "{r}");
        assert!(
            s.starts_with("agent-init: command killed by SIGKILL (exit 137)\n"),
            "{s}"
        );
        assert!(
            s.contains("grace period ran out") && s.contains("killed 2 process"),
            "{s}"
        );
        let long = Err(Error::Config("x".repeat(10_000)));
        let s = summary(&Termination::new(), &long, None);
        assert!(s.len() <= MAX && s.starts_with("agent-init: startup failed (exit 78)"));
    }
}
