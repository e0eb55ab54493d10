//! What PID 1 decides, without doing any of it itself: which signal goes
//! where, whether a SIGTERM waits for the drain delay, when the strays are
//! asked to stop, when the grace period ends, what the exit code is. The
//! loop (`mod.rs`) feeds it events and it acts through [`Os`], a seam of
//! five calls, so tests drive it with a fake in microseconds.

use std::io;
use std::time::{Duration, Instant};

use nix::libc;
use nix::sys::wait::WaitStatus;

use crate::config::SignalTarget;
use crate::sys::signal_name;

/// The system calls the policy makes.
pub trait Os {
    /// kill(2) of a process (`pid > 0`) or group (`pid < 0`); whether it
    /// existed.
    fn kill(&mut self, pid: i32, signo: i32) -> io::Result<bool>;
    /// kill(-1, signo): every process but agent-init; whether there was one.
    fn kill_all(&mut self, signo: i32) -> io::Result<bool>;
    /// Whether `pid` catches, ignores or blocks `signo` (None: unknown).
    fn handles(&self, pid: i32, signo: i32) -> Option<bool>;
    /// Whether a process is stopped: `pid > 0` that one, `pid < -1` one of
    /// group -pid, `-1` any but agent-init.
    fn stopped(&self, pid: i32) -> bool;
    /// SIGTERM to what left the command's group (`command`) and is no
    /// supervised service or job: the strays. Returns how many.
    fn terminate_strays(&mut self, command: i32) -> usize;
}

/// SIGTERM or SIGINT: the signals that begin a shutdown.
pub fn terminating(signo: i32) -> bool {
    signo == libc::SIGTERM || signo == libc::SIGINT
}

/// A signal to act on: its number, its sender, when it came (a grace
/// period counts from then).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signal {
    pub signo: i32,
    pub sender: i32,
    pub came: Instant,
}

/// What the loop does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    Continue,
    Exit(u8),
}

pub struct Policy<O: Os> {
    pub os: O,
    own_pid: i32,
    grace: Duration,
    target: SignalTarget,
    /// The command's pid (its process group id too), while it runs.
    command: Option<i32>,
    /// When a shutdown runs: the moment to SIGKILL what is left.
    deadline: Option<Instant>,
    killed: bool,
    /// How long a SIGTERM/SIGINT waits (readiness failing already) before
    /// it goes on, so load balancers drain.
    drain: Duration,
    /// The SIGTERM/SIGINT held for the drain, and until when.
    held: Option<(Signal, Instant)>,
    /// The last command's pid, also once it has exited.
    last_command: Option<i32>,
    /// What a SIGTERM/SIGINT from outside becomes for the command (None:
    /// itself).
    stop_signal: Option<i32>,
    /// Whether the strays have had their SIGTERM.
    strays_told: bool,
}

/// How often a keep-alive shutdown looks whether `docker exec` processes
/// (not our children: no SIGCHLD tells) are gone.
pub const EXEC_POLL: Duration = Duration::from_millis(50);

impl<O: Os> Policy<O> {
    pub fn new(os: O, own_pid: i32, grace: Duration, target: SignalTarget) -> Self {
        Policy {
            os,
            own_pid,
            grace,
            target,
            command: None,
            deadline: None,
            killed: false,
            drain: Duration::ZERO,
            held: None,
            last_command: None,
            strays_told: false,
            stop_signal: None,
        }
    }

    /// SIGTERM/SIGINT from outside reach the command as `signo`.
    pub fn with_stop_signal(mut self, signo: Option<i32>) -> Self {
        self.stop_signal = signo;
        self
    }

    /// What the command is asked to stop with (a restart's stop too).
    pub fn stop_signal(&self) -> i32 {
        self.stop_signal.unwrap_or(libc::SIGTERM)
    }

    /// A stop for another reason (the parent died): `signo` to the
    /// command, and the grace period begins, as a SIGTERM would.
    pub fn stop_with(&mut self, signo: i32, now: Instant) -> Next {
        match self.command {
            Some(pid) => {
                self.stop(pid, signo, now);
                Next::Continue
            }
            None => self.shutdown_keep_alive(signo, now),
        }
    }

