//! `agent-init health` and the init's HTTP probe endpoint: which checks a
//! probe runs, with which budgets, and how the answer is shown. The checks
//! themselves live in the `healthcheck` crate. Everything here takes a
//! loaded `Config`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use healthcheck::{
    cli, disk, memory, probe, process, services, target, workspace, Check, Planned, Report,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use healthcheck::socket::HealthSettings;

use crate::config::{Config, Loaded, Probe};
use crate::exit::Error;

/// Exit codes of `agent-init health`. Docker reserves 2: never used.
pub const HEALTHY: u8 = 0;
pub const UNHEALTHY: u8 = 1;

/// How `agent-init health` prints its report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

/// What the checks look at, from the configuration.
#[derive(Debug, Clone)]
pub struct HealthOptions {
    pub mcp: Option<target::Target>,
    /// `mcp` as configured (expanded), for the init's `health` answer.
    pub mcp_spec: Option<String>,
    pub cli: Option<String>,
    pub deep: bool,
    pub workspace: Option<std::path::PathBuf>,
    pub require_mount: bool,
    pub min_free_memory: u64,
    pub min_free_disk: u64,
    pub min_free_inodes: u64,
    pub timeout: Duration,
    pub check_timeouts: Vec<(String, Duration)>,
    pub skip: Vec<String>,
    /// The init supervises services: readiness needs the required ones.
    pub services: bool,
}

impl HealthOptions {
    pub fn from_config(c: &Config) -> Result<Self, Error> {
        let h = &c.health;
        let mcp_spec = match &h.mcp {
            Some(url) => Some(crate::config::expand(url, "health.mcp", &|n| {
                std::env::var(n).ok()
            })?),
            None => None,
        };
        let mcp = match &mcp_spec {
            Some(url) => {
                Some(target::parse(url).map_err(|e| Error::Config(format!("health.mcp: {e}")))?)
            }
            None => None,
        };
        // A preset names the CLI the health check looks for.
        let cli = h
            .cli
            .clone()
            .or_else(|| c.preset.map(|p| p.cli.to_string()));
        Ok(HealthOptions {
            mcp,
            mcp_spec,
            cli,
            deep: h.deep,
            workspace: c.workspace.path.clone().filter(|_| c.workspace.enabled),
            require_mount: c.workspace.require_mount,
            min_free_memory: h.min_free_memory_mb,
            min_free_disk: h.min_free_disk_mb,
            min_free_inodes: h.min_free_inodes,
            timeout: h.timeout.get(),
            check_timeouts: h
                .check_timeouts
                .iter()
                .map(|(k, v)| (k.to_string(), v.get()))
                .collect(),
            skip: h.skip.iter().map(ToString::to_string).collect(),
            services: !c.services.is_empty(),
        })
    }
}

impl HealthOptions {
    /// What the init tells `agent-init health` (see [`Self::from_settings`]).
    pub fn to_settings(&self) -> HealthSettings {
        HealthSettings {
            mcp: self.mcp_spec.clone(),
            cli: self.cli.clone(),
            deep: self.deep,
            workspace: self
                .workspace
                .as_ref()
                .map(|p| p.to_string_lossy().into_owned()),
            require_mount: self.require_mount,
            min_free_memory_mb: self.min_free_memory,
            min_free_disk_mb: self.min_free_disk,
            min_free_inodes: self.min_free_inodes,
            timeout_s: self.timeout.as_secs_f64(),
            check_timeouts: self
                .check_timeouts
                .iter()
                .map(|(k, v)| (k.clone(), v.as_secs_f64()))
                .collect(),
            skip: self.skip.clone(),
            services: self.services,
        }
    }

