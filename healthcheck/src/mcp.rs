//! A real MCP handshake through rmcp, the official Rust SDK: `initialize`,
//! `notifications/initialized`, then the session is closed again (a check
//! every few seconds must not pile up sessions on the server).
//!
//! Streamable HTTP first. When the server answers that POST with a 4xx, it
//! may speak only the older HTTP+SSE transport (protocol 2024-11-05), which
//! many deployed servers still do: the spec's backwards-compatibility rule
//! is then to GET the URL as an event stream, read its `endpoint` event,
//! and POST the messages there, reading the answers from the stream.
//! [`LegacySse`] is that transport, for rmcp's own handshake.

use std::borrow::Cow;
use std::future::Future;
use std::time::Duration;

use futures::stream::{BoxStream, StreamExt};
use rmcp::model::{ClientCapabilities, ClientConfig, Implementation, ProtocolVersion};
use rmcp::service::{RoleClient, RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, Transport};
use rmcp::ServiceExt;
use url::Url;

use crate::net::{self, chain};
use crate::target::shown;

fn client_config() -> ClientConfig {
    let mut config = ClientConfig::new(
        ClientCapabilities::default(),
        Implementation::new("agent-init", env!("CARGO_PKG_VERSION")),
    );
    // The newest revision that still has the initialize handshake the
    // check is made of.
    config.protocol_version = ProtocolVersion::LATEST_WITH_INITIALIZE;
    config
}

/// Performs the handshake with the MCP server at `url` and closes the
/// session; describes the server, or says what failed.
pub async fn handshake(url: &Url, timeout: Duration) -> Result<String, String> {
    let client = net::client(url.scheme() == "https")?;
    let shown = shown(url);
    let transport = StreamableHttpClientTransport::with_client(
        client.clone(),
        StreamableHttpClientTransportConfig::with_uri(url.as_str()),
    );
    let attempt = tokio::time::timeout(timeout, client_config().serve(transport)).await;
    let streamable_error = match attempt {
        Err(_) => {
            return Err(format!(
                "{shown}: timed out waiting for the answer to initialize"
            ))
        }
        Ok(Ok(service)) => return Ok(finish(service, &shown, "").await),
        Ok(Err(e)) => describe(&e),
    };
    if !answered_4xx(&streamable_error) {
        return Err(format!("{shown}: initialize failed: {streamable_error}"));
    }
    // Perhaps an HTTP+SSE (2024-11-05) server.
    let legacy = async {
        let transport = LegacySse::connect(client, url).await?;
        client_config()
            .serve(transport)
            .await
            .map_err(|e| format!("initialize failed: {}", describe(&e)))
    };
    match tokio::time::timeout(timeout, legacy).await {
        Ok(Ok(service)) => Ok(finish(service, &shown, ", HTTP+SSE transport").await),
        Ok(Err(why)) => Err(format!(
            "{shown}: initialize failed: {streamable_error}; as an HTTP+SSE server: {why}"
        )),
        Err(_) => Err(format!(
            "{shown}: initialize failed: {streamable_error}; as an HTTP+SSE server: timed out"
        )),
    }
}

/// What went wrong in rmcp's handshake, in one short line.
fn describe(e: &rmcp::service::ClientInitializeError) -> String {
    use rmcp::service::ClientInitializeError as E;
    match e {
        E::TransportError { error, context } => {
            use rmcp::transport::streamable_http_client::StreamableHttpError;
            // Its Client variant hides reqwest's error from the source chain.
            let inner = match error
                .error
                .downcast_ref::<StreamableHttpError<reqwest::Error>>()
            {
                Some(StreamableHttpError::Client(e)) => chain(e),
                _ => chain(&*error.error),
            };
            format!("{inner} ({context})")
        }
        E::JsonRpcError(data) => format!(
            "the server answered with an error: {} (code {})",
            data.message, data.code.0
        ),
        E::ExpectedInitResponse(_) | E::ExpectedInitResult(_) => {
            "the answer to initialize is not an initialize result".into()
        }
        other => chain(other),
    }
}

/// rmcp reports a non-JSON error status as "HTTP 405 Method Not Allowed: …".
fn answered_4xx(error: &str) -> bool {
    error.match_indices("HTTP 4").any(|(i, _)| {
        error
            .get(i + 5..i + 8)
            .is_some_and(|code| code.len() == 3 && code.bytes().all(|b| b.is_ascii_digit()))
    })
}

