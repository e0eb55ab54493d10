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
    /// Whether probing it needs a name resolved (which blocks, so takes a
    /// check thread): its host is a name, not an IP address.
    pub fn resolves(&self) -> bool {
        let host = match self {
            Target::Tcp { host, .. } => host.as_str(),
            Target::Http { url, .. } | Target::Mcp { url } => url.host_str().unwrap_or(""),
        };
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        bare.parse::<std::net::IpAddr>().is_err()
    }

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

/// Parses a target. Credentials in it (`http://user:password@host`) are
/// remembered for masking, in every form they may be shown in, and never
/// appear in an error.
pub fn parse(spec: &str) -> Result<Target, String> {
    let spec = spec.trim();
    remember_userinfo(spec);
    parse_spec(spec).map_err(
        |e| match userinfo(spec, false).and_then(|(a, b)| spec.get(a..b)) {
            Some(info) => e.replace(info, crate::mask::REDACTED),
            None => e,
        },
    )
}

/// The user information of the first URL in `text` (`user:password` before
/// the host), as written. In free text (`spaces_end`) a space ends the URL;
/// in one URL it may be part of a password.
fn userinfo(text: &str, spaces_end: bool) -> Option<(usize, usize)> {
    let start = text.find("://")? + 3;
    let rest = text.get(start..)?;
    let end = rest
        .find(|c: char| matches!(c, '/' | '?' | '#') || (spaces_end && c.is_whitespace()))
        .unwrap_or(rest.len());
    let at = rest.get(..end)?.rfind('@')?;
    Some((start, start + at))
}

/// `text` with the user information of every URL in it replaced, so that
/// neither a password nor a token given as the user name is shown.
pub fn without_userinfo(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (head, url) = rest.split_at(at);
        out.push_str(head);
        match userinfo(url, true) {
            Some((start, end)) => {
                out.push_str(url.get(..start).unwrap_or_default());
                out.push_str(crate::mask::REDACTED);
                rest = url.get(end..).unwrap_or_default();
            }
            None => {
                out.push_str("://");
                rest = url.get(3..).unwrap_or_default();
            }
        }
    }
    out.push_str(rest);
    out
}

/// Hands a URL's user and password (percent-decoded) to the mask.
fn remember_userinfo(spec: &str) {
    let Some(info) = userinfo(spec, false).and_then(|(a, b)| spec.get(a..b)) else {
        return;
    };
    let (user, password) = info.split_once(':').unwrap_or((info, ""));
    let (user, password) = (decode(user), decode(password));
    if password.is_empty() {
        // A token as the user name (`https://TOKEN@host`).
        crate::mask::remember([user.as_str()], crate::mask::MIN_LEN);
    }
    crate::mask::remember_userinfo(&user, &password);
}

/// Percent-decoding, lossy where the bytes are not UTF-8.
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b, hex) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_spec(spec: &str) -> Result<Target, String> {
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
            let url = http_url(spec.get(4..).unwrap_or_default(), spec)?;
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
    fn only_names_need_resolving() {
        for (spec, resolves) in [
            ("tcp://db:5432", true),
            ("tcp://10.0.0.5:5432", false),
            ("http://[::1]:8080/health", false),
            ("mcp+http://127.0.0.1:3000/mcp", false),
            ("mcp+https://mcp.example.com/mcp", true),
            ("http://localhost:8080/", true),
        ] {
            assert_eq!(parse(spec).unwrap().resolves(), resolves, "{spec}");
        }
    }

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
        let e = parse("http://agent:pass-word-0001@h:port/").unwrap_err();
        assert!(
            !e.contains("pass-word") && e.contains("<redacted>@h:port"),
            "{e}"
        );
        assert_eq!(
            without_userinfo("a http://u:p@h/x?y=z@w and http://h/ tcp://t@db:1"),
            "a http://<redacted>@h/x?y=z@w and http://h/ tcp://<redacted>@db:1"
        );
    }

    #[test]
    fn credentials_are_masked_in_every_form() {
        parse("http://agent:p%C3%A4ss%20word-0002@h/").unwrap();
        let basic = crate::mask::base64("agent:päss word-0002".as_bytes());
        for shown in ["päss word-0002", "p%C3%A4ss%20word-0002", basic.as_str()] {
            assert_eq!(crate::mask::scrub(shown), "<redacted>", "{shown}");
        }
    }
}
