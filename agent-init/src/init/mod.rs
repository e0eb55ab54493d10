//! The PID-1 core: take over signals, run the startup steps, start the
//! command, forward signals, reap every child, and shut down within the
//! grace period.
//!
//! One tokio current-thread runtime: signals arrive through signal-hook's
//! stream, timers are tokio timers, the status socket and the health
//! endpoint are tasks beside the loop. While idle it sleeps in one
//! epoll_wait with no timer. Reaping is ours alone (`children`). Before the
//! command starts, an error ends the init with a clear code; after, errors
//! are logged and survived.

mod peer;
pub mod policy;
pub mod status;
mod termination;
mod tree;

use std::ffi::OsString;
use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;
use nix::libc;
use signal_hook::iterator::exfiltrator::WithOrigin;
use signal_hook_tokio::SignalsInfo;

use crate::config::Config;
use crate::exit::{self, Error};
use crate::state::{Phase, Shared};
use crate::supervise::Supervision;
use crate::{children, health, output, spawn, steps, sys};
use policy::{Next, Os, Policy};

/// What to run, once the command line has been parsed.
#[derive(Debug)]
pub enum Mode {
    /// Run this command (argv[0] first) as the only direct child.
    Command(Vec<OsString>),
    /// No command: stay up and reap.
    KeepAlive,
}

/// The real system calls behind the policy.
struct System;

impl Os for System {
    fn kill(&mut self, pid: i32, signo: i32) -> std::io::Result<bool> {
        sys::send(pid, signo)
    }
    fn kill_all(&mut self, signo: i32) -> std::io::Result<bool> {
        sys::send_all(signo)
    }
    fn handles(&self, pid: i32, signo: i32) -> Option<bool> {
        sys::handles_signal(pid, signo)
    }
    fn stopped(&self, pid: i32) -> bool {
        sys::any_stopped(pid)
    }
}

/// The termination report of an init that could not even load its
/// configuration: to the kubelet's file, when there is one.
pub fn report_failure(e: &Error) {
    let result = Err(Error::Config(e.to_string()));
    termination::write(
        &Config::default(),
        &termination::Termination::new(),
        &result,
    );
}

/// Runs the init: startup steps, then the command until it exits (command
/// mode) or until SIGTERM/SIGINT (keep-alive mode). Returns the exit code.
pub fn run(mode: Mode, config: &Config) -> Result<u8, Error> {
    let own_pid = std::process::id() as i32;
    // Not PID 1, a fault signal sent by a process would kill agent-init
    // (and orphan the command) unless handled from the start; as PID 1 the
    // kernel drops it until the handler comes with the rest.
    let fault_socket = if own_pid == 1 {
        None
    } else {
        Some(
            sys::forward_faults()
                .map_err(|e| Error::os("installing the fault signals' handler", e))?,
        )
    };
    if own_pid != 1 {
        sys::set_child_subreaper().map_err(|e| Error::os("becoming a child subreaper", e))?;
        tracing::warn!(
            pid = own_pid,
            "not running as PID 1: registered as child subreaper, so orphans of the command are still reaped"
        );
    }
    // Checked now, even without an endpoint: a bad health.mcp fails the
    // start, not the first probe.
    health::HealthOptions::from_config(config)?;
    // As PID 1 most handlers come only once the command runs (see
    // `supervise`); until then their signals are blocked, so one that
    // arrives meanwhile waits instead of being discarded. Before any
    // thread exists: every thread inherits the mask, and only the loop's
    // own thread unblocks them.
    let (first, rest) = handler_sets(own_pid);
    sys::set_blocked(&deferred(own_pid, &rest), true)
        .map_err(|e| Error::os("blocking signals", e))?;
    sys::reserve_descriptors();
    crate::health::start_check_threads(config);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(|e| Error::os("starting the runtime", e))?;
    let mut report = termination::Termination::new();
    let result = runtime.block_on(supervise(
        mode,
        config,
        own_pid,
        (first, rest),
        fault_socket,
        &mut report,
    ));
    termination::write(config, &report, &result);
    // Health checks stuck on a hung mount must not hold up the exit.
    runtime.shutdown_background();
    result
}

