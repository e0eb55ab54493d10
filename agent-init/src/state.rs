//! The init's state, written by its loop and read by the status server and
//! the health endpoint: lock-free, so a reader never holds up the loop.

use std::sync::atomic::{AtomicI32, AtomicU8, Ordering};
use std::sync::OnceLock;
use std::time::Instant;

use healthcheck::status::{Status, RUNNING, STARTING, STOPPING};

use crate::launch::Launch;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Phase {
    /// The startup steps run.
    Starting = 0,
    /// The command (or keep-alive) runs.
    Running = 1,
    /// Shutting down: not ready any more, still alive.
    Stopping = 2,
}

impl Phase {
    fn name(self) -> &'static str {
        match self {
            Phase::Starting => STARTING,
            Phase::Running => RUNNING,
            Phase::Stopping => STOPPING,
        }
    }
}

pub struct Shared {
    own_pid: i32,
    keep_alive: bool,
    started: Instant,
    phase: AtomicU8,
    /// 0 while no command runs.
    command_pid: AtomicI32,
    launch: OnceLock<Launch>,
}

impl Shared {
    pub fn new(own_pid: i32, keep_alive: bool) -> Shared {
        Shared {
            own_pid,
            keep_alive,
            started: Instant::now(),
            phase: AtomicU8::new(Phase::Starting as u8),
            command_pid: AtomicI32::new(0),
            launch: OnceLock::new(),
        }
    }

    pub fn phase(&self) -> Phase {
        match self.phase.load(Ordering::Relaxed) {
            0 => Phase::Starting,
            1 => Phase::Running,
            _ => Phase::Stopping,
        }
    }

    pub fn set_phase(&self, phase: Phase) {
        self.phase.store(phase as u8, Ordering::Relaxed);
    }

    /// Startup has finished: the command (if any) runs with `launch`.
    pub fn started(&self, command_pid: Option<i32>, launch: Launch) {
        self.set_command(command_pid);
        let _ = self.launch.set(launch);
        // A shutdown that began during startup stays a shutdown.
        let _ = self.phase.compare_exchange(
            Phase::Starting as u8,
            Phase::Running as u8,
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
    }

    pub fn set_command(&self, pid: Option<i32>) {
        self.command_pid.store(pid.unwrap_or(0), Ordering::Relaxed);
    }

    pub fn launch(&self) -> Option<&Launch> {
        self.launch.get()
    }

    pub fn report(&self) -> Status {
        let pid = self.command_pid.load(Ordering::Relaxed);
        Status {
            version: env!("CARGO_PKG_VERSION").to_string(),
            pid: self.own_pid,
            mode: if self.keep_alive {
                "keep-alive"
            } else {
                "command"
            }
            .to_string(),
            phase: self.phase().name().to_string(),
            command_pid: (pid > 0).then_some(pid),
            uptime_s: self.started.elapsed().as_secs_f64(),
        }
    }
}
