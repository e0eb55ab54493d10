//! What a wait or a check points at: `tcp://HOST:PORT` (accepts
//! connections), `http(s)://…` (answers with 2xx/3xx, or the status given
//! as `#status=N`), `mcp+http(s)://…` (completes a real MCP handshake).
//! Parsed by the `url` crate; shown without credentials.

use std::fmt;

use url::Url;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Tcp { host: String, port: u16 },
    Http { url: Url, expect: Option<u16> },
    Mcp { url: Url },
}

impl Target {
    /// Whether probing it needs TLS.
    pub fn https(&self) -> bool {
        match self {
            Target::Tcp { .. } => false,
            Target::Http { url, .. } | Target::Mcp { url } => url.scheme() == "https",
        }
    }
}

/// A URL as logs and reports show it: no user name or password, no
/// fragment.
pub fn shown(url: &Url) -> String {
    let mut u = url.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.set_fragment(None);
    u.to_string()
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Tcp { host, port } if host.contains(':') => write!(f, "tcp://[{host}]:{port}"),
            Target::Tcp { host, port } => write!(f, "tcp://{host}:{port}"),
            Target::Http { url, .. } => f.write_str(&shown(url)),
            Target::Mcp { url } => write!(f, "mcp+{}", shown(url)),
        }
    }
}

pub fn parse(spec: &str) -> Result<Target, String> {
    let spec = spec.trim();
    let (scheme, _) = spec.split_once("://").ok_or_else(|| {
        format!("`{spec}` is not a URL (expected tcp://, http(s):// or mcp+http(s)://)")
    })?;
    match scheme.to_ascii_lowercase().as_str() {
        "tcp" => {
            let url = Url::parse(spec).map_err(|e| format!("`{spec}`: {e}"))?;
            let host = url
                .host_str()
                .filter(|h| !h.is_empty())
                .ok_or_else(|| format!("`{spec}`: the host is missing"))?
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string();
            let port = url
                .port()
                .ok_or_else(|| format!("`{spec}`: a port is required"))?;
            Ok(Target::Tcp { host, port })
        }
        "http" | "https" => {
            let url = http_url(spec, spec)?;
            let expect = match url.fragment() {
                None => None,
                Some(f) => Some(
                    f.strip_prefix("status=")
                        .and_then(|s| s.parse::<u16>().ok())
                        .filter(|s| (100..600).contains(s))
                        .ok_or_else(|| format!("`{spec}`: the fragment must be #status=N"))?,
                ),
            };
            Ok(Target::Http { url, expect })
        }
        "mcp+http" | "mcp+https" => {
            let url = http_url(&spec[4..], spec)?;
            Ok(Target::Mcp { url })
        }
        other => Err(format!(
            "`{spec}`: unsupported scheme `{other}` (use tcp://, http(s)://, mcp+http(s)://)"
        )),
    }
}

fn http_url(text: &str, spec: &str) -> Result<Url, String> {
    let url = Url::parse(text).map_err(|e| format!("`{spec}`: {e}"))?;
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("`{spec}`: the host is missing"));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scheme() {
        assert_eq!(
            parse("tcp://db:5432").unwrap(),
            Target::Tcp {
                host: "db".into(),
                port: 5432
            }
        );
        assert_eq!(
            parse("tcp://[::1]:5432").unwrap(),
            Target::Tcp {
                host: "::1".into(),
                port: 5432
            }
        );
        let Target::Mcp { url } = parse("mcp+http://mcp:8000/mcp").unwrap() else {
            panic!()
        };
        assert_eq!(url.as_str(), "http://mcp:8000/mcp");
        let Target::Http { url, expect } = parse("https://h/health#status=204").unwrap() else {
            panic!()
        };
        assert_eq!(
            (url.port_or_known_default(), expect),
            (Some(443), Some(204))
        );
        assert_eq!(
            parse("http://localhost").unwrap().to_string(),
            "http://localhost/"
        );
    }

    #[test]
    fn bad_ones_say_why() {
        for (spec, why) in [
            ("tcp://db", "a port is required"),
            ("localhost:80", "is not a URL"),
            ("http://h:port", "invalid port"),
            ("ftp://x:1", "unsupported scheme `ftp`"),
            ("http://h/#status=ok", "#status=N"),
            ("tcp://:80", "host"),
        ] {
            let e = parse(spec).unwrap_err();
            assert!(e.contains(why), "{spec}: {e}");
        }
    }

    #[test]
    fn credentials_are_not_shown() {
        let t = parse("mcp+https://user:s3cret@mcp.example/mcp#x").unwrap();
        assert_eq!(t.to_string(), "mcp+https://mcp.example/mcp");
    }
}
