//! The init is alive and responsive and its command (or keep-alive) runs:
//! learned by asking the running init over its status socket.

use std::time::Duration;

use crate::socket::{self as status, Status};
use crate::{BoxFuture, Check};

pub struct Process {
    /// Also require the startup steps to have finished and no shutdown to
    /// have begun (startup and readiness probes; liveness only asks
    /// whether the init answers).
    pub require_started: bool,
}

fn describe(s: &Status) -> String {
    let what = match (s.command_pid, s.mode.as_str()) {
        (Some(pid), _) => format!("command pid {pid} running"),
        (None, "keep-alive") => "keep-alive".to_string(),
        (None, _) => "command not started".to_string(),
    };
    format!(
        "agent-init {} pid {} {}, {what}, up {:.0} s",
        s.version, s.pid, s.phase, s.uptime_s
    )
}

impl Check for Process {
    fn name(&self) -> &'static str {
        "process"
    }

    fn run(&self, timeout: Duration) -> BoxFuture {
        let require_started = self.require_started;
        Box::pin(async move { judge(&status::query(timeout).await?, require_started) })
    }
}

fn judge(s: &Status, require_started: bool) -> Result<String, String> {
    if s.phase == status::STARTING {
        // Alive and answering; that is all liveness asks.
        return if require_started {
            Err(format!("{}: startup steps not finished", describe(s)))
        } else {
            Ok(describe(s))
        };
    }
    if s.phase == status::STOPPING && require_started {
        // Shutting down: out of the load balancer at once; liveness stays
        // green until the init is gone.
        return Err(format!("{}: shutting down", describe(s)));
    }
    if s.mode == "command" && s.command_pid.is_none() {
        return Err(format!("{}: the command is not running", describe(s)));
    }
    Ok(describe(s))
}
