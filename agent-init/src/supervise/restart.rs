//! When a service that exited starts again: exponential backoff (the first
//! delay doubling up to a maximum), forgotten after a minute of healthy
//! running; five restarts within a minute are a crash loop, and the service
//! is given up as failed. Decisions only: the caller sleeps and spawns.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::config::Restart;

/// Running this long counts as healthy: the backoff starts over.
pub const HEALTHY: Duration = Duration::from_secs(60);
/// This many restarts within [`HEALTHY`] are a crash loop.
pub const CRASH_LIMIT: usize = 5;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Start it again after this delay.
    Restart(Duration),
    /// Its restart policy says it is done.
    Done,
    /// A crash loop: give up.
    Failed,
}

pub struct Backoff {
    first: Duration,
    max: Duration,
    next: Duration,
    /// When the recent restarts happened.
    recent: VecDeque<Instant>,
}

impl Backoff {
    pub fn new(first: Duration, max: Duration) -> Backoff {
        Backoff {
            first,
            max: max.max(first),
            next: first,
            recent: VecDeque::new(),
        }
    }

    /// The service, started at `started`, exited at `now`; `failed` when
    /// it exited non-zero or by a signal.
    pub fn on_exit(
        &mut self,
        policy: Restart,
        failed: bool,
        started: Instant,
        now: Instant,
    ) -> Decision {
        match policy {
            Restart::Never => return Decision::Done,
            Restart::OnFailure if !failed => return Decision::Done,
            _ => {}
        }
        if now.saturating_duration_since(started) >= HEALTHY {
            self.next = self.first;
            self.recent.clear();
        }
        while self
            .recent
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= HEALTHY)
        {
            self.recent.pop_front();
        }
        if self.recent.len() >= CRASH_LIMIT {
            return Decision::Failed;
        }
        self.recent.push_back(now);
        let delay = self.next;
        self.next = (self.next * 2).min(self.max);
        Decision::Restart(delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn delays_double_up_to_the_maximum() {
        let mut b = Backoff::new(S, 30 * S);
        let t0 = Instant::now();
        let mut delays = Vec::new();
        let mut t = t0;
        for _ in 0..4 {
            // Each run lasts 100 s, so no crash loop builds up.
            let started = t;
            t += 100 * S;
            match b.on_exit(Restart::Always, true, started, t) {
                Decision::Restart(d) => delays.push(d.as_secs()),
                d => panic!("{d:?}"),
            }
            // Healthy runs reset it: every delay is the first.
        }
        assert_eq!(delays, [1, 1, 1, 1]);
        let mut b = Backoff::new(S, 30 * S);
        let mut delays = Vec::new();
        for i in 0..7u32 {
            // Quick crashes, but spread out so the crash loop never trips.
            let at = t0 + Duration::from_secs(u64::from(i) * 15);
            match b.on_exit(Restart::Always, true, at, at) {
                Decision::Restart(d) => delays.push(d.as_secs()),
                d => panic!("{d:?}"),
            }
        }
        assert_eq!(delays, [1, 2, 4, 8, 16, 30, 30]);
    }

    #[test]
    fn five_restarts_within_a_minute_are_a_crash_loop() {
        let mut b = Backoff::new(S, 30 * S);
        let t0 = Instant::now();
        for i in 0..5 {
            let at = t0 + i * S;
            assert!(matches!(
                b.on_exit(Restart::Always, true, at, at),
                Decision::Restart(_)
            ));
        }
        let at = t0 + 5 * S;
        assert_eq!(b.on_exit(Restart::Always, true, at, at), Decision::Failed);
    }

    #[test]
    fn the_policy_decides_whether_to_restart_at_all() {
        let t = Instant::now();
        let mut b = Backoff::new(S, 30 * S);
        assert_eq!(b.on_exit(Restart::Never, true, t, t), Decision::Done);
        assert_eq!(b.on_exit(Restart::OnFailure, false, t, t), Decision::Done);
        assert_eq!(
            b.on_exit(Restart::OnFailure, true, t, t),
            Decision::Restart(S)
        );
        assert_eq!(
            b.on_exit(Restart::Always, false, t, t),
            Decision::Restart(2 * S)
        );
    }
}
