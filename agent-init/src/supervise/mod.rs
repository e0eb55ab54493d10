//! Services and jobs beside the command: what s6 and supervisord do, on
//! the init's own loop. Each service and each job is a task; the init's
//! reaper hands it its child's exit (`children`), its output goes through
//! the shared [`Sink`](crate::output::Sink) with its name in front, and its
//! state is mirrored into [`Shared`] for `agent-init status` and `health`.
//!
//! [`Supervision::start`] resolves everything that can be wrong (users,
//! ready targets) before anything starts, so a bad entry fails the start
//! with 78. Services start in dependency order, each once its
//! `depends_on` are ready; [`Supervision::required_ready`] is what the
//! command waits for; [`Supervision::stop`] stops the jobs, then the
//! services in reverse start order, each within its stop_timeout and all
//! within the caller's deadline.

mod job;
mod restart;
mod service;

use std::ffi::OsString;
use std::sync::Arc;
use std::time::{Duration, Instant};

use healthcheck::socket::{JobStatus, ServiceStatus};
use healthcheck::target;
use nix::sys::wait::WaitStatus;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use crate::config::{self, Config};
use crate::exit::Error;
use crate::launch::Launch;
use crate::state::Shared;
use crate::sys;

/// Where a service is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Life {
    /// Its dependencies are not ready yet.
    Waiting,
    /// Running, not ready yet.
    Starting,
    Ready,
    /// Exited; starts again after a delay.
    Backoff,
    /// Crash loop: given up.
    Failed,
    /// Exited, and its restart policy says that is that.
    Exited,
    Stopping,
    Stopped,
}

impl Life {
    pub fn name(self) -> &'static str {
        match self {
            Life::Waiting => "waiting",
            Life::Starting => "starting",
            Life::Ready => healthcheck::socket::SERVICE_READY,
            Life::Backoff => "backoff",
            Life::Failed => "failed",
            Life::Exited => "exited",
            Life::Stopping => "stopping",
            Life::Stopped => "stopped",
        }
    }

    /// Whether waiting for it to become ready is pointless.
    fn given_up(self) -> bool {
        matches!(self, Life::Failed | Life::Exited | Life::Stopped)
    }
}

/// How a child ended, in words: "exited with 1", "killed by SIGKILL".
fn describe(status: WaitStatus) -> String {
    crate::process::Ended(status).to_string()
}

/// A request to stop: by when everything must be gone, and who to tell.
struct StopRequest {
    deadline: Instant,
    done: oneshot::Sender<()>,
}

/// One service or job as the supervision holds it.
struct Handle {
    name: String,
    /// Services only: what it waits for at start.
    depends_on: Vec<String>,
    required: bool,
    ready_timeout: Duration,
    /// Services only: its life, as its task reports it.
    life: Option<watch::Receiver<Life>>,
    stop: Option<oneshot::Sender<StopRequest>>,
    task: JoinHandle<()>,
}

/// A service's or a job's process, ready to spawn.
#[derive(Clone)]
struct Program {
    kind: &'static str,
    name: String,
    argv: Vec<OsString>,
    launch: Launch,
}

impl Program {
    fn new(
        kind: &'static str,
        name: &str,
        command: &[String],
        user: Option<&str>,
        launch: &Launch,
    ) -> Result<Program, Error> {
        let mut launch = launch.clone();
        if let Some(user) = user {
            crate::steps::user::switch_to(&mut launch, user, &format!("{kind}s.{name}.user"))?;
        }
        Ok(Program {
            kind,
            name: name.to_string(),
            argv: command.iter().map(OsString::from).collect(),
            launch,
        })
    }
}

/// The running services and jobs.
pub struct Supervision {
    /// In start order.
    services: Vec<Handle>,
    jobs: Vec<Handle>,
}

