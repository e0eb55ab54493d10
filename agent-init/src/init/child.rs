//! Starting the command: its own session (or the terminal's foreground
//! group), inherited stdio, and exec errors mapped the way a shell maps them.

use std::ffi::OsString;
use std::io;
use std::process::Command;

use nix::libc;
use nix::sys::signal::SigSet;

use std::sync::OnceLock;

use crate::exit::Error;
use crate::steps::Launch;
use crate::sys::{self, Placement};

/// The running command: its pid, which is also its process group id.
#[derive(Debug, Clone, Copy)]
pub struct Child {
    pub pid: i32,
}

/// The mask agent-init started with, restored in every child.
static ORIGINAL_MASK: OnceLock<SigSet> = OnceLock::new();

pub fn remember_mask(mask: SigSet) {
    let _ = ORIGINAL_MASK.set(mask);
}

/// A child process as the launch describes it: its environment, identity,
/// no_new_privs, the original signal mask, in a session of its own (or the
/// terminal's foreground group).
pub fn command(argv: &[OsString], launch: &Launch, placement: Placement) -> Command {
    let (program, args) = argv.split_first().expect("a command has a name");
    let mut cmd = Command::new(program);
    cmd.args(args).env_clear().envs(&launch.env);
    let identity = launch.user.as_ref().map(|t| sys::Identity {
        uid: t.uid,
        gid: t.gid,
        groups: t.groups.clone(),
    });
    let mask = ORIGINAL_MASK.get().copied().unwrap_or_else(SigSet::empty);
    sys::place_child(&mut cmd, placement, mask, identity, launch.no_new_privs);
    cmd
}

pub fn spawn(argv: &[OsString], launch: &Launch) -> Result<Child, Error> {
    let placement = if sys::stdin_is_tty() {
        Placement::ForegroundGroup
    } else {
        Placement::NewSession
    };
    let mut cmd = command(argv, launch, placement);
    if tracing::enabled!(tracing::Level::DEBUG) {
        for (name, value) in &launch.env {
            tracing::debug!("child env {}={}", name, launch.shown(name, value));
        }
    }
    let program = &argv[0];
    let child = cmd.spawn().map_err(|e| exec_error(program, e))?;
    let pid = child.id() as i32;
    // The std handle is dropped on purpose: every wait goes through the
    // reaper's waitpid(-1), and dropping a Child neither waits nor kills.
    drop(child);
    tracing::debug!(pid, ?placement, ?argv, "command started");
    Ok(Child { pid })
}

/// Maps a failed spawn like a shell: 127 not found, 126 found but not
/// executable, anything else (fork failing) is an OS error.
pub fn exec_error(program: &OsString, e: io::Error) -> Error {
    match e.raw_os_error() {
        Some(libc::ENOENT) | Some(libc::ENOTDIR) => Error::NotFound {
            command: program.clone(),
        },
        Some(
            libc::EACCES
            | libc::EPERM
            | libc::ENOEXEC
            | libc::EISDIR
            | libc::ETXTBSY
            | libc::ELOOP
            | libc::ENAMETOOLONG
            | libc::E2BIG,
        ) => Error::NotExecutable {
            command: program.clone(),
            source: e,
        },
        _ => Error::os(format!("starting {}", program.to_string_lossy()), e),
    }
}

/// Whether process `pid` takes care of signal `signo` itself (catches,
/// ignores or blocks it, e.g. for sigwait), from the SigCgt/SigIgn/SigBlk
/// masks in /proc/PID/status. `None` if it cannot be read.
pub fn handles_signal(pid: i32, signo: i32) -> Option<bool> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let bit = 1u64 << (signo - 1);
    let mut handled = false;
    for field in ["SigCgt:", "SigIgn:", "SigBlk:"] {
        let hex = status.lines().find_map(|l| l.strip_prefix(field))?.trim();
        handled |= u64::from_str_radix(hex, 16).ok()? & bit != 0;
    }
    Some(handled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_dispositions_are_read() {
        // The test harness leaves SIGTSTP at its default; Rust ignores SIGPIPE.
        let me = std::process::id() as i32;
        assert_eq!(handles_signal(me, libc::SIGTSTP), Some(false));
        assert_eq!(handles_signal(me, libc::SIGPIPE), Some(true));
        assert_eq!(handles_signal(-5, libc::SIGTSTP), None);
    }
}
