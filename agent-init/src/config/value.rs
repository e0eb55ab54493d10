//! Value types of the configuration, each parsed once, at load, from
//! whatever a layer gives: TOML values, and text from environment variables
//! and flags (which arrive as strings, or as what figment's parser makes of
//! them: `1000` is a number, `true` a boolean). A string field takes a
//! number as its text; a number or boolean field takes its text.
//!
//! Durations: `30s`, `1m30s`, `500ms`, `2h` (humantime), or plain seconds
//! (`8`, `0.5`); never negative, NaN or infinite, and each key has an upper
//! bound (checked in `config::validate`, which names the key).

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, Unexpected, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// A duration read from seconds or a humantime string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Seconds(pub Duration);

impl Seconds {
    pub const fn secs(s: u64) -> Seconds {
        Seconds(Duration::from_secs(s))
    }

    pub fn get(self) -> Duration {
        self.0
    }
}

/// Parses `30s`, `1m30s`, `500ms`, or plain (fractional) seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("an empty duration".into());
    }
    if let Ok(secs) = t.parse::<f64>() {
        return from_secs(secs).map_err(|e| format!("`{t}` {e}"));
    }
    humantime::parse_duration(t)
        .map_err(|e| format!("`{t}` is not a duration like 30s, 1m30s or 500ms ({e})"))
}

fn from_secs(secs: f64) -> Result<Duration, &'static str> {
    if !secs.is_finite() {
        return Err("is not a finite number of seconds");
    }
    if secs < 0.0 {
        return Err("is negative");
    }
    Duration::try_from_secs_f64(secs).map_err(|_| "is far too long")
}

/// A number as a reader wants to see it in an error: 1e308, not 309 digits.
fn show(v: f64) -> String {
    if v != 0.0 && (v.abs() >= 1e9 || v.abs() < 1e-3) {
        format!("{v:e}")
    } else {
        v.to_string()
    }
}

/// How a duration is shown: `8s`, `1m30s`, `500ms`, `0s`.
pub fn format_duration(d: Duration) -> String {
    if d.is_zero() {
        return "0s".into();
    }
    humantime::format_duration(d).to_string().replace(' ', "")
}

impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_duration(self.0))
    }
}

impl Serialize for Seconds {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Seconds {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Seconds;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration like 30s, 1m30s, 500ms or a number of seconds")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Seconds, E> {
                Ok(Seconds(Duration::from_secs(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Seconds, E> {
                if v < 0 {
                    return Err(E::custom(format!("{v} is negative")));
                }
                Ok(Seconds(Duration::from_secs(v as u64)))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Seconds, E> {
                from_secs(v)
                    .map(Seconds)
                    .map_err(|e| E::custom(format!("{} {e}", show(v))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Seconds, E> {
                parse_duration(v).map(Seconds).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// Text that may have arrived as a number or boolean (`AGENT_INIT_USER=1000`).
pub fn text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    d.deserialize_any(TextVisitor)
}

pub fn opt_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<String>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("text")
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            text(d).map(Some)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
    }
    d.deserialize_option(V)
}

struct TextVisitor;

impl Visitor<'_> for TextVisitor {
    type Value = String;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("text")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<String, E> {
        Ok(v.to_string())
    }
}

/// A list given as a sequence, or as one string (one item; with `split`,
/// items separated by commas).
pub fn list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    d.deserialize_any(ListVisitor { split: false })
}

/// A list of names, which may also be given comma-separated (`mcp,memory`).
pub fn names<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    d.deserialize_any(ListVisitor { split: true })
}

struct ListVisitor {
    split: bool,
}

impl<'de> Visitor<'de> for ListVisitor {
    type Value = Vec<String>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of strings")
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        while let Some(item) = seq.next_element::<Text>()? {
            out.push(item.0);
        }
        Ok(out)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        if v.trim().is_empty() {
            return Ok(Vec::new());
        }
        Ok(if self.split {
            v.split(',').map(|s| s.trim().to_string()).collect()
        } else {
            vec![v.to_string()]
        })
    }
}

/// One text item of a list.
struct Text(String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TextVisitor).map(Text)
    }
}

/// A whole number that may have arrived as text.
pub fn count<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = u64;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a whole number")
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
            Ok(v)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
            u64::try_from(v).map_err(|_| E::invalid_value(Unexpected::Signed(v), &self))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<u64, E> {
            Err(E::invalid_value(Unexpected::Float(v), &self))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<u64, E> {
            v.trim()
                .parse()
                .map_err(|_| E::invalid_value(Unexpected::Str(v), &self))
        }
    }
    d.deserialize_any(V)
}