impl Supervision {
    /// Resolves every service and job, then starts them: services in
    /// dependency order (each task waits for its dependencies), jobs on
    /// their first period. Call inside the init's runtime.
    pub fn start(c: &Config, launch: &Launch, shared: Arc<Shared>) -> Result<Supervision, Error> {
        let mut specs = Vec::new();
        for name in config::start_order(c) {
            let Some(s) = c.services.get(&name) else {
                continue;
            };
            let program = Program::new("service", &name, &s.command, s.user.as_deref(), launch)?;
            let ready = match &s.ready {
                Some(raw) => {
                    let key = format!("services.{name}.ready");
                    let spec = config::expand(raw, &key, &|n| launch.env.get(n).cloned())?;
                    Some(target::parse(&spec).map_err(|e| Error::Config(format!("{key}: {e}")))?)
                }
                None => None,
            };
            let stop_signal = s.stop_signal.get();
            specs.push((name, s, program, ready, stop_signal));
        }
        let mut jobs = Vec::new();
        for (name, j) in &c.jobs {
            jobs.push(Program::new(
                "job",
                name,
                &j.command,
                j.user.as_deref(),
                launch,
            )?);
        }

        let mut services: Vec<Handle> = Vec::new();
        for (name, s, program, ready, stop_signal) in specs {
            let deps = s
                .depends_on
                .iter()
                .filter_map(|d| services.iter().find(|h| &h.name == d))
                .filter_map(|h| Some((h.name.clone(), h.life.clone()?)))
                .collect();
            shared.add_service(ServiceStatus {
                name: name.clone(),
                state: Life::Waiting.name().into(),
                required: s.required,
                ..ServiceStatus::default()
            });
            let (life_tx, life_rx) = watch::channel(Life::Waiting);
            let (stop_tx, stop_rx) = oneshot::channel();
            let spec = service::Spec {
                program,
                restart: s.restart,
                ready,
                deps,
                stop_signal,
                stop_timeout: s.stop_timeout.get(),
                restart_delay: s.restart_delay.get(),
                restart_max_delay: s.restart_max_delay.get(),
            };
            let task = tokio::spawn(service::run(spec, life_tx, stop_rx, shared.clone()));
            services.push(Handle {
                name,
                depends_on: s.depends_on.clone(),
                required: s.required,
                ready_timeout: s.ready_timeout.get(),
                life: Some(life_rx),
                stop: Some(stop_tx),
                task,
            });
        }
        let jobs = jobs
            .into_iter()
            .filter_map(|program| {
                let j = c.jobs.get(&program.name)?;
                shared.add_job(JobStatus {
                    name: program.name.clone(),
                    every_s: j.every.get().as_secs_f64(),
                    ..JobStatus::default()
                });
                let (stop_tx, stop_rx) = oneshot::channel();
                let name = program.name.clone();
                let spec = job::Spec {
                    program,
                    every: j.every.get(),
                    timeout: j.timeout.get(),
                };
                Some(Handle {
                    name,
                    depends_on: Vec::new(),
                    required: false,
                    ready_timeout: Duration::ZERO,
                    life: None,
                    stop: Some(stop_tx),
                    task: tokio::spawn(job::run(spec, stop_rx, shared.clone())),
                })
            })
            .collect();
        Ok(Supervision { services, jobs })
    }

    pub fn is_empty(&self) -> bool {
        self.services.is_empty() && self.jobs.is_empty()
    }

    /// Resolves once every required service is ready; fails (69) naming the
    /// first that did not become ready within its ready_timeout, or that
    /// gave up (crash loop, or exited for good) before.
    pub async fn required_ready(&self) -> Result<(), Error> {
        let began = Instant::now();
        for h in self.services.iter().filter(|h| h.required) {
            let Some(mut life) = h.life.clone() else {
                continue;
            };
            let until = began + h.ready_timeout;
            let waited = tokio::time::timeout_at(
                until.into(),
                life.wait_for(|l| *l == Life::Ready || l.given_up()),
            )
            .await
            .map(|seen| seen.map(|l| *l));
            let now = *life.borrow();
            match waited {
                Ok(Ok(Life::Ready)) => {
                    tracing::debug!(service = %h.name, "ready");
                }
                Ok(_) => {
                    return Err(Error::Unavailable(format!(
                        "service {} is {} before it was ready; the command needs it (services.{}.required)",
                        h.name,
                        now.name(),
                        h.name
                    )))
                }
                Err(_) => {
                    return Err(Error::Unavailable(format!(
                        "service {} is not ready after {} (services.{}.ready_timeout); it is {}",
                        h.name,
                        config::value::format_duration(h.ready_timeout),
                        h.name,
                        now.name()
                    )))
                }
            }
        }
        Ok(())
    }

