//! Starting the command: its own session (or the terminal's foreground
//! group), inherited stdio, and exec errors mapped the way a shell maps them.

use std::ffi::OsString;
use std::io;
use std::process::Command;

use nix::libc;
use nix::sys::signal::SigSet;

use crate::exit::Error;
use crate::logging::redact;
use crate::sys::{self, Placement};

/// The running command: its pid, which is also its process group id.
#[derive(Debug, Clone, Copy)]
pub struct Child {
    pub pid: i32,
}

pub fn spawn(argv: &[OsString], mask: SigSet) -> Result<Child, Error> {
    let (program, args) = argv.split_first().expect("command mode has a command");
    let mut cmd = Command::new(program);
    cmd.args(args);
    let placement = if sys::stdin_is_tty() {
        Placement::ForegroundGroup
    } else {
        Placement::NewSession
    };
    sys::place_child(&mut cmd, placement, mask);

    if tracing::enabled!(tracing::Level::DEBUG) {
        for (name, value) in std::env::vars_os() {
            let (name, value) = (name.to_string_lossy(), value.to_string_lossy());
            tracing::debug!("child env {}={}", name, redact(&name, &value));
        }
    }

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
fn exec_error(program: &OsString, e: io::Error) -> Error {
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