type Signals = SignalsInfo<WithOrigin>;

/// When the pages only startup used are let go: long before anyone could
/// call the init idle, long after a short command is gone.
const RELEASE_AFTER: std::time::Duration = std::time::Duration::from_millis(200);

/// A received signal: its number and who sent it (0: the kernel, or a
/// process outside our PID namespace).
fn received(origin: &signal_hook::low_level::siginfo::Origin) -> (i32, i32) {
    (origin.signal, origin.process.as_ref().map_or(0, |p| p.pid))
}

/// Which handlers are installed before the command starts, and which after.
///
/// Installing a handler costs signal-hook a copy of its whole table, so
/// all of them take a while. As PID 1 the kernel drops any signal the init
/// has no handler for (unless it is blocked), so only what startup needs
/// comes first and the rest right after the command has started, blocked
/// until then. Anywhere else an unhandled signal could kill agent-init:
/// all of them come first.
fn handler_sets(own_pid: i32) -> (Vec<i32>, Vec<i32>) {
    let all = sys::handled_signals();
    if own_pid != 1 {
        return (all, Vec::new());
    }
    let first = vec![libc::SIGCHLD, libc::SIGTERM, libc::SIGINT];
    let rest = all.into_iter().filter(|s| !first.contains(s)).collect();
    (first, rest)
}

/// The signals blocked until the command runs: as PID 1 the handled ones
/// installed then, and the fault signals a process may send (a real fault
/// still ends agent-init: the kernel does not let a blocked fault signal
/// wait).
fn deferred(own_pid: i32, rest: &[i32]) -> Vec<i32> {
    let mut all = rest.to_vec();
    if own_pid == 1 {
        all.extend(sys::FAULTS);
    }
    all
}

