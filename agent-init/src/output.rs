//! Children's output, line by line: reading it (bounded: a line longer than
//! [`MAX_LINE`] is cut into pieces, a last line without a newline is still
//! delivered, invalid UTF-8 is shown lossily) and passing it on with the
//! service's or job's name in front ([`Sink`]). Reading is asynchronous and
//! writing happens on a thread of its own behind a bounded queue, so a
//! child that floods its output, or a standard output nobody reads, costs
//! the loop only its turns, never a stall: lines that do not fit in the
//! queue are dropped and counted.

// Arithmetic on lengths and counts taken from input: checked or
// saturating, never a panic or a wrap.
#![cfg_attr(not(test), deny(clippy::arithmetic_side_effects))]

use std::io::Write;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::OnceLock;

use tokio::io::AsyncReadExt;

use crate::logging::LogFormat;

/// Which of a child's streams a line came from; it goes to the same one of
/// agent-init's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// Lines waiting for the writer.
const QUEUE: usize = 4096;

struct Line {
    stream: Stream,
    text: String,
}

/// Where the lines of services and jobs go.
pub struct Sink {
    tx: SyncSender<Line>,
    format: LogFormat,
    dropped: AtomicU64,
}

static SINK: OnceLock<Option<Sink>> = OnceLock::new();

impl Sink {
    /// Starts the writer thread (once; later calls are no-ops).
    pub fn start(format: LogFormat) {
        SINK.get_or_init(|| {
            let (tx, rx) = sync_channel::<Line>(QUEUE);
            let spawned = std::thread::Builder::new()
                .name("output".into())
                .spawn(move || {
                    while let Ok(line) = rx.recv() {
                        write(&line);
                        while let Ok(line) = rx.try_recv() {
                            write(&line);
                        }
                        let dropped = SINK
                            .get()
                            .and_then(Option::as_ref)
                            .map_or(0, |s| s.dropped.swap(0, Ordering::Relaxed));
                        if dropped > 0 {
                            tracing::warn!(
                                "dropped {dropped} lines of output from services and jobs: \
                                 standard output or error is not read fast enough"
                            );
                        }
                    }
                });
            match spawned {
                Ok(_) => Some(Sink {
                    tx,
                    format,
                    dropped: AtomicU64::new(0),
                }),
                Err(e) => {
                    tracing::warn!(
                        "cannot start the output thread: {e}; output of services and jobs is lost"
                    );
                    None
                }
            }
        });
    }

    /// Passes on one line of `kind` (`service` or `job`) `name`.
    pub fn line(kind: &str, name: &str, stream: Stream, text: &str) {
        let Some(sink) = SINK.get().and_then(Option::as_ref) else {
            return;
        };
        let text = crate::logging::scrub(text);
        let formatted = match sink.format {
            LogFormat::Text => format!("[{name}] {text}\n"),
            LogFormat::Json => {
                let mut v = serde_json::Map::new();
                v.insert("timestamp".into(), timestamp().into());
                v.insert("stream".into(), stream.name().into());
                v.insert("message".into(), text.into_owned().into());
                v.insert(kind.into(), name.into());
                format!("{}\n", serde_json::Value::Object(v))
            }
        };
        match sink.tx.try_send(Line {
            stream,
            text: formatted,
        }) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                sink.dropped.fetch_add(1, Ordering::Relaxed);
            }
            Err(TrySendError::Disconnected(_)) => {}
        }
    }
}

fn write(line: &Line) {
    let _ = match line.stream {
        Stream::Stdout => std::io::stdout().lock().write_all(line.text.as_bytes()),
        Stream::Stderr => std::io::stderr().lock().write_all(line.text.as_bytes()),
    };
}

/// RFC 3339 UTC with microseconds, like the log's JSON lines.
fn timestamp() -> String {
    humantime::format_rfc3339_micros(std::time::SystemTime::now()).to_string()
}

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
        let mut chunk = buf.get(..n).unwrap_or_default();
        while let Some(i) = chunk.iter().position(|b| *b == b'\n') {
            let (head, tail) = chunk.split_at(i);
            pending.extend_from_slice(head);
            pieces(&mut pending, 0, &mut line);
            emit(&pending, &mut line);
            pending.clear();
            chunk = tail.get(1..).unwrap_or_default();
        }
        pending.extend_from_slice(chunk);
        // More of this line may follow: keep enough of it to see that no
        // secret goes across a cut.
        pieces(&mut pending, healthcheck::mask::lookahead(), &mut line);
    }
    pieces(&mut pending, 0, &mut line);
    if !pending.is_empty() {
        emit(&pending, &mut line);
    }
}

/// Passes on the [`MAX_LINE`] pieces of the line being collected while
/// more than `keep` bytes would be left after one: however the reads fall,
/// no piece is longer, and none ends inside a secret (each is masked on
/// its own).
fn pieces<F: FnMut(&str)>(pending: &mut Vec<u8>, keep: usize, line: &mut F) {
    while pending.len() > MAX_LINE.saturating_add(keep) {
        let cut = healthcheck::mask::safe_cut(pending, MAX_LINE);
        emit(pending.get(..cut).unwrap_or_default(), line);
        pending.drain(..cut);
    }
}

fn emit<F: FnMut(&str)>(piece: &[u8], line: &mut F) {
    let text = String::from_utf8_lossy(piece);
    line(text.trim_end_matches('\r'));
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn collect(input: &[u8]) -> Vec<String> {
        let mut out = Vec::new();
        lines(input, |l| out.push(l.to_string())).await;
        out
    }

    #[test]
    fn timestamps_are_rfc3339() {
        let t = timestamp();
        assert_eq!(t.len(), 27, "{t}");
        assert!(
            t.starts_with("20") && t.ends_with('Z') && &t[10..11] == "T",
            "{t}"
        );
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

    /// Reads that end anywhere: the pieces are the same.
    #[tokio::test(flavor = "current_thread")]
    async fn pieces_do_not_depend_on_how_reads_fall() {
        let mut input = vec![b'x'; MAX_LINE * 2 + 7232];
        input.push(b'\n');
        for step in [1000, 8192, 15000, MAX_LINE + 1] {
            let reader = tokio_test_reader(&input, step);
            let mut got = Vec::new();
            lines(reader, |l| got.push(l.len())).await;
            assert_eq!(got, [MAX_LINE, MAX_LINE, 7232], "reads of {step}");
        }
    }

    /// A reader that returns at most `step` bytes per read.
    fn tokio_test_reader(data: &[u8], step: usize) -> impl tokio::io::AsyncRead + Unpin {
        struct Steps(Vec<u8>, usize, usize);
        impl tokio::io::AsyncRead for Steps {
            fn poll_read(
                mut self: std::pin::Pin<&mut Self>,
                _: &mut std::task::Context<'_>,
                buf: &mut tokio::io::ReadBuf<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                let (at, step) = (self.1, self.2);
                let end = (at + step).min(self.0.len()).min(at + buf.remaining());
                buf.put_slice(&self.0[at..end]);
                self.1 = end;
                std::task::Poll::Ready(Ok(()))
            }
        }
        Steps(data.to_vec(), 0, step)
    }
}
