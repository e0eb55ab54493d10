//! Every option, defined once: its key, flag, environment variable, default
//! and help. The command line (`cli`) is built from this table, the
//! environment layer reads the names it derives, `agent-init config` and the
//! README follow it, and the tests below hold it to `Config::default()`.
//!
//! Lists and maps of tables (`configmaps`, `credentials`, `hooks`,
//! `services`, `jobs`) are set in the
//! file (or as one TOML-like value in their variable); they are documented
//! in the README, not here.

/// Where a flag is accepted.
pub const INIT: u8 = 1;
/// `agent-init health`.
pub const HEALTH: u8 = 2;
pub const BOTH: u8 = INIT | HEALTH;

/// How a flag's value becomes the key's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// One value.
    Value,
    /// A switch: present means true.
    Switch,
    /// Repeatable; the values form the list (replacing the file's).
    List,
    /// Repeatable `NAME=VALUE`; each sets `key.NAME`.
    Map,
    /// Repeatable; each value is the `path` of one more table of a list of
    /// tables (`--configmap DIR`).
    Paths,
}

#[derive(Debug, Clone, Copy)]
pub struct Opt {
    /// Dotted configuration key.
    pub key: &'static str,
    /// Long flag without `--`, if the option has one.
    pub flag: Option<&'static str>,
    /// Placeholder of the flag's value in help.
    pub value: &'static str,
    pub kind: Kind,
    pub scope: u8,
    /// The default as shown (checked against `Config::default()`).
    pub default: &'static str,
    pub help: &'static str,
}

const fn opt(
    key: &'static str,
    flag: Option<&'static str>,
    value: &'static str,
    kind: Kind,
    scope: u8,
    default: &'static str,
    help: &'static str,
) -> Opt {
    Opt {
        key,
        flag,
        value,
        kind,
        scope,
        default,
        help,
    }
}

use Kind::*;

