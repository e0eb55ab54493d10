//! The PID-1 core: take over signals, start the command, forward signals,
//! reap every child, and shut down within the grace period.
//!
//! The loop sleeps in one poll(2) on a signalfd and does no work of its own
//! between signals: no timers unless a shutdown deadline is running.

mod child;
mod peer;
mod signals;
mod status;

use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::libc;
use nix::sys::signal::Signal;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{getpid, Pid};

use crate::cli::{Mode, SignalTarget};
use crate::config::Config;
use crate::exit::{self, Error};
use crate::steps::Launch;
use crate::sys;
use child::Child;
use healthcheck::status::STOPPING;
use signals::{Event, Received, Signals};
use status::Shared;

/// How often a keep-alive shutdown looks whether exec'd processes are gone.
const EXEC_POLL: Duration = Duration::from_millis(50);

/// How the init behaves, whatever the mode.
#[derive(Debug, Clone)]
pub struct Settings {
    pub grace_period: Duration,
    pub signal_target: SignalTarget,
    /// Where to serve HTTP probes, with what checks and cache time.
    pub health_endpoint: Option<(std::net::SocketAddr, crate::health::HealthOptions, Duration)>,
}

impl Settings {
    pub fn from_config(c: &Config) -> Result<Settings, Error> {
        // Built even without an endpoint: a bad health.mcp fails at start,
        // not at the first probe.
        let health = crate::health::HealthOptions::from_config(c)?;
        let health_endpoint = match &c.health.listen {
            Some(addr) => Some((
                crate::config::parse_listen(addr)
                    .map_err(|e| Error::Config(format!("health.listen: {e}")))?,
                health,
                Duration::from_secs_f64(c.health.cache.max(0.0)),
            )),
            None => None,
        };
        Ok(Settings {
            grace_period: Duration::from_secs_f64(c.grace_period),
            signal_target: c.signal_target,
            health_endpoint,
        })
    }
}

/// A process built from the launch (environment, identity, no_new_privs,
/// signal mask), placed as asked: hooks get a session of their own,
/// `agent-init exec` stays where it is.
pub fn command(
    argv: &[std::ffi::OsString],
    launch: &Launch,
    placement: sys::Placement,
) -> std::process::Command {
    child::command(argv, launch, placement)
}

pub use child::exec_error;

pub fn signal_name(signo: i32) -> String {
    signals::name(signo)
}

/// Runs the init: startup steps, then the command until it exits (command
/// mode) or until SIGTERM/SIGINT (keep-alive mode). Returns the exit code.
pub fn run(mode: Mode, config: &Config) -> Result<u8, Error> {
    let settings = Settings::from_config(config)?;
    let own_pid = getpid().as_raw();
    if own_pid != 1 {
        sys::set_child_subreaper().map_err(|e| Error::os("becoming a child subreaper", e))?;
        tracing::warn!(
            pid = own_pid,
            "not running as PID 1: registered as child subreaper, so orphans of the command are still reaped"
        );
    }
    let signals = Signals::take_over()?;
    child::remember_mask(signals.original_mask);
    // Threads start after the signals are blocked: they inherit the mask.
    let shared = Arc::new(Shared::new(own_pid, matches!(mode, Mode::KeepAlive)));
    status::serve(shared.clone());
    if let Some((addr, opts, cache)) = &settings.health_endpoint {
        crate::health::serve_http(*addr, opts.clone(), *cache)?;
    }
    let mut init = Init {
        signals,
        shared,
        settings,
        own_pid,
        child: None,
        deadline: None,
        killed: false,
    };
    let launch = crate::steps::run(config, &mut |d| init.pause(d), false)?;
    // Orphans of the hooks were left for now (their SIGCHLD was not acted
    // on during startup, so hooks could wait for their own processes).
    init.reap();
    init.child = match &mode {
        Mode::Command(argv) => Some(child::spawn(argv, &launch)?),
        Mode::KeepAlive => {
            tracing::info!("no command given: keeping alive, waiting for SIGTERM");
            None
        }
    };
    init.shared.started(init.child.map(|c| c.pid), launch);
    init.run()
}

