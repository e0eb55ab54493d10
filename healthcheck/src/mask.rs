//! The one list of secret values to mask, and masking itself: every text
//! agent-init shows (log lines, children's output, the termination report,
//! `status`, `health`, `config`, error messages) passes through [`scrub`]
//! on its way out. Whoever learns of a secret (a secret-looking variable,
//! a value staged from a mounted Secret, a URL's password) hands it to
//! [`remember`], which also keeps the forms it may turn up in: escaped for
//! JSON, percent-encoded, and for a URL's user and password the base64 of
//! `user:password` that HTTP basic authentication sends (and that a server
//! echoing the request puts back in an error).
//!
//! It lives in this crate, the lowest, so that the checks can mask what they
//! quote from a server before they cut it short.

// Arithmetic on lengths and counts taken from input: checked or
// saturating, never a panic or a wrap.
#![cfg_attr(not(test), deny(clippy::arithmetic_side_effects))]

use std::borrow::Cow;
use std::sync::RwLock;

/// What a masked value becomes.
pub const REDACTED: &str = "<redacted>";

/// Values shorter than this are not masked where they turn up by chance:
/// masking "1" or "true" everywhere would garble every line and protect
/// nothing.
pub const MIN_LEN: usize = 6;

/// Longer values are not remembered whole (their lines are, where they
/// come from a file): a secret that long is a document, and masking it by
/// value would only slow every line down.
pub const MAX_LEN: usize = 4096;

/// The secret values to mask, longest first (a secret that contains another
/// is masked whole).
static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Remembers each value of at least `min_len` bytes, in every form it may
/// be shown in.
pub fn remember<'a>(values: impl IntoIterator<Item = &'a str>, min_len: usize) {
    let mut added: Vec<String> = Vec::new();
    for v in values {
        if v.len() < min_len.max(1) || v.len() > MAX_LEN {
            continue;
        }
        for form in forms(v) {
            if !added.contains(&form) {
                added.push(form);
            }
        }
    }
    add(added);
}

/// Remembers a URL's credentials (percent-decoded): the password in all
/// its forms, and `user:password` plain and as HTTP basic authentication
/// sends it.
pub fn remember_userinfo(user: &str, password: &str) {
    if password.is_empty() || password.len() > MAX_LEN {
        return;
    }
    let pair = format!("{user}:{password}");
    let mut added = forms(password);
    added.extend(forms(&pair));
    added.push(base64(pair.as_bytes()));
    added.retain(|v| v.len() >= MIN_LEN && v.len() <= 3 * MAX_LEN);
    add(added);
}

/// Forgets every secret: for the fuzz targets only, which remember new ones
/// at every run.
#[cfg(fuzzing)]
pub fn forget_all() {
    SECRETS.write().unwrap_or_else(|e| e.into_inner()).clear();
}

fn add(added: Vec<String>) {
    if added.is_empty() {
        return;
    }
    let mut secrets = SECRETS.write().unwrap_or_else(|e| e.into_inner());
    for v in added {
        if !secrets.contains(&v) {
            secrets.push(v);
        }
    }
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
}

/// A value and the spellings it takes elsewhere: JSON-escaped (JSON logs
/// escape quotes and backslashes), percent-encoded the way a URL's user
/// information is (`url`), every reserved byte percent-encoded, and as a
/// form value (`+` for a space).
fn forms(v: &str) -> Vec<String> {
    let mut out = vec![v.to_string()];
    let json = serde_json::to_string(v).unwrap_or_default();
    let json = json.trim_matches('"');
    out.push(json.to_string());
    out.push(percent(v, |b| b"!$&'()*+,".contains(&b)));
    out.push(percent(v, |_| false));
    out.push(percent(v, |b| b == b' ').replace(' ', "+"));
    let mut seen = Vec::new();
    out.retain(|f| {
        let new = !seen.contains(f);
        seen.push(f.clone());
        new
    });
    out
}

