//! Logging to standard error (text or JSON) and the rules that keep secrets
//! out of everything agent-init writes:
//! - a value whose variable name looks like a secret is replaced before it
//!   reaches a log line ([`redact`]);
//! - every secret value agent-init knows of (variables with secret-looking
//!   names, values loaded from mounted ConfigMaps and Secrets) is masked
//!   wherever it turns up anyway ([`scrub`]): in a log line, a hook's output,
//!   an expanded URL in an error, a health report. The log writer scrubs
//!   every line; callers scrub what they print on standard output.

use std::borrow::Cow;
use std::io::Write;

use serde::{Deserialize, Serialize};
use tracing::level_filters::LevelFilter;

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    /// One JSON object per line.
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Off,
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl LogLevel {
    pub fn filter(self) -> LevelFilter {
        match self {
            LogLevel::Off => LevelFilter::OFF,
            LogLevel::Error => LevelFilter::ERROR,
            LogLevel::Warn => LevelFilter::WARN,
            LogLevel::Info => LevelFilter::INFO,
            LogLevel::Debug => LevelFilter::DEBUG,
            LogLevel::Trace => LevelFilter::TRACE,
        }
    }
}

/// Name fragments that mark a variable as secret (compared upper-case):
/// `is_secret_name` scans for them by first letter; the tests hold its
/// table to this list.
#[cfg(test)]
const SECRET_MARKERS: [&str; 8] = [
    "TOKEN",
    "KEY",
    "SECRET",
    "PASSWORD",
    "PASSWD",
    "CREDENTIAL",
    "AUTH",
    "PRIVATE",
];

pub use healthcheck::mask::{scrub, REDACTED};

/// Shorter values are not masked where they turn up by chance: masking "1"
/// or "true" everywhere would garble every line and protect nothing.
const MIN_SECRET_NAMED: usize = healthcheck::mask::MIN_LEN;
const MIN_MOUNTED: usize = 8;

/// Sets up the logger; a second call is ignored (the first one wins).
pub fn init(format: LogFormat, level: LevelFilter) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    // Our own lines; the libraries' (rmcp, reqwest) only at trace level:
    // their errors reach the user through ours.
    let filter = tracing_subscriber::filter::Targets::new()
        .with_target("agent_init", level)
        .with_target("healthcheck", level)
        .with_default(if level == LevelFilter::TRACE {
            LevelFilter::TRACE
        } else {
            LevelFilter::OFF
        });
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(|| Scrubbed(Vec::new()))
        .with_target(false)
        .with_ansi(false);
    // A second subscriber can only come from a bug; logging is best effort.
    let registry = tracing_subscriber::registry().with(filter);
    let _ = match format {
        LogFormat::Text => registry.with(layer).try_init(),
        LogFormat::Json => registry.with(layer.json().flatten_event(true)).try_init(),
    };
}

/// A log line on its way to standard error: gathered whole, scrubbed, then
/// written with one call so lines from threads never interleave.
struct Scrubbed(Vec<u8>);

impl Write for Scrubbed {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for Scrubbed {
    fn drop(&mut self) {
        let text = String::from_utf8_lossy(&self.0);
        let _ = std::io::stderr().write_all(scrub(&text).as_bytes());
    }
}

pub fn is_secret_name(name: &str) -> bool {
    let name = name.as_bytes();
    let at = |i: usize, marker: &str| {
        name.get(i..i + marker.len())
            .is_some_and(|w| w.eq_ignore_ascii_case(marker.as_bytes()))
    };
    // Each position is looked at once, against only the markers that
    // start with its letter (SECRET_MARKERS, grouped by first letter).
    let found = name.iter().enumerate().any(|(i, b)| {
        let candidates: &[&str] = match b.to_ascii_uppercase() {
            b'T' => &["TOKEN"],
            b'K' => &["KEY"],
            b'S' => &["SECRET"],
            b'P' => &["PASSWORD", "PASSWD", "PRIVATE"],
            b'C' => &["CREDENTIAL"],
            b'A' => &["AUTH"],
            _ => &[],
        };
        candidates.iter().any(|m| at(i, m))
    });
    found && !is_known_harmless(name)
}

/// Well-known variables whose names look secret but whose values are not:
/// git's command-scope config keys (`safe.directory`), the ssh agent's and
/// X's socket and cookie paths.
fn is_known_harmless(name: &[u8]) -> bool {
    let upper = |s: &str| name.eq_ignore_ascii_case(s.as_bytes());
    const GIT_KEY: &[u8] = b"GIT_CONFIG_KEY_";
    upper("SSH_AUTH_SOCK")
        || upper("XAUTHORITY")
        || name
            .split_at_checked(GIT_KEY.len())
            .is_some_and(|(head, n)| {
                head.eq_ignore_ascii_case(GIT_KEY)
                    && !n.is_empty()
                    && n.iter().all(u8::is_ascii_digit)
            })
}

/// The value to log for variable `name`: itself, or a placeholder.
pub fn redact<'a>(name: &str, value: &'a str) -> Cow<'a, str> {
    if is_secret_name(name) {
        Cow::Borrowed(REDACTED)
    } else {
        Cow::Borrowed(value)
    }
}

