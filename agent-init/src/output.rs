//! Reading a child's output line by line into the log, bounded: a line
//! longer than [`MAX_LINE`] is cut into pieces, a last line without a
//! newline is still delivered, and invalid UTF-8 is shown lossily. Reading
//! is asynchronous, so a child that floods its output costs the loop only
//! its turns, never a stall.

use std::os::fd::OwnedFd;

use tokio::io::AsyncReadExt;

/// Longest piece of a line delivered at once.
pub const MAX_LINE: usize = 16 * 1024;

/// Turns a pipe's read end (from `Stdio::piped()`) into an async reader.
pub fn pipe(fd: OwnedFd) -> std::io::Result<tokio::net::unix::pipe::Receiver> {
    tokio::net::unix::pipe::Receiver::from_owned_fd(fd)
}

/// Calls `line` for each line read from `reader` until it ends.
pub async fn lines<R, F>(mut reader: R, mut line: F)
where
    R: tokio::io::AsyncRead + Unpin,
    F: FnMut(&str),
{
    let mut pending: Vec<u8> = Vec::with_capacity(1024);
    let mut buf = [0u8; 8192];
    loop {
        let n = match reader.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let mut chunk = &buf[..n];
        while let Some(i) = chunk.iter().position(|b| *b == b'\n') {
            pending.extend_from_slice(&chunk[..i]);
            emit(&mut pending, &mut line);
            chunk = &chunk[i + 1..];
        }
        pending.extend_from_slice(chunk);
        while pending.len() >= MAX_LINE {
            let rest = pending.split_off(MAX_LINE);
            emit(&mut pending, &mut line);
            pending = rest;
        }
    }
    if !pending.is_empty() {
        emit(&mut pending, &mut line);
    }
}

fn emit<F: FnMut(&str)>(pending: &mut Vec<u8>, line: &mut F) {
    let text = String::from_utf8_lossy(pending);
    line(text.trim_end_matches('\r'));
    pending.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn collect(input: &[u8]) -> Vec<String> {
        let mut out = Vec::new();
        lines(input, |l| out.push(l.to_string())).await;
        out
    }

    #[tokio::test(flavor = "current_thread")]
    async fn whole_partial_long_and_broken_lines() {
        assert_eq!(collect(b"a\nb\r\n").await, ["a", "b"]);
        assert_eq!(collect(b"no newline").await, ["no newline"]);
        let long = vec![b'x'; MAX_LINE * 2 + 5];
        let got = collect(&long).await;
        assert_eq!(
            got.iter().map(String::len).collect::<Vec<_>>(),
            [MAX_LINE, MAX_LINE, 5]
        );
        assert_eq!(collect(b"\xff ok\n").await, ["\u{fffd} ok"]);
    }
}