    /// The running init's settings, with what `own` (this command's
    /// configuration) sets on its command line (`from_flag` tells which
    /// keys) over them: a flag given to `agent-init health` still counts.
    pub fn from_settings(
        s: &HealthSettings,
        own: &HealthOptions,
        from_flag: &dyn Fn(&str) -> bool,
    ) -> Result<Self, String> {
        let seconds = |v: f64, what: &str| {
            Duration::try_from_secs_f64(v)
                .map_err(|_| format!("the init's {what} is not a duration: {v}"))
        };
        let mcp = match &s.mcp {
            Some(url) => {
                Some(target::parse(url).map_err(|e| format!("the init's health.mcp: {e}"))?)
            }
            None => None,
        };
        let mut check_timeouts = Vec::new();
        for (k, v) in &s.check_timeouts {
            check_timeouts.push((k.clone(), seconds(*v, "check timeout")?));
        }
        let mut o = HealthOptions {
            mcp,
            mcp_spec: s.mcp.clone(),
            cli: s.cli.clone(),
            deep: s.deep,
            workspace: s.workspace.as_ref().map(std::path::PathBuf::from),
            require_mount: s.require_mount,
            min_free_memory: s.min_free_memory_mb,
            min_free_disk: s.min_free_disk_mb,
            min_free_inodes: s.min_free_inodes,
            timeout: seconds(s.timeout_s, "health.timeout")?,
            check_timeouts,
            skip: s.skip.clone(),
            services: s.services,
        };
        // Not ours to know (the init keeps a URL's credentials for root and
        // the command's user): this command's own reading of it, if any.
        let withheld = s
            .mcp
            .as_deref()
            .is_some_and(|u| u.contains(&format!("{}@", crate::logging::REDACTED)));
        if from_flag("health.mcp") || withheld {
            o.mcp = own.mcp.clone();
            o.mcp_spec = own.mcp_spec.clone();
        }
        if from_flag("health.cli") || from_flag("preset") {
            o.cli = own.cli.clone();
        }
        if from_flag("health.deep") {
            o.deep = own.deep;
        }
        if from_flag("workspace.path") || from_flag("workspace.enabled") {
            o.workspace = own.workspace.clone();
        }
        if from_flag("workspace.require_mount") {
            o.require_mount = own.require_mount;
        }
        if from_flag("health.min_free_memory_mb") {
            o.min_free_memory = own.min_free_memory;
        }
        if from_flag("health.min_free_disk_mb") {
            o.min_free_disk = own.min_free_disk;
        }
        if from_flag("health.min_free_inodes") {
            o.min_free_inodes = own.min_free_inodes;
        }
        if from_flag("health.timeout") {
            o.timeout = own.timeout;
        }
        if from_flag("health.check_timeouts") {
            // The last one for a check wins (see `plan`).
            o.check_timeouts.extend(own.check_timeouts.iter().cloned());
        }
        if from_flag("health.skip") {
            o.skip = own.skip.clone();
        }
        Ok(o)
    }
}

/// The checks a probe runs. Liveness never looks at external dependencies,
/// so a flaky MCP server cannot get the pod killed.
pub fn plan(probe: Probe, opts: &HealthOptions) -> Vec<Planned> {
    let mut checks: Vec<Box<dyn Check>> = vec![Box::new(process::Process {
        // Not ready while starting: the command is not running yet.
        require_started: probe != Probe::Liveness,
    })];
    if probe != Probe::Liveness && opts.services {
        checks.push(Box::new(services::Services));
    }
    if probe == Probe::Readiness {
        if let Some(name) = &opts.cli {
            checks.push(Box::new(cli::Cli {
                name: name.clone(),
                deep: opts.deep,
            }));
        }
        if let Some(path) = &opts.workspace {
            checks.push(Box::new(workspace::Workspace {
                path: path.clone(),
                require_mount: opts.require_mount,
            }));
            checks.push(Box::new(disk::Disk {
                path: path.clone(),
                min_free_mb: opts.min_free_disk,
                min_free_inodes: opts.min_free_inodes,
            }));
        }
        if let Some(target) = &opts.mcp {
            checks.push(Box::new(probe::Dependency {
                target: target.clone(),
            }));
        }
        checks.push(Box::new(memory::Memory {
            min_free_mb: opts.min_free_memory,
        }));
    }
    checks
        .into_iter()
        .filter(|c| !opts.skip.iter().any(|s| s == c.name()))
        .map(|check| {
            let timeout = opts
                .check_timeouts
                .iter()
                .rev()
                .find(|(n, _)| n == check.name())
                .map_or(opts.timeout, |(_, t)| *t);
            Planned { check, timeout }
        })
        .collect()
}

