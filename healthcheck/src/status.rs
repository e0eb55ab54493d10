//! How the running init tells other processes of its container (`agent-init
//! health`, `agent-init exec`) what state it is in: a JSON answer on an
//! abstract unix socket. Abstract sockets need no file, so this works on a
//! read-only root filesystem; the name carries the PID namespace's inode, so
//! two containers sharing a network namespace (a Kubernetes pod) never clash.

use std::io::{Read, Write};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixStream};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What the init reports.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Status {
    pub version: String,
    /// agent-init's pid in its own PID namespace (1 in a container).
    pub pid: i32,
    /// "command" or "keep-alive".
    pub mode: String,
    /// "starting" (startup steps running), "running", or "stopping".
    pub phase: String,
    /// The command's pid, in command mode.
    pub command_pid: Option<i32>,
    /// Seconds since agent-init started.
    pub uptime_s: f64,
}

pub const STARTING: &str = "starting";
pub const RUNNING: &str = "running";
pub const STOPPING: &str = "stopping";

/// The abstract socket name for this PID namespace.
pub fn socket_name() -> Result<String, String> {
    let link = std::fs::read_link("/proc/self/ns/pid")
        .map_err(|e| format!("reading /proc/self/ns/pid: {e}"))?;
    let link = link.to_string_lossy();
    let inode: String = link.chars().filter(char::is_ascii_digit).collect();
    Ok(format!("agent-init/{inode}/status"))
}

pub fn address() -> Result<SocketAddr, String> {
    let name = socket_name()?;
    SocketAddr::from_abstract_name(name.as_bytes()).map_err(|e| format!("socket name {name}: {e}"))
}

/// Asks the running init for its status.
pub fn query(timeout: Duration) -> Result<Status, String> {
    let answer = request("status", timeout)?;
    serde_json::from_slice(&answer).map_err(|e| format!("bad status answer from agent-init: {e}"))
}

/// Sends one request line and returns the whole answer.
pub fn request(what: &str, timeout: Duration) -> Result<Vec<u8>, String> {
    let addr = address()?;
    let mut s = UnixStream::connect_addr(&addr).map_err(|e| {
        format!(
            "cannot reach agent-init's status socket: {e} (is agent-init PID 1 of this container?)"
        )
    })?;
    s.set_read_timeout(Some(timeout)).ok();
    s.set_write_timeout(Some(timeout)).ok();
    s.write_all(format!("{what}\n").as_bytes())
        .map_err(|e| format!("asking agent-init: {e}"))?;
    let mut out = Vec::new();
    s.read_to_end(&mut out)
        .map_err(|e| format!("reading agent-init's answer: {e}"))?;
    if out.is_empty() {
        return Err(format!("agent-init gave no answer to `{what}`"));
    }
    Ok(out)
}
