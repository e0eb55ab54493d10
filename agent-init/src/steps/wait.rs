//! Waiting for dependencies (the MCP server first of all): each URL is
//! probed with capped exponential backoff until it answers or the total
//! timeout runs out; then startup fails with 69, naming the URL and the
//! last error. `mcp+http://` performs a real MCP initialize handshake.

use std::time::{Duration, Instant};

use healthcheck::mcp;

use super::{Launch, Pause};
use crate::config::{expand, Config};
use crate::exit::Error;

const FIRST_DELAY: Duration = Duration::from_millis(100);
const MAX_DELAY: Duration = Duration::from_secs(5);
/// Longest single probe.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

pub fn step(c: &Config, launch: &mut Launch, pause: &mut Pause) -> Result<Option<String>, Error> {
    if !c.wait.enabled || c.wait.urls.is_empty() {
        return Ok(None);
    }
    let deadline = Instant::now() + Duration::from_secs_f64(c.wait.timeout);
    let mut ready = Vec::new();
    for (i, raw) in c.wait.urls.iter().enumerate() {
        let spec = expand(raw, &format!("wait.urls[{i}]"), &|n| {
            launch.env.get(n).cloned()
        })?;
        let target =
            mcp::parse(&spec).map_err(|e| Error::Config(format!("wait.urls[{i}]: {e}")))?;
        let began = Instant::now();
        let mut delay = FIRST_DELAY;
        let mut attempts = 0;
        loop {
            attempts += 1;
            let left = deadline.saturating_duration_since(Instant::now());
            match mcp::probe(
                &target,
                left.min(PROBE_TIMEOUT).max(Duration::from_millis(50)),
            ) {
                Ok(what) => {
                    ready.push(format!(
                        "{what} after {attempts} attempt(s), {:.1} s",
                        began.elapsed().as_secs_f64()
                    ));
                    break;
                }
                Err(e) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(Error::Unavailable(format!(
                            "{target} not ready after {:.0} s ({attempts} attempts); last error: {e}",
                            c.wait.timeout
                        )));
                    }
                    tracing::debug!(url = %target, attempts, "not ready yet: {e}");
                    pause(delay.min(left))?;
                    delay = (delay * 2).min(MAX_DELAY);
                }
            }
        }
    }
    Ok(Some(ready.join("; ")))
}