async fn supervise(
    mode: Mode,
    config: &Config,
    own_pid: i32,
    (first, rest): (Vec<i32>, Vec<i32>),
    fault_socket: Option<std::os::unix::net::UnixDatagram>,
    report: &mut termination::Termination,
) -> Result<u8, Error> {
    // Before any child exists, so no SIGCHLD can be missed. Never torn
    // down: dropping the stream closes the handlers' socket before they are
    // unregistered, and a late signal would then raise SIGPIPE from within
    // the SIGPIPE handler, forever. The init exits right after anyway.
    let signals: &'static mut Signals = Box::leak(Box::new(
        Signals::new(&first).map_err(|e| Error::os("installing signal handlers", e))?,
    ));
    sys::note_installed(&first);
    let mut faults = match fault_socket {
        Some(socket) => Faults::from(socket)?,
        None => Faults(None),
    };
    let keep_alive = matches!(mode, Mode::KeepAlive);
    let shared = Arc::new(Shared::new(own_pid, keep_alive));
    // What `agent-init health` beside the init probes with: these, not its
    // own reading of a configuration the init may not have been given.
    shared.set_health(health::HealthOptions::from_config(config)?.to_settings());
    status::serve(shared.clone());
    if let Some(listen) = &config.health.listen {
        let addr = crate::config::parse_listen(listen).map_err(Error::Config)?;
        let endpoint = health::Endpoint::bind(addr, config)?;
        tokio::spawn(endpoint.serve());
    }

    // The startup steps, raced against SIGTERM/SIGINT; children (hooks and
    // what they leave behind) are reaped meanwhile.
    let launch = interruptible(
        signals,
        own_pid,
        "startup",
        steps::run(config, steps::Mode::Run),
    )
    .await??;
    reap_orphans();

    // Services and jobs: resolved (a bad entry is a configuration error),
    // started, and in command mode waited for.
    if !config.services.is_empty() || !config.jobs.is_empty() {
        output::Sink::start(config.log_format);
    }
    let mut supervision = Supervision::start(config, &launch, shared.clone())?;
    let mut restarts = crate::reload::start(config, &launch, shared.clone())?;
    if matches!(mode, Mode::Command(_)) && !supervision.is_empty() {
        let waited = interruptible(
            signals,
            own_pid,
            "waiting for services",
            supervision.required_ready(),
        )
        .await
        .and_then(|ready| ready);
        if let Err(e) = waited {
            shared.set_phase(Phase::Stopping);
            let deadline = Instant::now() + config.grace_period.get();
            reaping(signals, supervision.stop(deadline)).await;
            return Err(e);
        }
    }

    let mut policy = Policy::new(
        System,
        own_pid,
        config.grace_period.get(),
        config.signal_target,
    );
    // Signals sent while there was nothing to forward them to are not
    // kept for the command.
    for signo in sys::discard_pending(&deferred(own_pid, &rest))
        .into_iter()
        .chain(faults.discard())
    {
        tracing::debug!(signal = sys::signal_name(signo), "ignored during startup");
    }
    let mut exited = None;
    // What a restart (`on_change = "restart"`) starts again from.
    let mut launch = launch;
    let argv = match mode {
        Mode::Command(argv) => {
            if tracing::enabled!(tracing::Level::DEBUG) {
                for (name, value) in &launch.env {
                    tracing::debug!("child env {}={}", name, launch.shown(name, value));
                }
            }
            let (pid, watch) = start_command(&argv, &launch)?;
            exited = Some(watch);
            tracing::debug!(pid, ?argv, "command started");
            policy.command_started(pid);
            shared.started(Some(pid), launch.clone());
            argv
        }
        Mode::KeepAlive => {
            tracing::info!("no command given: keeping alive, waiting for SIGTERM");
            shared.started(None, launch.clone());
            Vec::new()
        }
    };
    // A restart under way: by when the old command must be gone.
    let mut restart_by: Option<Instant> = None;

    // Like dumb-init: the init does not keep the directory it was started
    // in (often the workspace's mount) busy; children it starts from now on
    // still start there (`spawn`).
    if let Err(e) = std::env::set_current_dir("/") {
        tracing::debug!("cannot change to /: {e}");
    }
    let handle = signals.handle();
    for &signo in &rest {
        if let Err(e) = handle.add_signal(signo) {
            tracing::warn!(signal = sys::signal_name(signo), "cannot handle it: {e}");
        }
    }
    sys::note_installed(&rest);
    if own_pid == 1 {
        match Faults::install() {
            Ok(f) => faults = f,
            Err(e) => tracing::warn!(
                "{e}: SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP and SIGSYS are not forwarded"
            ),
        }
    }
    // What arrived meanwhile is delivered now, to the handlers.
    if let Err(e) = sys::set_blocked(&deferred(own_pid, &rest), false) {
        tracing::error!("unblocking signals: {e}; they are not forwarded");
    }
    // Startup's code will not run again: once the init has settled, its
    // pages are let go (at once, a short-lived command would only fault
    // them back in on its way out).
    let mut release = Some(Box::pin(tokio::time::sleep(RELEASE_AFTER)));
    let mut signals_closed = false;
    let drain = config.shutdown.delay.get();
    // A SIGTERM/SIGINT held for the drain delay: (signal, sender, when it
    // came, when it goes on).
    let mut held: Option<(i32, i32, Instant, Instant)> = None;
    let mut command_pid = shared.command_pid();
    // Whether what left the command's group has had its SIGTERM.
    let mut strays_told = false;
    loop {
        let wake = policy.wake_at(Instant::now());
        let release_at = held.map(|h| h.3);
        let event = tokio::select! {
            biased;
            origin = signals.next(), if !signals_closed => match origin {
                Some(origin) => {
                    let (signo, sender) = received(&origin);
                    let at = Instant::now();
                    let terminating = signo == libc::SIGTERM || signo == libc::SIGINT;
                    if signo == libc::SIGCHLD {
                        reap_orphans();
                        Event::Next(Next::Continue)
                    } else if terminating && sender != own_pid && !policy.stopping() {
                        match held.take() {
                            None if !drain.is_zero() => {
                                // Out of the load balancer first: readiness
                                // fails from now on, the signal follows.
                                shared.set_phase(Phase::Stopping);
                                tracing::info!(
                                    signal = sys::signal_name(signo),
                                    delay = %crate::config::value::format_duration(drain),
                                    "shutting down: readiness fails now, the signal follows after the drain delay"
                                );
                                held = Some((signo, sender, at, at + drain));
                                Event::Next(Next::Continue)
                            }
                            Some((first, first_sender, first_at, _)) => {
                                tracing::info!(signal = sys::signal_name(signo), "a second signal: the drain delay is cut short");
                                Event::Signal(first, first_sender, first_at)
                            }
                            None => Event::Signal(signo, sender, at),
                        }
                    } else {
                        Event::Signal(signo, sender, at)
                    }
                }
                None => {
                    // Cannot happen while the handlers are installed; if it
                    // did, the command must still be seen through.
                    tracing::error!("the signal stream ended; signals are no longer forwarded");
                    signals_closed = true;
                    Event::Next(Next::Continue)
                }
            },
            (signo, sender) = faults.next() => Event::Signal(signo, sender, Instant::now()),
            Some(env) = next_restart(&mut restarts), if !policy.stopping() => {
                launch.env.extend(env);
                if keep_alive {
                    if !supervision.is_empty() {
                        tracing::info!("configuration changed: restarting the services");
                        let deadline = Instant::now() + config.grace_period.get();
                        reaping(signals, supervision.stop(deadline)).await;
                        match Supervision::start(config, &launch, shared.clone()) {
                            Ok(s) => supervision = s,
                            Err(e) => tracing::error!("restarting the services: {e}"),
                        }
                    }
                } else if let (Some(pid), None) = (shared.command_pid(), restart_by) {
                    tracing::info!(pid, "configuration changed: restarting the command");
                    sys::send_group(pid, libc::SIGTERM, true);
                    restart_by = Some(Instant::now() + config.grace_period.get());
                }
                Event::Next(Next::Continue)
            }
            _ = sleep_until(restart_by), if restart_by.is_some() && exited.is_some() => {
                if let Some(pid) = shared.command_pid() {
                    tracing::warn!(pid, "the command did not stop for its restart within the grace period: SIGKILL");
                    sys::send_group(pid, libc::SIGKILL, false);
                }
                restart_by = None;
                Event::Next(Next::Continue)
            }
            status = when_set(&mut exited) => {
                exited = None;
                shared.set_command(None);
                if let (Some(_), Ok(status)) = (restart_by.take(), &status) {
                    tracing::info!("the command {} for its restart", crate::supervise::describe(*status));
                    match start_command(&argv, &launch) {
                        Ok((pid, watch)) => {
                            tracing::info!(pid, "command started again");
                            exited = Some(watch);
                            policy.command_started(pid);
                            shared.set_command(Some(pid));
                            command_pid = Some(pid);
                            continue;
                        }
                        Err(e) => {
                            tracing::error!("restarting the command: {e}");
                            return Err(e);
                        }
                    }
                }
                Event::Next(match status {
                    Ok(status) => {
                        report.command = Some(crate::supervise::describe(status));
                        policy.on_command_exit(status)
                    }
                    Err(_) => {
                        tracing::error!("the command's exit status was lost");
                        Next::Exit(exit::SOFTWARE)
                    }
                })
            }
            _ = sleep_until(release_at), if release_at.is_some() => match held.take() {
                Some((signo, sender, at, _)) => Event::Signal(signo, sender, at),
                None => Event::Next(Next::Continue),
            },
            _ = sleep_until(wake), if wake.is_some() => Event::Next(policy.on_deadline(Instant::now())),
            _ = when_set(&mut release) => {
                release = None;
                sys::release_startup_pages();
                tracing::debug!("settled: let go of the pages only startup used");
                Event::Next(Next::Continue)
            }
        };
        let next = match event {
            Event::Next(next) => next,
            // A signal to act on (forward, or begin the shutdown), with the
            // time it came: the grace period counts from then.
            Event::Signal(signo, sender, at) => {
                let terminating = signo == libc::SIGTERM || signo == libc::SIGINT;
                if keep_alive
                    && terminating
                    && sender != own_pid
                    && !policy.stopping()
                    && !supervision.is_empty()
                {
                    // No command to stop first: the services go, then
                    // whatever `docker exec` left, all within the one grace
                    // period.
                    shared.set_phase(Phase::Stopping);
                    reaping(signals, supervision.stop(at + config.grace_period.get())).await;
                }
                let next = policy.on_signal(signo, sender, at);
                if policy.stopping() {
                    shared.set_phase(Phase::Stopping);
                    if !keep_alive && !strays_told {
                        // Together with the command: what it left outside
                        // its group cleans up within the same grace period.
                        strays_told = true;
                        tree::terminate_strays(own_pid, &spared(command_pid, &shared));
                    }
                }
                next
            }
        };
        if let Next::Exit(code) = next {
            if keep_alive {
                report.forced = policy.killed();
                return Ok(code);
            }
            // The command is gone: what it left outside its group, then
            // the services, within what is left of the grace period (all of
            // it when the command ended on its own); then whatever is still
            // there is SIGKILLed and named.
            shared.set_phase(Phase::Stopping);
            let deadline = policy
                .deadline()
                .unwrap_or_else(|| Instant::now() + config.grace_period.get());
            if !strays_told {
                tree::terminate_strays(own_pid, &spared(command_pid, &shared));
            }
            if !supervision.is_empty() {
                reaping(signals, supervision.stop(deadline)).await;
            }
            // With `signal_target = child` the command's group is not ours
            // to signal, now either.
            let left_alone: std::collections::BTreeSet<i32> = match config.signal_target {
                crate::config::SignalTarget::Child => command_pid.into_iter().collect(),
                crate::config::SignalTarget::Group => Default::default(),
            };
            let stragglers = reaping(signals, tree::finish(own_pid, deadline, &left_alone)).await;
            report.forced = policy.killed() || stragglers > 0;
            return Ok(code);
        }
    }
}

