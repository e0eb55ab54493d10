//! Waiting for dependencies (the MCP server first of all): each URL is
//! probed with capped exponential backoff until it answers or the total
//! timeout runs out; then startup fails with 69, naming the URL and the
//! last error. `mcp+http://` performs a real MCP handshake.

use std::time::{Duration, Instant};

use healthcheck::{probe, target};

use super::Mode;
use crate::config::{expand, Config};
use crate::exit::Error;
use crate::launch::Launch;

const FIRST_DELAY: Duration = Duration::from_millis(100);
const MAX_DELAY: Duration = Duration::from_secs(5);
/// Longest single probe.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

pub async fn step(c: &Config, launch: &Launch, mode: Mode) -> Result<Option<String>, Error> {
    if !c.wait.enabled || c.wait.urls.is_empty() {
        return Ok(None);
    }
    let timeout = c.wait.timeout.get();
    let deadline = Instant::now() + timeout;
    let mut ready = Vec::new();
    for (i, raw) in c.wait.urls.iter().enumerate() {
        let key = format!("wait.urls[{i}]");
        let spec = expand(raw, &key, &|n| launch.env.get(n).cloned())?;
        let target = target::parse(&spec).map_err(|e| Error::Config(format!("{key}: {e}")))?;
        let began = Instant::now();
        let mut delay = FIRST_DELAY;
        let mut attempts = 0;
        loop {
            attempts += 1;
            let left = deadline.saturating_duration_since(Instant::now());
            let budget = left.min(PROBE_TIMEOUT).max(Duration::from_millis(50));
            match probe::probe(&target, budget).await {
                Ok(what) => {
                    ready.push(format!(
                        "{what} after {attempts} attempt(s), {:.1} s",
                        began.elapsed().as_secs_f64()
                    ));
                    break;
                }
                Err(e) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() || mode == Mode::Validate {
                        let waited = match mode {
                            Mode::Validate => "not ready".to_string(),
                            Mode::Run => format!(
                                "not ready after {} ({attempts} attempts)",
                                crate::config::value::format_duration(timeout)
                            ),
                        };
                        return Err(Error::Unavailable(format!(
                            "{target} {waited}; last error: {e}"
                        )));
                    }
                    tracing::debug!(url = %target, attempts, "not ready yet: {e}");
                    tokio::time::sleep(delay.min(left)).await;
                    delay = (delay * 2).min(MAX_DELAY);
                }
            }
        }
    }
    Ok(Some(ready.join("; ")))
}
