//! One service's task: wait for its dependencies, start it, find out when
//! it is ready, start it again when it exits (with backoff), and stop it
//! when asked.

use std::sync::Arc;
use std::time::{Duration, Instant};

use healthcheck::target::Target;
use tokio::sync::{oneshot, watch};

use super::restart::{Backoff, Decision, CRASH_LIMIT, HEALTHY};
use super::{describe, stop_requested, Life, Program, StopRequest};
use crate::config::{value::format_duration, Restart};
use crate::process::{self, Ended};
use crate::state::Shared;

pub struct Spec {
    pub program: Program,
    pub restart: Restart,
    pub ready: Option<Target>,
    /// The services it waits for, and their lives.
    pub deps: Vec<(String, watch::Receiver<Life>)>,
    pub stop_signal: i32,
    pub stop_timeout: Duration,
    pub restart_delay: Duration,
    pub restart_max_delay: Duration,
}

/// First pause between readiness probes; it doubles up to [`PROBE_MAX`].
const PROBE_FIRST: Duration = Duration::from_millis(100);
const PROBE_MAX: Duration = Duration::from_secs(2);
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Where the task reports what happens.
struct Report {
    name: String,
    life: watch::Sender<Life>,
    shared: Arc<Shared>,
}

impl Report {
    fn set(&self, life: Life) {
        self.life.send_replace(life);
        self.shared
            .update_service(&self.name, |s, _| s.state = life.name().into());
    }

    fn running(&self, pid: i32) {
        self.shared.update_service(&self.name, |s, since| {
            s.pid = Some(pid);
            *since = Some(Instant::now());
        });
    }

    fn ended(&self, how: &str) {
        self.shared.update_service(&self.name, |s, since| {
            s.pid = None;
            *since = None;
            s.last_exit = Some(how.to_string());
        });
    }

    fn restarting(&self) {
        self.shared
            .update_service(&self.name, |s, _| s.restarts += 1);
    }

    /// Asked to stop while nothing runs.
    fn stopped(&self, request: Option<StopRequest>) {
        self.set(Life::Stopped);
        if let Some(r) = request {
            let _ = r.done.send(());
        }
    }
}

pub async fn run(
    spec: Spec,
    life: watch::Sender<Life>,
    mut stop: oneshot::Receiver<StopRequest>,
    shared: Arc<Shared>,
) {
    let name = spec.program.name.clone();
    let report = Report {
        name: name.clone(),
        life,
        shared,
    };
    for (dep, mut dep_life) in spec.deps {
        if *dep_life.borrow() != Life::Ready {
            tracing::info!(service = %name, "waiting for {dep} to be ready");
        }
        tokio::select! {
            _ = dep_life.wait_for(|l| *l == Life::Ready) => {}
            request = stop_requested(&mut stop) => return report.stopped(request),
        }
    }
    let mut backoff = Backoff::new(spec.restart_delay, spec.restart_max_delay);
    loop {
        report.set(Life::Starting);
        let started = Instant::now();
        let ended = match spec.program.spawn() {
            Err(e) => {
                tracing::error!(service = %name, "cannot start: {e}");
                report.ended(&format!("could not start: {e}"));
                true
            }
            Ok((pid, mut exited)) => {
                report.running(pid);
                tracing::info!(service = %name, pid, "started");
                let readiness = become_ready(spec.ready.as_ref());
                tokio::pin!(readiness);
                let mut ready = false;
                let status = loop {
                    tokio::select! {
                        biased;
                        request = stop_requested(&mut stop) => {
                            report.set(Life::Stopping);
                            let what = format!("service {name}");
                            let deadline = request.as_ref().map_or_else(Instant::now, |r| r.deadline);
                            let status = process::stop(&what, process::Target::group(pid), spec.stop_signal, spec.stop_timeout, deadline, &mut exited).await;
                            let how = status.map_or_else(|| "lost after SIGKILL".to_string(), describe);
                            tracing::info!(service = %name, pid, "stopped: {how}");
                            report.ended(&how);
                            return report.stopped(request);
                        }
                        status = &mut exited => break status.ok(),
                        _ = &mut readiness, if !ready => {
                            ready = true;
                            report.set(Life::Ready);
                            tracing::info!(service = %name, pid, "ready");
                        }
                    }
                };
                let how = status.map_or_else(|| "lost".to_string(), describe);
                report.ended(&how);
                tracing::warn!(service = %name, pid, "{how}");
                status.is_none_or(|s| Ended(s).failed())
            }
        };
        match backoff.on_exit(spec.restart, ended, started, Instant::now()) {
            Decision::Restart(delay) => {
                tracing::info!(service = %name, "starting again in {}", format_duration(delay));
                report.set(Life::Backoff);
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    request = stop_requested(&mut stop) => return report.stopped(request),
                }
                report.restarting();
            }
            Decision::Done => {
                tracing::info!(service = %name, "not started again (restart = {:?})", spec.restart);
                report.set(Life::Exited);
                return;
            }
            Decision::Failed => {
                tracing::error!(
                    service = %name,
                    "failed: {CRASH_LIMIT} restarts within {}; not started again",
                    format_duration(HEALTHY)
                );
                report.set(Life::Failed);
                return;
            }
        }
    }
}

/// Resolves once `target` answers (at once without one).
async fn become_ready(target: Option<&Target>) {
    let Some(target) = target else {
        return;
    };
    let mut delay = PROBE_FIRST;
    loop {
        match healthcheck::probe::probe(target, PROBE_TIMEOUT).await {
            Ok(_) => return,
            Err(e) => tracing::debug!(%target, "not ready yet: {e}"),
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(PROBE_MAX);
    }
}
