//! Loading: the layers as figment providers, merged, extracted into the
//! typed `Config` and validated; errors name the key and the layer it came
//! from. Defaults are not a layer: serde fills them, and a key no layer set
//! is shown as coming from the default.

// Arithmetic on lengths and counts taken from input: checked or
// saturating, never a panic or a wrap.
#![cfg_attr(not(test), deny(clippy::arithmetic_side_effects))]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use figment::providers::{Format, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};

use super::{options, validate, Config};
use crate::exit::Error;

pub const DEFAULT_FILE: &str = "/etc/agent-init/config.toml";
pub const ENV_PREFIX: &str = "AGENT_INIT_";
/// The variable naming the configuration file (not a key).
const CONFIG_VAR: &str = "AGENT_INIT_CONFIG";

/// What the configuration is loaded from.
pub struct Sources {
    /// `--config PATH`, if given.
    pub file: Option<PathBuf>,
    /// The environment (all of it; only `AGENT_INIT_*` is read).
    pub env: Vec<(String, String)>,
    /// `AGENT_INIT_*` variables whose name or value is not UTF-8, their
    /// names escaped: refused, never dropped in silence.
    pub not_text: Vec<String>,
    pub flags: Flags,
}

impl Sources {
    /// The process's own environment.
    pub fn from_process(file: Option<PathBuf>, flags: Flags) -> Sources {
        let mut env = Vec::new();
        let mut not_text = Vec::new();
        for (k, v) in crate::sys::environ() {
            if !k.starts_with(ENV_PREFIX.as_bytes()) {
                continue;
            }
            match (std::str::from_utf8(k), std::str::from_utf8(v)) {
                (Ok(k), Ok(v)) => env.push((k.to_string(), v.to_string())),
                (Ok(k), Err(_)) => not_text.push(k.to_string()),
                (Err(_), _) => not_text.push(k.escape_ascii().to_string()),
            }
        }
        Sources {
            file,
            env,
            not_text,
            flags,
        }
    }
}

/// Values given on the command line, as a figment layer. `flags` maps each
/// dotted key to the flag that set it, for provenance.
#[derive(Default, Debug)]
pub struct Flags {
    dict: Dict,
    flags: BTreeMap<String, String>,
}

impl Flags {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets dotted `key` (from `flag`) to `value`.
    pub fn set(&mut self, key: &str, flag: &str, value: impl Into<Value>) {
        let parts: Vec<&str> = key.split('.').collect();
        insert(&mut self.dict, &parts, value.into());
        self.flags.insert(key.to_string(), flag.to_string());
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.dict.is_empty()
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

const FLAGS_NAME: &str = "command line";
const ENV_NAME: &str = "environment";

impl Provider for Flags {
    fn metadata(&self) -> Metadata {
        let flags = self.flags.clone();
        Metadata::named(FLAGS_NAME).interpolater(move |_: &Profile, k: &[&str]| {
            // A map flag (--check-timeout mcp=2s) sets a key below its own.
            (1..=k.len())
                .rev()
                .find_map(|n| flags.get(&k.get(..n)?.join(".")).cloned())
                .unwrap_or_else(|| k.join("."))
        })
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.dict.clone()))
    }
}

