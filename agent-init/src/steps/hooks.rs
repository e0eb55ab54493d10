//! Pre-start hooks (like devcontainers' postStartCommand): each runs with
//! `sh -c` as the command's user, in its environment, with a timeout; its
//! output goes to the log line by line. A failure stops startup (exit 75).

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use super::{Launch, Pause};
use crate::config::Config;
use crate::exit::Error;

const DEFAULT_TIMEOUT: f64 = 300.0;

pub fn step(c: &Config, launch: &mut Launch, pause: &mut Pause) -> Result<Option<String>, Error> {
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
        let mut cmd = crate::init::command(&argv, launch, crate::sys::Placement::NewSession);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .map_err(|e| Error::Hook(format!("hook {name}: cannot start sh: {e}")))?;
        let pid = child.id() as i32;
        let mut readers = Vec::new();
        for (stream, out) in [
            (
                "stdout",
                child
                    .stdout
                    .take()
                    .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
            ),
            (
                "stderr",
                child
                    .stderr
                    .take()
                    .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
            ),
        ] {
            if let Some(out) = out {
                let name = name.clone();
                readers.push(std::thread::spawn(move || {
                    for line in BufReader::new(out).lines().map_while(Result::ok) {
                        tracing::info!(hook = %name, stream, "{line}");
                    }
                }));
            }
        }
        let timeout = Duration::from_secs_f64(hook.timeout.unwrap_or(DEFAULT_TIMEOUT));
        let began = Instant::now();
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if began.elapsed() >= timeout => {
                    // The hook runs in a session of its own: end all of it.
                    let _ = crate::sys::send(-pid, nix::libc::SIGKILL);
                    let _ = child.wait();
                    return Err(Error::Hook(format!(
                        "hook {name} timed out after {:.0} s",
                        timeout.as_secs_f64()
                    )));
                }
                Ok(None) => pause(Duration::from_millis(20))?,
                Err(e) => return Err(Error::Hook(format!("hook {name}: waiting: {e}"))),
            }
        };
        for r in readers {
            let _ = r.join();
        }
        if !status.success() {
            return Err(Error::Hook(format!("hook {name} failed: {status}")));
        }
        done.push(format!("{name} ({:.1} s)", began.elapsed().as_secs_f64()));
    }
    Ok(Some(format!("ran {}", done.join(", "))))
}
