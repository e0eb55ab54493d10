//! The init's side of the status socket (protocol in `healthcheck::status`):
//! answers `status` with the current state and `launch` with how the
//! command was started. It runs on a thread of its own, so no client, silent
//! or flooding, can ever delay signal handling or reaping in the loop.
//!
//! Every client must be a process of this container (see `peer`), for every
//! request; `launch`, which holds the command's secrets, is answered only to
//! root or to the uid the command runs as. Every answer is one JSON object.

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, AtomicU8, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use healthcheck::status::{self, Status, RUNNING, STARTING, STOPPING};
use serde_json::json;

use super::peer::{self, Peer};
use crate::steps::Launch;

/// Longest a client may take to send its request line.
const CLIENT_TIMEOUT: Duration = Duration::from_millis(100);
/// Longest request line; the real ones are a few bytes.
const MAX_REQUEST: usize = 256;

/// The init's state, written by the loop, read by the status thread.
pub struct Shared {
    own_pid: i32,
    keep_alive: bool,
    started: Instant,
    phase: AtomicU8,
    /// 0 while no command runs.
    command_pid: AtomicI32,
    launch: OnceLock<Launch>,
}

const PHASES: [&str; 3] = [STARTING, RUNNING, STOPPING];

impl Shared {
    pub fn new(own_pid: i32, keep_alive: bool) -> Shared {
        Shared {
            own_pid,
            keep_alive,
            started: Instant::now(),
            phase: AtomicU8::new(0),
            command_pid: AtomicI32::new(0),
            launch: OnceLock::new(),
        }
    }

    pub fn set_phase(&self, phase: &'static str) {
        let i = PHASES.iter().position(|p| *p == phase).unwrap_or(0);
        self.phase.store(i as u8, Ordering::Relaxed);
    }

    /// Startup has finished: the command (if any) runs with `launch`.
    pub fn started(&self, command_pid: Option<i32>, launch: Launch) {
        self.command_pid
            .store(command_pid.unwrap_or(0), Ordering::Relaxed);
        let _ = self.launch.set(launch);
        self.set_phase(RUNNING);
    }

    fn report(&self) -> Status {
        let pid = self.command_pid.load(Ordering::Relaxed);
        Status {
            version: env!("CARGO_PKG_VERSION").to_string(),
            pid: self.own_pid,
            mode: if self.keep_alive {
                "keep-alive"
            } else {
                "command"
            }
            .to_string(),
            phase: PHASES[self.phase.load(Ordering::Relaxed) as usize].to_string(),
            command_pid: (pid > 0).then_some(pid),
            uptime_s: self.started.elapsed().as_secs_f64(),
        }
    }
}

/// Binds the status sockets and serves them from a thread. Failing to bind
/// is not fatal (a nested agent-init finds the name taken): `agent-init
/// health` then cannot see this init, which is logged.
pub fn serve(shared: Arc<Shared>) {
    let mut listeners = Vec::new();
    match status::address()
        .and_then(|addr| UnixListener::bind_addr(&addr).map_err(|e| format!("binding: {e}")))
    {
        Ok(l) => listeners.push(l),
        Err(e) => {
            tracing::warn!("no status socket, `agent-init health` cannot see this init: {e}")
        }
    }
    if let Some(l) = bind_path() {
        listeners.push(l);
    }
    if listeners.is_empty() {
        return;
    }
    let own = peer::Own::read();
    let spawned = std::thread::Builder::new()
        .name("status".into())
        .spawn(move || loop {
            for ready in wait_readable(&listeners) {
                if let Ok((conn, _)) = listeners[ready].accept() {
                    answer(conn, &own, &shared);
                }
            }
        });
    if let Err(e) = spawned {
        tracing::warn!("no status socket: cannot start its thread: {e}");
    }
}