/// The `AGENT_INIT_*` variables, as a layer: `__` nests, names are lower
/// case but for the variable names under `env.set`, values are read the way
/// figment reads them (`1000` a number, `[a, b]` a list), and the typed
/// fields accept text for numbers and numbers for text.
struct EnvLayer {
    dict: Dict,
    /// Kubernetes service links left out: (variable, shape).
    links: Vec<(String, &'static str)>,
}

/// How deep a list or table in a variable may nest: far more than any
/// setting needs, far less than what would exhaust the stack.
pub const MAX_DEPTH: usize = 32;

impl EnvLayer {
    fn new(env: &[(String, String)]) -> Result<EnvLayer, Error> {
        let mut dict = Dict::new();
        let mut links = Vec::new();
        for (name, raw) in env {
            let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            if name == CONFIG_VAR || rest.is_empty() {
                continue;
            }
            if let Some(shape) = service_link(rest, raw) {
                // Logged once logging is set up (it is not yet).
                links.push((name.clone(), shape));
                continue;
            }
            let key = env_key(rest).map_err(|why| Error::Config(format!("{name}: {why}")))?;
            let parts: Vec<&str> = key.split('.').collect();
            let value = if structured(raw) && !key.starts_with("env.set.") {
                if depth(raw) > MAX_DEPTH {
                    return Err(Error::Config(format!(
                        "{name}: lists and tables nest more than {MAX_DEPTH} levels deep"
                    )));
                }
                raw.parse::<Value>()
                    .unwrap_or_else(|_| Value::from(raw.clone()))
            } else {
                Value::from(raw.clone())
            };
            insert(&mut dict, &parts, value);
        }
        Ok(EnvLayer { dict, links })
    }
}

/// The deepest nesting of `[` and `{` in `raw`. Quotes are not looked at:
/// where a quoted string starts is the parser's business, and a bracket
/// counted too many costs only a refusal of text no setting holds.
pub fn depth(raw: &str) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    for c in raw.chars() {
        match c {
            '[' | '{' => {
                depth = depth.saturating_add(1);
                deepest = deepest.max(depth);
            }
            ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

impl Provider for EnvLayer {
    fn metadata(&self) -> Metadata {
        Metadata::named(ENV_NAME)
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.dict.clone()))
    }
}

/// Whether a variable's value is a list or table in figment's syntax
/// (`[a, b]`, `{path = "/x"}`). Everything else stays text, which the typed
/// fields read themselves. figment's parser slices strings by character
/// index, so text with a backslash after non-ASCII characters would make it
/// panic: such a value is never handed to it.
fn structured(raw: &str) -> bool {
    let t = raw.trim_start();
    (t.starts_with('[') || t.starts_with('{')) && (raw.is_ascii() || !raw.contains('\\'))
}

/// `WORKSPACE__PATH` → `workspace.path`; `ENV__SET__MCP_URL` →
/// `env.set.MCP_URL` (variable names keep their case). A name of other
/// characters (a dot, a dash, anything not ASCII) or with an empty level
/// is no key: why, in words.
fn env_key(rest: &str) -> Result<String, String> {
    const SET: &str = "ENV__SET__";
    let (head, var) = match rest.get(..SET.len()) {
        Some(p) if p.eq_ignore_ascii_case(SET) => (
            rest.get(..SET.len().saturating_sub(2)).unwrap_or_default(),
            rest.get(SET.len()..),
        ),
        _ => (rest, None),
    };
    if let Some(bad) = head
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_'))
    {
        return Err(format!(
            "not a setting: {bad:?} cannot stand in the name of one (letters, digits and \
             `_` only; `__` nests, as in AGENT_INIT_WAIT__URLS)"
        ));
    }
    let lower = head.replace("__", ".").to_ascii_lowercase();
    if lower.split('.').any(str::is_empty) {
        return Err(
            "not a setting: a level of the name is empty (`__` nests once, \
                    as in AGENT_INIT_WAIT__URLS)"
                .into(),
        );
    }
    match var {
        None => Ok(lower),
        Some(var) if crate::config::valid_env_name(var) => Ok(format!("env.set.{var}")),
        Some(var) => Err(format!(
            "`{}` is not a valid environment variable name for env.set",
            var.escape_debug()
        )),
    }
}

/// Whether `AGENT_INIT_<rest>=<value>` is a variable the kubelet injects for
/// a Service named `agent-init…` (enableServiceLinks): `<X>_SERVICE_HOST`,
/// `<X>_SERVICE_PORT[_<NAME>]`, `<X>_PORT`, `<X>_PORT_<N>_<PROTO>` and its
/// `_ADDR`, `_PORT`, `_PROTO`, where `<X>` is the rest of the Service's name
/// (empty for `agent-init` itself). Checked by name and value, so a typo of
/// a real key is still an error.
fn service_link(rest: &str, value: &str) -> Option<&'static str> {
    if rest.contains("__") {
        return None;
    }
    let is_port = |s: &str| !s.is_empty() && s.len() <= 5 && s.bytes().all(|b| b.is_ascii_digit());
    let is_proto = |s: &str| matches!(s, "TCP" | "UDP" | "SCTP");
    let is_ip = |s: &str| s.parse::<std::net::IpAddr>().is_ok();
    let is_url = |s: &str| {
        ["tcp://", "udp://", "sctp://"].iter().any(|p| {
            s.strip_prefix(p)
                .and_then(|a| a.parse::<std::net::SocketAddr>().ok())
                .is_some()
        })
    };
    let words: Vec<&str> = rest.split('_').collect();
    // The service's own name is any number of words in front: try each.
    for start in 0..words.len() {
        let tail = words.get(start..).unwrap_or_default();
        let hit = match tail {
            ["SERVICE", "HOST"] => is_ip(value).then_some("<SERVICE>_SERVICE_HOST"),
            ["SERVICE", "PORT"] => is_port(value).then_some("<SERVICE>_SERVICE_PORT"),
            ["SERVICE", "PORT", name @ ..] if !name.is_empty() => {
                is_port(value).then_some("<SERVICE>_SERVICE_PORT_<NAME>")
            }
            ["PORT"] => is_url(value).then_some("<SERVICE>_PORT"),
            ["PORT", n, p] if is_port(n) && is_proto(p) => {
                is_url(value).then_some("<SERVICE>_PORT_<N>_<PROTO>")
            }
            ["PORT", n, p, "ADDR"] if is_port(n) && is_proto(p) => {
                is_ip(value).then_some("<SERVICE>_PORT_<N>_<PROTO>_ADDR")
            }
            ["PORT", n, p, "PORT"] if is_port(n) && is_proto(p) => {
                is_port(value).then_some("<SERVICE>_PORT_<N>_<PROTO>_PORT")
            }
            ["PORT", n, p, "PROTO"] if is_port(n) && is_proto(p) => {
                (value.eq_ignore_ascii_case(p)).then_some("<SERVICE>_PORT_<N>_<PROTO>_PROTO")
            }
            _ => None,
        };
        if hit.is_some() {
            return hit;
        }
    }
    None
}