/// The sessions and groups a stray SIGTERM must spare: the command's group
/// (the policy signals it, as `signal_target` says) and each running service's and job's session
/// (stopped in order by the supervision).
fn spared(command_pid: Option<i32>, shared: &Shared) -> std::collections::BTreeSet<i32> {
    command_pid
        .into_iter()
        .chain(shared.supervised_pids())
        .collect()
}

/// The fault signals (SIGSEGV, SIGILL, …) that processes sent, as
/// `sys::forward_faults` passes them on: (signal, sender).
struct Faults(Option<tokio::net::UnixDatagram>);

impl Faults {
    fn install() -> Result<Faults, Error> {
        let socket = sys::forward_faults()
            .map_err(|e| Error::os("installing the fault signals' handler", e))?;
        Faults::from(socket)
    }

    fn from(socket: std::os::unix::net::UnixDatagram) -> Result<Faults, Error> {
        let socket = tokio::net::UnixDatagram::from_std(socket)
            .map_err(|e| Error::os("the fault signals' socket", e))?;
        Ok(Faults(Some(socket)))
    }

    /// The next one; never, once the socket failed.
    async fn next(&mut self) -> (i32, i32) {
        loop {
            let Some(socket) = &self.0 else {
                return std::future::pending().await;
            };
            let mut msg = [0u8; 8];
            match socket.recv(&mut msg).await {
                Ok(8) => {
                    let (signo, sender) = msg.split_at(4);
                    let int = |b: &[u8]| i32::from_ne_bytes(b.try_into().unwrap_or_default());
                    return (int(signo), int(sender));
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::error!("fault signals are no longer forwarded: {e}");
                    self.0 = None;
                }
            }
        }
    }

