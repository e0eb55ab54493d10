//! The status socket: how the running init tells other processes of its container (`agent-init
//! health`, `agent-init exec`) what state it is in: one request line, one
//! JSON answer, over a unix socket. The init always serves an abstract
//! socket: it needs no file, so it works on a read-only root filesystem, and
//! its name carries the PID namespace's inode, so two containers sharing a
//! network namespace (a Kubernetes pod) never clash. Abstract sockets are
//! reachable from the whole network namespace, so the init answers only
//! processes of its own container. Where /run is writable it also serves a
//! pathname socket in a private directory, which clients try first.

use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::SocketAddr;
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
    /// Seconds since the command started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command_uptime_s: Option<f64>,
    #[serde(default)]
    pub services: Vec<ServiceStatus>,
    #[serde(default)]
    pub jobs: Vec<JobStatus>,
}

/// A supervised service as the init sees it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct ServiceStatus {
    pub name: String,
    /// waiting (for its dependencies), starting, ready, backoff (restarting
    /// soon), failed (crash loop, or could not start), exited (done, by its
    /// restart policy), stopping, stopped.
    pub state: String,
    pub pid: Option<i32>,
    /// The command waits for it and readiness needs it.
    pub required: bool,
    pub restarts: u32,
    /// Seconds since it (last) started, while it runs.
    pub uptime_s: Option<f64>,
    /// How it last ended: "exited with 1", "killed by SIGKILL".
    pub last_exit: Option<String>,
}

pub const SERVICE_READY: &str = "ready";

/// The health settings the init runs its probes with (`health` request):
/// `agent-init health` beside it starts from these, whichever way the init
/// was configured (a file at another path, a variable or a flag only the
/// init was given), so both answer the same for the same state.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct HealthSettings {
    /// The MCP server (or other dependency) checked, as configured; its
    /// credentials only for root or the command's user.
    pub mcp: Option<String>,
    pub cli: Option<String>,
    pub deep: bool,
    pub workspace: Option<String>,
    pub require_mount: bool,
    pub min_free_memory_mb: u64,
    pub min_free_disk_mb: u64,
    pub min_free_inodes: u64,
    pub timeout_s: f64,
    /// Per-check budgets: (check, seconds).
    #[serde(default)]
    pub check_timeouts: Vec<(String, f64)>,
    #[serde(default)]
    pub skip: Vec<String>,
    /// The init supervises services: readiness needs the required ones.
    pub services: bool,
}

/// The wire form of the answer to `health`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct HealthAnswer {
    pub settings: HealthSettings,
}

/// Asks the running init for the settings its probes use.
pub async fn health_settings(timeout: Duration) -> Result<HealthSettings, String> {
    let answer = ask("health", timeout).await?;
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&answer) {
        if let Some(e) = v.get("error").and_then(|e| e.as_str()) {
            return Err(format!("agent-init answered: {e}"));
        }
    }
    serde_json::from_slice::<HealthAnswer>(&answer)
        .map(|a| a.settings)
        .map_err(|e| format!("bad health answer from agent-init: {e}"))
}

/// A periodic job as the init sees it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct JobStatus {
    pub name: String,
    /// The pid of the run in progress.
    pub pid: Option<i32>,
    pub every_s: f64,
    pub runs: u64,
    /// Runs skipped because the one before was still going.
    pub skipped: u64,
    pub last: Option<JobRun>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct JobRun {
    /// Seconds since it started.
    pub ago_s: f64,
    pub duration_ms: f64,
    /// "exited with 0", "timed out after 30s", "could not start: …".
    pub outcome: String,
    pub ok: bool,
}

pub const STARTING: &str = "starting";
pub const RUNNING: &str = "running";
pub const STOPPING: &str = "stopping";

/// The private directory of the pathname socket.
pub const RUNTIME_DIR: &str = "/run/agent-init";

/// The inode of this process's PID namespace: both sockets are named after
/// it, so two inits that share a network namespace or a /run never clash.
fn pid_namespace() -> Result<String, String> {
    // Read once: a process never changes its PID namespace.
    static NS: std::sync::OnceLock<Result<String, String>> = std::sync::OnceLock::new();
    NS.get_or_init(|| {
        let link = std::fs::read_link("/proc/self/ns/pid")
            .map_err(|e| format!("reading /proc/self/ns/pid: {e}"))?;
        Ok(link
            .to_string_lossy()
            .chars()
            .filter(char::is_ascii_digit)
            .collect())
    })
    .clone()
}

/// The abstract socket name for this PID namespace.
pub fn socket_name() -> Result<String, String> {
    Ok(format!("agent-init/{}/status", pid_namespace()?))
}

/// The pathname socket's file name in [`RUNTIME_DIR`].
pub fn socket_file() -> Result<String, String> {
    Ok(format!("status-{}.sock", pid_namespace()?))
}

pub fn address() -> Result<SocketAddr, String> {
    let name = socket_name()?;
    SocketAddr::from_abstract_name(name.as_bytes()).map_err(|e| format!("socket name {name}: {e}"))
}

/// Asks the running init for its status.
pub async fn query(timeout: Duration) -> Result<Status, String> {
    let answer = ask("status", timeout).await?;
    serde_json::from_slice(&answer).map_err(|e| format!("bad status answer from agent-init: {e}"))
}

/// [`ask`], for a caller without a runtime (`agent-init exec`).
pub fn request(what: &str, timeout: Duration) -> Result<Vec<u8>, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("starting a runtime: {e}"))?
        .block_on(ask(what, timeout))
}

/// Sends one request line and returns the whole answer, all within
/// `timeout`: an init that does not answer costs no more.
pub async fn ask(what: &str, timeout: Duration) -> Result<Vec<u8>, String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::UnixStream;
    let exchange = async {
        let path = std::path::Path::new(RUNTIME_DIR).join(socket_file()?);
        let mut s = match UnixStream::connect(&path).await {
            Ok(s) => s,
            // Absent, or not ours to open: the abstract socket is always
            // there (a leading NUL names it).
            Err(_) => UnixStream::connect(format!("\0{}", socket_name()?))
                .await
                .map_err(|e| {
                    format!(
                        "cannot reach agent-init's status socket: {e} (is agent-init PID 1 of this container?)"
                    )
                })?,
        };
        // A refusal may come before the request is read: the write then
        // fails, and the answer still waits to be read.
        let written = s.write_all(format!("{what}\n").as_bytes()).await;
        let mut out = Vec::new();
        let read = s.read_to_end(&mut out).await;
        if out.is_empty() {
            written.map_err(|e| format!("asking agent-init: {e}"))?;
            read.map_err(|e| format!("reading agent-init's answer: {e}"))?;
            return Err(format!("agent-init gave no answer to `{what}`"));
        }
        Ok(out)
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .unwrap_or_else(|_| Err(format!("agent-init did not answer `{what}` in time")))
}