    /// The last command's pid, also once it has exited.
    pub fn last_command(&self) -> Option<i32> {
        self.last_command
    }

    /// Holds SIGTERM/SIGINT this long before acting on it.
    pub fn with_drain(mut self, drain: Duration) -> Self {
        self.drain = drain;
        self
    }

    pub fn command_started(&mut self, pid: i32) {
        self.command = Some(pid);
        self.last_command = Some(pid);
    }

    /// A signal came: what to act on now (with [`Policy::on_signal`]). A
    /// SIGTERM/SIGINT from outside, with a drain delay and no shutdown under
    /// way, is held instead (None); a second one ends the hold, and the
    /// first goes on.
    pub fn receive(&mut self, signo: i32, sender: i32, now: Instant) -> Option<Signal> {
        let signal = Signal {
            signo,
            sender,
            came: now,
        };
        let terminating = terminating(signo);
        if !terminating || sender == self.own_pid || self.stopping() {
            return Some(signal);
        }
        match self.held.take() {
            Some((first, _)) => {
                tracing::info!(
                    signal = signal_name(signo),
                    "a second signal: the drain delay is cut short"
                );
                Some(first)
            }
            None if !self.drain.is_zero() => {
                tracing::info!(
                    signal = signal_name(signo),
                    delay = %crate::config::value::format_duration(self.drain),
                    "shutting down: readiness fails now, the signal follows after the drain delay"
                );
                self.held = Some((signal, now + self.drain));
                None
            }
            None => Some(signal),
        }
    }

    /// When the held signal goes on.
    pub fn held_until(&self) -> Option<Instant> {
        self.held.map(|(_, until)| until)
    }

    /// The drain delay is over: the held signal, to act on now.
    pub fn release_held(&mut self) -> Option<Signal> {
        self.held.take().map(|(signal, _)| signal)
    }

    /// Asks the strays to stop, once: together with the command's SIGTERM,
    /// or when the command ended on its own.
    pub fn tell_strays(&mut self) {
        if let (false, Some(pid)) = (self.strays_told, self.last_command) {
            self.strays_told = true;
            self.os.terminate_strays(pid);
        }
    }

    /// Whether the grace period ran out and SIGKILL went out.
    pub fn killed(&self) -> bool {
        self.killed
    }

    /// Whether a shutdown has begun.
    pub fn stopping(&self) -> bool {
        self.deadline.is_some()
    }

    /// When the grace period of a shutdown in progress ends.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// When the loop must call [`Policy::on_deadline`]: the grace period's
    /// end, or in a keep-alive shutdown the next look at what is left.
    pub fn wake_at(&self, now: Instant) -> Option<Instant> {
        let end = self.deadline.filter(|_| !self.killed)?;
        Some(match self.command {
            None => end.min(now + EXEC_POLL),
            Some(_) => end,
        })
    }

    pub fn on_signal(&mut self, signo: i32, sender: i32, now: Instant) -> Next {
        // A signal agent-init raised on itself (SIGPIPE on a closed stderr)
        // is not meant for the command.
        if sender == self.own_pid {
            return Next::Continue;
        }
        let terminating = terminating(signo);
        match self.command {
            Some(pid) if terminating => {
                let signo = self.stop_signal.unwrap_or(signo);
                self.stop(pid, signo, now);
                Next::Continue
            }
            Some(pid) => {
                let signo = self.stop_signal_for(pid, signo);
                self.forward(pid, signo);
                Next::Continue
            }
            None if terminating => self.shutdown_keep_alive(signo, now),
            None => {
                tracing::debug!(signal = signal_name(signo), "ignored in keep-alive mode");
                Next::Continue
            }
        }
    }

    /// The command is asked to stop with `signo`; the grace period begins.
    fn stop(&mut self, pid: i32, signo: i32, now: Instant) {
        let signo = self.stop_signal_for(pid, signo);
        self.forward(pid, signo);
        // A stopped command cannot act on the signal until continued; a
        // running one must not see a SIGCONT it did not ask for.
        let target = match self.target {
            SignalTarget::Group => -pid,
            SignalTarget::Child => pid,
        };
        if self.os.stopped(target) || self.os.stopped(pid) {
            self.forward(pid, libc::SIGCONT);
        }
        self.start_grace(now);
        // What the command left outside its group cleans up within the
        // same grace period.
        self.tell_strays();
    }

