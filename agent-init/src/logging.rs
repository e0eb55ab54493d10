//! Logging to standard error (text or JSON) and the rule that keeps secret
//! values out of it: any value whose variable name looks like a secret is
//! replaced before it reaches a log line.

use std::borrow::Cow;

use tracing::level_filters::LevelFilter;

use crate::cli::LogFormat;

/// Name fragments that mark a variable as secret (compared upper-case).
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

pub const REDACTED: &str = "<redacted>";

pub fn init(format: LogFormat, level: LevelFilter) {
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(level)
        .with_target(false)
        .with_ansi(false);
    // A second subscriber can only come from a bug; logging is best effort.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

pub fn is_secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    SECRET_MARKERS.iter().any(|m| upper.contains(m))
}

/// The value to log for variable `name`: itself, or a placeholder.
pub fn redact<'a>(name: &str, value: &'a str) -> Cow<'a, str> {
    if is_secret_name(name) {
        Cow::Borrowed(REDACTED)
    } else {
        Cow::Borrowed(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names() {
        for n in [
            "ANTHROPIC_API_KEY",
            "GITHUB_TOKEN",
            "db_password",
            "AWS_SECRET_ACCESS_KEY",
            "GOOGLE_APPLICATION_CREDENTIALS",
        ] {
            assert!(is_secret_name(n), "{n}");
            assert_eq!(redact(n, "v"), REDACTED);
        }
        for n in ["HOME", "PATH", "TERM", "NODE_ENV"] {
            assert!(!is_secret_name(n), "{n}");
            assert_eq!(redact(n, "v"), "v");
        }
    }
}
