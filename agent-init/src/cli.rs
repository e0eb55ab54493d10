//! The command line: the only place flags and their environment twins are
//! named. Parsing turns argv into a [`Cli`]; nothing here has side effects.

use std::ffi::OsString;
use std::time::Duration;

use clap::{Parser, ValueEnum};

const AFTER_HELP: &str = "\
MODES:
  agent-init [OPTIONS] -- CMD [ARGS...]   command mode: run CMD as the only direct
                                         child, forward signals, reap zombies, exit
                                         with CMD's code (128+N if killed by signal N)
  agent-init [OPTIONS] CMD [ARGS...]      the same, when CMD is not a subcommand name
  agent-init [OPTIONS]                    keep-alive mode: stay up for `docker exec`,
                                         reap orphans, exit 0 on SIGTERM/SIGINT

EXIT CODES:
  CMD's own code, or 128+N when CMD was killed by signal N (or when startup
  was interrupted by signal N)
  64 usage error       69 dependency unavailable   70 internal error
  71 OS error          75 startup hook failed      78 configuration error
  126 CMD not executable                            127 CMD not found

CONFIGURATION:
  Later wins: defaults < /etc/agent-init/config.toml (or --config) <
  AGENT_INIT_* environment variables (nested keys joined by __, e.g.
  AGENT_INIT_WORKSPACE__PATH) < flags. `agent-init config` shows each value
  and where it came from.";

/// A small, static PID 1 for AI-coding-agent containers: reaps zombies,
/// forwards signals to the command's process group and exits with its code.
#[derive(Debug, Parser)]
#[command(
    name = "agent-init",
    version,
    after_help = AFTER_HELP,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(flatten)]
    pub init: InitOptions,

    #[command(flatten)]
    pub health: HealthOptions,

    #[command(subcommand)]
    pub subcommand: Option<Sub>,

    /// The command to run, with its arguments. Without one, agent-init
    /// keeps alive. Put `--` before it when it starts with `-` or has the
    /// name of a subcommand.
    #[arg(trailing_var_arg = true, value_name = "CMD")]
    pub command: Vec<OsString>,
}

#[derive(Debug, clap::Subcommand)]
pub enum Sub {
    /// Check the container's health for a Docker HEALTHCHECK or a Kubernetes
    /// probe: exit 0 healthy, 1 unhealthy; one line per check, failing first.
    #[command(visible_alias = "healthcheck")]
    Health(HealthArgs),
    /// Print the effective configuration and where each value came from.
    Config(ConfigArgs),
    /// Run every startup validation without starting the command (for CI or
    /// a `docker build` smoke test); exit 0 when all pass.
    Check(ConfigArgs),
    /// Run CMD with exactly the environment, user and git trust the main
    /// command got, taken from the running init (use with `docker exec`).
    Exec(ExecArgs),
}

#[derive(Debug, Clone, clap::Args)]
pub struct ConfigArgs {
    #[command(flatten)]
    pub init: InitOptions,
    #[command(flatten)]
    pub health: HealthOptions,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ExecArgs {
    /// The command to run.
    #[arg(trailing_var_arg = true, required = true, value_name = "CMD")]
    pub command: Vec<OsString>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct HealthArgs {
    /// Which probe: liveness (init and command alive only, never external
    /// dependencies), readiness (adds MCP, workspace, CLI, memory, disk),
    /// startup (liveness plus: the startup steps have finished).
    #[arg(
        long,
        value_enum,
        default_value = "readiness",
        env = "AGENT_INIT_HEALTH__PROBE"
    )]
    pub probe: Probe,

    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: OutputFormat,

    /// Configuration file (TOML) [default: /etc/agent-init/config.toml]
    /// [env: AGENT_INIT_CONFIG]
    #[arg(long, value_name = "PATH")]
    pub config: Option<std::path::PathBuf>,

    #[command(flatten)]
    pub workspace: WorkspaceOptions,

