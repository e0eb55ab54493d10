//! The init's side of the status socket (protocol in `healthcheck::status`):
//! answers "status" with the current state. Each request is served inline
//! by the loop, bounded by a short timeout so a silent client cannot stall
//! signal handling for long.

use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixListener;
use std::time::{Duration, Instant};

use healthcheck::status::{self, Status};

/// Longest a client may take to send its request line.
const CLIENT_TIMEOUT: Duration = Duration::from_millis(100);

pub struct StatusServer {
    listener: UnixListener,
    started: Instant,
}

impl StatusServer {
    /// Binds the socket. `None` (with a warning) when another agent-init of
    /// the same PID namespace already serves it, e.g. a nested one.
    pub fn bind() -> Option<StatusServer> {
        let result = status::address().and_then(|addr| {
            UnixListener::bind_addr(&addr).map_err(|e| format!("binding status socket: {e}"))
        });
        match result {
            Ok(listener) => {
                let _ = listener.set_nonblocking(true);
                Some(StatusServer {
                    listener,
                    started: Instant::now(),
                })
            }
            Err(e) => {
                tracing::warn!("no status socket, `agent-init health` cannot see this init: {e}");
                None
            }
        }
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.listener.as_fd()
    }

    /// Answers every pending connection.
    pub fn serve(&self, state: &State) {
        while let Ok((mut conn, _)) = self.listener.accept() {
            let _ = conn.set_nonblocking(false);
            let _ = conn.set_read_timeout(Some(CLIENT_TIMEOUT));
            let _ = conn.set_write_timeout(Some(CLIENT_TIMEOUT));
            let mut buf = [0u8; 64];
            let n = conn.read(&mut buf).unwrap_or(0);
            let request = String::from_utf8_lossy(&buf[..n]);
            let answer = match request.trim() {
                "status" => serde_json::to_vec(&state.report(self.started)).unwrap_or_default(),
                "launch" => launch_answer(&conn, state),
                other => format!("{{\"error\":\"unknown request {other:?}\"}}").into_bytes(),
            };
            let _ = conn.write_all(&answer);
        }
    }
}

/// The launch (environment with secrets, identity) goes only to root or to
/// the user the command runs as, checked with SO_PEERCRED.
fn launch_answer(conn: &std::os::unix::net::UnixStream, state: &State) -> Vec<u8> {
    use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};
    let Some(launch) = &state.launch else {
        return br#"{"error":"startup has not finished"}"#.to_vec();
    };
    let peer = getsockopt(conn, PeerCredentials).map(|c| c.uid()).ok();
    let target = launch
        .user
        .as_ref()
        .map(|t| t.uid)
        .unwrap_or_else(|| nix::unistd::geteuid().as_raw());
    match peer {
        Some(uid) if uid == 0 || uid == target => serde_json::to_vec(launch).unwrap_or_default(),
        _ => format!(
            r#"{{"error":"permission denied: only root or uid {target} may read the launch"}}"#
        )
        .into_bytes(),
    }
}

/// The init's state as the loop knows it.
#[derive(Debug, Clone)]
pub struct State {
    pub own_pid: i32,
    pub keep_alive: bool,
    pub phase: &'static str,
    pub command_pid: Option<i32>,
    /// How the command was started, once startup has finished.
    pub launch: Option<crate::steps::Launch>,
}

impl State {
    fn report(&self, started: Instant) -> Status {
        Status {
            version: env!("CARGO_PKG_VERSION").to_string(),
            pid: self.own_pid,
            mode: if self.keep_alive {
                "keep-alive"
            } else {
                "command"
            }
            .to_string(),
            phase: self.phase.to_string(),
            command_pid: self.command_pid,
            uptime_s: started.elapsed().as_secs_f64(),
        }
    }
}
