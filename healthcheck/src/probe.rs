//! Is a dependency up? One probe of a [`Target`]: a TCP connect, an HTTP
//! GET judged on its status line and headers alone (the body is never read,
//! so an endless stream such as `/sse` cannot hold the probe), or a real MCP
//! handshake. Used by the `mcp` health check and by the startup step that
//! waits.

// Arithmetic on lengths and counts taken from input: checked or
// saturating, never a panic or a wrap.
#![cfg_attr(not(test), deny(clippy::arithmetic_side_effects))]

use std::time::Duration;

use crate::target::{shown, Target};
use crate::{net, BoxFuture, Check};

/// Probes the target once, within `timeout`. `Ok` describes what answered.
pub async fn probe(target: &Target, timeout: Duration) -> Result<String, String> {
    let attempt = async {
        match target {
            Target::Tcp { host, port } => {
                net::connect(host, *port).await?;
                Ok(format!("{target} accepts connections"))
            }
            Target::Http { url, expect } => {
                let client = net::client(target.https())?;
                let response = client
                    .get(url.clone())
                    .send()
                    .await
                    .map_err(|e| format!("{}: {}", shown(url), net::chain(&e)))?;
                // Dropping the response closes the connection: no body read.
                let status = response.status().as_u16();
                let good = match expect {
                    Some(code) => status == *code,
                    None => (200..400).contains(&status),
                };
                let wanted = expect.map_or("2xx/3xx".to_string(), |c| c.to_string());
                if good {
                    Ok(format!("{} answered {status}", shown(url)))
                } else {
                    Err(format!(
                        "{} answered {status} (expected {wanted})",
                        shown(url)
                    ))
                }
            }
            Target::Mcp { url } => crate::mcp::handshake(url, timeout).await,
        }
    };
    // What a server sent (an error page, a body echoing the request, its
    // name) is quoted as one masked, bounded line: it can neither forge log
    // lines nor carry a credential out.
    match tokio::time::timeout(timeout, attempt).await {
        Ok(Ok(what)) => Ok(crate::mask::one_line(&what, QUOTED)),
        Ok(Err(why)) => Err(crate::mask::one_line(&why, QUOTED)),
        Err(_) => Err(format!("{target}: timed out")),
    }
}

/// The longest answer of a probe, in characters.
pub const QUOTED: usize = 400;

/// The health check of the configured dependency (`health.mcp`).
pub struct Dependency {
    pub target: Target,
}

impl Check for Dependency {
    fn name(&self) -> &'static str {
        "mcp"
    }

    fn run(&self, timeout: Duration) -> BoxFuture {
        let target = self.target.clone();
        Box::pin(async move { probe(&target, timeout).await })
    }
}
