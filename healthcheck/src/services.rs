//! The init's supervised services: every required one is running and
//! ready. Learned over the status socket, like `process`; the detail lists
//! every service, failing ones first.

use std::time::Duration;

use crate::socket::{self as status, ServiceStatus, SERVICE_READY};
use crate::{BoxFuture, Check};

pub struct Services;

impl Check for Services {
    fn name(&self) -> &'static str {
        "services"
    }

    fn run(&self, timeout: Duration) -> BoxFuture {
        Box::pin(async move { judge(&status::query(timeout).await?.services) })
    }
}

fn line(s: &ServiceStatus) -> String {
    let mut out = format!("{} {}", s.name, s.state);
    if let Some(pid) = s.pid {
        out.push_str(&format!(" pid {pid}"));
    }
    if s.restarts > 0 {
        out.push_str(&format!(", {} restarts", s.restarts));
    }
    if s.state != SERVICE_READY {
        if let Some(last) = &s.last_exit {
            out.push_str(&format!(", last {last}"));
        }
    }
    if !s.required {
        out.push_str(" (optional)");
    }
    out
}

/// Fails when a required service is not ready; lists them all.
pub fn judge(services: &[ServiceStatus]) -> Result<String, String> {
    if services.is_empty() {
        return Ok("no services".into());
    }
    let (bad, good): (Vec<&ServiceStatus>, Vec<&ServiceStatus>) = services
        .iter()
        .partition(|s| s.required && s.state != SERVICE_READY);
    let listed: Vec<String> = bad.iter().chain(&good).map(|s| line(s)).collect();
    if bad.is_empty() {
        Ok(listed.join("; "))
    } else {
        Err(format!("not ready: {}", listed.join("; ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc(name: &str, state: &str, required: bool) -> ServiceStatus {
        ServiceStatus {
            name: name.into(),
            state: state.into(),
            required,
            ..ServiceStatus::default()
        }
    }

    #[test]
    fn only_required_services_that_are_not_ready_fail() {
        assert!(judge(&[]).is_ok());
        let ok = judge(&[svc("a", "ready", true), svc("b", "failed", false)]);
        assert_eq!(ok, Ok("a ready; b failed (optional)".into()));
        let mut failed = svc("sshd", "failed", true);
        failed.restarts = 5;
        failed.last_exit = Some("exited with 255".into());
        let bad = judge(&[svc("a", "ready", true), failed]).unwrap_err();
        assert_eq!(
            bad,
            "not ready: sshd failed, 5 restarts, last exited with 255; a ready"
        );
    }
}
