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
  CMD's own code, or 128+N when CMD was killed by signal N
  64 usage error       69 dependency unavailable   70 internal error
  71 OS error          78 configuration error
  126 CMD not executable                            127 CMD not found

Every option can also be set through the environment variable shown.";

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

    /// Also run the CLI's `--version` (bounded by the timeout).
    #[arg(long, env = "AGENT_INIT_HEALTH__DEEP")]
    pub deep: bool,

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

/// What the health checks look at: shared by `agent-init health` and the
/// init's HTTP endpoint (`--health-listen`).
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Health checks")]
pub struct HealthOptions {
    /// MCP server or other dependency to check: tcp://HOST:PORT,
    /// http://HOST:PORT/PATH[#status=N], mcp+http://HOST:PORT/PATH.
    #[arg(long, env = "AGENT_INIT_HEALTH__MCP", value_name = "URL", value_parser = parse_target)]
    pub mcp: Option<healthcheck::mcp::Target>,

    /// Agent CLI that must be on PATH and executable (e.g. claude).
    #[arg(long, env = "AGENT_INIT_HEALTH__CLI", value_name = "NAME")]
    pub cli: Option<String>,

    /// Workspace directory: must exist, be mounted and writable; its
    /// filesystem is the one the disk check measures.
    #[arg(long, env = "AGENT_INIT_WORKSPACE__PATH", value_name = "PATH")]
    pub workspace: Option<std::path::PathBuf>,

    /// Whether the workspace must be a mount point.
    #[arg(
        long,
        env = "AGENT_INIT_WORKSPACE__REQUIRE_MOUNT",
        value_name = "BOOL",
        default_value = "true",
        action = clap::ArgAction::Set
    )]
    pub require_mount: bool,

    /// Minimum available memory, measured against the cgroup limit.
    #[arg(
        long,
        env = "AGENT_INIT_HEALTH__MIN_FREE_MEMORY_MB",
        value_name = "MB",
        default_value = "64"
    )]
    pub min_free_memory: u64,

    /// Minimum free space on the workspace filesystem.
    #[arg(
        long,
        env = "AGENT_INIT_HEALTH__MIN_FREE_DISK_MB",
        value_name = "MB",
        default_value = "100"
    )]
    pub min_free_disk: u64,

    /// Minimum free inodes on the workspace filesystem.
    #[arg(
        long,
        env = "AGENT_INIT_HEALTH__MIN_FREE_INODES",
        value_name = "N",
        default_value = "1000"
    )]
    pub min_free_inodes: u64,

    /// Time budget of each check.
    #[arg(
        long,
        env = "AGENT_INIT_HEALTH__TIMEOUT",
        value_name = "SECONDS",
        default_value = "5",
        value_parser = parse_seconds
    )]
    pub timeout: Duration,

    /// Time budget of one check, overriding --timeout (repeatable or
    /// comma-separated): mcp=2,cli=1.
    #[arg(
        long = "check-timeout",
        env = "AGENT_INIT_HEALTH__CHECK_TIMEOUTS",
        value_name = "NAME=SECONDS",
        value_delimiter = ',',
        value_parser = parse_check_timeout
    )]
    pub check_timeouts: Vec<(String, Duration)>,

    /// Checks to leave out (repeatable or comma-separated): process, cli,
    /// workspace, mcp, memory, disk.
    #[arg(
        long,
        env = "AGENT_INIT_HEALTH__SKIP",
        value_name = "NAME",
        value_delimiter = ','
    )]
    pub skip: Vec<String>,
}

fn parse_target(s: &str) -> Result<healthcheck::mcp::Target, String> {
    healthcheck::mcp::parse(s)
}

fn parse_check_timeout(s: &str) -> Result<(String, Duration), String> {
    let (name, secs) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}` is not NAME=SECONDS"))?;
    Ok((name.trim().to_string(), parse_seconds(secs)?))
}

/// Options of the init itself (command and keep-alive mode).
#[derive(Debug, Clone, clap::Args)]
pub struct InitOptions {
    /// Seconds to wait after forwarding SIGTERM/SIGINT before SIGKILLing the
    /// command's process group (Docker's own stop timeout is 10 s).
    #[arg(
        long,
        env = "AGENT_INIT_GRACE_PERIOD",
        value_name = "SECONDS",
        default_value = "8",
        value_parser = parse_seconds
    )]
    pub grace_period: Duration,

    /// Where forwarded signals go: the command's whole process group, or the
    /// command's process only.
    #[arg(
        long,
        env = "AGENT_INIT_SIGNAL_TARGET",
        value_enum,
        default_value = "group"
    )]
    pub signal_target: SignalTarget,

    /// Log format on standard error.
    #[arg(
        long,
        env = "AGENT_INIT_LOG_FORMAT",
        value_enum,
        default_value = "text"
    )]
    pub log_format: LogFormat,

    /// Log level: off, error, warn, info, debug or trace.
    #[arg(
        long,
        env = "AGENT_INIT_LOG_LEVEL",
        value_name = "LEVEL",
        default_value = "info",
        value_parser = parse_level
    )]
    pub log_level: tracing::level_filters::LevelFilter,

    /// Serve /livez, /readyz and /healthz over HTTP on this address (off
    /// unless set), so Kubernetes httpGet probes need no exec.
    #[arg(long, env = "AGENT_INIT_HEALTH__LISTEN", value_name = "ADDR")]
    pub health_listen: Option<std::net::SocketAddr>,

    /// Seconds an HTTP probe result may be reused before the checks run again.
    #[arg(
        long,
        env = "AGENT_INIT_HEALTH__CACHE",
        value_name = "SECONDS",
        default_value = "0",
        value_parser = parse_seconds
    )]
    pub health_cache: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SignalTarget {
    /// The command's process group (it runs in its own session or group).
    Group,
    /// The command's process only.
    Child,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
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

fn parse_level(s: &str) -> Result<tracing::level_filters::LevelFilter, String> {
    s.parse()
        .map_err(|_| format!("`{s}` is not one of off, error, warn, info, debug, trace"))
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
        assert_eq!(cli.init.grace_period, Duration::from_secs(2));
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