/// A boolean that may have arrived as text: true/false, yes/no, on/off, 1/0.
pub fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = bool;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a boolean (true or false)")
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<bool, E> {
            Ok(v)
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<bool, E> {
            match v {
                0 => Ok(false),
                1 => Ok(true),
                _ => Err(E::invalid_value(Unexpected::Unsigned(v), &self)),
            }
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<bool, E> {
            Err(E::invalid_value(Unexpected::Signed(v), &self))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
            match v.trim().to_ascii_lowercase().as_str() {
                "true" | "yes" | "on" | "1" => Ok(true),
                "false" | "no" | "off" | "0" => Ok(false),
                _ => Err(E::invalid_value(Unexpected::Str(v), &self)),
            }
        }
    }
    d.deserialize_any(V)
}

/// An octal file mode like `0600`, given as text (a TOML integer would be
/// read as decimal, so it must be quoted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mode(pub u32);

impl Mode {
    pub fn parse(s: &str) -> Result<Mode, String> {
        u32::from_str_radix(s.trim().trim_start_matches("0o"), 8)
            .ok()
            .filter(|m| *m <= 0o7777)
            .map(Mode)
            .ok_or_else(|| format!("`{s}` is not an octal file mode like 0600"))
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04o}", self.0)
    }
}

impl Serialize for Mode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Mode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let t = text(d)?;
        Mode::parse(&t).map_err(de::Error::custom)
    }
}

/// A signal given by name (`SIGTERM`, `TERM`, `SIGRTMIN+2`) or number,
/// checked at load: one agent-init can send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignalName(pub i32);

impl SignalName {
    pub fn get(self) -> i32 {
        self.0
    }
}

impl fmt::Display for SignalName {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(&crate::sys::signal_name(self.0))
    }
}

impl Serialize for SignalName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for SignalName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let t = text(d)?;
        crate::sys::signal_number(&t)
            .map(SignalName)
            .ok_or_else(|| de::Error::custom(format!("`{t}` is not a signal agent-init can send")))
    }
}

/// `remap_exit`: the command's exit codes agent-init exits with as others
/// (`143=0`; a bare `143` is `143=0`, as tini's `-e 143`), checked at
/// load: each code 0–255, each FROM once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExitRemap(pub Vec<(u8, u8)>);

impl ExitRemap {
    pub fn parse(items: &[String]) -> Result<ExitRemap, String> {
        let code = |s: &str| {
            s.trim()
                .parse::<u8>()
                .map_err(|_| format!("`{s}` is not an exit code (0 to 255)"))
        };
        let mut out: Vec<(u8, u8)> = Vec::new();
        for item in items.iter().filter(|i| !i.trim().is_empty()) {
            let (from, to) = match item.split_once('=') {
                Some((from, to)) => (code(from)?, code(to)?),
                None => (code(item)?, 0),
            };
            if out.iter().any(|(f, _)| *f == from) {
                return Err(format!("exit code {from} is remapped twice"));
            }
            out.push((from, to));
        }
        Ok(ExitRemap(out))
    }

    /// The code agent-init exits with when the command's is `code`.
    pub fn apply(&self, code: u8) -> u8 {
        self.0
            .iter()
            .find(|(from, _)| *from == code)
            .map_or(code, |(_, to)| *to)
    }
}

impl Serialize for ExitRemap {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for (from, to) in &self.0 {
            seq.serialize_element(&format!("{from}={to}"))?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for ExitRemap {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Comma-separated too, in a list item as in one string.
        let items: Vec<String> = names(d)?
            .iter()
            .flat_map(|i| i.split(',').map(|s| s.trim().to_string()))
            .collect();
        ExitRemap::parse(&items).map_err(de::Error::custom)
    }
}

/// What to do when a mounted ConfigMap or Secret changes: `restage`,
/// `signal:SIGNAME` or `restart`, checked at load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnChange {
    #[default]
    Restage,
    /// Restage, then send this signal to the command (as `signal_target`
    /// says: its process group, or it alone).
    Signal(i32),
    /// Restage, then stop the command and start it again with the new
    /// values (in keep-alive mode: the services).
    Restart,
}