/// The command runs in a session of its own, so for the kernel its process
/// group is orphaned and it discards SIGTSTP/SIGTTIN/SIGTTOU whose action is
/// the default. A command that neither catches, ignores nor blocks the
/// signal gets SIGSTOP instead, so `docker kill -s TSTP` really suspends it.
fn stop_signal_for(child: Child, signo: i32) -> i32 {
    let stop_family = matches!(signo, libc::SIGTSTP | libc::SIGTTIN | libc::SIGTTOU);
    if stop_family && child::handles_signal(child.pid, signo) == Some(false) {
        libc::SIGSTOP
    } else {
        signo
    }
}

struct Init {
    signals: Signals,
    shared: Arc<Shared>,
    settings: Settings,
    own_pid: i32,
    child: Option<Child>,
    /// When a shutdown is running: the moment to SIGKILL what is left.
    deadline: Option<Instant>,
    killed: bool,
}

/// What the loop should do after handling an event.
enum Next {
    Continue,
    Exit(u8),
}

impl Init {
    /// Waits up to `d` during startup; a SIGTERM/SIGINT aborts startup.
    /// SIGCHLD is left alone so that a hook can wait for its own process.
    fn pause(&mut self, d: Duration) -> Result<(), Error> {
        let until = Instant::now() + d;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(());
            }
            match self.signals.next(Some(left))? {
                Event::Timeout => return Ok(()),
                Event::Signal(got) if got.signo == libc::SIGTERM || got.signo == libc::SIGINT => {
                    tracing::warn!(signal = signals::name(got.signo), "startup interrupted");
                    return Err(Error::Interrupted(got.signo));
                }
                Event::Signal(_) => {}
            }
        }
    }

    fn run(&mut self) -> Result<u8, Error> {
        loop {
            let timeout = self.timeout();
            let next = match self.signals.next(timeout)? {
                Event::Timeout => self.on_timeout(),
                Event::Signal(got) => self.on_signal(got),
            };
            if let Next::Exit(code) = next {
                return Ok(code);
            }
        }
    }

    /// How long the loop may sleep: forever, unless a shutdown is running.
    fn timeout(&self) -> Option<Duration> {
        let left = match (self.deadline, self.killed) {
            (Some(at), false) => at.saturating_duration_since(Instant::now()),
            _ => return None,
        };
        // Processes started by `docker exec` are not our children, so no
        // SIGCHLD tells when they are gone: look now and then, but only while
        // a keep-alive shutdown is waiting for them.
        Some(match self.child {
            None => left.min(EXEC_POLL),
            Some(_) => left,
        })
    }

    fn on_timeout(&mut self) -> Next {
        let expired = self.deadline.is_some_and(|at| Instant::now() >= at);
        if expired {
            return self.grace_expired();
        }
        self.reap()
    }

    fn on_signal(&mut self, got: Received) -> Next {
        if got.signo == libc::SIGCHLD {
            return self.reap();
        }
        // A signal agent-init raised on itself (SIGPIPE on a closed stderr)
        // is not meant for the command.
        if got.sender == self.own_pid {
            return Next::Continue;
        }
        let terminating = got.signo == libc::SIGTERM || got.signo == libc::SIGINT;
        match self.child {
            Some(child) => {
                self.forward(child, stop_signal_for(child, got.signo));
                if terminating {
                    // A stopped command cannot act on SIGTERM until continued.
                    self.forward(child, libc::SIGCONT);
                    self.start_grace();
                }
                Next::Continue
            }
            None if terminating => self.shutdown_keep_alive(got.signo),
            None => {
                tracing::debug!(
                    signal = signals::name(got.signo),
                    "ignored in keep-alive mode"
                );
                Next::Continue
            }
        }
    }

    fn forward(&self, child: Child, signo: i32) {
        let target = match self.settings.signal_target {
            SignalTarget::Group => -child.pid,
            SignalTarget::Child => child.pid,
        };
        let result = sys::send(target, signo).and_then(|found| {
            // The group can be gone while the command lives (it moved to a
            // group of its own): then the command itself still gets it.
            if !found && target < 0 {
                sys::send(child.pid, signo)
            } else {
                Ok(found)
            }
        });
        match result {
            Ok(_) => tracing::debug!(signal = signals::name(signo), target, "forwarded"),
            Err(e) => tracing::warn!(
                signal = signals::name(signo),
                target,
                "forwarding failed: {e}"
            ),
        }
    }

    fn start_grace(&mut self) {
        self.shared.set_phase(STOPPING);
        if self.deadline.is_none() {
            let grace = self.settings.grace_period;
            tracing::info!(
                grace_seconds = grace.as_secs_f64(),
                "shutting down: SIGTERM sent, SIGKILL for what is left after the grace period"
            );
            self.deadline = Some(Instant::now() + grace);
        }
    }

    fn grace_expired(&mut self) -> Next {
        self.killed = true;
        match self.child {
            Some(child) => {
                tracing::warn!(
                    pid = child.pid,
                    "grace period expired: sending SIGKILL to the command's process group"
                );
                let _ = sys::send(-child.pid, libc::SIGKILL);
                let _ = sys::send(child.pid, libc::SIGKILL);
                Next::Continue
            }
            None => {
                tracing::warn!("grace period expired: sending SIGKILL to remaining processes");
                let _ = sys::send_all(Some(Signal::SIGKILL));
                // Whatever is left now dies with the namespace.
                Next::Exit(0)
            }
        }
    }

    /// Keep-alive mode on SIGTERM/SIGINT: as PID 1, ask every process left
    /// by `docker exec` to stop and wait (up to the grace period) for them.
    fn shutdown_keep_alive(&mut self, signo: i32) -> Next {
        tracing::info!(signal = signals::name(signo), "keep-alive: shutting down");
        if self.own_pid != 1 {
            return Next::Exit(0);
        }
        if self.deadline.is_none() {
            let others = sys::send_all(Some(Signal::SIGTERM)).unwrap_or(false);
            if !others {
                return Next::Exit(0);
            }
            let _ = sys::send_all(Some(Signal::SIGCONT));
            self.start_grace();
        }
        self.reap()
    }

    /// Reaps every exited child. Returns `Exit` when the command has exited
    /// (command mode) or, during a keep-alive shutdown, when nothing is left.
    fn reap(&mut self) -> Next {
        let mut command_status = None;
        loop {
            match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) => break,
                Ok(status) => {
                    let pid = status.pid().map(Pid::as_raw);
                    match self.child {
                        Some(child) if pid == Some(child.pid) => command_status = Some(status),
                        _ => tracing::trace!(?pid, "reaped orphan"),
                    }
                }
                Err(Errno::EINTR) => continue,
                Err(Errno::ECHILD) => break,
                Err(e) => {
                    tracing::error!("waitpid failed: {e}");
                    break;
                }
            }
        }
        match (command_status, self.child) {
            (Some(status), Some(child)) => Next::Exit(self.command_exited(child, status)),
            (_, None) if self.deadline.is_some() && !self.others_left() => Next::Exit(0),
            _ => Next::Continue,
        }
    }

    /// During a keep-alive shutdown: is any process besides agent-init left?
    fn others_left(&self) -> bool {
        self.own_pid == 1 && sys::send_all(None).unwrap_or(false)
    }

    fn command_exited(&self, child: Child, status: WaitStatus) -> u8 {
        let code = exit::from_wait_status(status);
        match status {
            WaitStatus::Signaled(_, sig, _) => {
                tracing::info!(signal = sig.as_str(), code, "command killed by signal")
            }
            _ => tracing::info!(code, "command exited"),
        }
        // Like dumb-init: what the command left running in its group is asked
        // to stop too, instead of being silently SIGKILLed with the namespace.
        if self.settings.signal_target == SignalTarget::Group {
            if let Ok(true) = sys::send(-child.pid, libc::SIGTERM) {
                let _ = sys::send(-child.pid, libc::SIGCONT);
                tracing::debug!(
                    pgid = child.pid,
                    "sent SIGTERM to the command's remaining group"
                );
            }
        }
        code
    }
}