/// Remembers the values of secret-looking variables among `vars`.
pub fn remember_secrets_of_env<K: AsRef<str>, V: AsRef<str>>(
    vars: impl IntoIterator<Item = (K, V)>,
) {
    let values: Vec<V> = vars
        .into_iter()
        .filter(|(k, _)| is_secret_name(k.as_ref()))
        .map(|(_, v)| v)
        .collect();
    healthcheck::mask::remember(values.iter().map(AsRef::as_ref), MIN_SECRET_NAMED);
}

/// Remembers values read from a mounted ConfigMap or Secret: whatever their
/// key's name, they are never shown.
pub fn remember_mounted_values<'a>(values: impl IntoIterator<Item = &'a str>) {
    healthcheck::mask::remember(values.into_iter().map(str::trim), MIN_MOUNTED);
}

/// Remembers what a file staged from a Secret holds (a credentials file, a
/// ConfigMap key copied to a file): the whole text, each line, and each
/// string in it when it is JSON, so a hook that prints the file shows none
/// of it.
pub fn remember_file_secrets(bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    let mut values: Vec<String> = text.lines().map(str::to_string).collect();
    values.push(text.trim().to_string());
    fn strings(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::String(s) => out.push(s.clone()),
            serde_json::Value::Array(a) => a.iter().for_each(|v| strings(v, out)),
            serde_json::Value::Object(o) => o.values().for_each(|v| strings(v, out)),
            _ => {}
        }
    }
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
        strings(&v, &mut values);
    }
    remember_mounted_values(values.iter().map(String::as_str));
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The fast scan finds a marker exactly where a plain search of
        /// every window does.
        #[test]
        fn the_fast_scan_agrees_with_a_plain_search(name in "[A-Za-z_]{0,6}(TOKEN|key|Secret|PASSWD|auth|PRIVATE|CREDENTIAL|PASSWORD|X)?[A-Za-z_0-9]{0,6}") {
            let plain = SECRET_MARKERS.iter().any(|m| {
                name.as_bytes()
                    .windows(m.len())
                    .any(|w| w.eq_ignore_ascii_case(m.as_bytes()))
            }) && !is_known_harmless(name.as_bytes());
            proptest::prop_assert_eq!(is_secret_name(&name), plain);
        }
    }

    /// Every marker is in the scan's table (a new one must be added there).
    #[test]
    fn every_marker_is_found_by_the_scan() {
        for m in SECRET_MARKERS {
            assert!(is_secret_name(&format!("X_{m}_Y")), "{m}");
            assert!(is_secret_name(&m.to_ascii_lowercase()), "{m}");
        }
    }

    #[test]
    fn secret_names() {
        for n in [
            "ANTHROPIC_API_KEY",
            "GITHUB_TOKEN",
            "db_password",
            "AWS_SECRET_ACCESS_KEY",
            "GOOGLE_APPLICATION_CREDENTIALS",
            "GIT_CONFIG_KEY_X",
            "GIT_CONFIG_VALUE_TOKEN",
        ] {
            assert!(is_secret_name(n), "{n}");
            assert_eq!(redact(n, "v"), REDACTED);
        }
        for n in [
            "HOME",
            "PATH",
            "TERM",
            "NODE_ENV",
            "GIT_CONFIG_KEY_0",
            "SSH_AUTH_SOCK",
        ] {
            assert!(!is_secret_name(n), "{n}");
            assert_eq!(redact(n, "v"), "v");
        }
    }

    #[test]
    fn remembered_values_are_masked_wherever_they_appear() {
        remember_secrets_of_env([
            ("GH_TOKEN", "ghp-unit-test-0001"),
            ("DISABLE_AUTH", "true"),
            ("PLAIN", "plain-value-0001"),
        ]);
        remember_mounted_values(["mounted\"quoted-0001", "short"]);
        let line = "GET http://x/?t=ghp-unit-test-0001 plain-value-0001 true short";
        assert_eq!(
            scrub(line),
            "GET http://x/?t=<redacted> plain-value-0001 true short"
        );
        assert_eq!(
            scrub(r#"{"v":"mounted\"quoted-0001"}"#),
            r#"{"v":"<redacted>"}"#
        );
        assert_eq!(scrub("mounted\"quoted-0001"), "<redacted>");
    }
}
