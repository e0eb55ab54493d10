//! One job's task: run it every period (the first run one period after
//! start), never two runs at once (a run due while the last still goes is
//! skipped and counted), kill a run past its timeout, keep the last result.

use std::sync::Arc;
use std::time::{Duration, Instant};

use healthcheck::socket::JobRun;
use nix::libc;
use nix::sys::wait::WaitStatus;
use tokio::sync::oneshot;

use super::{describe, stop_requested, Program, StopRequest};
use crate::process::{self, Ended};
use healthcheck::report::fmt_duration;

use crate::config::value::format_duration;
use crate::state::Shared;

pub struct Spec {
    pub program: Program,
    pub every: Duration,
    pub timeout: Duration,
}

/// How long a run gets to end on SIGTERM when the init stops.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

struct Run {
    pid: i32,
    started: Instant,
    exited: oneshot::Receiver<WaitStatus>,
    timed_out: bool,
}

pub async fn run(spec: Spec, mut stop: oneshot::Receiver<StopRequest>, shared: Arc<Shared>) {
    let name = spec.program.name.clone();
    let mut next = Instant::now() + spec.every;
    let mut current: Option<Run> = None;
    loop {
        let kill_at = current
            .as_ref()
            .filter(|r| !r.timed_out)
            .map(|r| r.started + spec.timeout);
        tokio::select! {
            biased;
            request = stop_requested(&mut stop) => {
                if let Some(mut run) = current.take() {
                    let deadline = request.as_ref().map_or_else(Instant::now, |r| r.deadline);
                    let what = format!("job {name}");
                    let status = process::stop(&what, process::Target::group(run.pid), libc::SIGTERM, STOP_TIMEOUT, deadline, &mut run.exited).await;
                    let outcome = status.map_or_else(|| "lost after SIGKILL".into(), |s| format!("stopped: {}", describe(s)));
                    finish(&shared, &name, &run, outcome, false);
                }
                if let Some(r) = request {
                    let _ = r.done.send(());
                }
                return;
            }
            status = exit_of(&mut current) => {
                let Some(run) = current.take() else { continue };
                let (outcome, ok) = match status {
                    _ if run.timed_out => (format!("timed out after {}: killed", format_duration(spec.timeout)), false),
                    Some(status) => (describe(status), !Ended(status).failed()),
                    None => ("lost".into(), false),
                };
                let took = run.started.elapsed();
                if ok {
                    tracing::info!(job = %name, pid = run.pid, "{outcome} after {}", fmt_duration(took));
                } else {
                    tracing::warn!(job = %name, pid = run.pid, "{outcome} after {}", fmt_duration(took));
                }
                finish(&shared, &name, &run, outcome, ok);
            }
            _ = sleep_until(kill_at) => {
                if let Some(run) = current.as_mut() {
                    tracing::warn!(job = %name, pid = run.pid, "still running after its timeout of {}: SIGKILL", format_duration(spec.timeout));
                    process::Target::group(run.pid).signal(libc::SIGKILL);
                    run.timed_out = true;
                }
            }
            _ = tokio::time::sleep_until(next.into()) => {
                let now = Instant::now();
                next += spec.every;
                if next <= now {
                    // Far behind (a suspended machine): no catching up.
                    next = now + spec.every;
                }
                if let Some(run) = &current {
                    tracing::warn!(
                        job = %name,
                        pid = run.pid,
                        "run skipped: the one started {} ago is still going",
                        format_duration(run.started.elapsed())
                    );
                    shared.update_job(&name, |j, _| j.skipped += 1);
                    continue;
                }
                match spec.program.spawn() {
                    Ok((pid, exited)) => {
                        tracing::debug!(job = %name, pid, "started");
                        shared.update_job(&name, |j, _| {
                            j.pid = Some(pid);
                            j.runs += 1;
                        });
                        current = Some(Run { pid, started: now, exited, timed_out: false });
                    }
                    Err(e) => {
                        tracing::error!(job = %name, "cannot start: {e}");
                        shared.update_job(&name, |j, at| {
                            j.runs += 1;
                            j.last = Some(JobRun { ago_s: 0.0, duration_ms: 0.0, outcome: format!("could not start: {e}"), ok: false });
                            *at = Some(now);
                        });
                    }
                }
            }
        }
    }
}

/// Records how the run ended.
fn finish(shared: &Shared, name: &str, run: &Run, outcome: String, ok: bool) {
    let took = run.started.elapsed();
    shared.update_job(name, |j, at| {
        j.pid = None;
        j.last = Some(JobRun {
            ago_s: 0.0,
            duration_ms: took.as_secs_f64() * 1000.0,
            outcome,
            ok,
        });
        *at = Some(run.started);
    });
}

/// The exit of the run in progress; never, while none runs.
async fn exit_of(current: &mut Option<Run>) -> Option<WaitStatus> {
    match current {
        Some(run) => (&mut run.exited).await.ok(),
        None => std::future::pending().await,
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
