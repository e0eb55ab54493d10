//! The one home for `unsafe` and for system calls whose use needs care.
//!
//! Everything here is a thin, documented wrapper; policy (which signal goes
//! where, when to kill) lives in `init/`. Code running between fork and exec
//! (`pre_exec`) must only make async-signal-safe calls and never allocate.

use std::io;
use std::os::fd::BorrowedFd;
use std::os::unix::process::CommandExt;
use std::process::Command;

use nix::sys::signal::{self, SigHandler, SigSet, SigmaskHow, Signal};
use nix::unistd::{self, Pid};

/// Signals the kernel raises synchronously on a fault in agent-init itself.
/// Blocking them would turn a crash into a hang, so they are never blocked.
const SYNCHRONOUS: [Signal; 6] = [
    Signal::SIGSEGV,
    Signal::SIGBUS,
    Signal::SIGFPE,
    Signal::SIGILL,
    Signal::SIGTRAP,
    Signal::SIGSYS,
];

/// The set of signals agent-init takes over: all but the synchronous ones
/// (SIGKILL and SIGSTOP cannot be blocked and are silently left out).
pub fn handled_signals() -> SigSet {
    let mut set = SigSet::all();
    for sig in SYNCHRONOUS {
        set.remove(sig);
    }
    set
}

/// Blocks `set` for the calling thread so that the signals queue up for the
/// signalfd instead of running default actions. Returns the previous mask.
pub fn block_signals(set: &SigSet) -> io::Result<SigSet> {
    let mut old = SigSet::empty();
    signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(set), Some(&mut old))?;
    Ok(old)
}

/// Makes this process a child subreaper, so orphaned descendants are
/// re-parented to it instead of to the real PID 1.
pub fn set_child_subreaper() -> io::Result<()> {
    nix::sys::prctl::set_child_subreaper(true)?;
    Ok(())
}

/// How the command is placed relative to agent-init's session and terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// A new session (and so a new process group) without a terminal, so a
    /// group signal reaches every process the command spawns.
    NewSession,
    /// A new process group that becomes the terminal's foreground group, so
    /// Ctrl-C and job control reach the command, not agent-init.
    ForegroundGroup,
    /// Where the caller is (`agent-init exec` replacing itself).
    Inherit,
}

/// Who a child runs as, applied between fork and exec.
#[derive(Debug, Clone)]
pub struct Identity {
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
}

/// Arranges for the spawned command to run in its own session or foreground
/// process group, with `mask` (the mask agent-init itself started with) as
/// its signal mask, so it does not inherit the signals blocked for the loop;
/// then drops to `identity` and sets no_new_privs when asked.
pub fn place_child(
    cmd: &mut Command,
    placement: Placement,
    mask: SigSet,
    identity: Option<Identity>,
    no_new_privs: bool,
) {
    // Allocated before fork: the closure must not allocate.
    let groups: Vec<nix::unistd::Gid> = identity
        .as_ref()
        .map(|i| {
            i.groups
                .iter()
                .copied()
                .map(nix::unistd::Gid::from_raw)
                .collect()
        })
        .unwrap_or_default();
    let closure = move || -> io::Result<()> {
        signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&mask), None)?;
        match placement {
            Placement::Inherit => {}
            Placement::NewSession => {
                unistd::setsid()?;
            }
            Placement::ForegroundGroup => {
                unistd::setpgid(Pid::from_raw(0), Pid::from_raw(0))?;
                // tcsetpgrp from what is still a background group raises
                // SIGTTOU; ignore it for the call, then restore the default so
                // the command starts with clean dispositions. Errors mean the
                // terminal is not our controlling one; carry on as tini does.
                // SAFETY: SIG_IGN/SIG_DFL are not handler functions, so no
                // code runs in signal context; signal() is async-signal-safe.
                // Descriptor 0 stays open for the whole call (nothing closes
                // it between fork and exec).
                unsafe {
                    let _ = signal::signal(Signal::SIGTTOU, SigHandler::SigIgn);
                    let stdin = BorrowedFd::borrow_raw(0);
                    let _ = unistd::tcsetpgrp(stdin, unistd::getpid());
                    let _ = signal::signal(Signal::SIGTTOU, SigHandler::SigDfl);
                }
            }
        }
        if let Some(id) = &identity {
            // Groups first, uid last: after setuid there is no way back.
            if unistd::geteuid().is_root() {
                unistd::setgroups(&groups)?;
            }
            unistd::setgid(nix::unistd::Gid::from_raw(id.gid))?;
            unistd::setuid(nix::unistd::Uid::from_raw(id.uid))?;
        }
        if no_new_privs {
            nix::sys::prctl::set_no_new_privs()?;
        }
        Ok(())
    };
    // SAFETY: the closure runs in the forked child before exec; it only calls
    // sigprocmask, setsid, setpgid, signal, tcsetpgrp, getpid, setgroups,
    // setgid, setuid and prctl, all async-signal-safe, and allocates nothing
    // (the group list was built before the fork).
    unsafe {
        cmd.pre_exec(closure);
    }
}

/// Whether standard input is a terminal.
pub fn stdin_is_tty() -> bool {
    unistd::isatty(0).unwrap_or(false)
}

/// Sends a signal by number (real-time signals have no `Signal` variant) to
/// a process (`pid > 0`) or a process group (`pid < 0`). A target that is
/// already gone is not an error: returns whether it existed.
pub fn send(pid: i32, signo: i32) -> io::Result<bool> {
    // 0 and -1 mean "my own group" and "everyone": never by accident.
    debug_assert!(pid != 0 && pid != -1, "refusing to signal group 0 / all");
    kill(pid, signo)
}

/// Sends `sig` (or, with `None`, only checks for targets) to every process
/// this one may signal except itself (`kill(-1, …)`). Only meaningful when
/// agent-init is PID 1 of a namespace, where that is the whole container.
/// Returns whether any process was there.
pub fn send_all(sig: Option<Signal>) -> io::Result<bool> {
    kill(-1, sig.map_or(0, |s| s as i32))
}

fn kill(pid: i32, signo: i32) -> io::Result<bool> {
    // SAFETY: kill(2) has no memory-safety preconditions.
    let rc = unsafe { nix::libc::kill(pid, signo) };
    if rc == 0 {
        return Ok(true);
    }
    let err = io::Error::last_os_error();
    if err.raw_os_error() == Some(nix::libc::ESRCH) {
        Ok(false)
    } else {
        Err(err)
    }
}
