//! The event source: every handled signal is blocked and read from a
//! signalfd, so the loop sleeps in one poll(2) and wakes only when a signal
//! arrives or a deadline passes. Never installs a signal handler.

use std::os::fd::AsFd;
use std::time::Duration;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::SigSet;
use nix::sys::signalfd::{SfdFlags, SignalFd};

use crate::exit::Error;
use crate::sys;

/// One received signal: its number and the pid that sent it (0 when it came
/// from the kernel or from outside the PID namespace).
#[derive(Debug, Clone, Copy)]
pub struct Received {
    pub signo: i32,
    pub sender: i32,
}

/// What woke the loop.
#[derive(Debug)]
pub enum Event {
    Signal(Received),
    Timeout,
}

pub struct Signals {
    fd: SignalFd,
    /// The mask agent-init started with, for the command to start with.
    pub original_mask: SigSet,
}

impl Signals {
    /// Blocks every handled signal and opens the signalfd. Must run before
    /// the command is spawned so that no SIGCHLD can be lost.
    pub fn take_over() -> Result<Self, Error> {
        let set = sys::handled_signals();
        let original_mask =
            sys::block_signals(&set).map_err(|e| Error::os("blocking signals", e))?;
        let fd = SignalFd::with_flags(&set, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
            .map_err(|e| Error::os("creating signalfd", e))?;
        Ok(Signals { fd, original_mask })
    }

    /// Waits until a signal arrives (`Event::Signal`) or `timeout` passes
    /// (`Event::Timeout`). `None` as timeout waits forever.
    pub fn next(&mut self, timeout: Option<Duration>) -> Result<Event, Error> {
        loop {
            if let Some(got) = self.try_read()? {
                return Ok(Event::Signal(got));
            }
            let timeout = match timeout {
                None => PollTimeout::NONE,
                // Round up so a deadline is never reported early.
                Some(d) => {
                    let ms = d.as_nanos().div_ceil(1_000_000);
                    PollTimeout::try_from(ms.min(i32::MAX as u128) as i32)
                        .unwrap_or(PollTimeout::MAX)
                }
            };
            let mut fds = [PollFd::new(self.fd.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, timeout) {
                Ok(0) => return Ok(Event::Timeout),
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(Error::os("waiting for signals", e)),
            }
        }
    }

    fn try_read(&mut self) -> Result<Option<Received>, Error> {
        match self.fd.read_signal() {
            Ok(Some(info)) => Ok(Some(Received {
                signo: info.ssi_signo as i32,
                sender: info.ssi_pid as i32,
            })),
            Ok(None) => Ok(None),
            Err(nix::errno::Errno::EINTR) => Ok(None),
            Err(e) => Err(Error::os("reading signalfd", e)),
        }
    }
}

/// A signal's conventional name ("SIGTERM", "SIGRTMIN+3") for logs.
pub fn name(signo: i32) -> String {
    match nix::sys::signal::Signal::try_from(signo) {
        Ok(sig) => sig.as_str().to_string(),
        Err(_) => {
            let min = nix::libc::SIGRTMIN();
            if signo >= min {
                format!("SIGRTMIN+{}", signo - min)
            } else {
                format!("signal {signo}")
            }
        }
    }
}