/// Describes the server that answered and closes its session.
async fn finish<S>(
    service: rmcp::service::RunningService<RoleClient, S>,
    url: &str,
    how: &str,
) -> String
where
    S: rmcp::Service<RoleClient>,
{
    let text = match service.peer_info() {
        Some(info) => {
            let (name, version) = info
                .server_info
                .as_ref()
                .map(|s| (s.name.as_str(), s.version.as_str()))
                .unwrap_or(("(unnamed)", "?"));
            format!(
                "MCP server {name} {version} at {url} (protocol {}{how})",
                info.protocol_version
            )
        }
        None => format!("MCP server at {url} (protocol unknown{how})"),
    };
    // Best effort, and short: closing sends the session's DELETE.
    let _ = tokio::time::timeout(Duration::from_secs(1), service.cancel()).await;
    text
}

/// An error of the HTTP+SSE transport.
#[derive(Debug)]
pub struct LegacyError(String);

impl std::fmt::Display for LegacyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LegacyError {}

/// The client side of MCP's HTTP+SSE transport (2024-11-05): messages are
/// POSTed to the endpoint the server names in the event stream, and the
/// server's messages arrive on that stream.
pub struct LegacySse {
    client: reqwest::Client,
    endpoint: Url,
    events: BoxStream<'static, Result<sse_stream::Sse, sse_stream::Error>>,
}

impl LegacySse {
    /// Opens the event stream and waits for its `endpoint` event.
    pub async fn connect(client: reqwest::Client, url: &Url) -> Result<LegacySse, String> {
        let response = client
            .get(url.clone())
            .header(reqwest::header::ACCEPT, "text/event-stream")
            .send()
            .await
            .map_err(|e| chain(&e))?;
        let status = response.status();
        let is_stream = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("text/event-stream"));
        if !status.is_success() || !is_stream {
            return Err(format!("GET answered HTTP {status}, not an event stream"));
        }
        let mut events = sse_stream::SseStream::from_bytes_stream(response.bytes_stream()).boxed();
        while let Some(event) = events.next().await {
            let event = event.map_err(|e| format!("reading the event stream: {e}"))?;
            if event.event.as_deref() == Some("endpoint") {
                let data = event.data.unwrap_or_default();
                let endpoint = url
                    .join(data.trim())
                    .map_err(|e| format!("the endpoint event `{data}` is not a URL: {e}"))?;
                // The messages go to the same server, never elsewhere.
                if endpoint.origin() != url.origin() {
                    return Err(format!(
                        "the endpoint event names another server ({})",
                        shown(&endpoint)
                    ));
                }
                return Ok(LegacySse {
                    client,
                    endpoint,
                    events,
                });
            }
        }
        Err("the event stream ended before an endpoint event".into())
    }
}

impl Transport<RoleClient> for LegacySse {
    type Error = LegacyError;

    fn name() -> Cow<'static, str> {
        "HTTP+SSE".into()
    }

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleClient>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        let request = self.client.post(self.endpoint.clone()).json(&item);
        async move {
            let response = request.send().await.map_err(|e| LegacyError(chain(&e)))?;
            if response.status().is_success() {
                Ok(())
            } else {
                Err(LegacyError(format!(
                    "POST to the endpoint answered HTTP {}",
                    response.status()
                )))
            }
        }
    }

    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleClient>> {
        while let Some(event) = self.events.next().await {
            let event = event.ok()?;
            if !matches!(event.event.as_deref(), None | Some("message")) {
                continue;
            }
            let Some(data) = event.data else { continue };
            match serde_json::from_str(&data) {
                Ok(message) => return Some(message),
                Err(e) => tracing::debug!("skipping an event that is no MCP message: {e}"),
            }
        }
        None
    }

    fn close(&mut self) -> impl Future<Output = Result<(), Self::Error>> + Send {
        // Ending the stream ends the session.
        self.events = futures::stream::empty().boxed();
        async { Ok(()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_4xx_is_told_from_the_rest() {
        assert!(answered_4xx("transport: HTTP 405 Method Not Allowed: "));
        assert!(answered_4xx("HTTP 404 Not Found: nope"));
        assert!(!answered_4xx("HTTP 500 Internal Server Error: boom"));
        assert!(!answered_4xx("connection refused"));
        assert!(!answered_4xx("HTTP 4"));
    }
}
