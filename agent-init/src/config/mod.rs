//! Configuration: typed values, their layers, validation and provenance.
//!
//! Later wins: built-in defaults < TOML file (`/etc/agent-init/config.toml`
//! or `--config PATH`) < `AGENT_INIT_*` environment variables (`__` nests:
//! `AGENT_INIT_WORKSPACE__PATH` is `workspace.path`) < command-line flags.
//! Every value is parsed into its type once, here, and bounded; the rest of
//! the program sees only typed values. Unknown keys are errors; every error
//! names the key and where its value came from. Nothing here has side
//! effects beyond reading the file and the environment it is given.

pub(crate) mod load;
pub mod options;
pub mod value;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use load::{effective, file_path, from_flags, load, Flags, Loaded, Sources, ENV_PREFIX};
pub use value::{CheckName, ExitRemap, Listen, Mode, OnChange, Preset, Seconds, SignalName};

use crate::logging::{LogFormat, LogLevel};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Between forwarding SIGTERM/SIGINT and SIGKILL of what is left.
    pub grace_period: Seconds,
    pub shutdown: Shutdown,
    /// Where the termination report goes: unset, the kubelet's
    /// /dev/termination-log when it is there; empty, nowhere.
    #[serde(deserialize_with = "value::opt_text")]
    pub termination_log: Option<String>,
    pub signal_target: SignalTarget,
    /// What SIGTERM or SIGINT from outside becomes for the command (unset:
    /// the signal itself).
    pub stop_signal: Option<SignalName>,
    /// The command's exit codes agent-init exits with as others.
    pub remap_exit: ExitRemap,
    /// A WARN line for every reaped process that was not agent-init's own.
    #[serde(deserialize_with = "value::flag")]
    pub warn_reaped: bool,
    /// Asked for on the parent's death when not PID 1, and a stop then.
    pub parent_death_signal: Option<SignalName>,
    pub log_format: LogFormat,
    pub log_level: LogLevel,
    /// CLI preset: claude, codex, gemini, opencode, qwen, openhands, aider.
    pub preset: Option<Preset>,
    /// USER[:GROUP] (names or numbers) the command runs as.
    #[serde(deserialize_with = "value::opt_text")]
    pub user: Option<String>,
    /// Set no_new_privs before exec.
    #[serde(deserialize_with = "value::flag")]
    pub no_new_privs: bool,
    pub workspace: Workspace,
    pub git: Git,
    pub env: EnvStep,
    pub configmaps: Vec<ConfigMap>,
    pub credentials: Vec<Credential>,
    pub wait: Wait,
    pub hooks: Vec<Hook>,
    pub health: Health,
    /// Processes supervised beside the command (sshd, code-server).
    pub services: BTreeMap<String, Service>,
    /// Commands run periodically (a token refresh).
    pub jobs: BTreeMap<String, Job>,
}

/// When a service that exited is started again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Restart {
    Always,
    OnFailure,
    Never,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    /// The program and its arguments (no shell).
    #[serde(deserialize_with = "value::list")]
    pub command: Vec<String>,
    /// USER[:GROUP]; default: the command's user.
    #[serde(default, deserialize_with = "value::opt_text")]
    pub user: Option<String>,
    #[serde(default = "restart_always")]
    pub restart: Restart,
    /// What says it is ready: tcp://, http(s)://, mcp+http(s):// as --wait.
    #[serde(default, deserialize_with = "value::opt_text")]
    pub ready: Option<String>,
    /// How long it may take to become ready (startup fails with 69 after
    /// that when the command waits for it).
    #[serde(default = "ready_timeout")]
    pub ready_timeout: Seconds,
    /// Services that must be ready before this one starts.
    #[serde(default, deserialize_with = "value::list")]
    pub depends_on: Vec<String>,
    /// The command waits for it, and readiness fails while it is not
    /// running and ready.
    #[serde(default = "yes", deserialize_with = "value::flag")]
    pub required: bool,
    #[serde(default = "sigterm")]
    pub stop_signal: SignalName,
    #[serde(default = "stop_timeout")]
    pub stop_timeout: Seconds,
    /// The first restart's delay; it doubles with each crash.
    #[serde(default = "restart_delay")]
    pub restart_delay: Seconds,
    #[serde(default = "restart_max_delay")]
    pub restart_max_delay: Seconds,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Job {
    #[serde(deserialize_with = "value::list")]
    pub command: Vec<String>,
    /// How often; the first run is one period after start.
    pub every: Seconds,
    /// A run still going after this long is killed.
    #[serde(default = "job_timeout")]
    pub timeout: Seconds,
    #[serde(default, deserialize_with = "value::opt_text")]
    pub user: Option<String>,
}