/// `v` with every byte but the unreserved ones (and those `keep` says)
/// written as `%XX`.
fn percent(v: &str, keep: impl Fn(u8) -> bool) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) || keep(b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Standard base64 with padding (RFC 4648), as HTTP basic authentication
/// encodes `user:password`.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3).saturating_mul(4));
    for chunk in bytes.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18u32, 12, 6, 0].iter().enumerate() {
            if i <= chunk.len() {
                let index = usize::try_from((n >> shift) & 63).unwrap_or(0);
                out.push(char::from(ALPHABET.get(index).copied().unwrap_or(b'=')));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `text` with every remembered secret value replaced by [`REDACTED`].
pub fn scrub(text: &str) -> Cow<'_, str> {
    let secrets = SECRETS.read().unwrap_or_else(|e| e.into_inner());
    let mut out = Cow::Borrowed(text);
    for s in secrets.iter() {
        if out.contains(s.as_str()) {
            out = Cow::Owned(out.replace(s.as_str(), REDACTED));
        }
    }
    out
}

/// How many bytes past a cut [`safe_cut`] must see to know that no
/// secret goes across it: the longest secret's length less one.
pub fn lookahead() -> usize {
    let secrets = SECRETS.read().unwrap_or_else(|e| e.into_inner());
    secrets.first().map_or(0, |s| s.len().saturating_sub(1))
}

/// Where to cut `bytes` (a long line, passed on in pieces of at most `max`
/// bytes, each masked on its own) so that no remembered secret is split
/// between two pieces: `max`, or before the character it would split, or
/// before a secret that would straddle it. `bytes` must hold
/// [`lookahead`] bytes past `max`, or the whole rest of the line.
pub fn safe_cut(bytes: &[u8], max: usize) -> usize {
    let whole = max.min(bytes.len());
    if whole == bytes.len() || whole == 0 {
        return whole;
    }
    let mut cut = whole;
    // Not inside a UTF-8 character.
    while cut.saturating_add(3) > whole
        && cut > 1
        && bytes.get(cut).is_some_and(|b| b & 0xC0 == 0x80)
    {
        cut = cut.saturating_sub(1);
    }
    if bytes.get(cut).is_some_and(|b| b & 0xC0 == 0x80) {
        cut = whole;
    }
    let secrets = SECRETS.read().unwrap_or_else(|e| e.into_inner());
    // Each move goes back to where a secret starts; overlapping secrets
    // can ask for a few moves, never more than there are secrets.
    for _ in 0..=secrets.len() {
        let before = cut;
        for s in secrets.iter().map(String::as_bytes).filter(|s| s.len() > 1) {
            let reach = s.len().saturating_sub(1);
            let from = cut.saturating_sub(reach);
            let to = cut.saturating_add(reach).min(bytes.len());
            let window = bytes.get(from..to).unwrap_or_default();
            if let Some(at) = window.windows(s.len()).position(|w| w == s) {
                cut = from.saturating_add(at);
            }
        }
        if cut == before {
            break;
        }
    }
    // A secret at the very start longer than a piece cannot be kept whole.
    if cut == 0 {
        whole
    } else {
        cut
    }
}

/// A text quoted from elsewhere (a server's answer, an error of a library)
/// as one masked line of at most `max` characters: control characters
/// escaped (`\n`, `\u{1b}`), so it cannot forge a log line, and cut with
/// `…`.
pub fn one_line(text: &str, max: usize) -> String {
    let masked = scrub(text);
    let mut out = String::with_capacity(masked.len().min(max.saturating_add(8)));
    let mut shown: usize = 0;
    for c in masked.chars() {
        let piece: String = if c.is_control() {
            c.escape_default().collect()
        } else {
            c.to_string()
        };
        let n = piece.chars().count();
        if shown.saturating_add(n) > max {
            out.push('…');
            break;
        }
        out.push_str(&piece);
        shown = shown.saturating_add(n);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_as_rfc_4648() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("agent:s3cret pw", "YWdlbnQ6czNjcmV0IHB3"),
        ] {
            assert_eq!(base64(plain.as_bytes()), encoded, "{plain}");
        }
    }

    #[test]
    fn every_form_of_a_secret_is_masked() {
        remember(["pa ss/wörd-mask-0001"], MIN_LEN);
        for shown in [
            "pa ss/wörd-mask-0001",
            "pa%20ss%2Fw%C3%B6rd-mask-0001",
            "pa+ss%2Fw%C3%B6rd-mask-0001",
        ] {
            assert_eq!(scrub(&format!("x {shown} y")), "x <redacted> y", "{shown}");
        }
        remember_userinfo("agent", "userinfo-0002");
        let header = format!("authorization: Basic {}", base64(b"agent:userinfo-0002"));
        assert_eq!(scrub(&header), "authorization: Basic <redacted>");
    }

    #[test]
    fn quoted_text_is_one_bounded_masked_line() {
        remember(["one-line-secret-0003"], MIN_LEN);
        let body = "line one\r\n2026-01-01 INFO forged one-line-secret-0003\n\u{1b}[31m";
        let line = one_line(body, 1000);
        assert!(!line.contains('\n') && !line.contains('\r') && !line.contains('\u{1b}'));
        assert!(
            line.contains("<redacted>") && !line.contains("0003"),
            "{line}"
        );
        assert_eq!(
            one_line(&"x".repeat(50), 10),
            format!("{}…", "x".repeat(10))
        );
        // Escapes count: the line is bounded as shown.
        assert!(one_line(&"\t".repeat(200), 10).chars().count() <= 11);
    }

    #[test]
    fn a_cut_never_splits_a_secret() {
        let secret = "cut-secret-0123456789-0004";
        remember([secret], MIN_LEN);
        for offset in 0..secret.len() + 2 {
            let mut line = vec![b'x'; 100 - offset];
            line.extend_from_slice(secret.as_bytes());
            line.extend_from_slice(&[b'y'; 100]);
            assert!(line.len() >= 100 + lookahead());
            let cut = safe_cut(&line, 100);
            assert!(cut <= 100 && cut > 0);
            let (a, b) = line.split_at(cut);
            let (a, b) = (String::from_utf8_lossy(a), String::from_utf8_lossy(b));
            assert!(
                a.contains(secret) || b.contains(secret),
                "offset {offset}: {a} | {b}"
            );
        }
    }
}
