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
/// An operating-system call failed (fork, signal setup, prctl, …).
pub const OSERR: u8 = 71;
/// A startup hook failed or timed out.
pub const HOOK_FAILED: u8 = 75;
/// Configuration is invalid (file, key, environment variable, mounted data).
pub const CONFIG: u8 = 78;
/// The command exists but could not be executed (permissions, not a binary).
pub const NOT_EXECUTABLE: u8 = 126;
/// The command was not found.
pub const NOT_FOUND: u8 = 127;

/// agent-init's own codes, for the rule every code must keep.
#[cfg(test)]
pub const OWN: [u8; 8] = [
    USAGE,
    UNAVAILABLE,
    SOFTWARE,
    OSERR,
    HOOK_FAILED,
    CONFIG,
    NOT_EXECUTABLE,
    NOT_FOUND,
];

/// Every way agent-init itself can fail. Each variant maps to one exit code.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Config(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Hook(String),
    /// Startup was interrupted by this signal before the command started.
    #[error("startup interrupted by {}", crate::sys::signal_name(*.0))]
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
    /// A bug: something agent-init relies on did not hold.
    #[error("internal error: {0}")]
    Internal(String),
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
            Error::Usage(_) => USAGE,
            Error::Config(_) => CONFIG,
            Error::Unavailable(_) => UNAVAILABLE,
            Error::Hook(_) => HOOK_FAILED,
            Error::Interrupted(signo) => signal_code(*signo),
            Error::Os { .. } => OSERR,
            Error::NotFound { .. } => NOT_FOUND,
            Error::NotExecutable { .. } => NOT_EXECUTABLE,
            Error::Internal(_) => SOFTWARE,
        }
    }
}

/// 128+N, as a shell reports a process killed by signal N.
pub fn signal_code(signo: i32) -> u8 {
    128u8.wrapping_add(signo as u8)
}

/// Maps a failed spawn like a shell: 127 not found, 126 found but not
/// executable, anything else (fork failing) is an OS error.
pub fn exec_error(program: &std::ffi::OsStr, e: io::Error) -> Error {
    use nix::libc;
    match e.raw_os_error() {
        Some(libc::ENOENT) | Some(libc::ENOTDIR) => Error::NotFound {
            command: program.to_os_string(),
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
            command: program.to_os_string(),
            source: e,
        },
        _ => Error::os(format!("starting {}", program.to_string_lossy()), e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_exit_is_128_plus_n() {
        assert_eq!(signal_code(9), 137);
        assert_eq!(Error::Interrupted(15).code(), 143);
    }

    /// The rule every code keeps: all distinct; never 2 (Docker reserves it
    /// for health checks); never 0 or 1 (health's answers); nothing in
    /// 126..=165 (the shell's own codes and 128+N for signals up to 37)
    /// but the shell's two, 126 and 127, which mean what they mean there.
    #[test]
    fn codes_keep_the_rule() {
        let mut seen = OWN.to_vec();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), OWN.len(), "two errors share a code");
        for code in OWN {
            assert!(code > 2, "{code} clashes with health's 0/1 or Docker's 2");
            assert!(
                !(126..=165).contains(&code) || code == NOT_FOUND || code == NOT_EXECUTABLE,
                "{code} looks like a shell code or a signal"
            );
        }
        let every_error = [
            Error::Usage(String::new()),
            Error::Config(String::new()),
            Error::Unavailable(String::new()),
            Error::Hook(String::new()),
            Error::os("x", io::Error::other("x")),
            Error::NotFound {
                command: "x".into(),
            },
            Error::NotExecutable {
                command: "x".into(),
                source: io::Error::other("x"),
            },
            Error::Internal(String::new()),
        ];
        for e in every_error {
            assert!(OWN.contains(&e.code()), "{e:?} maps to {}", e.code());
        }
    }
}
