//! The PID-1 core: take over signals, run the startup steps, start the
//! command, forward signals, reap every child, and shut down within the
//! grace period.
//!
//! One tokio current-thread runtime: signals arrive on one signalfd (all of
//! them blocked from the start, so none is lost or runs a handler), timers
//! are tokio timers, the status socket and the health
//! endpoint are tasks beside the loop. While idle it sleeps in one
//! epoll_wait with no timer. Reaping is ours alone (`children`). Before the
//! command starts, an error ends the init with a clear code; after, errors
//! are logged and survived.

mod peer;
pub mod policy;
pub mod serve;
mod termination;
mod tree;

use std::ffi::OsString;
use std::sync::Arc;
use std::time::Instant;

use nix::libc;

use crate::config::Config;
use crate::exit::{self, Error};
use crate::process::Target;
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
struct System {
    own_pid: i32,
    /// Whose sessions a stray SIGTERM spares (the services and jobs).
    shared: Arc<Shared>,
}

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
    fn terminate_strays(&mut self, command: i32) -> usize {
        tree::terminate_strays(self.own_pid, &spared(Some(command), &self.shared))
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
    // Every signal blocked and read from a signalfd, before any thread
    // exists (each inherits the mask): a signal that comes before the loop
    // reads it waits instead of being discarded (PID 1) or killing
    // agent-init (anyone else).
    let signals =
        sys::SignalFd::open(&sys::init_signals()).map_err(|e| Error::os("blocking signals", e))?;
    let mut parent = None;
    if own_pid != 1 {
        sys::set_child_subreaper().map_err(|e| Error::os("becoming a child subreaper", e))?;
        // On a terminal (`docker run -it` without --init) the line would
        // come before the command's own output: debug there.
        const NOTE: &str = "not running as PID 1: registered as child subreaper, so orphans of the command are still reaped";
        if sys::stderr_is_tty() {
            tracing::debug!(pid = own_pid, "{NOTE}");
        } else {
            tracing::warn!(pid = own_pid, "{NOTE}");
        }
        if let Some(signal) = config.parent_death_signal {
            let ppid = sys::parent_pid();
            sys::set_parent_death_signal(signal.get())
                .map_err(|e| Error::os("asking for a parent-death signal", e))?;
            parent = Some(ParentDeath {
                ppid,
                signo: signal.get(),
            });
        }
    }
    // Checked now, even without an endpoint: a bad health.mcp fails the
    // start, not the first probe.
    health::HealthOptions::from_config(config)?;
    sys::reserve_descriptors();
    crate::health::start_check_threads(config);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(|e| Error::os("starting the runtime", e))?;
    let mut report = termination::Termination::new();
    let result = runtime.block_on(async {
        let mut init = Init::start(mode, config, own_pid, signals).await?;
        init.parent = parent;
        init.parent_gone_already();
        let result = init.run(&mut report).await;
        // The process ends now: nothing it holds needs freeing.
        std::mem::forget(init);
        result
    });
    termination::write(config, &report, &result);
    // Nor does the runtime need a teardown; health checks stuck on a hung
    // mount must not hold up the exit either.
    std::mem::forget(runtime);
    result
}

/// `parent_death_signal`: the parent agent-init had when it asked, and the
/// signal that says it died.
#[derive(Debug, Clone, Copy)]
struct ParentDeath {
    ppid: i32,
    signo: i32,
}

/// When the pages only startup used are let go: long before anyone could
/// call the init idle, long after a short command is gone.
const RELEASE_AFTER: std::time::Duration = std::time::Duration::from_millis(200);

/// The init once started: what the loop watches and what it decides with.
struct Init<'c> {
    config: &'c Config,
    own_pid: i32,
    keep_alive: bool,
    signals: Signals,
    shared: Arc<Shared>,
    policy: Policy<System>,
    supervision: Supervision,
    /// Restarts a reload asks for (`on_change = "restart"`).
    restarts: Option<tokio::sync::mpsc::Receiver<crate::reload::Restart>>,
    /// What the command (and a restart of it) starts from.
    launch: crate::launch::Launch,
    /// The command line (empty in keep-alive mode).
    argv: Vec<OsString>,
    /// Where the running command's exit arrives.
    exited: Option<tokio::sync::oneshot::Receiver<nix::sys::wait::WaitStatus>>,
    /// A restart under way: by when the old command must be gone.
    restart_by: Option<Instant>,
    /// Until startup's pages are let go.
    release: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
    /// Why the init ends with an error after an orderly shutdown (the
    /// command could not be started again).
    failure: Option<Error>,
    /// `parent_death_signal` asked for (not PID 1).
    parent: Option<ParentDeath>,
}