    /// The command runs in a session of its own, so for the kernel its
    /// process group is orphaned and it discards SIGTSTP/SIGTTIN/SIGTTOU
    /// whose action is the default. A command that neither catches, ignores
    /// nor blocks the signal gets SIGSTOP instead, so `docker kill -s TSTP`
    /// really suspends it.
    fn stop_signal_for(&self, pid: i32, signo: i32) -> i32 {
        let stop_family = matches!(signo, libc::SIGTSTP | libc::SIGTTIN | libc::SIGTTOU);
        if stop_family && self.os.handles(pid, signo) == Some(false) {
            libc::SIGSTOP
        } else {
            signo
        }
    }

    fn forward(&mut self, pid: i32, signo: i32) {
        let target = crate::process::Target::new(pid, self.target);
        let os = &mut self.os;
        match target.deliver(signo, &mut |p, s| os.kill(p, s)) {
            Ok(_) => tracing::debug!(signal = signal_name(signo), pid, "forwarded"),
            Err(e) => tracing::warn!(signal = signal_name(signo), pid, "forwarding failed: {e}"),
        }
    }

    fn start_grace(&mut self, now: Instant) {
        if self.deadline.is_none() {
            tracing::info!(
                grace = %crate::config::value::format_duration(self.grace),
                "shutting down: stop signal sent, SIGKILL for what is left after the grace period"
            );
            self.deadline = Some(now + self.grace);
        }
    }

    pub fn on_deadline(&mut self, now: Instant) -> Next {
        let Some(end) = self.deadline else {
            return Next::Continue;
        };
        if now >= end && !self.killed {
            return self.grace_expired();
        }
        // A keep-alive shutdown looking whether anything is left.
        if self.command.is_none() && !self.others_left() {
            return Next::Exit(0);
        }
        Next::Continue
    }

    fn grace_expired(&mut self) -> Next {
        self.killed = true;
        match self.command {
            Some(pid) => {
                tracing::warn!(
                    pid,
                    "grace period expired: sending SIGKILL to the command's process group"
                );
                let _ = self.os.kill(-pid, libc::SIGKILL);
                let _ = self.os.kill(pid, libc::SIGKILL);
                Next::Continue
            }
            None => {
                tracing::warn!("grace period expired: sending SIGKILL to remaining processes");
                let _ = self.os.kill_all(libc::SIGKILL);
                // Whatever is left now dies with the namespace.
                Next::Exit(0)
            }
        }
    }

    /// Keep-alive mode on SIGTERM/SIGINT: as PID 1, ask every process left
    /// by `docker exec` to stop and wait (up to the grace period) for them.
    fn shutdown_keep_alive(&mut self, signo: i32, now: Instant) -> Next {
        tracing::info!(signal = signal_name(signo), "keep-alive: shutting down");
        if self.own_pid != 1 {
            return Next::Exit(0);
        }
        if self.deadline.is_none() {
            if !self.os.kill_all(libc::SIGTERM).unwrap_or(false) {
                return Next::Exit(0);
            }
            if self.os.stopped(-1) {
                let _ = self.os.kill_all(libc::SIGCONT);
            }
            self.start_grace(now);
        }
        Next::Continue
    }

    /// During a keep-alive shutdown: is any process besides agent-init left?
    fn others_left(&mut self) -> bool {
        self.own_pid == 1 && self.os.kill_all(0).unwrap_or(false)
    }