pub async fn report(probe: Probe, opts: &HealthOptions) -> Report {
    Report::new(probe.name(), healthcheck::run(plan(probe, opts)).await)
}

/// How many threads a probe's checks can block at once: the workspace,
/// the disk, the CLI and a name to resolve.
const CHECK_THREADS: usize = 4;

/// Starts the threads the checks that may block run on, when anything
/// will need them: the endpoint's probes, the waits' and the services'
/// readiness probes (name resolution). A
/// fork storm later cannot take them away; one now leaves fewer, or none
/// (those checks then fail, saying why).
pub fn start_check_threads(config: &Config) {
    let probes = config.health.listen.is_some();
    let waits = (config.wait.enabled && !config.wait.urls.is_empty())
        || config.services.values().any(|s| s.ready.is_some());
    if !(probes || waits) {
        return;
    }
    let wanted = if probes { CHECK_THREADS } else { 2 };
    let started = healthcheck::pool::start(wanted);
    if started < wanted {
        tracing::warn!(
            started,
            wanted,
            "fewer threads for health checks and waits than wanted (the process limit?)"
        );
    }
}

/// How long `agent-init health` waits for the init's settings.
/// The init answers from memory at once; an exec probe's budget is small.
const ASK_INIT: Duration = Duration::from_millis(500);

/// `agent-init health`: prints the report, returns the exit code. Beside a
/// running init it probes with the init's own settings (its flags over
/// them); alone, with its own configuration.
pub fn run(loaded: &Loaded, probe: Probe, format: Format) -> Result<u8, Error> {
    let config = &loaded.config;
    let own = HealthOptions::from_config(config)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::os("starting the runtime", e))?;
    let asked = runtime.block_on(healthcheck::socket::health_settings(
        ASK_INIT.min(own.timeout),
    ));
    let from_flag = |key: &str| crate::config::from_flags(loaded, key);
    let theirs = asked.and_then(|s| HealthOptions::from_settings(&s, &own, &from_flag));
    let (opts, origin) = match theirs {
        Ok(opts) => (opts, "settings from the running init".to_string()),
        Err(why) => {
            let from = match &loaded.file {
                Some(f) => format!("the configuration file {}", f.display()),
                None => "this command's flags, environment and defaults (no configuration file)"
                    .to_string(),
            };
            tracing::debug!("no settings from the init: {why}");
            (own, format!("settings from {from}: no init answered"))
        }
    };
    // As many threads as the probe's checks may block at once (none for
    // liveness). Under a fork storm this may start none: the checks that
    // need one then fail with the reason, and the answer is "unhealthy",
    // not a crash.
    // A proxy's name is resolved too (reqwest takes it from the environment).
    let proxied = ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some() || std::env::var_os(v.to_lowercase()).is_some());
    let mcp_resolves = opts.mcp.as_ref().is_some_and(|t| proxied || t.resolves());
    let blocking = plan(probe, &opts)
        .iter()
        .filter(|p| match p.check.name() {
            "cli" | "workspace" | "disk" => true,
            // An address needs no resolving, so no thread.
            "mcp" => mcp_resolves,
            _ => false,
        })
        .count();
    if blocking > 0 {
        healthcheck::pool::start(blocking.min(CHECK_THREADS));
    }
    let mut report = runtime.block_on(report(probe, &opts));
    report.settings = Some(origin);
    // A check stuck on a hung mount must not keep the answer from going out.
    runtime.shutdown_background();
    let out = match format {
        Format::Text => report.to_text(),
        Format::Json => report.to_json() + "\n",
    };
    use std::io::Write;
    let _ = std::io::stdout().write_all(crate::logging::scrub(&out).as_bytes());
    Ok(if report.healthy() { HEALTHY } else { UNHEALTHY })
}

/// The HTTP probe endpoint: settings fixed at start.
pub struct Endpoint {
    listener: std::net::TcpListener,
    opts: HealthOptions,
    cache: Duration,
}

