//! Health checks for agent containers.
//!
//! A [`Check`] answers one question (is the CLI on PATH? is the MCP server
//! answering?) within a time budget. [`run`] runs a set of checks side by
//! side, each bounded by its own timeout, and gathers a [`Report`] that
//! renders as short text (Docker keeps only 4 KiB) or one JSON object.
//! Checks never write anything and make no network calls but their own.

pub mod cli;
pub mod disk;
pub mod http;
pub mod mcp;
pub mod memory;
pub mod mountinfo;
pub mod process;
pub mod report;
pub mod status;
pub mod workspace;

use std::sync::mpsc;
use std::time::{Duration, Instant};

pub use report::{CheckResult, Report};

/// One health question.
pub trait Check: Send + 'static {
    /// Short stable name: "cli", "mcp", "memory", …
    fn name(&self) -> &'static str;
    /// Answers the question. `Ok` carries a short detail ("claude at
    /// /usr/local/bin/claude"), `Err` says what is wrong. Must try to finish
    /// within `timeout`; [`run`] stops waiting for it after that anyway.
    fn run(&self, timeout: Duration) -> Result<String, String>;
}

/// A check with its time budget.
pub struct Planned {
    pub check: Box<dyn Check>,
    pub timeout: Duration,
}

/// Runs every check on its own thread and waits for each at most its
/// timeout. A check that overruns is reported as failed and abandoned (the
/// health command exits right after, taking the thread with it).
pub fn run(checks: Vec<Planned>) -> Vec<CheckResult> {
    let start = Instant::now();
    let pending: Vec<_> = checks
        .into_iter()
        .map(|Planned { check, timeout }| {
            let name = check.name();
            let (tx, rx) = mpsc::channel();
            let spawned = std::thread::Builder::new()
                .name(name.to_string())
                .spawn(move || {
                    let began = Instant::now();
                    let outcome = check.run(timeout);
                    let _ = tx.send((outcome, began.elapsed()));
                });
            (name, timeout, rx, spawned.is_ok())
        })
        .collect();
    pending
        .into_iter()
        .map(|(name, timeout, rx, spawned)| {
            if !spawned {
                return CheckResult::new(
                    name,
                    Err("could not start a thread".into()),
                    Duration::ZERO,
                );
            }
            let left = (start + timeout).saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok((outcome, took)) => CheckResult::new(name, outcome, took),
                Err(_) => CheckResult::new(
                    name,
                    Err(format!("timed out after {}", report::fmt_duration(timeout))),
                    start.elapsed(),
                ),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(&'static str, Result<&'static str, &'static str>, Duration);
    impl Check for Fixed {
        fn name(&self) -> &'static str {
            self.0
        }
        fn run(&self, _: Duration) -> Result<String, String> {
            std::thread::sleep(self.2);
            self.1.map(str::to_string).map_err(str::to_string)
        }
    }

    #[test]
    fn overrunning_checks_fail_without_delaying_the_rest() {
        let start = Instant::now();
        let results = run(vec![
            Planned {
                check: Box::new(Fixed("slow", Ok("fine"), Duration::from_secs(5))),
                timeout: Duration::from_millis(100),
            },
            Planned {
                check: Box::new(Fixed("fast", Ok("fine"), Duration::ZERO)),
                timeout: Duration::from_secs(1),
            },
        ]);
        assert!(start.elapsed() < Duration::from_secs(2));
        assert!(!results[0].ok);
        assert!(
            results[0].detail.contains("timed out"),
            "{}",
            results[0].detail
        );
        assert!(results[1].ok);
    }
}