pub const OPTIONS: &[Opt] = &[
    opt("grace_period", Some("grace-period"), "DURATION", Value, INIT, "8s",
        "Time between forwarding SIGTERM/SIGINT and SIGKILL of what is left (30s, 1m30s, 500ms or seconds)"),
    opt("shutdown.delay", Some("shutdown-delay"), "DURATION", Value, INIT, "0s",
        "Hold SIGTERM this long (readiness failing already) before forwarding it, so load balancers drain; part of the grace period; a second SIGTERM/SIGINT skips it"),
    opt("termination_log", Some("termination-log"), "PATH", Value, INIT, "",
        "Where the termination report goes on exit (how startup or the command ended, a forced SIGKILL, run time, OOM kills; at most 4 KiB); unset: /dev/termination-log when it exists, empty: nowhere"),
    opt("signal_target", Some("signal-target"), "group|child", Value, INIT, "group",
        "Where forwarded signals go: the command's process group or the command only"),
    opt("stop_signal", Some("stop-signal"), "SIGNAL", Value, INIT, "",
        "The signal the command gets when the container is asked to stop (SIGTERM or SIGINT to agent-init): SIGINT lets agent CLIs finish the tool call and run their end-of-session hooks; unset: the signal that came"),
    opt("remap_exit", Some("remap-exit"), "FROM=TO", List, INIT, "[]",
        "Exit with TO when the command exits with FROM (repeatable or comma-separated; a bare FROM means FROM=0, as tini's -e): 143=0"),
    opt("warn_reaped", Some("warn-reaped"), "", Switch, INIT, "false",
        "Log a warning naming the pid and command of every reaped process that was not agent-init's own child (zombie leaks become visible, as tini's -w)"),
    opt("parent_death_signal", Some("parent-death-signal"), "SIGNAL", Value, INIT, "",
        "When not PID 1: get SIGNAL when agent-init's parent dies, forward it to the command and stop within the grace period (as tini's -p)"),
    opt("log_format", Some("log-format"), "text|json", Value, INIT, "text",
        "Log format on standard error"),
    opt("log_level", Some("log-level"), "LEVEL", Value, INIT, "info",
        "off, error, warn, info, debug or trace"),
    opt("preset", Some("preset"), "CLI", Value, INIT, "",
        "CLI preset: telemetry and auto-update off, non-interactive settings (claude, codex, gemini, opencode, qwen, openhands, aider)"),
    opt("user", Some("user"), "USER[:GROUP]", Value, INIT, "",
        "Run the command (and hooks) as USER[:GROUP], names or numbers"),
    opt("no_new_privs", Some("no-new-privs"), "", Switch, INIT, "false",
        "Set no_new_privs before the command's exec: setuid binaries cannot raise its privileges"),
    opt("workspace.enabled", None, "", Value, INIT, "true",
        "Run the workspace step"),
    opt("workspace.path", Some("workspace"), "PATH", Value, BOTH, "",
        "Workspace directory: validated at startup, trusted by git, checked by health"),
    opt("workspace.require_mount", Some("require-mount"), "BOOL", Value, BOTH, "true",
        "Whether the workspace must be a mount point"),
    opt("git.enabled", None, "", Value, INIT, "true",
        "Run the git step"),
    opt("git.safe_directories", None, "", Value, INIT, "[]",
        "Directories git trusts (empty: the workspace)"),
    opt("git.stale_locks", None, "remove|warn|ignore", Value, INIT, "remove",
        "Lock files (.git/*.lock, .git/refs/**/*.lock) untouched for 60 s at startup, left by a git that was killed: removed and logged, only logged, or left alone"),
    opt("env.enabled", None, "", Value, INIT, "true",
        "Run the env step"),
    opt("env.require", Some("require-env"), "NAME", List, INIT, "[]",
        "Variable that must be set and non-empty; `A|B|file:PATH` accepts any one of them (repeatable)"),
    opt("configmaps", Some("configmap"), "DIR", Paths, INIT, "[]",
        "Mounted ConfigMap/Secret directory or .env file whose keys become the command's environment (repeatable)"),
    opt("wait.enabled", None, "", Value, INIT, "true",
        "Run the wait step"),
    opt("wait.urls", Some("wait"), "URL", List, INIT, "[]",
        "Dependency to wait for before starting: tcp://, http(s)://, mcp+http(s):// (repeatable)"),
    opt("wait.timeout", Some("wait-timeout"), "DURATION", Value, INIT, "1m",
        "Total time to wait for dependencies"),
    opt("health.probe", Some("probe"), "liveness|readiness|startup", Value, HEALTH, "readiness",
        "Which probe `agent-init health` runs: liveness (the init and its command only), readiness (and each configured check), startup (liveness, and the startup has finished)"),
    opt("health.mcp", Some("mcp"), "URL", Value, BOTH, "",
        "MCP server or other dependency to check: tcp://HOST:PORT, http(s)://HOST:PORT/PATH[#status=N], mcp+http(s)://HOST:PORT/PATH"),
    opt("health.cli", Some("cli"), "NAME", Value, BOTH, "",
        "Agent CLI that must be on PATH and executable (default: the preset's)"),
    opt("health.deep", Some("deep"), "", Switch, BOTH, "false",
        "Also run the CLI's --version"),
    opt("health.min_free_memory_mb", Some("min-free-memory"), "MB", Value, BOTH, "64",
        "Minimum available memory against the cgroup limit"),
    opt("health.min_free_disk_mb", Some("min-free-disk"), "MB", Value, BOTH, "100",
        "Minimum free space on the workspace filesystem"),
    opt("health.min_free_inodes", Some("min-free-inodes"), "N", Value, BOTH, "1000",
        "Minimum free inodes on the workspace filesystem"),
    opt("health.timeout", Some("timeout"), "DURATION", Value, BOTH, "5s",
        "Time budget of each check"),
    opt("health.check_timeouts", Some("check-timeout"), "NAME=DURATION", Map, BOTH, "{}",
        "Time budget of one check, overriding --timeout (repeatable): mcp=2s"),
    opt("health.skip", Some("skip"), "NAME", List, BOTH, "[]",
        "Checks to leave out (repeatable or comma-separated): process, services, cli, workspace, disk, mcp, memory"),
    opt("health.listen", Some("health-listen"), "ADDR", Value, INIT, "",
        "Serve /livez, /readyz and /healthz over HTTP here: a port (on 127.0.0.1) or HOST:PORT"),
    opt("health.cache", Some("health-cache"), "DURATION", Value, INIT, "0s",
        "How long an HTTP probe result may be reused"),
];

