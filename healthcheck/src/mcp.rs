//! Is a dependency up? `tcp://host:port` (accepts connections),
//! `http://…` (answers with the expected status: 2xx/3xx, or the one given
//! as `#status=N`), `mcp+http://…` (completes a real MCP `initialize`
//! handshake over streamable HTTP; the session is then closed again).
//! Used by the health check and by the startup step that waits.

use std::time::Duration;

use crate::http::{self, Url};
use crate::Check;

/// MCP protocol revision offered in `initialize`.
pub const PROTOCOL_VERSION: &str = "2025-06-18";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Tcp { host: String, port: u16 },
    Http { url: Url, expect: Option<u16> },
    Mcp { url: Url },
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Tcp { host, port } => write!(f, "tcp://{host}:{port}"),
            Target::Http { url, .. } => write!(f, "{url}"),
            Target::Mcp { url } => write!(f, "mcp+{url}"),
        }
    }
}

pub fn parse(spec: &str) -> Result<Target, String> {
    let url = http::parse_url(spec)?;
    match url.scheme.as_str() {
        "tcp" => Ok(Target::Tcp {
            host: url.host,
            port: url.port,
        }),
        "http" | "https" => {
            let expect = match url.fragment.as_deref() {
                None => None,
                Some(f) => Some(
                    f.strip_prefix("status=")
                        .and_then(|s| s.parse().ok())
                        .ok_or_else(|| format!("`{spec}`: the fragment must be #status=N"))?,
                ),
            };
            Ok(Target::Http { url, expect })
        }
        "mcp+http" | "mcp+https" => {
            let mut url = url;
            url.scheme = url.scheme.trim_start_matches("mcp+").to_string();
            Ok(Target::Mcp { url })
        }
        other => Err(format!(
            "`{spec}`: unsupported scheme `{other}` (use tcp://, http://, mcp+http://)"
        )),
    }
}

/// Probes the target once. `Ok` describes what answered.
pub fn probe(target: &Target, timeout: Duration) -> Result<String, String> {
    match target {
        Target::Tcp { host, port } => {
            http::connect(host, *port, timeout)?;
            Ok(format!("tcp://{host}:{port} accepts connections"))
        }
        Target::Http { url, expect } => {
            let resp = http::request("GET", url, &[], None, timeout, &|_| false)?;
            let good = match expect {
                Some(code) => resp.status == *code,
                None => (200..400).contains(&resp.status),
            };
            let wanted = expect.map_or("2xx/3xx".to_string(), |c| c.to_string());
            if good {
                Ok(format!("{url} answered {}", resp.status))
            } else {
                Err(format!(
                    "{url} answered {} (expected {wanted})",
                    resp.status
                ))
            }
        }
        Target::Mcp { url } => initialize(url, timeout),
    }
}

fn initialize(url: &Url, timeout: Duration) -> Result<String, String> {
    let body = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"initialize","params":{{"protocolVersion":"{PROTOCOL_VERSION}","capabilities":{{}},"clientInfo":{{"name":"agent-init","version":"{}"}}}}}}"#,
        env!("CARGO_PKG_VERSION")
    );
    let headers = [
        ("Content-Type", "application/json"),
        ("Accept", "application/json, text/event-stream"),
    ];
    let resp = http::request(
        "POST",
        url,
        &headers,
        Some(body.as_bytes()),
        timeout,
        &|b| response_message(b).is_some(),
    )?;
    if !(200..300).contains(&resp.status) {
        return Err(format!(
            "{url}: initialize answered HTTP {}: {}",
            resp.status,
            String::from_utf8_lossy(&resp.body)
                .chars()
                .take(120)
                .collect::<String>()
        ));
    }
    let msg = response_message(&resp.body)
        .ok_or_else(|| format!("{url}: initialize answer is not a JSON-RPC response"))?;
    // Best effort: a health check every few seconds must not pile up sessions.
    if let Some(session) = resp.header("mcp-session-id") {
        let _ = http::request(
            "DELETE",
            url,
            &[
                ("Mcp-Session-Id", session),
                ("MCP-Protocol-Version", PROTOCOL_VERSION),
            ],
            None,
            timeout.min(Duration::from_secs(1)),
            &|_| true,
        );
    }
    if let Some(err) = msg.get("error") {
        return Err(format!("{url}: initialize failed: {err}"));
    }
    let result = msg
        .get("result")
        .ok_or_else(|| format!("{url}: initialize answer has no result"))?;
    let version = result
        .get("protocolVersion")
        .and_then(|v| v.as_str())
        .ok_or_else(|| format!("{url}: initialize result has no protocolVersion"))?;
    let server = result.get("serverInfo");
    let name = server
        .and_then(|s| s.get("name"))
        .and_then(|v| v.as_str())
        .unwrap_or("?");
    let ver = server
        .and_then(|s| s.get("version"))
        .and_then(|v| v.as_str())
        .unwrap_or("?");
    Ok(format!(
        "MCP server {name} {ver} at {url} (protocol {version})"
    ))
}

/// The JSON-RPC response with id 1 in a body that is either one JSON
/// document or a server-sent event stream whose `data:` lines carry it.
fn response_message(body: &[u8]) -> Option<serde_json::Value> {
    let text = std::str::from_utf8(body).ok()?;
    let is_response = |v: &serde_json::Value| v.get("id") == Some(&serde_json::json!(1));
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(text.trim()) {
        return is_response(&v).then_some(v);
    }
    // SSE: events separated by blank lines; data lines joined by newlines.
    for event in text.split("\n\n").flat_map(|e| e.split("\r\n\r\n")) {
        let data: Vec<&str> = event
            .lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .map(|d| d.strip_prefix(' ').unwrap_or(d))
            .collect();
        if data.is_empty() {
            continue;
        }
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&data.join("\n")) {
            if is_response(&v) {
                return Some(v);
            }
        }
    }
    None
}

/// The health check wrapper around [`probe`].
pub struct Mcp {
    pub target: Target,
}

impl Check for Mcp {
    fn name(&self) -> &'static str {
        "mcp"
    }

    fn run(&self, timeout: Duration) -> Result<String, String> {
        probe(&self.target, timeout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_targets() {
        assert!(matches!(
            parse("tcp://db:5432").unwrap(),
            Target::Tcp { port: 5432, .. }
        ));
        match parse("http://api:8080/healthz#status=204").unwrap() {
            Target::Http { expect, url } => {
                assert_eq!(expect, Some(204));
                assert_eq!(url.path, "/healthz");
            }
            t => panic!("{t:?}"),
        }
        assert!(matches!(
            parse("mcp+http://mcp:8000/mcp").unwrap(),
            Target::Mcp { .. }
        ));
        assert!(parse("ftp://x:1").is_err());
        assert!(parse("http://x:1/#nope").is_err());
    }

    #[test]
    fn finds_the_response_in_json_or_sse() {
        let json = br#"{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-06-18"}}"#;
        assert!(response_message(json).is_some());
        let sse = b"event: message\r\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\r\n\r\n";
        assert!(response_message(sse).is_some());
        let other = b"data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/x\"}\n\n";
        assert!(response_message(other).is_none());
        assert!(response_message(b"data: {\"jsonrpc\"").is_none());
    }
}
