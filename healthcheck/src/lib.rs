//! Health checks for agent containers.
//!
//! A [`Check`] answers one question (is the CLI on PATH? is the MCP server
//! answering?) within a time budget. [`run`] runs a set of checks side by
//! side, each bounded by its own timeout, and gathers a [`Report`] that
//! renders as short text (Docker keeps only 4 KiB) or one JSON object.
//! Checks never write anything and make no network calls but their own.
//!
//! Checks are futures on the caller's tokio runtime. The ones that touch
//! the workspace's filesystem (which may be a network mount that hangs),
//! wait for a child or resolve a name run on the few threads of [`pool`],
//! started before any check runs, so they cannot hold up the others or the
//! timeout, and never need a new thread (which a fork storm would deny);
//! the rest (procfs, the status socket, the network) need no thread.

// A panic in PID 1 kills the container: none outside tests.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::string_slice,
        clippy::unreachable,
        clippy::todo,
        clippy::unimplemented
    )
)]

pub mod cli;
pub mod disk;
pub mod mask;
pub mod mcp;
pub mod memory;
pub mod mountinfo;
pub mod net;
pub mod pool;
pub mod probe;
pub mod process;
pub mod report;
pub mod services;
pub mod socket;
pub mod target;
pub mod workspace;

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

pub use report::{CheckResult, Report};

/// The names of the checks, as `--skip` and `check_timeouts` take them.
pub const CHECKS: [&str; 7] = [
    "process",
    "services",
    "cli",
    "workspace",
    "disk",
    "mcp",
    "memory",
];

/// What a check's future resolves to: a short detail line, or what is wrong.
pub type Outcome = Result<String, String>;

pub type BoxFuture = Pin<Box<dyn Future<Output = Outcome> + Send + 'static>>;

/// One health question.
pub trait Check: Send + Sync + 'static {
    /// Short stable name: "cli", "mcp", "memory", …
    fn name(&self) -> &'static str;
    /// Answers the question. `Ok` carries a short detail ("claude at
    /// /usr/local/bin/claude"), `Err` says what is wrong. Should finish
    /// within `timeout`; [`run`] stops waiting for it after that anyway.
    fn run(&self, timeout: Duration) -> BoxFuture;
}

/// A check with its time budget.
pub struct Planned {
    pub check: Box<dyn Check>,
    pub timeout: Duration,
}

/// Runs every check at once and waits for each at most its timeout. A check
/// that overruns is reported as failed and abandoned.
pub async fn run(checks: Vec<Planned>) -> Vec<CheckResult> {
    let runs = checks
        .into_iter()
        .map(|Planned { check, timeout }| async move {
            let name = check.name();
            let began = Instant::now();
            let outcome = match tokio::time::timeout(timeout, check.run(timeout)).await {
                Ok(outcome) => outcome,
                Err(_) => Err(format!("timed out after {}", report::fmt_duration(timeout))),
            };
            CheckResult::new(name, outcome, began.elapsed())
        });
    futures::future::join_all(runs).await
}

/// Runs `f` on one of the [`pool`]'s threads: filesystem checks that may
/// hang (a stale network mount) must not stop the runtime. Without a
/// thread the check fails, saying why.
pub async fn blocking<F>(f: F) -> Outcome
where
    F: FnOnce() -> Outcome + Send + 'static,
{
    pool::run(f).await.unwrap_or_else(Err)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(&'static str, Outcome, Duration);
    impl Check for Fixed {
        fn name(&self) -> &'static str {
            self.0
        }
        fn run(&self, _: Duration) -> BoxFuture {
            let (outcome, delay) = (self.1.clone(), self.2);
            Box::pin(async move {
                tokio::time::sleep(delay).await;
                outcome
            })
        }
    }

    struct Hung;
    impl Check for Hung {
        fn name(&self) -> &'static str {
            "hung"
        }
        fn run(&self, _: Duration) -> BoxFuture {
            Box::pin(blocking(|| {
                std::thread::sleep(Duration::from_secs(1));
                Ok("late".into())
            }))
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn overrunning_checks_fail_without_delaying_the_rest() {
        pool::start(4);
        let start = Instant::now();
        let results = run(vec![
            Planned {
                check: Box::new(Fixed("slow", Ok("fine".into()), Duration::from_secs(5))),
                timeout: Duration::from_millis(100),
            },
            Planned {
                check: Box::new(Hung),
                timeout: Duration::from_millis(100),
            },
            Planned {
                check: Box::new(Fixed("fast", Ok("fine".into()), Duration::ZERO)),
                timeout: Duration::from_secs(1),
            },
        ])
        .await;
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "{:?}",
            start.elapsed()
        );
        assert_eq!(results[0].detail, "timed out after 100.0 ms");
        assert!(!results[0].ok && !results[1].ok);
        assert!(results[2].ok);
    }
}