/// `health.min_free_memory_mb` → `AGENT_INIT_HEALTH__MIN_FREE_MEMORY_MB`.
pub fn env_name(key: &str) -> String {
    let mut name = String::from(super::ENV_PREFIX);
    name.push_str(&key.replace('.', "__").to_ascii_uppercase());
    name
}

#[cfg(test)]
pub fn by_key(key: &str) -> Option<&'static Opt> {
    OPTIONS.iter().find(|o| o.key == key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use figment::value::Value;

    fn leaves(v: &Value, prefix: &str, out: &mut Vec<(String, Value)>) {
        match v {
            Value::Dict(_, d)
                if !d.is_empty() && !prefix.ends_with("check_timeouts") && prefix != "env.set" =>
            {
                for (k, v) in d {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    leaves(v, &key, out);
                }
            }
            other => out.push((prefix.to_string(), other.clone())),
        }
    }

    fn defaults() -> Vec<(String, Value)> {
        let v = Value::serialize(Config::default()).unwrap();
        let mut out = Vec::new();
        leaves(&v, "", &mut out);
        out
    }

    /// Lists of tables and free maps are documented in the README instead.
    const NOT_OPTIONS: [&str; 5] = ["credentials", "hooks", "env.set", "services", "jobs"];

    #[test]
    fn every_key_of_the_configuration_is_an_option() {
        for (key, _) in defaults() {
            if NOT_OPTIONS.contains(&key.as_str()) {
                continue;
            }
            assert!(by_key(&key).is_some(), "{key} is not in OPTIONS");
        }
    }

    #[test]
    fn every_option_is_a_key_with_the_default_it_shows() {
        let defaults = defaults();
        for o in OPTIONS {
            let (_, value) = defaults
                .iter()
                .find(|(k, _)| k == o.key)
                .unwrap_or_else(|| panic!("{} is not a configuration key", o.key));
            let shown = crate::config::load::render(value);
            let shown = if shown == "(unset)" {
                ""
            } else {
                shown.trim_matches('"')
            };
            assert_eq!(shown, o.default, "default of {}", o.key);
        }
    }

    /// The reference table in the README, as the table here makes it.
    fn reference() -> String {
        let mut out = String::from(
            "| key | flag | environment | default | meaning |\n|-----|------|-------------|---------|---------|\n",
        );
        for o in OPTIONS {
            let flag = match (o.flag, o.kind) {
                (None, _) => String::new(),
                (Some(f), Kind::Switch) => format!("`--{f}`"),
                (Some(f), _) => format!("`--{f} {}`", o.value.replace('|', "\\|")),
            };
            let flag = match (o.scope, flag.is_empty()) {
                (_, true) => flag,
                (HEALTH, _) => format!("{flag} (health)"),
                (INIT, _) if o.key.starts_with("health.") => format!("{flag} (init)"),
                _ => flag,
            };
            let default = if o.default.is_empty() {
                "(unset)".to_string()
            } else {
                format!("`{}`", o.default)
            };
            out.push_str(&format!(
                "| `{}` | {flag} | `{}` | {default} | {} |\n",
                o.key,
                env_name(o.key),
                o.help.replace('|', "\\|")
            ));
        }
        out
    }

    #[test]
    fn the_readme_reference_is_this_table() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md");
        let readme = std::fs::read_to_string(path).unwrap();
        let (start, end) = ("<!-- options:start -->\n", "<!-- options:end -->");
        let a = readme.find(start).expect("README has the options markers") + start.len();
        let b = readme.find(end).expect("README has the options markers");
        let table = reference();
        if readme[a..b] != table {
            if std::env::var_os("UPDATE_README").is_some() {
                std::fs::write(path, format!("{}{table}{}", &readme[..a], &readme[b..])).unwrap();
            } else {
                panic!(
                    "README's option reference is stale (UPDATE_README=1 rewrites it):\n{table}"
                );
            }
        }
    }

    #[test]
    fn flags_and_env_names_are_unique() {
        let mut flags: Vec<_> = OPTIONS.iter().filter_map(|o| o.flag).collect();
        let n = flags.len();
        flags.sort();
        flags.dedup();
        assert_eq!(flags.len(), n, "a flag is defined twice");
        assert_eq!(
            env_name("health.min_free_memory_mb"),
            "AGENT_INIT_HEALTH__MIN_FREE_MEMORY_MB"
        );
    }
}