    /// Takes what arrived so far off the socket, unhandled.
    fn discard(&mut self) -> Vec<i32> {
        let mut taken = Vec::new();
        if let Some(socket) = &self.0 {
            let mut msg = [0u8; 8];
            while let Ok(8) = socket.try_recv(&mut msg) {
                taken.push(i32::from_ne_bytes(
                    msg.get(..4)
                        .and_then(|b| b.try_into().ok())
                        .unwrap_or_default(),
                ));
            }
        }
        taken
    }
}

/// What woke the loop, once handled as far as the select can.
enum Event {
    Next(Next),
    /// A signal for the policy: (number, sender, when it came).
    Signal(i32, i32, Instant),
}

/// Starts the command; its pid and where its exit will arrive.
fn start_command(
    argv: &[OsString],
    launch: &crate::launch::Launch,
) -> Result<
    (
        i32,
        tokio::sync::oneshot::Receiver<nix::sys::wait::WaitStatus>,
    ),
    Error,
> {
    let cmd = spawn::command(argv, launch, spawn::placement_for_command());
    let program = argv
        .first()
        .map_or(std::ffi::OsStr::new(""), |a| a.as_os_str());
    let child = spawn::start(cmd, program)?;
    let pid = child.id() as i32;
    Ok((pid, children::watch(pid)))
}

