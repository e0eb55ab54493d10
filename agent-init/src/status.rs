//! `agent-init status`: what the running init supervises (the command,
//! services and jobs), asked over its status socket and shown as a table
//! or, with `--format json`, as the init's own status object.

use std::fmt::Write;
use std::time::Duration;

use healthcheck::report::fmt_duration;
use healthcheck::socket::{self, Status};

use crate::exit::Error;

const TIMEOUT: Duration = Duration::from_secs(2);

pub fn run(json: bool) -> Result<u8, Error> {
    let answer = socket::request("status", TIMEOUT).map_err(Error::Unavailable)?;
    let s: Status = serde_json::from_slice(&answer)
        .map_err(|e| Error::Internal(format!("bad status answer from agent-init: {e}")))?;
    let out = if json {
        serde_json::to_string_pretty(&s).map_err(|e| Error::Internal(format!("status: {e}")))?
            + "\n"
    } else {
        table(&s)
    };
    use std::io::Write as _;
    let _ = std::io::stdout().write_all(crate::logging::scrub(&out).as_bytes());
    Ok(0)
}

/// "4.2 s" under a minute, "5m 3s" above.
fn secs(s: f64) -> String {
    let s = s.clamp(0.0, f64::from(u32::MAX));
    if s < 60.0 {
        format!("{s:.1} s")
    } else {
        crate::config::value::format_duration(Duration::from_secs(s as u64))
    }
}

fn or_dash<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "-".into(), |v| v.to_string())
}

/// One line for the init, then one per command, service and job.
pub fn table(s: &Status) -> String {
    let mut out = format!(
        "agent-init {} pid {}, {} mode, {}, up {}\n",
        s.version,
        s.pid,
        s.mode,
        s.phase,
        secs(s.uptime_s)
    );
    let mut rows: Vec<[String; 7]> = vec![[
        "KIND".into(),
        "NAME".into(),
        "STATE".into(),
        "PID".into(),
        "UPTIME".into(),
        "RESTARTS".into(),
        "LAST".into(),
    ]];
    if s.mode == "command" {
        rows.push([
            "command".into(),
            "-".into(),
            if s.command_pid.is_some() {
                "running"
            } else {
                "not running"
            }
            .into(),
            or_dash(s.command_pid),
            or_dash(s.command_uptime_s.map(secs)),
            "-".into(),
            "-".into(),
        ]);
    }
    for v in &s.services {
        let name = if v.required {
            v.name.clone()
        } else {
            format!("{} (optional)", v.name)
        };
        rows.push([
            "service".into(),
            name,
            v.state.clone(),
            or_dash(v.pid),
            or_dash(v.uptime_s.map(secs)),
            v.restarts.to_string(),
            or_dash(v.last_exit.clone()),
        ]);
    }
    for j in &s.jobs {
        let last = j.last.as_ref().map(|r| {
            format!(
                "{} {} ago, took {}",
                r.outcome,
                secs(r.ago_s),
                fmt_duration(Duration::from_secs_f64(r.duration_ms.max(0.0) / 1000.0))
            )
        });
        let mut state = format!("every {}", secs(j.every_s));
        if j.skipped > 0 {
            let _ = write!(state, ", {} skipped", j.skipped);
        }
        rows.push([
            "job".into(),
            j.name.clone(),
            state,
            or_dash(j.pid),
            "-".into(),
            format!("{} runs", j.runs),
            or_dash(last),
        ]);
    }
    let mut widths = [0usize; 7];
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for r in &rows {
        let mut line = String::new();
        for (i, (cell, w)) in r.iter().zip(widths).enumerate() {
            if i == 6 {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<w$}  ");
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
