//! One primitive per process operation, used by the command, hooks,
//! services, jobs and reloads alike: start one with its exit watched and
//! its pipes handed over ([`start`]), signal one as its `signal_target`
//! says ([`Target`]), stop one (signal, SIGCONT, SIGKILL at a deadline:
//! [`stop`]), and say how one ended ([`Ended`]).

use std::ffi::OsStr;
use std::os::fd::OwnedFd;
use std::process::Command;
use std::time::{Duration, Instant};

use nix::libc;
use nix::sys::wait::WaitStatus;
use tokio::sync::oneshot;

use crate::config::SignalTarget;
use crate::exit::Error;
use crate::{children, spawn, sys};

/// A started process: its pid (its process group's and session's id too,
/// when started in one of its own), where its exit arrives, and its
/// standard output and error when they were piped.
pub struct Started {
    pub pid: i32,
    pub exited: oneshot::Receiver<WaitStatus>,
    pub stdout: Option<OwnedFd>,
    pub stderr: Option<OwnedFd>,
}

/// Starts `cmd` (built by `spawn::command`) and watches for its exit
/// before anything else can run on the loop's thread, so the exit cannot
/// be reaped unseen. The handle is never waited on: every wait goes
/// through the init's reaper (`children`).
pub fn start(cmd: Command, program: &OsStr) -> Result<Started, Error> {
    let mut child = spawn::start(cmd, program)?;
    let pid = child.id() as i32;
    let exited = children::watch(pid);
    Ok(Started {
        pid,
        exited,
        stdout: child.stdout.take().map(OwnedFd::from),
        stderr: child.stderr.take().map(OwnedFd::from),
    })
}

/// Whom a signal for a process reaches: its whole process group (what it
/// started too) or the process alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    pub pid: i32,
    pub scope: SignalTarget,
}

impl Target {
    /// The process group led by `pid`.
    pub fn group(pid: i32) -> Target {
        Target {
            pid,
            scope: SignalTarget::Group,
        }
    }

    /// `pid` with the scope the configuration gives (`signal_target`).
    pub fn new(pid: i32, scope: SignalTarget) -> Target {
        Target { pid, scope }
    }

    /// Sends `signo` through `kill` (kill(2), or a fake in tests): to the
    /// group, or to the process alone when the group is gone (it moved to
    /// a group of its own) or the scope says so. Returns whether anyone
    /// got it.
    pub fn deliver(
        &self,
        signo: i32,
        kill: &mut dyn FnMut(i32, i32) -> std::io::Result<bool>,
    ) -> std::io::Result<bool> {
        match self.scope {
            SignalTarget::Child => kill(self.pid, signo),
            SignalTarget::Group => match kill(-self.pid, signo)? {
                true => Ok(true),
                false => kill(self.pid, signo),
            },
        }
    }

    /// Sends `signo`; errors mean there is nobody left to signal.
    pub fn signal(&self, signo: i32) -> bool {
        matches!(self.deliver(signo, &mut sys::send), Ok(true))
    }

    /// Sends `signo`, then SIGCONT when the target is stopped, so it can act
    /// on it (a running one never sees a SIGCONT it did not ask for).
    pub fn ask(&self, signo: i32) -> bool {
        let sent = self.signal(signo);
        if signo != libc::SIGCONT && self.stopped() {
            self.signal(libc::SIGCONT);
        }
        sent
    }

    /// Whether the target (any member of the group) is stopped.
    pub fn stopped(&self) -> bool {
        match self.scope {
            SignalTarget::Group => sys::any_stopped(-self.pid) || sys::any_stopped(self.pid),
            SignalTarget::Child => sys::any_stopped(self.pid),
        }
    }
}

/// Stops `target` (`what` in the log): `signo` (and SIGCONT when stopped),
/// then SIGKILL when it has not exited after `timeout` or at `deadline`,
/// whichever comes first. Returns how it ended (None: not even SIGKILL was
/// seen to end it within a second).
pub async fn stop(
    what: &str,
    target: Target,
    signo: i32,
    timeout: Duration,
    deadline: Instant,
    exited: &mut oneshot::Receiver<WaitStatus>,
) -> Option<WaitStatus> {
    target.ask(signo);
    let began = Instant::now();
    let until = (began + timeout).min(deadline);
    if let Ok(status) = tokio::time::timeout_at(until.into(), &mut *exited).await {
        return status.ok();
    }
    tracing::warn!(
        pid = target.pid,
        "{what} did not stop within {}: SIGKILL",
        healthcheck::report::fmt_duration(until.saturating_duration_since(began))
    );
    target.signal(libc::SIGKILL);
    tokio::time::timeout(Duration::from_secs(1), exited)
        .await
        .ok()
        .and_then(Result::ok)
}

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ended(pub WaitStatus);

impl Ended {
    /// The exit code a shell would report: the code, or 128+N for a
    /// process killed by signal N.
    pub fn code(&self) -> u8 {
        match self.0 {
            WaitStatus::Exited(_, code) => code as u8,
            WaitStatus::Signaled(_, sig, _) => crate::exit::signal_code(sig as i32),
            // Stops and continues are not terminations; callers never pass them.
            _ => crate::exit::SOFTWARE,
        }
    }

    /// Whether the end counts as a failure: anything but exit code 0.
    pub fn failed(&self) -> bool {
        !matches!(self.0, WaitStatus::Exited(_, 0))
    }
}

/// In words: "exited with 1", "killed by SIGKILL".
impl std::fmt::Display for Ended {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            WaitStatus::Exited(_, code) => write!(f, "exited with {code}"),
            WaitStatus::Signaled(_, sig, _) => write!(f, "killed by {}", sig.as_str()),
            other => write!(f, "ended ({other:?})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::signal::Signal;
    use nix::unistd::Pid;

    #[test]
    fn how_one_ended_in_words_and_as_a_code() {
        let pid = Pid::from_raw(7);
        let exited = Ended(WaitStatus::Exited(pid, 3));
        assert_eq!(exited.to_string(), "exited with 3");
        assert_eq!(exited.code(), 3);
        assert!(exited.failed());
        let killed = Ended(WaitStatus::Signaled(pid, Signal::SIGKILL, false));
        assert_eq!(killed.to_string(), "killed by SIGKILL");
        assert_eq!(killed.code(), 137);
        assert!(!Ended(WaitStatus::Exited(pid, 0)).failed());
    }

    #[test]
    fn a_group_signal_falls_back_to_the_process_and_a_child_scope_never_reaches_the_group() {
        let mut sent = Vec::new();
        let mut gone_group = |pid: i32, signo: i32| {
            sent.push((pid, signo));
            Ok(pid > 0)
        };
        assert!(Target::group(40)
            .deliver(libc::SIGTERM, &mut gone_group)
            .unwrap());
        assert_eq!(sent, [(-40, libc::SIGTERM), (40, libc::SIGTERM)]);
        sent.clear();
        let mut any = |pid: i32, signo: i32| {
            sent.push((pid, signo));
            Ok(true)
        };
        Target::new(40, SignalTarget::Child)
            .deliver(libc::SIGHUP, &mut any)
            .unwrap();
        assert_eq!(sent, [(40, libc::SIGHUP)]);
    }
}
