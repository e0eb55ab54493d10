//! `agent-init health` and the init's HTTP probe endpoint: which checks a
//! probe runs, with which budgets, and how the answer is shown.
//! The checks themselves live in the `healthcheck` crate.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::time::{Duration, Instant};

use healthcheck::{cli, disk, mcp, memory, process, workspace, Check, Planned, Report};

use crate::cli::{HealthArgs, OutputFormat, Probe};
use crate::config::Config;
use crate::exit::Error;

/// Names of the checks, for `health.skip`.
pub const CHECKS: [&str; 6] = ["process", "cli", "workspace", "disk", "mcp", "memory"];

/// What the checks look at, from the configuration.
#[derive(Debug, Clone)]
pub struct HealthOptions {
    pub mcp: Option<mcp::Target>,
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
}

impl HealthOptions {
    pub fn from_config(c: &Config) -> Result<Self, Error> {
        let h = &c.health;
        let mcp = match &h.mcp {
            Some(url) => {
                let url = crate::config::expand(url, "health.mcp", &|n| std::env::var(n).ok())?;
                Some(mcp::parse(&url).map_err(|e| Error::Config(format!("health.mcp: {e}")))?)
            }
            None => None,
        };
        let secs = |key: &str, v: f64| {
            Duration::try_from_secs_f64(v)
                .map_err(|_| Error::Config(format!("{key}: {v} is not a number of seconds")))
        };
        let mut check_timeouts = Vec::new();
        for (name, v) in &h.check_timeouts {
            check_timeouts.push((
                name.clone(),
                secs(&format!("health.check_timeouts.{name}"), *v)?,
            ));
        }
        // A preset names the CLI the health check looks for.
        let cli = h.cli.clone().or_else(|| {
            c.preset
                .as_deref()
                .and_then(crate::steps::preset::lookup)
                .map(|p| p.cli.to_string())
        });
        Ok(HealthOptions {
            mcp,
            cli,
            deep: h.deep,
            workspace: c.workspace.path.clone().filter(|_| c.workspace.enabled),
            require_mount: c.workspace.require_mount,
            min_free_memory: h.min_free_memory_mb,
            min_free_disk: h.min_free_disk_mb,
            min_free_inodes: h.min_free_inodes,
            timeout: secs("health.timeout", h.timeout)?,
            check_timeouts,
            skip: h.skip.clone(),
        })
    }
}

/// Exit codes of `agent-init health`. Docker reserves 2: never used.
pub const HEALTHY: u8 = 0;
pub const UNHEALTHY: u8 = 1;

/// The checks a probe runs. Liveness never looks at external dependencies,
/// so a flaky MCP server cannot get the pod killed.
pub fn plan(probe: Probe, opts: &HealthOptions) -> Vec<Planned> {
    let deep = opts.deep;
    let mut checks: Vec<Box<dyn Check>> = vec![Box::new(process::Process {
        // Not ready while starting: the command is not running yet.
        require_started: probe != Probe::Liveness,
    })];
    if probe == Probe::Readiness {
        if let Some(name) = &opts.cli {
            checks.push(Box::new(cli::Cli {
                name: name.clone(),
                deep,
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
            checks.push(Box::new(mcp::Mcp {
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

pub fn report(probe: Probe, opts: &HealthOptions) -> Report {
    Report::new(probe.name(), healthcheck::run(plan(probe, opts)))
}

/// `agent-init health`: prints the report, returns the exit code.
pub fn run(args: &HealthArgs) -> Result<u8, Error> {
    let mut flags = crate::config::Flags::new();
    args.workspace.add_to(&mut flags);
    args.options.add_to(&mut flags);
    let loaded = crate::config::load(args.config.as_deref(), flags)?;
    let opts = HealthOptions::from_config(&loaded.config)?;
    let report = report(args.probe, &opts);
    let out = match args.format {
        OutputFormat::Text => report.to_text(),
        OutputFormat::Json => report.to_json() + "\n",
    };
    let _ = std::io::stdout().write_all(crate::logging::scrub(&out).as_bytes());
    Ok(if report.healthy() { HEALTHY } else { UNHEALTHY })
}

/// Serves /livez, /readyz, /healthz (and /startupz) on `addr` from a thread
/// of its own, so the init loop never waits for a check. Must be started
/// after the init has blocked its signals: the thread inherits the mask.
pub fn serve_http(
    addr: SocketAddr,
    opts: HealthOptions,
    cache: Duration,
) -> Result<(), crate::exit::Error> {
    let listener = TcpListener::bind(addr)
        .map_err(|e| crate::exit::Error::os(format!("binding health endpoint {addr}"), e))?;
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
    // Never --deep here: the CLI's --version would be a child of the init,
    // whose reaper would collect it before the check could.
    let opts = HealthOptions {
        deep: false,
        ..opts
    };
    std::thread::Builder::new()
        .name("health-http".into())
        .spawn(move || {
            // Only this thread uses the cache.
            let mut cached = HashMap::new();
            for conn in listener.incoming().flatten() {
                let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
                let mut line = String::new();
                let mut reader = BufReader::new(&conn);
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                let path = line.split_whitespace().nth(1).unwrap_or("/");
                let path = path.split('?').next().unwrap_or(path);
                let probe = match path {
                    "/livez" => Some(Probe::Liveness),
                    "/readyz" | "/healthz" => Some(Probe::Readiness),
                    "/startupz" => Some(Probe::Startup),
                    _ => None,
                };
                let (status, body) = match probe {
                    None => ("404 Not Found", "not found: try /livez, /readyz, /healthz\n".into()),
                    Some(probe) => {
                        let report = cached_report(&mut cached, probe, &opts, cache);
                        let status = if report.healthy() {
                            "200 OK"
                        } else {
                            "503 Service Unavailable"
                        };
                        (status, crate::logging::scrub(&report.to_text()).into_owned())
                    }
                };
                let mut conn = conn;
                let _ = write!(
                    conn,
                    "HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        })
        .map_err(|e| crate::exit::Error::os("starting the health endpoint thread", e))?;
    Ok(())
}

fn cached_report(
    cache: &mut HashMap<&'static str, (Instant, Report)>,
    probe: Probe,
    opts: &HealthOptions,
    ttl: Duration,
) -> Report {
    if let Some((at, report)) = cache.get(probe.name()) {
        if at.elapsed() < ttl {
            return report.clone();
        }
    }
    let fresh = report(probe, opts);
    cache.insert(probe.name(), (Instant::now(), fresh.clone()));
    fresh
}
