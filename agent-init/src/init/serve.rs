//! The init's side of the status socket (protocol in `healthcheck::socket`):
//! answers `status` with the current state and `launch` with how the
//! command was started. Each client is served by a task of its own, bounded
//! in time, so no client, silent or flooding, can delay another one, signal
//! handling or reaping.
//!
//! Every client must be a process of this container (see `peer`), for every
//! request; `launch`, which holds the command's secrets, is answered only to
//! root or to the uid the command runs as. Every answer is one JSON object.

// Arithmetic on lengths and counts taken from input: checked or
// saturating, never a panic or a wrap.
#![cfg_attr(not(test), deny(clippy::arithmetic_side_effects))]

use std::os::unix::net::{UnixListener as StdListener, UnixStream as StdStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use healthcheck::socket as status;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};

use super::peer::{self, Peer};
use crate::state::Shared;

/// Longest a client may take to send its request line.
const CLIENT_TIMEOUT: Duration = Duration::from_millis(100);
/// How long a refused or answered client may take to stop sending.
const LINGER: Duration = Duration::from_millis(20);
/// Longest request line; the real ones are a few bytes.
const MAX_REQUEST: usize = 256;

/// Binds the status sockets and serves them. Failing to bind is not fatal
/// (a nested agent-init finds the name taken): `agent-init health` then
/// cannot see this init, which is logged.
pub fn serve(shared: Arc<Shared>) {
    let mut listeners = Vec::new();
    match status::address()
        .and_then(|addr| StdListener::bind_addr(&addr).map_err(|e| format!("binding: {e}")))
    {
        Ok(l) => listeners.push(l),
        Err(e) => {
            tracing::warn!("no status socket, `agent-init health` cannot see this init: {e}")
        }
    }
    if let Some(l) = bind_path() {
        listeners.push(l);
    }
    let own = Arc::new(peer::Own::read());
    for std in listeners {
        let listener = std
            .set_nonblocking(true)
            .and_then(|()| UnixListener::from_std(std));
        let listener = match listener {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!("status socket: {e}");
                continue;
            }
        };
        let (own, shared) = (own.clone(), shared.clone());
        tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((conn, _)) => {
                        let (own, shared) = (own.clone(), shared.clone());
                        tokio::spawn(async move { answer(conn, &own, &shared).await });
                    }
                    // Out of descriptors, say: try again shortly.
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
        });
    }
}

/// A pathname socket in a private (0700) directory under /run, where /run
/// is writable: a second way in that the filesystem's permissions guard too.
/// The abstract socket stays, for read-only roots.
fn bind_path() -> Option<StdListener> {
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
    match StdListener::bind(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            if StdStream::connect(&path).is_ok() {
                tracing::debug!("{} is served by another agent-init", path.display());
                return None;
            }
            // Left behind by an earlier run of this container.
            let _ = std::fs::remove_file(&path);
            StdListener::bind(&path)
        }
        other => other,
    }
    .inspect_err(|e| tracing::debug!("binding {}: {e}", path.display()))
    .ok()
}

async fn answer(mut conn: UnixStream, own: &peer::Own, shared: &Shared) {
    let reply = match own.check(&conn) {
        Err(why) => {
            // Refused before anything is read: a client from outside costs
            // no more than this answer and a moment for its request to go.
            tracing::debug!("status socket: refused a client: {why}");
            error(&why)
        }
        Ok(peer) => match read_request(&mut conn).await {
            Ok(request) => dispatch(&request, peer, shared),
            Err(why) => error(&why),
        },
    };
    let _ = tokio::time::timeout(CLIENT_TIMEOUT, conn.write_all(&reply)).await;
    let _ = conn.shutdown().await;
    discard(&mut conn).await;
}

/// Closing a unix socket with unread data resets the connection, and the
/// client would lose the answer; so read what is left of what it sent
/// (briefly: a client that keeps sending is cut off after LINGER).
async fn discard(conn: &mut UnixStream) {
    let mut sink = [0u8; 512];
    let _ = tokio::time::timeout(LINGER, async {
        while let Ok(n) = conn.read(&mut sink).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
}

/// One line, at most MAX_REQUEST bytes, within CLIENT_TIMEOUT.
async fn read_request(conn: &mut UnixStream) -> Result<String, String> {
    let mut buf = [0u8; MAX_REQUEST + 1];
    let mut n = 0;
    let read = async {
        while let Some(free) = buf.get_mut(n..).filter(|f| !f.is_empty()) {
            match conn.read(free).await {
                Ok(0) | Err(_) => break,
                Ok(k) => {
                    n = n.saturating_add(k);
                    if buf.get(..n).is_some_and(|b| b.contains(&b'\n')) {
                        break;
                    }
                }
            }
        }
    };
    let timed_out = tokio::time::timeout(CLIENT_TIMEOUT, read).await.is_err();
    if n == 0 {
        return Err(if timed_out {
            "no request received in time".into()
        } else {
            "no request: the client closed its side without sending one".into()
        });
    }
    request_line(buf.get(..n).unwrap_or_default())
}

/// The request in what a client sent: its first line, as text.
pub fn request_line(got: &[u8]) -> Result<String, String> {
    let line = got.split(|b| *b == b'\n').next().unwrap_or(&[]);
    if got.len() > MAX_REQUEST && !got.contains(&b'\n') {
        return Err(format!("request longer than {MAX_REQUEST} bytes"));
    }
    std::str::from_utf8(line)
        .map(|s| s.trim().to_string())
        .map_err(|_| "the request is not UTF-8 text".into())
}

/// The answer to what a client sent (root asking, the init running with
/// no command yet), for the fuzz targets.
pub fn answer_bytes(got: &[u8]) -> Vec<u8> {
    let shared = Shared::new(1, true);
    match request_line(got) {
        Ok(request) => dispatch(&request, Peer { pid: 1, uid: 0 }, &shared),
        Err(why) => error(&why),
    }
}

fn dispatch(request: &str, peer: Peer, shared: &Shared) -> Vec<u8> {
    match request {
        "status" => serde_json::to_vec(&shared.report()).unwrap_or_default(),
        "launch" => launch_answer(peer, shared),
        "health" => health_answer(peer, shared),
        "" => error("empty request (known: status, launch, health)"),
        other => {
            let shown: String = other.chars().take(64).collect();
            error(&format!(
                "unknown request `{shown}` (known: status, launch, health)"
            ))
        }
    }
}

fn error(message: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({ "error": message })).unwrap_or_default()
}

/// The health settings; a URL's credentials only for root or the user the
/// command runs as (who could read them in the launch anyway).
fn health_answer(peer: Peer, shared: &Shared) -> Vec<u8> {
    let Some(settings) = shared.health() else {
        return error("no health settings yet");
    };
    let mut settings = settings.clone();
    let trusted = peer.uid == 0 || shared.launch().is_some_and(|l| l.uid() == peer.uid);
    if !trusted {
        settings.mcp = settings
            .mcp
            .map(|u| healthcheck::target::without_userinfo(&u));
    }
    serde_json::to_vec(&healthcheck::socket::HealthAnswer { settings }).unwrap_or_default()
}

/// The launch (environment with secrets, identity) goes only to root or to
/// the user the command runs as.
fn launch_answer(peer: Peer, shared: &Shared) -> Vec<u8> {
    let Some(launch) = shared.launch() else {
        return error("startup has not finished");
    };
    let target = launch.uid();
    if peer.uid == 0 || peer.uid == target {
        serde_json::to_vec(launch).unwrap_or_default()
    } else {
        error(&format!(
            "permission denied: only root or uid {target} may read the launch"
        ))
    }
}
