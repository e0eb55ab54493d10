//! The HTTP client of every probe: reqwest, honouring HTTP_PROXY,
//! HTTPS_PROXY and NO_PROXY. TLS is rustls with ring, trusting the system's
//! CA store (`/etc/ssl/certs`, or `SSL_CERT_FILE`, so a corporate proxy's CA
//! added there is trusted). Loading and parsing the CA store takes
//! milliseconds, so it is done only when an https target is probed: a
//! client for plain http gets a TLS configuration with no roots, which
//! costs nothing and can verify nothing.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// The TLS configuration with the system's CA certificates, built once.
fn tls_with_roots() -> Result<rustls::ClientConfig, String> {
    static CONFIG: OnceLock<Result<rustls::ClientConfig, String>> = OnceLock::new();
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
            tls_builder().map(|b| b.with_root_certificates(roots).with_no_client_auth())
        })
        .clone()
}

fn tls_builder(
) -> Result<rustls::ConfigBuilder<rustls::ClientConfig, rustls::WantsVerifier>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))
}

/// A client for targets that may be https (`tls`) or only plain http.
/// Built once per kind and shared: clones share the connection pool.
pub fn client(tls: bool) -> Result<reqwest::Client, String> {
    static PLAIN: OnceLock<Result<reqwest::Client, String>> = OnceLock::new();
    static SECURE: OnceLock<Result<reqwest::Client, String>> = OnceLock::new();
    let cell = if tls { &SECURE } else { &PLAIN };
    cell.get_or_init(|| {
        let config = if tls {
            tls_with_roots()?
        } else {
            tls_builder()?
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth()
        };
        reqwest::Client::builder()
            .use_preconfigured_tls(config)
            // Names are resolved on the check threads, never on a thread
            // started for the purpose.
            .dns_resolver(PoolResolver)
            .user_agent(concat!("agent-init/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            // Probes ask once; a pooled connection would only hold the
            // server's resources between probes.
            .pool_max_idle_per_host(0)
            .build()
            .map_err(|e| format!("HTTP client: {}", chain(&e)))
    })
    .clone()
}

/// An error and its causes on one line: "error sending request: connection
/// refused".
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}

/// The addresses of `host` (a name or an IP address) with `port`: an
/// address at once, a name through getaddrinfo on a check thread.
pub async fn resolve(host: &str, port: u16) -> Result<Vec<std::net::SocketAddr>, String> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<std::net::IpAddr>() {
        return Ok(vec![std::net::SocketAddr::new(ip, port)]);
    }
    let name = host.to_string();
    let found = crate::pool::run(move || {
        use std::net::ToSocketAddrs;
        (name.as_str(), port)
            .to_socket_addrs()
            .map(Iterator::collect::<Vec<_>>)
    })
    .await
    .map_err(|why| format!("resolving {host}: {why}"))?;
    found.map_err(|e| format!("resolving {host}: {e}"))
}

/// reqwest's name resolution, through [`resolve`].
struct PoolResolver;

impl reqwest::dns::Resolve for PoolResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs = resolve(&host, 0).await?;
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Opens a TCP connection to host:port.
pub async fn connect(host: &str, port: u16) -> Result<(), String> {
    let addrs = resolve(host, port).await?;
    match tokio::net::TcpStream::connect(&addrs[..]).await {
        Ok(_) => Ok(()),
        Err(e) => Err(format!("connecting to {host}:{port}: {e}")),
    }
}
