//! Configuration: layers, validation and provenance.
//!
//! Later wins: built-in defaults < TOML file (`/etc/agent-init/config.toml`
//! or `--config PATH`) < `AGENT_INIT_*` environment variables (`__` nests:
//! `AGENT_INIT_WORKSPACE__PATH` is `workspace.path`) < command-line flags.
//! Unknown keys are errors; every error names the key and where its value
//! came from. Nothing here has side effects beyond reading the file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use serde::{Deserialize, Serialize};

use crate::cli::{LogFormat, SignalTarget};
use crate::exit::Error;

pub const DEFAULT_FILE: &str = "/etc/agent-init/config.toml";
pub const ENV_PREFIX: &str = "AGENT_INIT_";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Seconds between forwarding SIGTERM/SIGINT and SIGKILL of the group.
    pub grace_period: f64,
    pub signal_target: SignalTarget,
    pub log_format: LogFormat,
    pub log_level: String,
    /// CLI preset: claude, codex, gemini, opencode, qwen, openhands, aider.
    pub preset: Option<String>,
    /// USER[:GROUP] (names or numbers) the command runs as.
    pub user: Option<String>,
    /// Set no_new_privs before exec.
    pub no_new_privs: bool,
    pub workspace: Workspace,
    pub git: Git,
    pub env: EnvStep,
    pub configmaps: Vec<ConfigMap>,
    pub credentials: Vec<Credential>,
    pub wait: Wait,
    pub hooks: Vec<Hook>,
    pub health: Health,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Workspace {
    pub enabled: bool,
    /// The workspace directory; the step is skipped while it is unset.
    pub path: Option<PathBuf>,
    pub require_mount: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Git {
    pub enabled: bool,
    /// Directories git trusts; empty means the workspace.
    pub safe_directories: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EnvStep {
    pub enabled: bool,
    /// Each entry must be satisfied; `A|B|file:PATH` accepts any one of
    /// variables A, B (present and non-empty) or a readable file.
    pub require: Vec<String>,
    /// Variables set for the command; values may use ${VAR} and ${VAR:-default}.
    pub set: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConfigMap {
    /// A mounted ConfigMap/Secret directory, or a `.env` file.
    pub path: PathBuf,
    /// Keys become environment variables of the command.
    pub env: bool,
    /// Prefix for those variable names.
    pub prefix: String,
    /// Keys copied to files.
    pub files: Vec<FileCopy>,
    /// A missing directory is an error unless optional.
    pub optional: bool,
}

impl Default for ConfigMap {
    fn default() -> Self {
        ConfigMap {
            path: PathBuf::new(),
            env: true,
            prefix: String::new(),
            files: Vec::new(),
            optional: false,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FileCopy {
    pub key: String,
    /// Destination; `~/` is the command user's home.
    pub dest: String,
    /// Octal mode, e.g. "0600".
    pub mode: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Credential {
    /// The mounted (often read-only) credentials file.
    pub source: PathBuf,
    /// Where the CLI expects it, writable; `~/` is the command user's home.
    pub dest: String,
    /// Octal mode of the copy (default 0600).
    pub mode: Option<String>,
    /// A missing source is skipped instead of an error.
    pub optional: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Wait {
    pub enabled: bool,
    /// tcp://H:P, http://H:P/PATH[#status=N], mcp+http://H:P/PATH
    pub urls: Vec<String>,
    /// Total seconds to wait for all of them.
    pub timeout: f64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Hook {
    pub name: String,
    /// Run with `sh -c`, as the command's user, in its environment.
    pub command: String,
    pub timeout: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Health {
    pub mcp: Option<String>,
    pub cli: Option<String>,
    pub deep: bool,
    pub min_free_memory_mb: u64,
    pub min_free_disk_mb: u64,
    pub min_free_inodes: u64,
    pub timeout: f64,
    /// Per-check budgets in seconds: { mcp = 2 }.
    pub check_timeouts: BTreeMap<String, f64>,
    pub skip: Vec<String>,
    /// Serve /livez, /readyz, /healthz on this address.
    pub listen: Option<String>,
    /// Seconds an HTTP probe result may be reused.
    pub cache: f64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            grace_period: 8.0,
            signal_target: SignalTarget::Group,
            log_format: LogFormat::Text,
            log_level: "info".into(),
            preset: None,
            user: None,
            no_new_privs: false,
            workspace: Workspace::default(),
            git: Git::default(),
            env: EnvStep {
                enabled: true,
                ..EnvStep::default()
            },
            configmaps: Vec::new(),
            credentials: Vec::new(),
            wait: Wait::default(),
            hooks: Vec::new(),
            health: Health::default(),
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
        }
    }
}

impl Default for Wait {
    fn default() -> Self {
        Wait {
            enabled: true,
            urls: Vec::new(),
            timeout: 60.0,
        }
    }
}

impl Default for Health {
    fn default() -> Self {
        Health {
            mcp: None,
            cli: None,
            deep: false,
            min_free_memory_mb: 64,
            min_free_disk_mb: 100,
            min_free_inodes: 1000,
            timeout: 5.0,
            check_timeouts: BTreeMap::new(),
            skip: Vec::new(),
            listen: None,
            cache: 0.0,
        }
    }
}

/// Values given on the command line, as a figment layer. `flags` maps each
/// dotted key to the flag that set it, for provenance.
pub struct Flags {
    pub dict: Dict,
    pub flags: BTreeMap<String, String>,
}

impl Flags {
    pub fn new() -> Self {
        Flags {
            dict: Dict::new(),
            flags: BTreeMap::new(),
        }
    }

    /// Sets dotted `key` (from `flag`) to `value`.
    pub fn set(&mut self, key: &str, flag: &str, value: impl Into<Value>) {
        let parts: Vec<&str> = key.split('.').collect();
        insert(&mut self.dict, &parts, value.into());
        self.flags.insert(key.to_string(), flag.to_string());
    }
}

fn insert(dict: &mut Dict, path: &[&str], value: Value) {
    match path {
        [last] => {
            dict.insert(last.to_string(), value);
        }
        [first, rest @ ..] => {
            let entry = dict
                .entry(first.to_string())
                .or_insert_with(|| Value::from(Dict::new()));
            if let Value::Dict(_, inner) = entry {
                insert(inner, rest, value);
            }
        }
        [] => {}
    }
}

impl Provider for Flags {
    fn metadata(&self) -> Metadata {
        let flags = self.flags.clone();
        Metadata::named("command line").interpolater(move |_: &Profile, k: &[&str]| {
            flags
                .get(&k.join("."))
                .cloned()
                .unwrap_or_else(|| k.join("."))
        })
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.dict.clone()))
    }
}

/// Where the configuration file is, and whether it had to exist.
pub fn file_path(explicit: Option<&Path>) -> (PathBuf, bool) {
    match explicit {
        Some(p) => (p.to_path_buf(), true),
        None => match std::env::var_os("AGENT_INIT_CONFIG") {
            Some(p) => (PathBuf::from(p), true),
            None => (PathBuf::from(DEFAULT_FILE), false),
        },
    }
}

/// The merged figment (kept for provenance) and the validated config.
pub struct Loaded {
    pub figment: Figment,
    pub config: Config,
    pub file: Option<PathBuf>,
}

pub fn load(explicit_file: Option<&Path>, flags: Flags) -> Result<Loaded, Error> {
    let (path, required) = file_path(explicit_file);
    let mut figment = Figment::from(Serialized::defaults(Config::default()));
    let mut file = None;
    if path.exists() {
        // Read it ourselves: a missing or unreadable file gets a clear error,
        // and TOML syntax errors keep their line and column.
        let text = std::fs::read_to_string(&path)
            .map_err(|e| Error::Config(format!("reading {}: {e}", path.display())))?;
        toml::from_str::<toml::Value>(&text).map_err(|e| {
            // One line: the position, then the explanation without the
            // source excerpt.
            let text = e.to_string();
            let lines: Vec<&str> = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.contains('|'))
                .collect();
            Error::Config(format!("{}: {}", path.display(), lines.join(": ")))
        })?;
        figment = figment.merge(Toml::file(&path));
        file = Some(path);
    } else if required {
        return Err(Error::Config(format!(
            "configuration file {} does not exist",
            path.display()
        )));
    }
    figment = figment
        .merge(
            Env::prefixed(ENV_PREFIX)
                .split("__")
                .ignore(&["CONFIG"])
                .map(|k| env_key(k.as_str()).into())
                // Last: every step before resets it to true.
                .lowercase(false),
        )
        .merge(flags);
    let config: Config = figment.extract().map_err(|e| describe(&figment, e))?;
    validate(&config)?;
    Ok(Loaded {
        figment,
        config,
        file,
    })
}

/// Keys are lower case, except the variable names under `env.set`, which
/// keep their case: AGENT_INIT_ENV__SET__MCP_URL sets MCP_URL.
fn env_key(key: &str) -> String {
    let lower = key.to_ascii_lowercase();
    match lower.strip_prefix("env.set.") {
        Some(_) => format!("env.set.{}", &key["env.set.".len()..]),
        None => lower,
    }
}

/// "workspace.path from env AGENT_INIT_WORKSPACE__PATH: invalid type: …"
fn describe(figment: &Figment, e: figment::Error) -> Error {
    let key = e.path.join(".");
    let source = if key.is_empty() {
        e.metadata
            .as_ref()
            .map(source_of_metadata)
            .unwrap_or_default()
    } else {
        source_of(figment, &key, e.metadata.as_ref())
    };
    let mut msg = match (key.is_empty(), source.is_empty()) {
        (true, true) => String::new(),
        (true, false) => format!("{source}: "),
        (false, _) => format!("{key} from {source}: "),
    };
    msg.push_str(&e.kind.to_string());
    Error::Config(msg)
}

fn source_of_metadata(md: &Metadata) -> String {
    match &md.source {
        Some(figment::Source::File(p)) => format!("file {}", p.display()),
        _ => md.name.to_string(),
    }
}

/// Where the value of dotted `key` came from, in words a user can act on.
pub fn source_of(figment: &Figment, key: &str, fallback: Option<&Metadata>) -> String {
    let md = figment.find_metadata(key).or(fallback);
    let Some(md) = md else {
        return "unknown source".into();
    };
    let parts: Vec<&str> = key.split('.').collect();
    match &md.source {
        Some(figment::Source::File(p)) => format!("file {} key {key}", p.display()),
        _ if md.name.contains("environment") => {
            let name: Vec<String> = parts.iter().map(|p| p.to_ascii_uppercase()).collect();
            format!("env {ENV_PREFIX}{}", name.join("__"))
        }
        _ if md.name == "command line" => {
            format!("flag {}", md.interpolate(&Profile::Default, &parts))
        }
        _ => "default".into(),
    }
}

fn validate(c: &Config) -> Result<(), Error> {
    let err = |key: &str, msg: String| Error::Config(format!("{key}: {msg}"));
    let bad = |key: &str, msg: String| Err(err(key, msg));
    if !(c.grace_period.is_finite() && c.grace_period >= 0.0) {
        return bad(
            "grace_period",
            format!("{} is not a non-negative number of seconds", c.grace_period),
        );
    }
    if c.log_level
        .parse::<tracing::level_filters::LevelFilter>()
        .is_err()
    {
        return bad(
            "log_level",
            format!(
                "`{}` is not one of off, error, warn, info, debug, trace",
                c.log_level
            ),
        );
    }
    if let Some(p) = &c.preset {
        if crate::steps::preset::lookup(p).is_none() {
            return bad(
                "preset",
                format!(
                    "unknown preset `{p}` (known: {})",
                    crate::steps::preset::names()
                ),
            );
        }
    }
    // URLs (wait.urls, health.mcp) may hold ${VAR}: they are parsed where
    // they are expanded, by the wait step and HealthOptions::from_config.
    if let Some(addr) = &c.health.listen {
        parse_listen(addr).map_err(|e| err("health.listen", e))?;
    }
    for name in &c.health.skip {
        if !crate::health::CHECKS.contains(&name.as_str()) {
            return bad(
                "health.skip",
                format!(
                    "unknown check `{name}` (known: {})",
                    crate::health::CHECKS.join(", ")
                ),
            );
        }
    }
    for (i, m) in c.configmaps.iter().enumerate() {
        for f in &m.files {
            if let Some(mode) = &f.mode {
                parse_mode(mode).map_err(|e| err(&format!("configmaps[{i}].files.mode"), e))?;
            }
        }
    }
    for (i, cr) in c.credentials.iter().enumerate() {
        if let Some(mode) = &cr.mode {
            parse_mode(mode).map_err(|e| err(&format!("credentials[{i}].mode"), e))?;
        }
        if cr.dest.is_empty() {
            return bad(&format!("credentials[{i}].dest"), "is required".into());
        }
    }
    for (i, h) in c.hooks.iter().enumerate() {
        if h.command.trim().is_empty() {
            return bad(&format!("hooks[{i}].command"), "is empty".into());
        }
    }
    Ok(())
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

pub fn parse_mode(s: &str) -> Result<u32, String> {
    u32::from_str_radix(s.trim_start_matches("0o"), 8)
        .ok()
        .filter(|m| *m <= 0o7777)
        .ok_or_else(|| format!("`{s}` is not an octal file mode like 0600"))
}

/// Every leaf of the merged configuration: (dotted key, value as TOML-ish
/// text, source). Values of secret-looking keys are redacted.
pub fn effective(loaded: &Loaded) -> Vec<(String, String, String)> {
    let value = Value::serialize(&loaded.config).unwrap_or_else(|_| Value::from(Dict::new()));
    let mut out = Vec::new();
    walk(&value, String::new(), &mut |key, v| {
        // Only values of variables can be secrets; paths and URLs are not.
        let is_var = key.starts_with("env.set.");
        let shown =
            if is_var && crate::logging::is_secret_name(key.rsplit('.').next().unwrap_or(&key)) {
                crate::logging::REDACTED.to_string()
            } else {
                v
            };
        let source = source_of(&loaded.figment, &key, None);
        out.push((key, shown, source));
    });
    out
}

fn walk(v: &Value, prefix: String, f: &mut dyn FnMut(String, String)) {
    match v {
        Value::Dict(_, d) if !d.is_empty() => {
            for (k, v) in d {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                walk(v, key, f);
            }
        }
        other => f(prefix, render(other)),
    }
}

fn render(v: &Value) -> String {
    match v {
        Value::String(_, s) => format!("{s:?}"),
        Value::Char(_, c) => format!("{c:?}"),
        Value::Bool(_, b) => b.to_string(),
        Value::Num(_, n) => match n.to_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
            Some(f) => f.to_string(),
            None => "?".into(),
        },
        Value::Empty(_, _) => "(unset)".into(),
        Value::Dict(_, d) if d.is_empty() => "{}".into(),
        Value::Dict(_, d) => format!("{{ {} entries }}", d.len()),
        Value::Array(_, a) => format!("[{}]", a.iter().map(render).collect::<Vec<_>>().join(", ")),
    }
}

/// Expands ${VAR} and ${VAR:-default} in `s` from `lookup`. `key` names the
/// configuration key in errors.
pub fn expand(
    s: &str,
    key: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, Error> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("${") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| Error::Config(format!("{key}: unterminated ${{ in `{s}`")))?;
        let inner = &after[..end];
        let (name, default) = match inner.split_once(":-") {
            Some((n, d)) => (n, Some(d)),
            None => (inner, None),
        };
        let valid = !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !name.starts_with(|c: char| c.is_ascii_digit());
        if !valid {
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
        rest = &after[end + 1..];
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
    fn modes() {
        assert_eq!(parse_mode("0600").unwrap(), 0o600);
        assert!(parse_mode("0999").is_err());
    }
}
