//! The agent CLI is installed: found on PATH (or at its absolute path) and
//! executable, checked without running it; optionally (`deep`) its version
//! command answers within the timeout.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::unistd::{access, AccessFlags};

use crate::{blocking, BoxFuture, Check};

pub struct Cli {
    pub name: String,
    pub deep: bool,
}

/// Finds `name` like a shell would: as given when it contains a slash,
/// else the first executable match along PATH.
pub fn locate(name: &str) -> Result<PathBuf, String> {
    if name.contains('/') {
        return executable(Path::new(name)).map(|()| PathBuf::from(name));
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    let mut not_executable = None;
    for dir in std::env::split_paths(&path) {
        let candidate = dir.join(name);
        if candidate.exists() {
            match executable(&candidate) {
                Ok(()) => return Ok(candidate),
                Err(e) => not_executable = not_executable.or(Some(e)),
            }
        }
    }
    Err(not_executable
        .unwrap_or_else(|| format!("{name} not found on PATH ({})", path.to_string_lossy())))
}

fn executable(p: &Path) -> Result<(), String> {
    let meta = std::fs::metadata(p).map_err(|e| format!("{}: {e}", p.display()))?;
    if !meta.is_file() {
        return Err(format!("{} is not a file", p.display()));
    }
    access(p, AccessFlags::X_OK).map_err(|e| format!("{} is not executable: {e}", p.display()))
}

impl Check for Cli {
    fn name(&self) -> &'static str {
        "cli"
    }

    fn run(&self, timeout: Duration) -> BoxFuture {
        let (name, deep) = (self.name.clone(), self.deep);
        // Finding it is a few stat calls; running --version waits for it.
        if deep {
            Box::pin(blocking(move || check(&name, deep, timeout)))
        } else {
            Box::pin(std::future::ready(check(&name, deep, timeout)))
        }
    }
}

fn check(name: &str, deep: bool, timeout: Duration) -> Result<String, String> {
    let path = locate(name)?;
    if !deep {
        return Ok(format!("{name} at {}", path.display()));
    }
    let mut child = Command::new(&path)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("running {} --version: {e}", path.display()))?;
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => {
                let mut out = String::new();
                if let Some(mut s) = child.stdout.take() {
                    use std::io::Read;
                    let _ = s.read_to_string(&mut out);
                }
                let version = out.lines().next().unwrap_or("").trim().to_string();
                return Ok(format!("{name} at {}: {version}", path.display()));
            }
            Ok(Some(status)) => {
                return Err(format!("{} --version failed: {status}", path.display()))
            }
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "{} --version did not answer in time",
                    path.display()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(format!("waiting for {} --version: {e}", path.display())),
        }
    }
}