    /// Stops the jobs, then the services in reverse dependency order: a
    /// service is asked to stop once everything that depends on it has
    /// stopped, and services that do not depend on each other stop side
    /// by side. Each gets its stop signal, then SIGKILL after its
    /// stop_timeout or at `deadline`, whichever comes first. Idempotent.
    pub async fn stop(&mut self, deadline: Instant) {
        let jobs: Vec<_> = self
            .jobs
            .iter_mut()
            .map(|h| stop_one(h, deadline))
            .collect();
        futures::future::join_all(jobs).await;
        // Level 0: what nothing depends on; level n+1: what only services
        // of levels up to n depend on.
        let mut level = vec![0usize; self.services.len()];
        for (i, service) in self.services.iter().enumerate().rev() {
            // In start order, whatever depends on it comes after it.
            let above = self
                .services
                .iter()
                .zip(&level)
                .skip(i + 1)
                .filter(|(dependent, _)| dependent.depends_on.contains(&service.name))
                .map(|(_, l)| l + 1)
                .max();
            if let (Some(above), Some(l)) = (above, level.get_mut(i)) {
                *l = (*l).max(above);
            }
        }
        let top = level.iter().copied().max().unwrap_or(0);
        for l in 0..=top {
            let stops: Vec<_> = self
                .services
                .iter_mut()
                .zip(&level)
                .filter(|(_, lv)| **lv == l)
                .map(|(h, _)| stop_one(h, deadline))
                .collect();
            futures::future::join_all(stops).await;
        }
    }
}

/// Asks one service's or job's task to stop and waits until it has.
async fn stop_one(h: &mut Handle, deadline: Instant) {
    let Some(stop) = h.stop.take() else {
        return;
    };
    let (done_tx, done_rx) = oneshot::channel();
    let request = StopRequest {
        deadline,
        done: done_tx,
    };
    if stop.send(request).is_ok() {
        // The task answers once its process is gone (or SIGKILLed and
        // reaped); a task that already ended drops the request.
        let _ = done_rx.await;
    }
    tracing::debug!(name = %h.name, "stopped");
}

impl Drop for Supervision {
    fn drop(&mut self) {
        for h in self.services.iter().chain(&self.jobs) {
            h.task.abort();
        }
    }
}

/// Waits for whoever owns `stop` to ask, then says by when.
async fn stop_requested(stop: &mut oneshot::Receiver<StopRequest>) -> Option<StopRequest> {
    stop.await.ok()
}

impl Program {
    /// Starts it in a session of its own, with its output going to the
    /// sink line by line. Returns its pid and where its exit will arrive.
    fn spawn(&self) -> Result<(i32, oneshot::Receiver<WaitStatus>), String> {
        use std::process::Stdio;

        use crate::output::{self, Sink, Stream};

        let mut cmd = crate::spawn::command(&self.argv, &self.launch, sys::Placement::NewSession);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let program = self
            .argv
            .first()
            .map_or(std::ffi::OsStr::new(""), |a| a.as_os_str());
        let started = crate::process::start(cmd, program).map_err(|e| e.to_string())?;
        let (pid, exited) = (started.pid, started.exited);
        let streams = [
            (started.stdout, Stream::Stdout),
            (started.stderr, Stream::Stderr),
        ];
        for (fd, stream) in streams {
            let Some(fd) = fd else { continue };
            match output::pipe(fd) {
                Ok(reader) => {
                    let (kind, name) = (self.kind, self.name.clone());
                    tokio::spawn(async move {
                        output::lines(reader, |line| Sink::line(kind, &name, stream, line)).await;
                    });
                }
                Err(e) => tracing::warn!("{} {}: its output is lost: {e}", self.kind, self.name),
            }
        }
        Ok((pid, exited))
    }
}
