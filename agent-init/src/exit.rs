//! Exit codes and the one mapping from an error to a code.
//!
//! agent-init's own failures use sysexits-style codes so that they can never
//! be confused with the exit code of the command it runs (which is passed
//! through unchanged, or as 128+N when the command was killed by signal N).

use std::ffi::OsString;
use std::io;

/// Command-line usage error (unknown flag, bad value).
pub const USAGE: u8 = 64;
/// A dependency (MCP server, URL to wait for) did not become available.
pub const UNAVAILABLE: u8 = 69;
/// Internal error: a bug in agent-init.
pub const SOFTWARE: u8 = 70;
/// An operating-system call failed (fork, signal mask, prctl, …).
pub const OSERR: u8 = 71;
/// A startup hook failed or timed out.
pub const HOOK_FAILED: u8 = 75;
/// Configuration is invalid (file, key, environment variable, mounted data).
pub const CONFIG: u8 = 78;
/// The command exists but could not be executed (permissions, not a binary).
pub const NOT_EXECUTABLE: u8 = 126;
/// The command was not found.
pub const NOT_FOUND: u8 = 127;

/// Every way agent-init itself can fail. Each variant maps to one exit code.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Config(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Hook(String),
    /// Startup was interrupted by this signal before the command started.
    #[error("startup interrupted by {}", crate::init::signal_name(*.0))]
    Interrupted(i32),
    #[error("{context}: {source}")]
    Os {
        context: String,
        #[source]
        source: io::Error,
    },
    #[error("command not found: {}", .command.to_string_lossy())]
    NotFound { command: OsString },
    #[error("cannot execute {}: {source}", .command.to_string_lossy())]
    NotExecutable {
        command: OsString,
        #[source]
        source: io::Error,
    },
}

impl Error {
    pub fn os(context: impl Into<String>, source: impl Into<io::Error>) -> Self {
        Error::Os {
            context: context.into(),
            source: source.into(),
        }
    }

    pub fn code(&self) -> u8 {
        match self {
            Error::Config(_) => CONFIG,
            Error::Unavailable(_) => UNAVAILABLE,
            Error::Hook(_) => HOOK_FAILED,
            Error::Interrupted(signo) => 128u8.wrapping_add(*signo as u8),
            Error::Os { .. } => OSERR,
            Error::NotFound { .. } => NOT_FOUND,
            Error::NotExecutable { .. } => NOT_EXECUTABLE,
        }
    }
}

/// The exit code a shell would report for a child's wait status.
pub fn from_wait_status(status: nix::sys::wait::WaitStatus) -> u8 {
    use nix::sys::wait::WaitStatus;
    match status {
        WaitStatus::Exited(_, code) => code as u8,
        WaitStatus::Signaled(_, sig, _) => 128u8.wrapping_add(sig as u8),
        // Stops and continues are not terminations; callers never pass them.
        _ => SOFTWARE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::signal::Signal;
    use nix::sys::wait::WaitStatus;
    use nix::unistd::Pid;

    #[test]
    fn signal_exit_is_128_plus_n() {
        let pid = Pid::from_raw(42);
        assert_eq!(
            from_wait_status(WaitStatus::Signaled(pid, Signal::SIGKILL, false)),
            137
        );
        assert_eq!(from_wait_status(WaitStatus::Exited(pid, 3)), 3);
    }

    #[test]
    fn codes_are_distinct() {
        let mut codes = [USAGE, SOFTWARE, OSERR, NOT_EXECUTABLE, NOT_FOUND];
        codes.sort();
        let before = codes.len();
        let mut v = codes.to_vec();
        v.dedup();
        assert_eq!(before, v.len());
    }
}
