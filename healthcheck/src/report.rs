//! The outcome of a health run and its two renderings: short text (failing
//! checks first, bounded in size) and one JSON object.

// Arithmetic on lengths and counts taken from input: checked or
// saturating, never a panic or a wrap.
#![cfg_attr(not(test), deny(clippy::arithmetic_side_effects))]

use std::time::Duration;

use serde::Serialize;

/// Docker keeps the first 4 KiB of a health command's output.
pub const MAX_TEXT: usize = 4096;
/// Longest detail kept per check, so one chatty failure cannot hide others.
const MAX_DETAIL: usize = 300;

#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    pub name: &'static str,
    pub ok: bool,
    pub duration_ms: f64,
    pub detail: String,
}

impl CheckResult {
    pub fn new(name: &'static str, outcome: Result<String, String>, took: Duration) -> Self {
        let (ok, detail) = match outcome {
            Ok(d) => (true, d),
            Err(d) => (false, d),
        };
        CheckResult {
            name,
            ok,
            duration_ms: (took.as_secs_f64() * 1e4).round() / 10.0,
            // Masked before it is cut: a cut secret would show in part.
            detail: truncate(
                crate::mask::scrub(&detail).replace(['\n', '\r'], " "),
                MAX_DETAIL,
            ),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub status: &'static str,
    pub probe: String,
    pub checks: Vec<CheckResult>,
    /// Where the settings came from (`settings from the running init`),
    /// shown as the last line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settings: Option<String>,
}

impl Report {
    pub fn new(probe: &str, mut checks: Vec<CheckResult>) -> Self {
        // Failing checks first: they are what a reader of `docker inspect`
        // needs, and the first lines are the ones that survive truncation.
        checks.sort_by_key(|c| c.ok);
        let healthy = checks.iter().all(|c| c.ok);
        Report {
            status: if healthy { "healthy" } else { "unhealthy" },
            probe: probe.to_string(),
            checks,
            settings: None,
        }
    }

    pub fn healthy(&self) -> bool {
        self.status == "healthy"
    }

    /// One line per check, failing ones first, at most [`MAX_TEXT`] bytes.
    pub fn to_text(&self) -> String {
        let mut out = format!("{} ({})\n", self.status, self.probe);
        for c in &self.checks {
            let line = format!(
                "{} {}: {} ({})\n",
                if c.ok { "ok  " } else { "FAIL" },
                c.name,
                c.detail,
                fmt_duration(Duration::from_secs_f64(c.duration_ms / 1000.0))
            );
            if out.len().saturating_add(line.len()) > MAX_TEXT {
                out.push_str("…\n");
                break;
            }
            out.push_str(&line);
        }
        if let Some(settings) = &self.settings {
            if out.len().saturating_add(settings.len()) < MAX_TEXT {
                out.push_str(settings);
                out.push('\n');
            }
        }
        out
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self)
            .unwrap_or_else(|e| format!("{{\"status\":\"unhealthy\",\"error\":\"{e}\"}}"))
    }
}

pub fn fmt_duration(d: Duration) -> String {
    if d >= Duration::from_secs(1) {
        format!("{:.1} s", d.as_secs_f64())
    } else {
        format!("{:.1} ms", d.as_secs_f64() * 1000.0)
    }
}

fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut = cut.saturating_sub(1);
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failing_first_and_bounded() {
        let mut checks = vec![CheckResult::new("a", Ok("fine".into()), Duration::ZERO)];
        for _ in 0..100 {
            checks.push(CheckResult::new("b", Err("x".repeat(1000)), Duration::ZERO));
        }
        let r = Report::new("readiness", checks);
        assert!(!r.healthy());
        let text = r.to_text();
        assert!(text.len() <= MAX_TEXT + 4);
        assert!(text.lines().nth(1).unwrap().starts_with("FAIL b"));
        let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(v["status"], "unhealthy");
        assert_eq!(v["checks"][0]["ok"], false);
    }
}
