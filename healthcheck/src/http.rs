//! A minimal HTTP/1.1 client for probes: one request per connection,
//! bounded in time and size, `http://` and `https://` (rustls, trusting the
//! system's CA store, so a proxy's CA in /etc/ssl/certs or SSL_CERT_FILE
//! works). Enough for health endpoints and MCP's streamable HTTP (JSON or
//! server-sent events).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// A connection whose reads can be bounded: plain TCP or TLS over it.
trait Conn: Read + Write + Send {
    fn tcp(&self) -> &TcpStream;
}

impl Conn for TcpStream {
    fn tcp(&self) -> &TcpStream {
        self
    }
}

impl Conn for rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    fn tcp(&self) -> &TcpStream {
        &self.sock
    }
}

/// The TLS client configuration, built once: the system's CA certificates.
fn tls_config() -> Result<Arc<rustls::ClientConfig>, String> {
    static CONFIG: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let mut roots = rustls::RootCertStore::empty();
            let found = rustls_native_certs::load_native_certs();
            let (added, _) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                return Err(format!(
                    "no CA certificates found for https (install ca-certificates or set SSL_CERT_FILE){}",
                    found.errors.first().map(|e| format!(": {e}")).unwrap_or_default()
                ));
            }
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| format!("TLS setup: {e}"))?
                .with_root_certificates(roots)
                .with_no_client_auth();
            Ok(Arc::new(config))
        })
        .clone()
}

fn tls(tcp: TcpStream, host: &str) -> Result<Box<dyn Conn>, String> {
    let name = rustls::pki_types::ServerName::try_from(host.to_string())
        .map_err(|e| format!("{host}: not a TLS server name: {e}"))?;
    let conn =
        rustls::ClientConnection::new(tls_config()?, name).map_err(|e| format!("TLS: {e}"))?;
    Ok(Box::new(rustls::StreamOwned::new(conn, tcp)))
}

/// Largest body read; probes need a few hundred bytes.
const MAX_BODY: usize = 1 << 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    pub scheme: String,
    pub host: String,
    pub port: u16,
    /// Path and query, starting with '/'.
    pub path: String,
    /// The part after '#', never sent.
    pub fragment: Option<String>,
}

impl std::fmt::Display for Url {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}://{}:{}{}",
            self.scheme, self.host, self.port, self.path
        )
    }
}

pub fn parse_url(s: &str) -> Result<Url, String> {
    let (scheme, rest) = s
        .split_once("://")
        .ok_or_else(|| format!("`{s}` is not a URL (expected scheme://host:port/…)"))?;
    let (rest, fragment) = match rest.split_once('#') {
        Some((r, f)) => (r, Some(f.to_string())),
        None => (rest, None),
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let default_port = match scheme {
        "http" | "mcp+http" => Some(80),
        "https" | "mcp+https" => Some(443),
        _ => None,
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || authority.starts_with('[') => {
            let port = p
                .parse()
                .map_err(|_| format!("`{s}`: `{p}` is not a port number"))?;
            (h, port)
        }
        _ => (
            authority,
            default_port.ok_or_else(|| format!("`{s}`: a port is required"))?,
        ),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(format!("`{s}`: the host is missing"));
    }
    Ok(Url {
        scheme: scheme.to_ascii_lowercase(),
        host: host.to_string(),
        port,
        path: path.to_string(),
        fragment,
    })
}

/// Opens a TCP connection to host:port within `timeout`.
pub fn connect(host: &str, port: u16, timeout: Duration) -> Result<TcpStream, String> {
    let deadline = Instant::now() + timeout;
    let addrs = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("resolving {host}: {e}"))?;
    let mut last = format!("{host}:{port}: no address");
    for addr in addrs {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!("connecting to {host}:{port}: timed out"));
        }
        match TcpStream::connect_timeout(&addr, left) {
            Ok(s) => return Ok(s),
            Err(e) => last = format!("connecting to {addr}: {e}"),
        }
    }
    Err(last)
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Sends one request and reads the response. `enough` is asked after each
/// piece of body: when it says the body so far suffices (a server-sent
/// event stream the server keeps open), reading stops there.
pub fn request(
    method: &str,
    url: &Url,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
    timeout: Duration,
    enough: &dyn Fn(&[u8]) -> bool,
) -> Result<Response, String> {
    let deadline = Instant::now() + timeout;
    let tcp = connect(&url.host, url.port, timeout)?;
    let left = || {
        deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1))
    };
    tcp.set_write_timeout(Some(left())).ok();
    tcp.set_read_timeout(Some(left())).ok();
    let mut stream: Box<dyn Conn> = if url.scheme.ends_with("https") {
        tls(tcp, &url.host)?
    } else {
        Box::new(tcp)
    };
    let mut req = format!(
        "{method} {} HTTP/1.1\r\nHost: {}:{}\r\nUser-Agent: agent-init/{}\r\nConnection: close\r\n",
        url.path,
        url.host,
        url.port,
        env!("CARGO_PKG_VERSION")
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    let body = body.unwrap_or(&[]);
    if !body.is_empty() || method == "POST" {
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    let io = |e: std::io::Error| {
        if matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ) {
            format!("{url}: timed out")
        } else {
            format!("{url}: {e}")
        }
    };
    stream.write_all(req.as_bytes()).map_err(io)?;
    stream.write_all(body).map_err(io)?;

    stream.tcp().set_read_timeout(Some(left())).ok();
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).map_err(io)?;
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("{url}: not an HTTP response: {:?}", line.trim()))?;
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.get_ref().tcp().set_read_timeout(Some(left())).ok();
        if reader.read_line(&mut line).map_err(io)? == 0 {
            break;
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let mut resp = Response {
        status,
        headers,
        body: Vec::new(),
    };
    if method == "HEAD" || status == 204 || status == 304 {
        return Ok(resp);
    }
    let chunked = resp
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
    let length: Option<usize> = resp.header("content-length").and_then(|v| v.parse().ok());
    let mut body = Vec::new();
    if chunked {
        loop {
            line.clear();
            reader.get_ref().tcp().set_read_timeout(Some(left())).ok();
            reader.read_line(&mut line).map_err(io)?;
            let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|_| format!("{url}: bad chunk size {:?}", line.trim()))?;
            if size == 0 {
                break;
            }
            let start = body.len();
            body.resize(start + size, 0);
            reader.read_exact(&mut body[start..]).map_err(io)?;
            let mut crlf = [0u8; 2];
            reader.read_exact(&mut crlf).map_err(io)?;
            if enough(&body) || body.len() > MAX_BODY {
                break;
            }
        }
    } else {
        let limit = length.unwrap_or(MAX_BODY).min(MAX_BODY);
        let mut buf = [0u8; 4096];
        while body.len() < limit {
            reader.get_ref().tcp().set_read_timeout(Some(left())).ok();
            let n = reader.read(&mut buf).map_err(io)?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&buf[..n]);
            if enough(&body) {
                break;
            }
        }
    }
    resp.body = body;
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = parse_url("mcp+http://mcp:8000/mcp#x").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("mcp", 8000, "/mcp")
        );
        assert_eq!(u.fragment.as_deref(), Some("x"));
        let u = parse_url("http://localhost").unwrap();
        assert_eq!((u.port, u.path.as_str()), (80, "/"));
        let u = parse_url("tcp://[::1]:5432").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 5432));
        assert!(parse_url("tcp://db").is_err());
        assert!(parse_url("localhost:80").is_err());
        assert!(parse_url("http://h:port").is_err());
    }
}