impl<'c> Init<'c> {
    /// Everything up to the loop: the status socket and probe endpoint,
    /// the startup steps (raced against SIGTERM/SIGINT, children reaped
    /// meanwhile), services and jobs (waited for in command mode), then the
    /// command.
    async fn start(
        mode: Mode,
        config: &'c Config,
        own_pid: i32,
        signals: sys::SignalFd,
    ) -> Result<Init<'c>, Error> {
        let mut signals = Signals::register(signals, own_pid)?;
        signals.warn_reaped = config.warn_reaped;
        let keep_alive = matches!(mode, Mode::KeepAlive);
        let shared = Arc::new(Shared::new(own_pid, keep_alive));
        // What `agent-init health` beside the init probes with: these, not
        // its own reading of a configuration the init may not have been
        // given.
        shared.set_health(health::HealthOptions::from_config(config)?.to_settings());
        serve::serve(shared.clone());
        if let Some(crate::config::Listen(addr)) = config.health.listen {
            let endpoint = health::Endpoint::bind(addr, config)?;
            tokio::spawn(endpoint.serve());
        }
        let startup = Box::pin(steps::run(config, steps::Mode::Run));
        let launch = interruptible(&mut signals, own_pid, "startup", startup).await??;
        reap_orphans(config.warn_reaped);
        if !config.services.is_empty() || !config.jobs.is_empty() {
            output::Sink::start(config.log_format);
        }
        let mut supervision = Supervision::start(config, &launch, shared.clone())?;
        let restarts = crate::reload::start(config, &launch, shared.clone())?;
        if !keep_alive && !supervision.is_empty() {
            let ready = Box::pin(supervision.required_ready());
            let waited = interruptible(&mut signals, own_pid, "waiting for services", ready)
                .await
                .and_then(|ready| ready);
            if let Err(e) = waited {
                stop_early(&mut signals, &mut supervision, &shared, config).await;
                return Err(e);
            }
        }
        // Signals sent while there was nothing to forward them to are not
        // kept for the command.
        for signo in signals.discard_pending() {
            tracing::debug!(signal = sys::signal_name(signo), "ignored during startup");
        }
        let os = System {
            own_pid,
            shared: shared.clone(),
        };
        let policy = Policy::new(os, own_pid, config.grace_period.get(), config.signal_target)
            .with_drain(config.shutdown.delay.get())
            .with_stop_signal(config.stop_signal.map(|s| s.get()));
        let mut init = Init {
            config,
            own_pid,
            keep_alive,
            signals,
            shared,
            policy,
            supervision,
            restarts,
            launch,
            argv: Vec::new(),
            exited: None,
            restart_by: None,
            // Startup's code will not run again: once the init has
            // settled, its pages are let go (at once, a short-lived
            // command would only fault them back in on its way out).
            release: Some(Box::pin(tokio::time::sleep(RELEASE_AFTER))),
            failure: None,
            parent: None,
        };
        init.begin(mode).await?;
        Ok(init)
    }

    /// Starts the command (keep-alive mode: nothing) and leaves the
    /// directory the init was started in.
    async fn begin(&mut self, mode: Mode) -> Result<(), Error> {
        match mode {
            Mode::Command(argv) => {
                self.argv = argv;
                if tracing::enabled!(tracing::Level::DEBUG) {
                    for (name, value) in &self.launch.env {
                        tracing::debug!("child env {}={}", name, self.launch.shown(name, value));
                    }
                }
                if let Err(e) = self.start_command() {
                    stop_early(
                        &mut self.signals,
                        &mut self.supervision,
                        &self.shared,
                        self.config,
                    )
                    .await;
                    return Err(e);
                }
                let pid = self.policy.last_command();
                tracing::debug!(pid = ?pid, argv = ?self.argv, "command started");
                self.shared.started(pid, self.launch.clone());
            }
            Mode::KeepAlive => {
                tracing::info!("no command given: keeping alive, waiting for SIGTERM");
                self.shared.started(None, self.launch.clone());
            }
        }
        // Like dumb-init: the init does not keep the directory it was
        // started in (often the workspace's mount) busy; children it starts
        // from now on still start there (`spawn`).
        if let Err(e) = std::env::set_current_dir("/") {
            tracing::debug!("cannot change to /: {e}");
        }
        Ok(())
    }

    /// The loop: one arm per source of events, each handled by one method,
    /// until the policy says exit; then the orderly shutdown.
    async fn run(&mut self, report: &mut termination::Termination) -> Result<u8, Error> {
        loop {
            let wake = self.policy.wake_at(Instant::now());
            let held_until = self.policy.held_until();
            let next = tokio::select! {
                biased;
                // A signal: SIGCHLD reaps, SIGTERM/SIGINT may wait for the
                // drain delay, the rest goes to the policy.
                received = self.signals.next(), if !self.signals.closed => {
                    self.on_signal(received).await
                }
                // A reload asks for the command or the services again.
                Some(env) = next_restart(&mut self.restarts), if !self.policy.stopping() => {
                    self.on_restart(env).await
                }
                // The command did not stop for its restart in time.
                _ = sleep_until(self.restart_by), if self.restart_by.is_some() && self.exited.is_some() => {
                    self.restart_overdue()
                }
                // The command exited: start it again, or end.
                status = when_set(&mut self.exited) => self.on_command_exit(status, report),
                // The drain delay is over: the held signal goes on.
                _ = sleep_until(held_until), if held_until.is_some() => self.release_held().await,
                // The grace period's end, or a look at what is left.
                _ = sleep_until(wake), if wake.is_some() => self.policy.on_deadline(Instant::now()),
                // Settled: startup's pages go.
                _ = when_set(&mut self.release) => self.release_pages(),
            };
            if let Next::Exit(code) = next {
                return self.finish(code, report).await;
            }
        }
    }

    /// Starts the command (again, on a restart).
    fn start_command(&mut self) -> Result<(), Error> {
        let cmd = spawn::command(&self.argv, &self.launch, spawn::placement_for_command());
        let program = self
            .argv
            .first()
            .map_or(std::ffi::OsStr::new(""), |a| a.as_os_str());
        let started = crate::process::start(cmd, program)?;
        self.exited = Some(started.exited);
        self.policy.command_started(started.pid);
        Ok(())
    }

    async fn on_signal(&mut self, received: Option<sys::Received>) -> Next {
        let Some(sys::Received { signo, sender }) = received else {
            // Cannot happen while the descriptor is open; if it did, the
            // command must still be seen through.
            tracing::error!("signals can no longer be read; they are not forwarded");
            self.signals.closed = true;
            return Next::Continue;
        };
        if signo == libc::SIGCHLD {
            reap_orphans(self.signals.warn_reaped);
            return Next::Continue;
        }
        if self.parent.is_some_and(|p| p.signo == signo) {
            if let Some(parent) = self.parent_died() {
                return self.on_parent_death(parent);
            }
        }
        match self.policy.receive(signo, sender, Instant::now()) {
            Some(signal) => self.act(signal).await,
            None => {
                // Held for the drain: out of the load balancer first,
                // readiness fails from now on.
                self.shared.set_phase(Phase::Stopping);
                Next::Continue
            }
        }
    }

    /// The parent died before its signal could be asked for: the same as
    /// its coming now.
    fn parent_gone_already(&mut self) {
        if let Some(parent) = self.parent_died() {
            let _ = self.on_parent_death(parent);
        }
    }

    /// The parent asked about, if it is no longer agent-init's parent.
    fn parent_died(&self) -> Option<ParentDeath> {
        self.parent.filter(|p| sys::parent_pid() != p.ppid)
    }

    /// agent-init's parent is gone: the command gets the signal (as tini
    /// forwards it) and the shutdown begins, within the grace period.
    fn on_parent_death(&mut self, parent: ParentDeath) -> Next {
        self.parent = None;
        tracing::info!(
            signal = sys::signal_name(parent.signo),
            ppid = parent.ppid,
            "the parent died: stopping"
        );
        self.shared.set_phase(Phase::Stopping);
        self.policy.stop_with(parent.signo, Instant::now())
    }

    /// A signal to act on (forward it, or begin the shutdown), with the
    /// time it came: the grace period counts from then.
    async fn act(&mut self, signal: policy::Signal) -> Next {
        let policy::Signal {
            signo,
            sender,
            came,
        } = signal;
        if self.keep_alive
            && policy::terminating(signo)
            && sender != self.own_pid
            && !self.policy.stopping()
            && !self.supervision.is_empty()
        {
            // No command to stop first: the services go, then whatever
            // `docker exec` left, all within the one grace period.
            self.shared.set_phase(Phase::Stopping);
            let deadline = came + self.config.grace_period.get();
            reaping(&mut self.signals, self.supervision.stop(deadline)).await;
        }
        let next = self.policy.on_signal(signo, sender, came);
        if self.policy.stopping() {
            self.shared.set_phase(Phase::Stopping);
        }
        next
    }

    /// A reload changed what the command or the services start with.
    async fn on_restart(&mut self, env: crate::reload::Restart) -> Next {
        self.launch.env.extend(env);
        if self.keep_alive {
            if !self.supervision.is_empty() {
                tracing::info!("configuration changed: restarting the services");
                let deadline = Instant::now() + self.config.grace_period.get();
                reaping(&mut self.signals, self.supervision.stop(deadline)).await;
                match Supervision::start(self.config, &self.launch, self.shared.clone()) {
                    Ok(s) => self.supervision = s,
                    Err(e) => tracing::error!("restarting the services: {e}"),
                }
            }
        } else if let (Some(pid), None) = (self.shared.command_pid(), self.restart_by) {
            tracing::info!(pid, "configuration changed: restarting the command");
            Target::new(pid, self.config.signal_target).ask(self.policy.stop_signal());
            self.restart_by = Some(Instant::now() + self.config.grace_period.get());
        }
        Next::Continue
    }

    fn restart_overdue(&mut self) -> Next {
        if let Some(pid) = self.shared.command_pid() {
            tracing::warn!(
                pid,
                "the command did not stop for its restart within the grace period: SIGKILL"
            );
            Target::new(pid, self.config.signal_target).signal(libc::SIGKILL);
        }
        self.restart_by = None;
        Next::Continue
    }

    fn on_command_exit(
        &mut self,
        status: Result<nix::sys::wait::WaitStatus, tokio::sync::oneshot::error::RecvError>,
        report: &mut termination::Termination,
    ) -> Next {
        self.exited = None;
        self.shared.set_command(None);
        let Ok(status) = status else {
            tracing::error!("the command's exit status was lost");
            return Next::Exit(exit::SOFTWARE);
        };
        let ended = crate::process::Ended(status);
        // A shutdown that began meanwhile wins over the restart.
        if self.restart_by.take().is_some() && !self.policy.stopping() {
            tracing::info!("the command {ended} for its restart");
            match self.start_command() {
                Ok(()) => {
                    let pid = self.policy.last_command();
                    tracing::info!(pid = ?pid, "command started again");
                    self.shared.set_command(pid);
                    return Next::Continue;
                }
                Err(e) => {
                    // Still an orderly end: services get their stop signal,
                    // what is left its grace period.
                    tracing::error!("restarting the command: {e}");
                    report.command = Some(ended.to_string());
                    self.policy.on_command_exit(status);
                    let code = e.code();
                    self.failure = Some(e);
                    return Next::Exit(code);
                }
            }
        }
        report.command = Some(ended.to_string());
        match self.policy.on_command_exit(status) {
            Next::Exit(code) => {
                let remapped = self.config.remap_exit.apply(code);
                if remapped != code {
                    tracing::info!(code, remapped, "exit code remapped (remap_exit)");
                    report.remapped = Some((code, remapped));
                }
                Next::Exit(remapped)
            }
            next => next,
        }
    }

    async fn release_held(&mut self) -> Next {
        match self.policy.release_held() {
            Some(signal) => self.act(signal).await,
            None => Next::Continue,
        }
    }

    fn release_pages(&mut self) -> Next {
        self.release = None;
        sys::release_startup_pages();
        tracing::debug!("settled: let go of the pages only startup used");
        Next::Continue
    }

    /// The end. Command mode: the command is gone; what it left outside its
    /// group, then the services, within what is left of the grace period
    /// (all of it when the command ended on its own); then whatever is
    /// still there is SIGKILLed and named.
    async fn finish(
        &mut self,
        code: u8,
        report: &mut termination::Termination,
    ) -> Result<u8, Error> {
        if self.keep_alive {
            report.forced = self.policy.killed();
            return Ok(code);
        }
        self.shared.set_phase(Phase::Stopping);
        let deadline = self
            .policy
            .deadline()
            .unwrap_or_else(|| Instant::now() + self.config.grace_period.get());
        self.policy.tell_strays();
        if !self.supervision.is_empty() {
            reaping(&mut self.signals, self.supervision.stop(deadline)).await;
        }
        // With `signal_target = child` the command's group is not ours to
        // signal, now either.
        let left_alone: std::collections::BTreeSet<i32> = match self.config.signal_target {
            crate::config::SignalTarget::Child => self.policy.last_command().into_iter().collect(),
            crate::config::SignalTarget::Group => Default::default(),
        };
        let stragglers = reaping(
            &mut self.signals,
            tree::finish(self.own_pid, deadline, &left_alone),
        )
        .await;
        report.forced = self.policy.killed() || stragglers > 0;
        match self.failure.take() {
            Some(e) => Err(e),
            None => Ok(code),
        }
    }
}