/// Where the configuration file is, and whether it had to exist.
pub fn file_path(explicit: Option<&Path>, env: &[(String, String)]) -> (PathBuf, bool) {
    match explicit {
        Some(p) => (p.to_path_buf(), true),
        None => match env.iter().find(|(k, _)| k == CONFIG_VAR) {
            Some((_, p)) => (PathBuf::from(p), true),
            None => (PathBuf::from(DEFAULT_FILE), false),
        },
    }
}

/// The merged figment (kept for provenance) and the validated config.
pub struct Loaded {
    pub figment: Figment,
    pub config: Config,
    pub file: Option<PathBuf>,
    /// Variables left out as Kubernetes service links: (name, shape).
    pub service_links: Vec<(String, &'static str)>,
    /// The dotted keys the command line set.
    pub flag_keys: Vec<String>,
}

impl Loaded {
    /// The debug lines for what loading left out; call once logging is up.
    pub fn log_notes(&self) {
        for (variable, shape) in &self.service_links {
            tracing::debug!(%variable, "ignored: a Kubernetes service link ({shape}), not a setting");
        }
    }
}

pub fn load(sources: Sources) -> Result<Loaded, Error> {
    let (path, required) = file_path(sources.file.as_deref(), &sources.env);
    let mut figment = Figment::new();
    let mut file = None;
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            // Parsed here first: syntax errors keep their line and column,
            // on one line, without the source excerpt.
            toml::from_str::<toml::Value>(&text).map_err(|e| {
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
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::Config(format!(
                "configuration file {} does not exist",
                path.display()
            )))
        }
        Err(e) => {
            return Err(Error::Config(format!("reading {}: {e}", path.display())));
        }
    }
    if let Some(name) = sources.not_text.first() {
        return Err(Error::Config(format!(
            "{name}: the variable's name or value is not UTF-8 text; agent-init's settings must be"
        )));
    }
    let env_layer = EnvLayer::new(&sources.env)?;
    let service_links = env_layer.links.clone();
    let flag_keys = sources.flags.flags.keys().cloned().collect();
    figment = figment.merge(env_layer).merge(sources.flags);
    let config: Config = figment.extract().map_err(|e| describe(&figment, e))?;
    // A value that parses but is not acceptable (a duration too long, an
    // unknown check) is a configuration error, wherever it came from; one
    // that does not parse (`soon` for a duration, a preset or signal that
    // does not exist: closed sets, like the enums) is a usage error when a
    // flag gave it.
    validate(&config).map_err(|(key, msg)| {
        // An entry of a list (`configmaps[0].on_change`) came from where
        // the list did.
        let list = key.split('[').next().unwrap_or(&key);
        let source = if key.contains('[') {
            source_of(&figment, list)
        } else {
            source_of(&figment, &key)
        };
        Error::Config(format!("{key} from {source}: {msg}"))
    })?;
    Ok(Loaded {
        figment,
        config,
        file,
        service_links,
        flag_keys,
    })
}