impl Endpoint {
    /// Binds the endpoint (at start, so a taken port fails the start).
    pub fn bind(addr: SocketAddr, config: &Config) -> Result<Endpoint, Error> {
        let opts = HealthOptions {
            // Never --deep here: the CLI's --version would be a child of the
            // init, whose reaper would collect it before the check could.
            deep: false,
            ..HealthOptions::from_config(config)?
        };
        let listener = std::net::TcpListener::bind(addr)
            .map_err(|e| Error::os(format!("binding the health endpoint {addr}"), e))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| Error::os("health endpoint", e))?;
        tracing::info!(%addr, "health endpoint listening");
        if !addr.ip().is_loopback() {
            tracing::warn!(
                %addr,
                "the health endpoint listens beyond loopback: whoever reaches this address reads \
                 the health report (agent-init's version, pid and uptime, the command's pid, and \
                 each check's detail: the CLI's path, the workspace path and filesystem, free disk \
                 and memory, the MCP server's URL and name)"
            );
        }
        Ok(Endpoint {
            listener,
            opts,
            cache: config.health.cache.get(),
        })
    }

    /// Serves /livez, /readyz, /healthz and /startupz until the runtime
    /// ends; each request on a task of its own.
    pub async fn serve(self) {
        let listener = match tokio::net::TcpListener::from_std(self.listener) {
            Ok(l) => l,
            Err(e) => {
                tracing::error!("health endpoint: {e}");
                return;
            }
        };
        let shared = Arc::new((self.opts, self.cache, Mutex::new(HashMap::new())));
        loop {
            let Ok((conn, _)) = listener.accept().await else {
                // Out of descriptors, say: try again shortly.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            };
            let shared = shared.clone();
            tokio::spawn(async move {
                let (opts, ttl, cache) = &*shared;
                let _ = answer(conn, opts, *ttl, cache).await;
            });
        }
    }
}

type Cache = Mutex<HashMap<&'static str, (Instant, Report)>>;

async fn answer(
    mut conn: tokio::net::TcpStream,
    opts: &HealthOptions,
    ttl: Duration,
    cache: &Cache,
) -> std::io::Result<()> {
    // The request line is all that matters; headers are read and ignored.
    let mut buf = vec![0u8; 4096];
    let mut n = 0;
    let read = async {
        while let Some(free) = buf.get_mut(n..).filter(|f| !f.is_empty()) {
            let k = conn.read(free).await?;
            if k == 0 {
                break;
            }
            n += k;
            if buf
                .get(..n)
                .is_some_and(|b| b.windows(4).any(|w| w == b"\r\n\r\n"))
            {
                break;
            }
        }
        Ok::<_, std::io::Error>(())
    };
    if tokio::time::timeout(Duration::from_secs(2), read)
        .await
        .is_err()
    {
        return Ok(());
    }
    let probe = probe_for(buf.get(..n).unwrap_or_default());
    let (status, body) = match probe {
        None => (
            "404 Not Found",
            "not found: try /livez, /readyz, /healthz, /startupz\n".to_string(),
        ),
        Some(probe) => {
            let report = cached_report(cache, probe, opts, ttl).await;
            let status = if report.healthy() {
                "200 OK"
            } else {
                "503 Service Unavailable"
            };
            (
                status,
                crate::logging::scrub(&report.to_text()).into_owned(),
            )
        }
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    conn.write_all(response.as_bytes()).await?;
    conn.shutdown().await
}

/// The probe a request asks for, from its request line (`GET /readyz
/// HTTP/1.1`); `None` for any other path.
pub fn probe_for(head: &[u8]) -> Option<Probe> {
    let head = String::from_utf8_lossy(head);
    let path = head.split_whitespace().nth(1).unwrap_or("/");
    let path = path.split('?').next().unwrap_or(path);
    match path {
        "/livez" => Some(Probe::Liveness),
        "/readyz" | "/healthz" => Some(Probe::Readiness),
        "/startupz" => Some(Probe::Startup),
        _ => None,
    }
}

async fn cached_report(cache: &Cache, probe: Probe, opts: &HealthOptions, ttl: Duration) -> Report {
    let hit = cache
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(probe.name())
        .filter(|(at, _)| at.elapsed() < ttl)
        .map(|(_, r)| r.clone());
    if let Some(report) = hit {
        return report;
    }
    let fresh = report(probe, opts).await;
    cache
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(probe.name(), (Instant::now(), fresh.clone()));
    fresh
}