/// The next restart asked for, if anyone can ask; else never.
async fn next_restart(
    restarts: &mut Option<tokio::sync::mpsc::Receiver<crate::reload::Restart>>,
) -> Option<crate::reload::Restart> {
    match restarts {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// Runs `f` (a part of startup, `what`) to its end while reaping
/// children; a SIGTERM or SIGINT from outside ends it first.
async fn interruptible<F: std::future::Future>(
    signals: &mut Signals,
    own_pid: i32,
    what: &str,
    f: F,
) -> Result<F::Output, Error> {
    tokio::pin!(f);
    loop {
        tokio::select! {
            biased;
            Some(origin) = signals.next() => {
                let (signo, sender) = received(&origin);
                match signo {
                    libc::SIGCHLD => reap_orphans(),
                    libc::SIGTERM | libc::SIGINT if sender != own_pid => {
                        tracing::warn!(signal = sys::signal_name(signo), "{what} interrupted");
                        return Err(Error::Interrupted(signo));
                    }
                    _ => tracing::debug!(signal = sys::signal_name(signo), "ignored during {what}"),
                }
            }
            out = &mut f => return Ok(out),
        }
    }
}

/// Runs `f` to its end while reaping children (whose exits `f` may wait
/// for); other signals are of no use meanwhile.
async fn reaping<F: std::future::Future>(signals: &mut Signals, f: F) -> F::Output {
    tokio::pin!(f);
    loop {
        tokio::select! {
            biased;
            Some(origin) = signals.next() => {
                let (signo, _) = received(&origin);
                if signo == libc::SIGCHLD {
                    reap_orphans();
                } else {
                    tracing::debug!(signal = sys::signal_name(signo), "ignored while stopping services");
                }
            }
            out = &mut f => return out,
        }
    }
}

/// What `f` resolves to, if there is an `f`; else never.
async fn when_set<F: std::future::Future + Unpin>(f: &mut Option<F>) -> F::Output {
    match f {
        Some(f) => f.await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// Reaps every exited child; those nobody waits for are orphans the init
/// adopted.
fn reap_orphans() {
    for (pid, status) in children::reap() {
        tracing::trace!(pid, ?status, "reaped orphan");
    }
}