    /// The command has exited with `status`: the init's exit code.
    pub fn on_command_exit(&mut self, status: WaitStatus) -> Next {
        let code = crate::process::Ended(status).code();
        match status {
            WaitStatus::Signaled(_, sig, _) => {
                tracing::info!(signal = sig.as_str(), code, "command killed by signal")
            }
            _ => tracing::info!(code, "command exited"),
        }
        if let Some(pid) = self.command.take() {
            // Like dumb-init: what the command left running in its group is
            // asked to stop too, instead of being silently SIGKILLed with the
            // namespace.
            if self.target == SignalTarget::Group {
                if let Ok(true) = self.os.kill(-pid, libc::SIGTERM) {
                    if self.os.stopped(-pid) {
                        let _ = self.os.kill(-pid, libc::SIGCONT);
                    }
                    tracing::debug!(pgid = pid, "sent SIGTERM to the command's remaining group");
                }
            }
        }
        Next::Exit(code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::signal::Signal;
    use nix::unistd::Pid;

    /// Records every call; processes are alive until `gone` says otherwise.
    #[derive(Default)]
    struct Fake {
        calls: Vec<(i32, i32)>,
        all_calls: Vec<i32>,
        gone: bool,
        handles: Option<bool>,
        others: bool,
        /// Some process is stopped.
        stopped: bool,
        /// The commands whose strays were told, in order.
        strays: Vec<i32>,
    }

    impl Os for &mut Fake {
        fn kill(&mut self, pid: i32, signo: i32) -> io::Result<bool> {
            self.calls.push((pid, signo));
            Ok(!self.gone)
        }
        fn kill_all(&mut self, signo: i32) -> io::Result<bool> {
            self.all_calls.push(signo);
            Ok(self.others)
        }
        fn handles(&self, _: i32, _: i32) -> Option<bool> {
            self.handles
        }
        fn stopped(&self, _: i32) -> bool {
            self.stopped
        }
        fn terminate_strays(&mut self, command: i32) -> usize {
            self.strays.push(command);
            1
        }
    }

    #[test]
    fn a_sigterm_is_held_for_the_drain_and_a_second_one_cuts_it_short() {
        let mut fake = Fake::default();
        let now = Instant::now();
        let drain = Duration::from_secs(5);
        let mut p = policy(&mut fake, Some(7)).with_drain(drain);
        assert_eq!(p.receive(libc::SIGTERM, 0, now), None);
        assert!(p.held_until().is_some());
        assert_eq!(p.held_until(), Some(now + drain));
        // Other signals go on meanwhile.
        let usr1 = p.receive(libc::SIGUSR1, 0, now).unwrap();
        assert_eq!(usr1.signo, libc::SIGUSR1);
        // A second SIGINT: the first SIGTERM goes on, with its own time.
        let first = p.receive(libc::SIGINT, 0, now + drain / 2).unwrap();
        assert_eq!((first.signo, first.came), (libc::SIGTERM, now));
        assert!(p.held_until().is_none());
        p.on_signal(first.signo, first.sender, first.came);
        assert_eq!(p.deadline(), Some(now + GRACE));
        assert!(p.os.calls.contains(&(-7, libc::SIGTERM)));
    }

    #[test]
    fn without_a_drain_delay_or_from_agent_init_itself_nothing_is_held() {
        let mut fake = Fake::default();
        let now = Instant::now();
        let mut p = policy(&mut fake, Some(7));
        assert!(p.receive(libc::SIGTERM, 0, now).is_some());
        let mut fake = Fake::default();
        let mut p = policy(&mut fake, Some(7)).with_drain(Duration::from_secs(5));
        // Sent by agent-init itself (own pid 1).
        assert!(p.receive(libc::SIGTERM, 1, now).is_some());
        assert!(p.held_until().is_none());
    }

    #[test]
    fn the_held_signal_goes_on_when_the_drain_ends() {
        let mut fake = Fake::default();
        let now = Instant::now();
        let mut p = policy(&mut fake, Some(7)).with_drain(Duration::from_secs(5));
        assert_eq!(p.receive(libc::SIGTERM, 0, now), None);
        let held = p.release_held().unwrap();
        assert_eq!((held.signo, held.came), (libc::SIGTERM, now));
        assert_eq!(p.release_held(), None);
    }

    #[test]
    fn strays_are_told_once_with_the_commands_sigterm_and_not_in_keep_alive_mode() {
        let mut fake = Fake::default();
        let now = Instant::now();
        let mut p = policy(&mut fake, Some(7));
        p.on_signal(libc::SIGTERM, 0, now);
        p.on_signal(libc::SIGTERM, 0, now);
        p.tell_strays();
        assert_eq!(p.os.strays, [7]);
        // Keep-alive: no command, no strays of it.
        let mut fake = Fake::default();
        let mut p = policy(&mut fake, None);
        p.on_signal(libc::SIGTERM, 0, now);
        p.tell_strays();
        assert!(p.os.strays.is_empty());
    }

    #[test]
    fn strays_are_told_when_the_command_ended_on_its_own() {
        let mut fake = Fake::default();
        let mut p = policy(&mut fake, Some(7));
        let exited = WaitStatus::Exited(nix::unistd::Pid::from_raw(7), 0);
        assert_eq!(p.on_command_exit(exited), Next::Exit(0));
        p.tell_strays();
        p.tell_strays();
        assert_eq!(p.os.strays, [7]);
    }

    const GRACE: Duration = Duration::from_secs(8);

    fn policy(fake: &mut Fake, command: Option<i32>) -> Policy<&mut Fake> {
        let mut p = Policy::new(fake, 1, GRACE, SignalTarget::Group);
        if let Some(pid) = command {
            p.command_started(pid);
        }
        p
    }

    #[test]
    fn a_stop_signal_replaces_sigterm_and_sigint_but_no_other() {
        let mut fake = Fake::default();
        let now = Instant::now();
        let mut p = policy(&mut fake, Some(7)).with_stop_signal(Some(libc::SIGINT));
        p.on_signal(libc::SIGUSR1, 0, now);
        p.on_signal(libc::SIGTERM, 0, now);
        assert_eq!(p.os.calls, vec![(-7, libc::SIGUSR1), (-7, libc::SIGINT)]);
        assert_eq!(p.deadline(), Some(now + GRACE));
        assert_eq!(p.stop_signal(), libc::SIGINT);
    }

    #[test]
    fn a_stop_for_another_reason_forwards_its_signal_and_starts_the_grace_period() {
        let mut fake = Fake::default();
        let now = Instant::now();
        let mut p = policy(&mut fake, Some(7));
        assert_eq!(p.stop_with(libc::SIGUSR1, now), Next::Continue);
        assert_eq!(p.os.calls, vec![(-7, libc::SIGUSR1)]);
        assert_eq!(p.deadline(), Some(now + GRACE));
        assert_eq!(p.os.strays, vec![7]);
    }

    #[test]
    fn sigcont_follows_sigterm_only_to_a_stopped_command() {
        for stopped in [false, true] {
            let mut fake = Fake {
                stopped,
                ..Fake::default()
            };
            let mut p = policy(&mut fake, Some(7));
            p.on_signal(libc::SIGTERM, 0, Instant::now());
            let conts = p.os.calls.iter().filter(|c| c.1 == libc::SIGCONT).count();
            assert_eq!(conts, usize::from(stopped));
        }
    }

    #[test]
    fn signals_go_to_the_commands_group() {
        let mut fake = Fake::default();
        let mut p = policy(&mut fake, Some(7));
        assert_eq!(
            p.on_signal(libc::SIGUSR1, 0, Instant::now()),
            Next::Continue
        );
        assert_eq!(p.os.calls, [(-7, libc::SIGUSR1)]);
        assert!(!p.stopping());
    }

    #[test]
    fn a_gone_group_falls_back_to_the_command() {
        let mut fake = Fake {
            gone: true,
            ..Fake::default()
        };
        let mut p = policy(&mut fake, Some(7));
        p.on_signal(libc::SIGHUP, 0, Instant::now());
        assert_eq!(p.os.calls, [(-7, libc::SIGHUP), (7, libc::SIGHUP)]);
    }

    #[test]
    fn own_signals_are_not_forwarded() {
        let mut fake = Fake::default();
        let mut p = policy(&mut fake, Some(7));
        p.on_signal(libc::SIGPIPE, 1, Instant::now());
        assert!(p.os.calls.is_empty());
    }

    #[test]
    fn sigterm_starts_the_grace_period_and_its_end_kills_the_group() {
        let mut fake = Fake {
            stopped: true,
            ..Fake::default()
        };
        let mut p = policy(&mut fake, Some(7));
        let t0 = Instant::now();
        p.on_signal(libc::SIGTERM, 0, t0);
        assert!(p.stopping());
        assert_eq!(p.wake_at(t0), Some(t0 + GRACE));
        assert_eq!(p.on_deadline(t0 + GRACE / 2), Next::Continue);
        assert_eq!(p.on_deadline(t0 + GRACE), Next::Continue);
        assert_eq!(
            p.os.calls,
            [
                (-7, libc::SIGTERM),
                (-7, libc::SIGCONT),
                (-7, libc::SIGKILL),
                (7, libc::SIGKILL)
            ]
        );
        // The loop sleeps without a timer once the SIGKILL is out.
        assert_eq!(p.wake_at(t0 + GRACE), None);
    }

    #[test]
    fn a_second_sigterm_keeps_the_first_deadline() {
        let mut fake = Fake::default();
        let mut p = policy(&mut fake, Some(7));
        let t0 = Instant::now();
        p.on_signal(libc::SIGTERM, 0, t0);
        p.on_signal(libc::SIGTERM, 0, t0 + Duration::from_secs(5));
        assert_eq!(p.wake_at(t0), Some(t0 + GRACE));
    }

    #[test]
    fn stop_signals_become_sigstop_for_a_command_that_leaves_them_default() {
        for (handles, expected) in [
            (Some(false), libc::SIGSTOP),
            (Some(true), libc::SIGTSTP),
            (None, libc::SIGTSTP),
        ] {
            let mut fake = Fake {
                handles,
                ..Fake::default()
            };
            let mut p = policy(&mut fake, Some(7));
            p.on_signal(libc::SIGTSTP, 0, Instant::now());
            assert_eq!(p.os.calls, [(-7, expected)], "{handles:?}");
        }
    }

    #[test]
    fn the_exit_code_follows_the_command_and_its_group_is_asked_to_stop() {
        let mut fake = Fake::default();
        let mut p = policy(&mut fake, Some(7));
        let pid = Pid::from_raw(7);
        assert_eq!(p.on_command_exit(WaitStatus::Exited(pid, 3)), Next::Exit(3));
        assert_eq!(p.os.calls, [(-7, libc::SIGTERM)]);
        let mut fake = Fake {
            stopped: true,
            ..Fake::default()
        };
        let mut p = policy(&mut fake, Some(7));
        assert_eq!(p.on_command_exit(WaitStatus::Exited(pid, 3)), Next::Exit(3));
        assert_eq!(p.os.calls, [(-7, libc::SIGTERM), (-7, libc::SIGCONT)]);
        let mut fake = Fake::default();
        let mut p = policy(&mut fake, Some(7));
        let killed = WaitStatus::Signaled(pid, Signal::SIGKILL, false);
        assert_eq!(p.on_command_exit(killed), Next::Exit(137));
    }

    #[test]
    fn keep_alive_stops_at_once_when_nothing_else_runs() {
        let mut fake = Fake::default();
        let mut p = policy(&mut fake, None);
        assert_eq!(p.on_signal(libc::SIGTERM, 0, Instant::now()), Next::Exit(0));
        assert_eq!(p.os.all_calls, [libc::SIGTERM]);
    }

    #[test]
    fn keep_alive_waits_for_exec_processes_then_kills_them() {
        let mut fake = Fake {
            others: true,
            stopped: true,
            ..Fake::default()
        };
        let mut p = policy(&mut fake, None);
        let t0 = Instant::now();
        assert_eq!(p.on_signal(libc::SIGTERM, 0, t0), Next::Continue);
        assert_eq!(p.wake_at(t0), Some(t0 + EXEC_POLL));
        assert_eq!(p.on_deadline(t0 + EXEC_POLL), Next::Continue);
        assert_eq!(p.on_deadline(t0 + GRACE), Next::Exit(0));
        assert_eq!(
            p.os.all_calls,
            [libc::SIGTERM, libc::SIGCONT, 0, libc::SIGKILL]
        );
    }

    #[test]
    fn keep_alive_ignores_other_signals() {
        let mut fake = Fake::default();
        let mut p = policy(&mut fake, None);
        assert_eq!(p.on_signal(libc::SIGHUP, 0, Instant::now()), Next::Continue);
        assert!(p.os.calls.is_empty() && p.os.all_calls.is_empty());
    }
}