/// Services and jobs started before the command stop in order,
/// not by SIGKILL with the namespace (or never, outside PID 1).
async fn stop_early(
    signals: &mut Signals,
    supervision: &mut Supervision,
    shared: &Shared,
    config: &Config,
) {
    shared.set_phase(Phase::Stopping);
    let deadline = Instant::now() + config.grace_period.get();
    reaping(signals, supervision.stop(deadline)).await;
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

/// The init's signals: one signalfd registered with the runtime, and what
/// its last read took beyond the signal asked for.
struct Signals {
    /// agent-init's own pid: the sender of the SIGPIPE its own writes raise.
    own_pid: i32,
    fd: tokio::io::unix::AsyncFd<sys::SignalFd>,
    queue: std::collections::VecDeque<sys::Received>,
    /// The descriptor failed (never, in practice): no more signals.
    closed: bool,
    /// `warn_reaped`: orphans reaped on a SIGCHLD are named.
    warn_reaped: bool,
}

impl Signals {
    fn register(fd: sys::SignalFd, own_pid: i32) -> Result<Signals, Error> {
        Ok(Signals {
            own_pid,
            fd: sys::signals_async(fd).map_err(|e| Error::os("watching signals", e))?,
            queue: std::collections::VecDeque::new(),
            closed: false,
            warn_reaped: false,
        })
    }

    /// The next signal; None once the descriptor failed (never, in
    /// practice), after which no signal comes.
    async fn next(&mut self) -> Option<sys::Received> {
        loop {
            if let Some(received) = self.queue.pop_front() {
                // A write of agent-init's to a closed pipe (a log line to a
                // gone stderr) raises SIGPIPE on itself: nothing to act on,
                // nor to log (which would raise another).
                if received.signo == libc::SIGPIPE && received.sender == self.own_pid {
                    continue;
                }
                return Some(received);
            }
            let mut ready = match self.fd.readable().await {
                Ok(ready) => ready,
                Err(e) => {
                    tracing::error!("reading signals: {e}");
                    return None;
                }
            };
            match ready.get_inner().read(&mut self.queue) {
                // A short read took everything: no read more just to hear
                // that nothing is left (the next signal wakes the loop).
                Ok(n) if n < sys::SIGNALS_PER_READ => ready.clear_ready(),
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => ready.clear_ready(),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    tracing::error!("reading signals: {e}");
                    return None;
                }
            }
        }
    }

    /// Takes every signal that came so far off the queue but SIGTERM,
    /// SIGINT and SIGCHLD, which stay to be handled; returns the others'
    /// numbers.
    fn discard_pending(&mut self) -> Vec<i32> {
        while let Ok(n) = self.fd.get_ref().read(&mut self.queue) {
            if n < sys::SIGNALS_PER_READ {
                break;
            }
        }
        let keep = [libc::SIGTERM, libc::SIGINT, libc::SIGCHLD];
        let (kept, discarded) =
            std::mem::take(&mut self.queue)
                .into_iter()
                .partition::<std::collections::VecDeque<_>, _>(|r| keep.contains(&r.signo));
        self.queue = kept;
        discarded.into_iter().map(|r| r.signo).collect()
    }
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
            Some(sys::Received { signo, sender }) = signals.next() => {
                match signo {
                    libc::SIGCHLD => reap_orphans(signals.warn_reaped),
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
            Some(sys::Received { signo, .. }) = signals.next() => {
                if signo == libc::SIGCHLD {
                    reap_orphans(signals.warn_reaped);
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
/// adopted, each named in a warning with `warn` (`warn_reaped`).
fn reap_orphans(warn: bool) {
    for (pid, status, command) in children::reap(warn) {
        if warn {
            // Worded as tini's -w, so what greps for it finds it.
            tracing::warn!(
                command = command.as_deref().unwrap_or("?"),
                "Reaped zombie process with pid={pid}"
            );
        } else {
            tracing::trace!(pid, ?status, "reaped orphan");
        }
    }
}