/// Indices of the listeners with a pending connection (blocks until one).
fn wait_readable(listeners: &[UnixListener]) -> Vec<usize> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let mut fds: Vec<PollFd> = listeners
        .iter()
        .map(|l| PollFd::new(l.as_fd(), PollFlags::POLLIN))
        .collect();
    match poll(&mut fds, PollTimeout::NONE) {
        Ok(_) => fds
            .iter()
            .enumerate()
            .filter(|(_, f)| f.revents().is_some_and(|r| !r.is_empty()))
            .map(|(i, _)| i)
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// A pathname socket in a private (0700) directory under /run, where /run
/// is writable: a second way in that the filesystem's permissions guard too.
/// The abstract socket stays, for read-only roots.
fn bind_path() -> Option<UnixListener> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    let dir = Path::new(status::RUNTIME_DIR);
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => {
            tracing::debug!("no status socket under {}: {e}", dir.display());
            return None;
        }
    }
    // Someone else's directory, or one others may write to, is not ours.
    let meta = std::fs::symlink_metadata(dir).ok()?;
    if !meta.is_dir()
        || meta.uid() != nix::unistd::geteuid().as_raw()
        || meta.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(
            "not using {}: it is not a private directory of uid {} (owner {}, mode {:o})",
            dir.display(),
            nix::unistd::geteuid(),
            meta.uid(),
            meta.permissions().mode() & 0o7777
        );
        return None;
    }
    let path: PathBuf = dir.join(status::socket_file().ok()?);
    if path.exists() {
        if UnixStream::connect(&path).is_ok() {
            tracing::debug!("{} is served by another agent-init", path.display());
            return None;
        }
        // Left behind by an earlier run of this container.
        let _ = std::fs::remove_file(&path);
    }
    UnixListener::bind(&path)
        .inspect_err(|e| tracing::debug!("binding {}: {e}", path.display()))
        .ok()
}

fn answer(mut conn: UnixStream, own: &peer::Own, shared: &Shared) {
    let _ = conn.set_read_timeout(Some(CLIENT_TIMEOUT));
    let _ = conn.set_write_timeout(Some(CLIENT_TIMEOUT));
    match own.check(&conn) {
        Err(why) => {
            // Refused before anything is read: a client from outside costs
            // no more than this answer and a moment for its request to go.
            tracing::debug!("status socket: refused a client: {why}");
            let _ = conn.write_all(&error(&why));
            let _ = conn.shutdown(std::net::Shutdown::Write);
            discard_request(&mut conn);
        }
        Ok(peer) => {
            let reply = match read_request(&mut conn) {
                Ok(request) => dispatch(&request, peer, shared),
                Err(why) => error(&why),
            };
            let _ = conn.write_all(&reply);
            let _ = conn.shutdown(std::net::Shutdown::Write);
            discard_request(&mut conn);
        }
    }
}

/// Closing a unix socket with unread data resets the connection, and the
/// client would lose the answer; so read what is left of what it sent
/// (briefly: a client that keeps sending is cut off after LINGER).
fn discard_request(conn: &mut UnixStream) {
    const LINGER: Duration = Duration::from_millis(20);
    let until = Instant::now() + LINGER;
    let _ = conn.set_read_timeout(Some(LINGER));
    let mut sink = [0u8; 512];
    while Instant::now() < until {
        match conn.read(&mut sink) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

/// One line, at most MAX_REQUEST bytes, within CLIENT_TIMEOUT.
fn read_request(conn: &mut UnixStream) -> Result<String, String> {
    let mut buf = [0u8; MAX_REQUEST + 1];
    let mut n = 0;
    while n < buf.len() {
        match conn.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => {
                n += k;
                if buf[..n].contains(&b'\n') {
                    break;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) if n == 0 => return Err("no request received in time".into()),
            Err(_) => break,
        }
    }
    if n == 0 {
        return Err("no request: the client closed its side without sending one".into());
    }
    let line = buf[..n].split(|b| *b == b'\n').next().unwrap_or(&[]);
    if n > MAX_REQUEST && !buf[..n].contains(&b'\n') {
        return Err(format!("request longer than {MAX_REQUEST} bytes"));
    }
    std::str::from_utf8(line)
        .map(|s| s.trim().to_string())
        .map_err(|_| "the request is not UTF-8 text".into())
}

fn dispatch(request: &str, peer: Peer, shared: &Shared) -> Vec<u8> {
    match request {
        "status" => serde_json::to_vec(&shared.report()).unwrap_or_default(),
        "launch" => launch_answer(peer, shared),
        "" => error("empty request (known: status, launch)"),
        other => {
            let shown: String = other.chars().take(64).collect();
            error(&format!(
                "unknown request `{shown}` (known: status, launch)"
            ))
        }
    }
}

fn error(message: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({ "error": message })).unwrap_or_default()
}

/// The launch (environment with secrets, identity) goes only to root or to
/// the user the command runs as.
fn launch_answer(peer: Peer, shared: &Shared) -> Vec<u8> {
    let Some(launch) = shared.launch.get() else {
        return error("startup has not finished");
    };
    let target = launch
        .user
        .as_ref()
        .map(|t| t.uid)
        .unwrap_or_else(|| nix::unistd::geteuid().as_raw());
    if peer.uid == 0 || peer.uid == target {
        serde_json::to_vec(launch).unwrap_or_default()
    } else {
        error(&format!(
            "permission denied: only root or uid {target} may read the launch"
        ))
    }
}