impl OnChange {
    pub fn parse(text: &str) -> Result<OnChange, String> {
        let v = text.trim();
        match v {
            "restage" => return Ok(OnChange::Restage),
            "restart" => return Ok(OnChange::Restart),
            _ => {}
        }
        if let Some(sig) = v.strip_prefix("signal:") {
            return crate::sys::signal_number(sig)
                .map(OnChange::Signal)
                .ok_or_else(|| format!("`{sig}` is not a signal agent-init can send"));
        }
        Err(format!(
            "`{v}` is not `restage`, `signal:SIGNAME` (e.g. signal:SIGHUP) or `restart`"
        ))
    }
}

impl fmt::Display for OnChange {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            OnChange::Restage => f.write_str("restage"),
            OnChange::Restart => f.write_str("restart"),
            OnChange::Signal(s) => write!(f, "signal:{}", crate::sys::signal_name(*s)),
        }
    }
}

impl Serialize for OnChange {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for OnChange {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        OnChange::parse(&text(d)?).map_err(de::Error::custom)
    }
}

/// Where the health endpoint listens, checked at load (see
/// `config::parse_listen`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listen(pub std::net::SocketAddr);

impl Serialize for Listen {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.to_string())
    }
}

impl<'de> Deserialize<'de> for Listen {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        super::parse_listen(&text(d)?)
            .map(Listen)
            .map_err(de::Error::custom)
    }
}

/// A CLI preset, checked at load: one of `presets`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preset(pub &'static crate::presets::Preset);

impl std::ops::Deref for Preset {
    type Target = crate::presets::Preset;
    fn deref(&self) -> &Self::Target {
        self.0
    }
}

impl Serialize for Preset {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.name)
    }
}

impl<'de> Deserialize<'de> for Preset {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let t = text(d)?;
        crate::presets::lookup(t.trim()).map(Preset).ok_or_else(|| {
            de::Error::custom(format!(
                "unknown preset `{t}` (known: {})",
                crate::presets::names()
            ))
        })
    }
}

/// A health check's name, checked at load: one of `healthcheck::CHECKS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct CheckName(pub &'static str);

impl CheckName {
    pub fn parse(text: &str) -> Result<CheckName, String> {
        let t = text.trim();
        healthcheck::CHECKS
            .iter()
            .find(|c| **c == t)
            .map(|c| CheckName(c))
            .ok_or_else(|| {
                format!(
                    "unknown check `{t}` (known: {})",
                    healthcheck::CHECKS.join(", ")
                )
            })
    }
}

impl PartialEq<&str> for CheckName {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl fmt::Display for CheckName {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl Serialize for CheckName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0)
    }
}

impl<'de> Deserialize<'de> for CheckName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        CheckName::parse(&text(d)?).map_err(de::Error::custom)
    }
}

/// A list of check names (TOML list, or `a,b` from a flag or variable).
pub fn check_names<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<CheckName>, D::Error> {
    names(d)?
        .iter()
        .map(|n| CheckName::parse(n).map_err(de::Error::custom))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_every_spelling() {
        for (text, ms) in [
            ("30s", 30_000),
            ("1m30s", 90_000),
            ("500ms", 500),
            ("8", 8_000),
            ("0.5", 500),
            ("2h", 7_200_000),
            ("0", 0),
        ] {
            assert_eq!(
                parse_duration(text),
                Ok(Duration::from_millis(ms)),
                "{text}"
            );
        }
        for bad in ["-1", "NaN", "inf", "1e308", "soon", "", "5 parsecs"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations_print_back_as_they_parse() {
        for text in ["8s", "1m30s", "500ms", "0s", "1h"] {
            let d = parse_duration(text).unwrap();
            assert_eq!(format_duration(d), text);
        }
    }

    #[test]
    fn modes() {
        assert_eq!(Mode::parse("0600"), Ok(Mode(0o600)));
        assert_eq!(Mode(0o640).to_string(), "0640");
        assert!(Mode::parse("0999").is_err());
        assert!(Mode::parse("17777").is_err());
    }
}