    #[command(flatten)]
    pub options: HealthOptions,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Probe {
    Liveness,
    Readiness,
    Startup,
}

impl Probe {
    pub fn name(self) -> &'static str {
        match self {
            Probe::Liveness => "liveness",
            Probe::Readiness => "readiness",
            Probe::Startup => "startup",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

/// Health-check flags (keys `health.*`, `workspace.*`); shared by `agent-init
/// health` and the init's HTTP endpoint. Unset flags leave the value to the
/// configuration file, the environment or the default.
#[derive(Debug, Clone, Default, clap::Args)]
#[command(next_help_heading = "Health checks")]
pub struct HealthOptions {
    /// MCP server or other dependency to check: tcp://HOST:PORT,
    /// http://HOST:PORT/PATH[#status=N], mcp+http://HOST:PORT/PATH
    /// [env: AGENT_INIT_HEALTH__MCP]
    #[arg(long, value_name = "URL")]
    pub mcp: Option<String>,

    /// Agent CLI that must be on PATH and executable [env: AGENT_INIT_HEALTH__CLI]
    #[arg(long, value_name = "NAME")]
    pub cli: Option<String>,

    /// Also run the CLI's `--version` [env: AGENT_INIT_HEALTH__DEEP]
    #[arg(long)]
    pub deep: bool,

    /// Minimum available memory against the cgroup limit [default: 64]
    /// [env: AGENT_INIT_HEALTH__MIN_FREE_MEMORY_MB]
    #[arg(long, value_name = "MB")]
    pub min_free_memory: Option<u64>,

    /// Minimum free space on the workspace filesystem [default: 100]
    /// [env: AGENT_INIT_HEALTH__MIN_FREE_DISK_MB]
    #[arg(long, value_name = "MB")]
    pub min_free_disk: Option<u64>,

    /// Minimum free inodes on the workspace filesystem [default: 1000]
    /// [env: AGENT_INIT_HEALTH__MIN_FREE_INODES]
    #[arg(long, value_name = "N")]
    pub min_free_inodes: Option<u64>,

    /// Time budget of each check [default: 5] [env: AGENT_INIT_HEALTH__TIMEOUT]
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    pub timeout: Option<Duration>,

    /// Time budget of one check, overriding --timeout (repeatable): mcp=2
    #[arg(long = "check-timeout", value_name = "NAME=SECONDS", value_parser = parse_check_timeout)]
    pub check_timeouts: Vec<(String, Duration)>,

    /// Checks to leave out (repeatable or comma-separated): process, cli,
    /// workspace, disk, mcp, memory [env: AGENT_INIT_HEALTH__SKIP]
    #[arg(long, value_name = "NAME", value_delimiter = ',')]
    pub skip: Vec<String>,
}

fn parse_check_timeout(s: &str) -> Result<(String, Duration), String> {
    let (name, secs) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}` is not NAME=SECONDS"))?;
    Ok((name.trim().to_string(), parse_seconds(secs)?))
}

/// The workspace (keys `workspace.*`): used by the startup step and the
/// health check alike.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct WorkspaceOptions {
    /// Workspace directory: validated at startup, trusted by git, checked by
    /// health [env: AGENT_INIT_WORKSPACE__PATH]
    #[arg(long, value_name = "PATH")]
    pub workspace: Option<std::path::PathBuf>,

    /// Whether the workspace must be a mount point [default: true]
    /// [env: AGENT_INIT_WORKSPACE__REQUIRE_MOUNT]
    #[arg(long, value_name = "BOOL", action = clap::ArgAction::Set)]
    pub require_mount: Option<bool>,
}

impl WorkspaceOptions {
    pub fn add_to(&self, f: &mut crate::config::Flags) {
        if let Some(p) = &self.workspace {
            f.set(
                "workspace.path",
                "--workspace",
                p.to_string_lossy().as_ref(),
            );
        }
        if let Some(b) = self.require_mount {
            f.set("workspace.require_mount", "--require-mount", b);
        }
    }
}

/// Options of the init itself. Unset flags leave the value to the
/// configuration file, the environment or the default.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct InitOptions {
    /// Configuration file (TOML) [default: /etc/agent-init/config.toml]
    /// [env: AGENT_INIT_CONFIG]
    #[arg(long, value_name = "PATH")]
    pub config: Option<std::path::PathBuf>,

    /// Seconds to wait after forwarding SIGTERM/SIGINT before SIGKILLing the
    /// command's process group [default: 8] [env: AGENT_INIT_GRACE_PERIOD]
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    pub grace_period: Option<Duration>,

    /// Where forwarded signals go: the command's process group or the
    /// command only [default: group] [env: AGENT_INIT_SIGNAL_TARGET]
    #[arg(long, value_enum)]
    pub signal_target: Option<SignalTarget>,

    /// Log format on standard error [default: text] [env: AGENT_INIT_LOG_FORMAT]
    #[arg(long, value_enum)]
    pub log_format: Option<LogFormat>,

    /// off, error, warn, info, debug or trace [default: info]
    /// [env: AGENT_INIT_LOG_LEVEL]
    #[arg(long, value_name = "LEVEL")]
    pub log_level: Option<String>,

    #[command(flatten)]
    pub workspace: WorkspaceOptions,

    /// Mounted ConfigMap/Secret directory or .env file whose keys become
    /// the command's environment (repeatable)
    #[arg(long = "configmap", value_name = "DIR")]
    pub configmaps: Vec<std::path::PathBuf>,

    /// Variable that must be set and non-empty; `A|B|file:PATH` accepts any
    /// one of them (repeatable) [env: AGENT_INIT_ENV__REQUIRE]
    #[arg(long = "require-env", value_name = "NAME")]
    pub require_env: Vec<String>,

    /// Dependency to wait for before starting: tcp://, http://,
    /// mcp+http:// (repeatable) [env: AGENT_INIT_WAIT__URLS]
    #[arg(long = "wait", value_name = "URL")]
    pub wait: Vec<String>,

    /// Total seconds to wait for dependencies [default: 60]
    /// [env: AGENT_INIT_WAIT__TIMEOUT]
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    pub wait_timeout: Option<Duration>,

    /// Run the command as USER[:GROUP] (names or numbers) [env: AGENT_INIT_USER]
    #[arg(long, value_name = "USER[:GROUP]")]
    pub user: Option<String>,

    /// CLI preset: telemetry and auto-update off, non-interactive settings
    /// (claude, codex, gemini, opencode, qwen, openhands, aider)
    /// [env: AGENT_INIT_PRESET]
    #[arg(long, value_name = "CLI")]
    pub preset: Option<String>,

    /// Serve /livez, /readyz and /healthz over HTTP on this address
    /// [env: AGENT_INIT_HEALTH__LISTEN]
    #[arg(long, value_name = "ADDR")]
    pub health_listen: Option<String>,

    /// Seconds an HTTP probe result may be reused [default: 0]
    /// [env: AGENT_INIT_HEALTH__CACHE]
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    pub health_cache: Option<Duration>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SignalTarget {
    /// The command's process group (it runs in its own session or group).
    Group,
    /// The command's process only.
    Child,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

impl InitOptions {
    /// The flags that were given, as the top configuration layer.
    pub fn layer(&self, health: &HealthOptions) -> crate::config::Flags {
        use crate::config::Flags;
        let mut f = Flags::new();
        let secs = |d: &Duration| d.as_secs_f64();
        if let Some(d) = &self.grace_period {
            f.set("grace_period", "--grace-period", secs(d));
        }
        if let Some(t) = self.signal_target {
            f.set(
                "signal_target",
                "--signal-target",
                if t == SignalTarget::Group {
                    "group"
                } else {
                    "child"
                },
            );
        }
        if let Some(l) = self.log_format {
            f.set(
                "log_format",
                "--log-format",
                if l == LogFormat::Text { "text" } else { "json" },
            );
        }
        if let Some(l) = &self.log_level {
            f.set("log_level", "--log-level", l.as_str());
        }
        self.workspace.add_to(&mut f);
        if !self.configmaps.is_empty() {
            let maps: Vec<figment::value::Value> = self
                .configmaps
                .iter()
                .map(|p| {
                    let mut d = figment::value::Dict::new();
                    d.insert("path".into(), p.to_string_lossy().as_ref().into());
                    d.into()
                })
                .collect();
            f.set("configmaps", "--configmap", maps);
        }
        if !self.require_env.is_empty() {
            f.set("env.require", "--require-env", self.require_env.clone());
        }
        if !self.wait.is_empty() {
            f.set("wait.urls", "--wait", self.wait.clone());
        }
        if let Some(d) = &self.wait_timeout {
            f.set("wait.timeout", "--wait-timeout", secs(d));
        }
        if let Some(u) = &self.user {
            f.set("user", "--user", u.as_str());
        }
        if let Some(p) = &self.preset {
            f.set("preset", "--preset", p.as_str());
        }
        if let Some(a) = &self.health_listen {
            f.set("health.listen", "--health-listen", a.as_str());
        }
        if let Some(d) = &self.health_cache {
            f.set("health.cache", "--health-cache", secs(d));
        }
        health.add_to(&mut f);
        f
    }
}

impl HealthOptions {
    pub fn add_to(&self, f: &mut crate::config::Flags) {
        if let Some(u) = &self.mcp {
            f.set("health.mcp", "--mcp", u.as_str());
        }
        if let Some(c) = &self.cli {
            f.set("health.cli", "--cli", c.as_str());
        }
        if self.deep {
            f.set("health.deep", "--deep", true);
        }
        if let Some(v) = self.min_free_memory {
            f.set("health.min_free_memory_mb", "--min-free-memory", v);
        }
        if let Some(v) = self.min_free_disk {
            f.set("health.min_free_disk_mb", "--min-free-disk", v);
        }
        if let Some(v) = self.min_free_inodes {
            f.set("health.min_free_inodes", "--min-free-inodes", v);
        }
        if let Some(d) = &self.timeout {
            f.set("health.timeout", "--timeout", d.as_secs_f64());
        }
        for (name, d) in &self.check_timeouts {
            f.set(
                &format!("health.check_timeouts.{name}"),
                "--check-timeout",
                d.as_secs_f64(),
            );
        }
        if !self.skip.is_empty() {
            f.set("health.skip", "--skip", self.skip.clone());
        }
    }
}

/// What to run, once the command line has been parsed.
#[derive(Debug)]
pub enum Mode {
    /// Run this command (argv[0] first) as the only direct child.
    Command(Vec<OsString>),
    /// No command: stay up and reap.
    KeepAlive,
}

impl Cli {
    pub fn mode(&mut self) -> Mode {
        let command = std::mem::take(&mut self.command);
        if command.is_empty() {
            Mode::KeepAlive
        } else {
            Mode::Command(command)
        }
    }
}

pub fn parse_seconds(s: &str) -> Result<Duration, String> {
    let secs: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a number of seconds"))?;
    Duration::try_from_secs_f64(secs)
        .map_err(|_| format!("`{s}` is not a non-negative number of seconds"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(args).unwrap()
    }

    #[test]
    fn command_after_double_dash() {
        let mut cli = parse(&["agent-init", "--", "sh", "-c", "exit 3"]);
        match cli.mode() {
            Mode::Command(argv) => assert_eq!(argv, ["sh", "-c", "exit 3"]),
            m => panic!("{m:?}"),
        }
    }

    #[test]
    fn command_without_double_dash() {
        let mut cli = parse(&["agent-init", "--grace-period", "2", "bash", "-l"]);
        assert_eq!(cli.init.grace_period, Some(Duration::from_secs(2)));
        match cli.mode() {
            Mode::Command(argv) => assert_eq!(argv, ["bash", "-l"]),
            m => panic!("{m:?}"),
        }
    }

    #[test]
    fn command_flags_are_not_ours() {
        let mut cli = parse(&["agent-init", "ls", "--grace-period", "-l"]);
        match cli.mode() {
            Mode::Command(argv) => assert_eq!(argv, ["ls", "--grace-period", "-l"]),
            m => panic!("{m:?}"),
        }
        let mut cli = parse(&["agent-init", "bash", "--", "x"]);
        match cli.mode() {
            Mode::Command(argv) => assert_eq!(argv, ["bash", "--", "x"]),
            m => panic!("{m:?}"),
        }
    }

    #[test]
    fn no_command_is_keep_alive() {
        assert!(matches!(parse(&["agent-init"]).mode(), Mode::KeepAlive));
        assert!(matches!(
            parse(&["agent-init", "--"]).mode(),
            Mode::KeepAlive
        ));
    }

    #[test]
    fn seconds_parse() {
        assert_eq!(parse_seconds("0.5").unwrap(), Duration::from_millis(500));
        assert!(parse_seconds("-1").is_err());
        assert!(parse_seconds("soon").is_err());
    }
}