/// Whether dotted `key` (or a key below it, as `--check-timeout mcp=2s`
/// sets `health.check_timeouts.mcp`) was set on the command line.
pub fn from_flags(loaded: &Loaded, key: &str) -> bool {
    loaded.flag_keys.iter().any(|k| {
        k == key
            || k.strip_prefix(key)
                .is_some_and(|rest| rest.starts_with('.'))
    })
}

/// A flag value that does not even parse is a usage error (64), like an
/// unknown flag; anything else is a configuration error (78).
fn error_from(source: &str, message: String) -> Error {
    if source.starts_with("flag ") {
        Error::Usage(message)
    } else {
        Error::Config(message)
    }
}

/// "workspace.path from env AGENT_INIT_WORKSPACE__PATH: invalid type: …"
fn describe(figment: &Figment, e: figment::Error) -> Error {
    let key = e.path.join(".");
    // An entry of a list as the user writes it: configmaps[0].on_change.
    let shown = e.path.iter().fold(String::new(), |mut k, part| {
        if part.bytes().all(|b| b.is_ascii_digit()) && !k.is_empty() {
            k.push_str(&format!("[{part}]"));
        } else {
            if !k.is_empty() {
                k.push('.');
            }
            k.push_str(part);
        }
        k
    });
    let source = if key.is_empty() {
        e.metadata.as_ref().map(layer_name).unwrap_or_default()
    } else {
        source_of_with(figment, &key, e.metadata.as_ref())
    };
    let msg = match (key.is_empty(), source.is_empty()) {
        (true, true) => e.kind.to_string(),
        (true, false) => format!("{source}: {}", e.kind),
        (false, _) => format!("{shown} from {source}: {}", e.kind),
    };
    error_from(&source, msg)
}

fn layer_name(md: &Metadata) -> String {
    match &md.source {
        Some(figment::Source::File(p)) => format!("file {}", p.display()),
        _ => md.name.to_string(),
    }
}

/// Where the value of dotted `key` came from, in words a user can act on.
pub fn source_of(figment: &Figment, key: &str) -> String {
    source_of_with(figment, key, None)
}

fn source_of_with(figment: &Figment, key: &str, fallback: Option<&Metadata>) -> String {
    let Some(md) = figment.find_metadata(key).or(fallback) else {
        return "default".into();
    };
    let parts: Vec<&str> = key.split('.').collect();
    if md.name == ENV_NAME {
        // Variable names under env.set keep their case.
        let name = match key.strip_prefix("env.set.") {
            Some(var) => format!("{ENV_PREFIX}ENV__SET__{var}"),
            None => options::env_name(key),
        };
        return format!("env {name}");
    }
    if md.name == FLAGS_NAME {
        return format!("flag {}", md.interpolate(&Profile::Default, &parts));
    }
    match &md.source {
        Some(figment::Source::File(p)) => format!("file {} key {key}", p.display()),
        _ if md.name.contains("TOML") => format!("the configuration file, key {key}"),
        _ => md.name.to_string(),
    }
}

/// Every leaf of the configuration: (dotted key, value as TOML-ish text,
/// source). Values under `env.set` with secret-looking names are redacted,
/// and so is the user information of every URL.
pub fn effective(loaded: &Loaded) -> Vec<(String, String, String)> {
    let value = Value::serialize(&loaded.config).unwrap_or_else(|_| Value::from(Dict::new()));
    let mut out = Vec::new();
    walk(&value, String::new(), &mut |key, v| {
        let shown = match key.strip_prefix("env.set.") {
            Some(name) if crate::logging::is_secret_name(name) => {
                crate::logging::REDACTED.to_string()
            }
            // URLs keep their credentials to themselves, as in every log.
            _ => healthcheck::target::without_userinfo(&render(&v)),
        };
        let source = source_of(&loaded.figment, &key);
        out.push((key, shown, source));
    });
    out
}

fn walk(v: &Value, prefix: String, f: &mut dyn FnMut(String, Value)) {
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
        other => f(prefix, other.clone()),
    }
}

