//! Pre-start hooks: `sh -c COMMAND` as the command's user, in its
//! environment, each in a session of its own, with a timeout. Output is
//! logged line by line. A hook that times out, or whose startup is
//! interrupted, is killed with its whole session.

use std::process::Stdio;
use std::time::Duration;

use crate::config::Config;
use crate::exit::Error;
use crate::launch::Launch;
use crate::sys::Placement;
use crate::{output, process, spawn};

/// How long a hook's output may keep coming after it exited (a background
/// process holding the pipe open must not hold up startup).
const DRAIN: Duration = Duration::from_millis(200);

/// Kills the hook's session when dropped, unless it ended on its own.
struct Session {
    pid: i32,
    done: bool,
}

impl Drop for Session {
    fn drop(&mut self) {
        if !self.done {
            process::Target::group(self.pid).signal(nix::libc::SIGKILL);
        }
    }
}

pub async fn step(c: &Config, launch: &Launch) -> Result<Option<String>, Error> {
    if c.hooks.is_empty() {
        return Ok(None);
    }
    let mut done = Vec::new();
    for (i, hook) in c.hooks.iter().enumerate() {
        let name = if hook.name.is_empty() {
            format!("hooks[{i}]")
        } else {
            hook.name.clone()
        };
        let argv = ["sh".into(), "-c".into(), hook.command.clone().into()];
        let mut cmd = spawn::command(&argv, launch, Placement::NewSession);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let started = process::start(cmd, "sh".as_ref())
            .map_err(|e| Error::Hook(format!("hook {name}: cannot start sh: {e}")))?;
        let (pid, exited) = (started.pid, started.exited);
        let mut session = Session { pid, done: false };
        let began = std::time::Instant::now();
        let out = started.stdout.map(|s| forward(s, name.clone(), "stdout"));
        let err = started.stderr.map(|s| forward(s, name.clone(), "stderr"));
        let readers = async {
            let out = async {
                if let Some(out) = out {
                    out.await;
                }
            };
            let err = async {
                if let Some(err) = err {
                    err.await;
                }
            };
            tokio::join!(out, err);
        };
        tokio::pin!(readers, exited);
        let deadline = tokio::time::sleep(hook.timeout.get());
        tokio::pin!(deadline);
        // The output is read while the hook runs: a hook writing more than
        // a pipe holds would otherwise block until its timeout.
        let mut drained = false;
        let status = loop {
            tokio::select! {
                status = &mut exited => break status,
                _ = &mut readers, if !drained => drained = true,
                _ = &mut deadline => {
                    return Err(Error::Hook(format!(
                        "hook {name} timed out after {}",
                        hook.timeout
                    )));
                }
            }
        }
        .map_err(|_| Error::Internal(format!("hook {name}: its exit was never seen")))?;
        session.done = true;
        if !drained {
            let _ = tokio::time::timeout(DRAIN, readers).await;
        }
        let ended = process::Ended(status);
        if ended.failed() {
            return Err(Error::Hook(format!("hook {name} failed: {ended}")));
        }
        done.push(format!("{name} ({:.1} s)", began.elapsed().as_secs_f64()));
    }
    Ok(Some(format!("ran {}", done.join(", "))))
}

/// Logs each line a hook writes to one of its streams.
async fn forward(fd: std::os::fd::OwnedFd, hook: String, stream: &'static str) {
    match output::pipe(fd) {
        Ok(pipe) => {
            output::lines(pipe, |line| tracing::info!(hook = %hook, stream, "{line}")).await
        }
        Err(e) => tracing::warn!(hook = %hook, stream, "cannot read the hook's output: {e}"),
    }
}