fn restart_always() -> Restart {
    Restart::Always
}
fn ready_timeout() -> Seconds {
    Seconds::secs(60)
}
fn yes() -> bool {
    true
}
fn sigterm() -> SignalName {
    SignalName(nix::libc::SIGTERM)
}
fn stop_timeout() -> Seconds {
    Seconds::secs(5)
}
fn restart_delay() -> Seconds {
    Seconds::secs(1)
}
fn restart_max_delay() -> Seconds {
    Seconds::secs(30)
}
fn job_timeout() -> Seconds {
    Seconds::secs(300)
}

/// Where forwarded signals go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SignalTarget {
    /// The command's process group (it runs in its own session or group).
    Group,
    /// The command's process only.
    Child,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Workspace {
    #[serde(deserialize_with = "value::flag")]
    pub enabled: bool,
    /// The workspace directory; the step is skipped while it is unset.
    pub path: Option<PathBuf>,
    #[serde(deserialize_with = "value::flag")]
    pub require_mount: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Git {
    #[serde(deserialize_with = "value::flag")]
    pub enabled: bool,
    /// Directories git trusts; empty means the workspace.
    #[serde(deserialize_with = "value::list")]
    pub safe_directories: Vec<String>,
    /// What to do with `.git/*.lock` files a killed git left behind.
    pub stale_locks: StaleLocks,
}

/// `.git/*.lock` files untouched for a minute, found at startup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StaleLocks {
    Remove,
    Warn,
    Ignore,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EnvStep {
    #[serde(deserialize_with = "value::flag")]
    pub enabled: bool,
    /// Each entry must be satisfied; `A|B|file:PATH` accepts any one of
    /// variables A, B (present and non-empty) or a readable file.
    #[serde(deserialize_with = "value::list")]
    pub require: Vec<String>,
    /// Variables set for the command; values may use ${VAR} and ${VAR:-default}.
    pub set: BTreeMap<String, SetValue>,
}

/// A value of `env.set`: text, whatever it looked like in the layer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SetValue(#[serde(deserialize_with = "value::text")] pub String);

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConfigMap {
    /// A mounted ConfigMap/Secret directory, or a `.env` file.
    pub path: PathBuf,
    /// Keys become environment variables of the command.
    #[serde(deserialize_with = "value::flag")]
    pub env: bool,
    /// Prefix for those variable names.
    #[serde(deserialize_with = "value::text")]
    pub prefix: String,
    /// Keys copied to files.
    pub files: Vec<FileCopy>,
    /// A missing directory is an error unless optional.
    #[serde(deserialize_with = "value::flag")]
    pub optional: bool,
    /// When the kubelet updates the mounted directory: `restage` (copy the
    /// files again), `signal:SIGHUP` (any signal: restage, then send it to
    /// the command as `signal_target` says), or `restart` (restage, then restart
    /// the command, or in keep-alive mode the services, with the new
    /// values).
    pub on_change: OnChange,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileCopy {
    #[serde(deserialize_with = "value::text")]
    pub key: String,
    /// Destination; `~/` is the command user's home.
    #[serde(deserialize_with = "value::text")]
    pub dest: String,
    #[serde(default = "private")]
    pub mode: Mode,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credential {
    /// The mounted (often read-only) credentials file.
    pub source: PathBuf,
    /// Where the CLI expects it, writable; `~/` is the command user's home.
    #[serde(deserialize_with = "value::text")]
    pub dest: String,
    #[serde(default = "private")]
    pub mode: Mode,
    /// A missing source is skipped instead of an error.
    #[serde(default, deserialize_with = "value::flag")]
    pub optional: bool,
}

fn private() -> Mode {
    Mode(0o600)
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Shutdown {
    /// How long SIGTERM is held (readiness already failing) before it is
    /// forwarded, so load balancers drain first; part of the grace period.
    pub delay: Seconds,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Wait {
    #[serde(deserialize_with = "value::flag")]
    pub enabled: bool,
    /// tcp://H:P, http(s)://H:P/PATH[#status=N], mcp+http(s)://H:P/PATH;
    /// may hold ${VAR}, so they are parsed where they are expanded.
    #[serde(deserialize_with = "value::list")]
    pub urls: Vec<String>,
    /// Total time for all of them.
    pub timeout: Seconds,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hook {
    #[serde(default, deserialize_with = "value::text")]
    pub name: String,
    /// Run with `sh -c`, as the command's user, in its environment.
    #[serde(deserialize_with = "value::text")]
    pub command: String,
    #[serde(default = "hook_timeout")]
    pub timeout: Seconds,
}

fn hook_timeout() -> Seconds {
    Seconds::secs(300)
}

/// Which health probe: what `agent-init health` runs without `--probe`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
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

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Health {
    pub probe: Probe,
    #[serde(deserialize_with = "value::opt_text")]
    pub mcp: Option<String>,
    #[serde(deserialize_with = "value::opt_text")]
    pub cli: Option<String>,
    #[serde(deserialize_with = "value::flag")]
    pub deep: bool,
    #[serde(deserialize_with = "value::count")]
    pub min_free_memory_mb: u64,
    #[serde(deserialize_with = "value::count")]
    pub min_free_disk_mb: u64,
    #[serde(deserialize_with = "value::count")]
    pub min_free_inodes: u64,
    /// Budget of each check.
    pub timeout: Seconds,
    /// Per-check budgets: { mcp = "2s" }.
    pub check_timeouts: BTreeMap<CheckName, Seconds>,
    #[serde(deserialize_with = "value::check_names")]
    pub skip: Vec<CheckName>,
    /// Serve /livez, /readyz, /healthz on this address (a port alone:
    /// 127.0.0.1).
    pub listen: Option<Listen>,
    /// How long an HTTP probe result may be reused.
    pub cache: Seconds,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            grace_period: Seconds::secs(8),
            shutdown: Shutdown::default(),
            termination_log: None,
            signal_target: SignalTarget::Group,
            stop_signal: None,
            remap_exit: ExitRemap::default(),
            warn_reaped: false,
            parent_death_signal: None,
            log_format: LogFormat::Text,
            log_level: LogLevel::Info,
            preset: None,
            user: None,
            no_new_privs: false,
            workspace: Workspace::default(),
            git: Git::default(),
            env: EnvStep::default(),
            configmaps: Vec::new(),
            credentials: Vec::new(),
            wait: Wait::default(),
            hooks: Vec::new(),
            health: Health::default(),
            services: BTreeMap::new(),
            jobs: BTreeMap::new(),
        }
    }
}

impl Default for Workspace {
    fn default() -> Self {
        Workspace {
            enabled: true,
            path: None,
            require_mount: true,
        }
    }
}

impl Default for Git {
    fn default() -> Self {
        Git {
            enabled: true,
            safe_directories: Vec::new(),
            stale_locks: StaleLocks::Remove,
        }
    }
}

impl Default for EnvStep {
    fn default() -> Self {
        EnvStep {
            enabled: true,
            require: Vec::new(),
            set: BTreeMap::new(),
        }
    }
}

impl Default for ConfigMap {
    fn default() -> Self {
        ConfigMap {
            path: PathBuf::new(),
            env: true,
            prefix: String::new(),
            files: Vec::new(),
            optional: false,
            on_change: OnChange::Restage,
        }
    }
}

impl Default for Wait {
    fn default() -> Self {
        Wait {
            enabled: true,
            urls: Vec::new(),
            timeout: Seconds::secs(60),
        }
    }
}

impl Default for Health {
    fn default() -> Self {
        Health {
            probe: Probe::Readiness,
            mcp: None,
            cli: None,
            deep: false,
            min_free_memory_mb: 64,
            min_free_disk_mb: 100,
            min_free_inodes: 1000,
            timeout: Seconds::secs(5),
            check_timeouts: BTreeMap::new(),
            skip: Vec::new(),
            listen: None,
            cache: Seconds::secs(0),
        }
    }
}

const DAY: Duration = Duration::from_secs(24 * 3600);
const HOUR: Duration = Duration::from_secs(3600);

/// Checks what the types alone cannot: bounds, names, addresses. Returns
/// the first problem as (dotted key, message).
fn validate(c: &Config) -> Result<(), (String, String)> {
    let bad = |key: &str, msg: String| Err((key.to_string(), msg));
    let within = |key: &str, d: Seconds, max: Duration| -> Result<(), (String, String)> {
        if d.get() > max {
            return bad(key, format!("{d} is too long (at most {})", Seconds(max)));
        }
        Ok(())
    };
    within("grace_period", c.grace_period, DAY)?;
    if !c.shutdown.delay.get().is_zero() && c.shutdown.delay.get() >= c.grace_period.get() {
        return bad(
            "shutdown.delay",
            format!(
                "{} is not shorter than the grace period ({}): the stop must fit in it",
                c.shutdown.delay, c.grace_period
            ),
        );
    }
    within("wait.timeout", c.wait.timeout, DAY)?;
    within("health.timeout", c.health.timeout, HOUR)?;
    within("health.cache", c.health.cache, DAY)?;
    for (name, t) in &c.health.check_timeouts {
        within(&format!("health.check_timeouts.{name}"), *t, HOUR)?;
    }
    for name in c.env.set.keys() {
        if !valid_env_name(name) {
            return bad(
                &format!("env.set.{name}"),
                "is not a valid variable name".into(),
            );
        }
    }
    for (i, cr) in c.credentials.iter().enumerate() {
        if cr.dest.is_empty() {
            return bad(&format!("credentials[{i}].dest"), "is required".into());
        }
    }
    validate_services(c)?;
    for (i, h) in c.hooks.iter().enumerate() {
        if h.command.trim().is_empty() {
            return bad(&format!("hooks[{i}].command"), "is empty".into());
        }
        within(&format!("hooks[{i}].timeout"), h.timeout, DAY)?;
    }
    Ok(())
}

/// Names usable as service or job names: they appear in logs and paths.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn validate_services(c: &Config) -> Result<(), (String, String)> {
    let bad = |key: String, msg: String| Err((key, msg));
    for (name, s) in &c.services {
        let key = |field: &str| format!("services.{name}.{field}");
        if !valid_name(name) {
            return bad(
                format!("services.{name}"),
                "a name is letters, digits, `-`, `_` or `.`".into(),
            );
        }
        if c.jobs.contains_key(name) {
            return bad(
                format!("services.{name}"),
                format!("a job is named `{name}` too: names must be unique"),
            );
        }
        if s.command.first().is_none_or(|c| c.trim().is_empty()) {
            return bad(key("command"), "is empty".into());
        }
        for (field, d, max) in [
            ("stop_timeout", s.stop_timeout, HOUR),
            ("ready_timeout", s.ready_timeout, DAY),
            ("restart_delay", s.restart_delay, HOUR),
            ("restart_max_delay", s.restart_max_delay, DAY),
        ] {
            if d.get() > max {
                return bad(
                    key(field),
                    format!("{d} is too long (at most {})", Seconds(max)),
                );
            }
        }
        if s.restart_delay.get() < Duration::from_millis(10) {
            return bad(
                key("restart_delay"),
                format!("{} is too short (at least 10ms)", s.restart_delay),
            );
        }
        for dep in &s.depends_on {
            if !c.services.contains_key(dep) {
                return bad(key("depends_on"), format!("no service is named `{dep}`"));
            }
        }
    }
    // A cycle: some service depends, through others, on itself.
    for start in c.services.keys() {
        let mut path = vec![start.as_str()];
        if let Some(cycle) = cycle_from(c, start, &mut path) {
            return bad(
                format!("services.{start}.depends_on"),
                format!("the dependencies go round: {cycle}"),
            );
        }
    }
    for (name, j) in &c.jobs {
        let key = |field: &str| format!("jobs.{name}.{field}");
        if !valid_name(name) {
            return bad(
                format!("jobs.{name}"),
                "a name is letters, digits, `-`, `_` or `.`".into(),
            );
        }
        if j.command.first().is_none_or(|c| c.trim().is_empty()) {
            return bad(key("command"), "is empty".into());
        }
        if j.every.get() < Duration::from_millis(100) {
            return bad(
                key("every"),
                format!("{} is too short (at least 100ms)", j.every),
            );
        }
        if j.every.get() > DAY * 30 {
            return bad(
                key("every"),
                format!("{} is too long (at most 30days)", j.every),
            );
        }
        if j.timeout.get().is_zero() || j.timeout.get() > DAY {
            return bad(
                key("timeout"),
                format!("{} is not between 0s and 1day", j.timeout),
            );
        }
    }
    Ok(())
}

fn cycle_from<'a>(c: &'a Config, at: &str, path: &mut Vec<&'a str>) -> Option<String> {
    let deps = c.services.get(at).map(|s| &s.depends_on)?;
    for dep in deps {
        if path.first() == Some(&dep.as_str()) {
            path.push(dep);
            return Some(path.join(" → "));
        }
        if path.contains(&dep.as_str()) {
            continue;
        }
        path.push(dep);
        if let Some(cycle) = cycle_from(c, dep, path) {
            return Some(cycle);
        }
        path.pop();
    }
    None
}

/// The services in an order that starts every dependency before what
/// depends on it (validated: no cycle, no unknown name).
pub fn start_order(c: &Config) -> Vec<String> {
    let mut done: Vec<String> = Vec::new();
    while done.len() < c.services.len() {
        let before = done.len();
        for (name, s) in &c.services {
            if !done.contains(name) && s.depends_on.iter().all(|d| done.contains(d)) {
                done.push(name.clone());
            }
        }
        if done.len() == before {
            break;
        }
    }
    done
}

/// A valid environment variable name: letters, digits and `_`, not
/// starting with a digit.
pub fn valid_env_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Where the health endpoint listens: `HOST:PORT`, `[V6]:PORT`, or just a
/// port (`8081`, `:8081`), which means loopback: the endpoint is reachable
/// from outside only when an address says so.
pub fn parse_listen(s: &str) -> Result<std::net::SocketAddr, String> {
    let bad = || format!("`{s}` is not a port or an address like 127.0.0.1:8081");
    let port_only = s.strip_prefix(':').unwrap_or(s);
    if let Ok(port) = port_only.parse::<u16>() {
        return Ok((std::net::Ipv4Addr::LOCALHOST, port).into());
    }
    s.parse().map_err(|_| bad())
}

/// Expands ${VAR} and ${VAR:-default} in `s` from `lookup`. `key` names the
/// configuration key in errors.
pub fn expand(
    s: &str,
    key: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, crate::exit::Error> {
    use crate::exit::Error;
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some((before, after)) = rest.split_once("${") {
        out.push_str(before);
        let (inner, tail) = after
            .split_once('}')
            .ok_or_else(|| Error::Config(format!("{key}: unterminated ${{ in `{s}`")))?;
        let (name, default) = match inner.split_once(":-") {
            Some((n, d)) => (n, Some(d)),
            None => (inner, None),
        };
        if !valid_env_name(name) {
            return Err(Error::Config(format!(
                "{key}: `${{{inner}}}` is not a variable reference"
            )));
        }
        match (
            lookup(name).filter(|v| !v.is_empty() || default.is_none()),
            default,
        ) {
            (Some(v), _) => out.push_str(&v),
            (None, Some(d)) => out.push_str(d),
            (None, None) => {
                return Err(Error::Config(format!(
                    "{key}: variable {name} is not set (use ${{{name}:-default}} for a fallback)"
                )))
            }
        }
        rest = tail;
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expansion() {
        let env = |n: &str| match n {
            "HOME" => Some("/home/agent".to_string()),
            "EMPTY" => Some(String::new()),
            _ => None,
        };
        assert_eq!(expand("${HOME}/x", "k", &env).unwrap(), "/home/agent/x");
        assert_eq!(expand("${NOPE:-d}", "k", &env).unwrap(), "d");
        assert_eq!(expand("${EMPTY:-d}", "k", &env).unwrap(), "d");
        assert_eq!(expand("plain", "k", &env).unwrap(), "plain");
        let e = expand("${NOPE}", "env.set.X", &env)
            .unwrap_err()
            .to_string();
        assert!(e.contains("env.set.X") && e.contains("NOPE"), "{e}");
        assert!(expand("${1X}", "k", &env).is_err());
        assert!(expand("${OPEN", "k", &env).is_err());
    }

    #[test]
    fn listen_addresses() {
        assert_eq!(parse_listen("8081").unwrap().to_string(), "127.0.0.1:8081");
        assert_eq!(parse_listen(":8081").unwrap().to_string(), "127.0.0.1:8081");
        assert_eq!(
            parse_listen("0.0.0.0:80").unwrap().to_string(),
            "0.0.0.0:80"
        );
        assert_eq!(parse_listen("[::1]:80").unwrap().to_string(), "[::1]:80");
        assert!(parse_listen("localhost").is_err());
        assert!(parse_listen("99999").is_err());
    }

    #[test]
    fn env_names() {
        assert!(valid_env_name("ANTHROPIC_API_KEY"));
        assert!(valid_env_name("_x1"));
        assert!(!valid_env_name("settings.json"));
        assert!(!valid_env_name("1ABC"));
        assert!(!valid_env_name(""));
    }
}