/// A value as `agent-init config` shows it: a real value, or `(unset)`.
pub fn render(v: &Value) -> String {
    match v {
        Value::String(_, s) => format!("{s:?}"),
        Value::Char(_, c) => format!("{c:?}"),
        Value::Bool(_, b) => b.to_string(),
        Value::Num(_, n) => {
            if let Some(u) = n.to_u128() {
                u.to_string()
            } else if let Some(i) = n.to_i128() {
                i.to_string()
            } else {
                n.to_f64().map(|f| f.to_string()).unwrap_or_default()
            }
        }
        Value::Empty(_, _) => "(unset)".into(),
        Value::Dict(_, d) if d.is_empty() => "{}".into(),
        Value::Dict(_, d) => format!(
            "{{ {} }}",
            d.iter()
                .map(|(k, v)| format!("{k} = {}", render(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Value::Array(_, a) => format!("[{}]", a.iter().map(render).collect::<Vec<_>>().join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn load_env(pairs: &[(&str, &str)]) -> Result<Config, Error> {
        load(Sources {
            file: None,
            env: env(pairs),
            not_text: Vec::new(),
            flags: Flags::new(),
        })
        .map(|l| l.config)
    }

    #[test]
    fn service_links_are_not_settings() {
        for (name, value) in [
            ("SERVICE_HOST", "10.0.0.7"),
            ("SERVICE_PORT", "8081"),
            ("SERVICE_PORT_HTTP", "8081"),
            ("PORT", "tcp://10.0.0.7:8081"),
            ("PORT_8081_TCP", "tcp://10.0.0.7:8081"),
            ("PORT_8081_TCP_ADDR", "10.0.0.7"),
            ("PORT_8081_TCP_PORT", "8081"),
            ("PORT_8081_TCP_PROTO", "tcp"),
            ("HEALTH_SERVICE_HOST", "10.0.0.8"),
            ("HEALTH_PORT_80_UDP_PORT", "80"),
        ] {
            assert!(service_link(name, value).is_some(), "{name}={value}");
        }
        for (name, value) in [
            ("PORT", "8081"),
            ("SERVICE_HOST", "example"),
            ("GRACE_PERIOD", "8"),
            ("PORT_80_XYZ", "tcp://10.0.0.7:80"),
            ("HEALTH__LISTEN", "8081"),
        ] {
            assert!(service_link(name, value).is_none(), "{name}={value}");
        }
    }

    #[test]
    fn text_numbers_and_numbers_as_text() {
        let c = load_env(&[
            ("AGENT_INIT_USER", "1000"),
            ("AGENT_INIT_HEALTH__MIN_FREE_MEMORY_MB", "128"),
            ("AGENT_INIT_GRACE_PERIOD", "1m30s"),
            ("AGENT_INIT_WAIT__URLS", "tcp://db:5432"),
            ("AGENT_INIT_HEALTH__SKIP", "mcp,memory"),
        ])
        .unwrap();
        assert_eq!(c.user.as_deref(), Some("1000"));
        assert_eq!(c.health.min_free_memory_mb, 128);
        assert_eq!(c.grace_period.get().as_secs(), 90);
        assert_eq!(c.wait.urls, ["tcp://db:5432"]);
        assert_eq!(c.health.skip, ["mcp", "memory"]);
    }

    /// Found by the property tests: figment's parser panicked on this.
    #[test]
    fn non_ascii_text_with_a_backslash_is_just_text() {
        let c = load_env(&[("AGENT_INIT_USER", "𐹻𐤘;\\=:")]).unwrap();
        assert_eq!(c.user.as_deref(), Some("𐹻𐤘;\\=:"));
        // Kept as one text item, which the wait step will name as no URL.
        let c = load_env(&[("AGENT_INIT_WAIT__URLS", "[\"é\\x\"]")]).unwrap();
        assert_eq!(c.wait.urls, ["[\"é\\x\"]"]);
    }

    #[test]
    fn nesting_is_counted_whatever_the_quotes() {
        assert_eq!(depth("[a, [b]]"), 2);
        // A quote where no string can start does not hide what follows.
        let sneaky = format!("[a', {}", "[".repeat(100));
        assert_eq!(depth(&sneaky), 101);
        assert!(load_env(&[("AGENT_INIT_WAIT__URLS", &sneaky)]).is_err());
    }

    #[test]
    fn render_never_shows_a_question_mark() {
        for v in [Value::from(100u64), Value::from(-3i64), Value::from(0.5f64)] {
            assert!(!render(&v).contains('?'), "{v:?}");
        }
    }
}

#[cfg(test)]
pub(crate) mod properties {
    //! Whatever the layers hold, loading ends, in a Config or in an error
    //! that names a key or a source: never a panic, never a hang.

    use super::*;
    use crate::config::options::{env_name, OPTIONS};
    use proptest::prelude::*;

    /// Values that have broken parsers before, and arbitrary text.
    pub(crate) fn value() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("-1".to_string()),
            Just("1e308".to_string()),
            Just("inf".to_string()),
            Just("NaN".to_string()),
            Just("18446744073709551616".to_string()),
            Just("[a, b]".to_string()),
            Just("{x = 1}".to_string()),
            Just("true".to_string()),
            Just("".to_string()),
            "[0-9]{1,25}(\\.[0-9]{0,5})?(ms|s|m|h|d)?",
            "\\PC{0,40}",
            // Nesting, shallow and far too deep.
            (
                1usize..40,
                proptest::sample::select(vec!["[", "{a=", "[{a=", "{a=["])
            )
                .prop_map(|(n, open)| open.repeat(n)),
            (1000usize..6000).prop_map(|n| "[".repeat(n)),
        ]
    }

    /// Whole variable names after the prefix: dots, dashes, empty levels,
    /// other cases, characters that are not ASCII.
    fn raw_name() -> impl Strategy<Value = String> {
        prop_oneof![
            "[A-Za-z0-9_.\\-]{1,24}",
            "(ENV__SET__|ENV\\.SET\\.|WAIT__|HEALTH__)[A-Za-z0-9_.]{0,12}",
            "([A-Z]{1,8}_{1,4}){1,4}",
            "\\PC{1,12}",
        ]
    }

    fn key() -> impl Strategy<Value = String> {
        prop_oneof![
            proptest::sample::select(OPTIONS.iter().map(|o| o.key).collect::<Vec<_>>())
                .prop_map(str::to_string),
            "[a-z_]{1,12}(\\.[a-z_]{1,12}){0,2}",
            Just("hooks".to_string()),
            Just("configmaps".to_string()),
            Just("env.set.X".to_string()),
        ]
    }

    /// A TOML value in the file: of the right type or not.
    fn toml_value() -> impl Strategy<Value = String> {
        prop_oneof![
            value().prop_map(|v| format!("{v:?}")),
            "-?[0-9]{1,20}",
            Just("1e308".to_string()),
            Just("-0.5".to_string()),
            Just("nan".to_string()),
            Just("inf".to_string()),
            Just("[\"a\", 1]".to_string()),
            Just("{ command = \"x\", timeout = -3 }".to_string()),
            Just("[{ command = \"true\", timeout = 1e300 }]".to_string()),
            Just("true".to_string()),
        ]
    }

    pub(crate) fn load_all(env: Vec<(String, String)>, file: Option<String>, flags: Flags) {
        let dir = std::env::temp_dir().join(format!(
            "agent-init-prop-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("c.toml");
        let file = file.map(|text| {
            let _ = std::fs::write(&path, text);
            path.clone()
        });
        match load(Sources {
            file,
            env,
            not_text: Vec::new(),
            flags,
        }) {
            Ok(loaded) => {
                let _ = effective(&loaded);
            }
            Err(e) => assert!(!e.to_string().is_empty()),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 400, timeout: 5000, ..ProptestConfig::default() })]

        #[test]
        fn any_environment_loads_or_is_refused(
            pairs in proptest::collection::vec((key(), value()), 0..6)
        ) {
            let env = pairs.into_iter().map(|(k, v)| (env_name(&k), v)).collect();
            load_all(env, None, Flags::new());
        }

        #[test]
        fn any_variable_name_loads_or_is_refused(
            pairs in proptest::collection::vec((raw_name(), value()), 1..4)
        ) {
            let env = pairs.into_iter().map(|(k, v)| (format!("{ENV_PREFIX}{k}"), v)).collect();
            load_all(env, None, Flags::new());
        }

        #[test]
        fn any_file_loads_or_is_refused(
            lines in proptest::collection::vec((key(), toml_value()), 0..6),
            garbage in "\\PC{0,20}",
        ) {
            let mut text = String::new();
            for (k, v) in lines {
                match k.rsplit_once('.') {
                    Some((table, leaf)) => text.push_str(&format!("[{table}]\n{leaf} = {v}\n")),
                    None => text.push_str(&format!("{k} = {v}\n")),
                }
            }
            text.push_str(&garbage);
            load_all(Vec::new(), Some(text), Flags::new());
        }
    }
}
