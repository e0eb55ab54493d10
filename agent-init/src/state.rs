//! The init's state, written by its loop and read by the status server and
//! the health endpoint: lock-free, so a reader never holds up the loop.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI32, AtomicU8, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use healthcheck::socket::{
    HealthSettings, JobStatus, ServiceStatus, Status, RUNNING, STARTING, STOPPING,
};

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
    command_started: OnceLock<Instant>,
    launch: OnceLock<Launch>,
    /// The settings its health probes use, for `agent-init health`.
    health: OnceLock<HealthSettings>,
    /// Each service's status, and since when it runs.
    services: Mutex<BTreeMap<String, (ServiceStatus, Option<Instant>)>>,
    /// Each job's status, and when its last run started.
    jobs: Mutex<BTreeMap<String, (JobStatus, Option<Instant>)>>,
}

impl Shared {
    pub fn new(own_pid: i32, keep_alive: bool) -> Shared {
        Shared {
            own_pid,
            keep_alive,
            started: Instant::now(),
            phase: AtomicU8::new(Phase::Starting as u8),
            command_pid: AtomicI32::new(0),
            command_started: OnceLock::new(),
            launch: OnceLock::new(),
            health: OnceLock::new(),
            services: Mutex::new(BTreeMap::new()),
            jobs: Mutex::new(BTreeMap::new()),
        }
    }

    /// Records a service (or a job) before it first starts.
    pub fn add_service(&self, status: ServiceStatus) {
        lock(&self.services).insert(status.name.clone(), (status, None));
    }

    pub fn add_job(&self, status: JobStatus) {
        lock(&self.jobs).insert(status.name.clone(), (status, None));
    }

    /// Changes service `name`'s status, and since when it runs.
    pub fn update_service(
        &self,
        name: &str,
        change: impl FnOnce(&mut ServiceStatus, &mut Option<Instant>),
    ) {
        if let Some((s, since)) = lock(&self.services).get_mut(name) {
            change(s, since);
        }
    }

    /// Changes job `name`'s status, and when its last run started.
    pub fn update_job(
        &self,
        name: &str,
        change: impl FnOnce(&mut JobStatus, &mut Option<Instant>),
    ) {
        if let Some((j, at)) = lock(&self.jobs).get_mut(name) {
            change(j, at);
        }
    }

    /// The pids of the services and job runs that run now.
    pub fn supervised_pids(&self) -> Vec<i32> {
        let services = lock(&self.services)
            .values()
            .filter_map(|(s, _)| s.pid)
            .collect::<Vec<_>>();
        let jobs = lock(&self.jobs)
            .values()
            .filter_map(|(j, _)| j.pid)
            .collect::<Vec<_>>();
        services.into_iter().chain(jobs).collect()
    }

    pub fn services(&self) -> Vec<ServiceStatus> {
        lock(&self.services)
            .values()
            .map(|(s, since)| ServiceStatus {
                uptime_s: since.map(|t| t.elapsed().as_secs_f64()),
                ..s.clone()
            })
            .collect()
    }

    fn jobs(&self) -> Vec<JobStatus> {
        lock(&self.jobs)
            .values()
            .map(|(j, at)| {
                let mut j = j.clone();
                if let (Some(last), Some(at)) = (j.last.as_mut(), at) {
                    last.ago_s = at.elapsed().as_secs_f64();
                }
                j
            })
            .collect()
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
        if command_pid.is_some() {
            let _ = self.command_started.set(Instant::now());
        }
        let _ = self.launch.set(launch);
        // A shutdown that began during startup stays a shutdown.
        let _ = self.phase.compare_exchange(
            Phase::Starting as u8,
            Phase::Running as u8,
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
    }

    /// The command's pid, while it runs.
    pub fn command_pid(&self) -> Option<i32> {
        let pid = self.command_pid.load(Ordering::Relaxed);
        (pid > 0).then_some(pid)
    }

    pub fn set_command(&self, pid: Option<i32>) {
        self.command_pid.store(pid.unwrap_or(0), Ordering::Relaxed);
    }

    /// Records the health settings (once).
    pub fn set_health(&self, settings: HealthSettings) {
        let _ = self.health.set(settings);
    }

    pub fn health(&self) -> Option<&HealthSettings> {
        self.health.get()
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
            command_uptime_s: self
                .command_started
                .get()
                .filter(|_| pid > 0)
                .map(|t| t.elapsed().as_secs_f64()),
            services: self.services(),
            jobs: self.jobs(),
        }
    }
}

/// A poisoned lock only means a panic elsewhere; the data is still usable.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
