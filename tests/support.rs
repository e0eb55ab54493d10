//! Test harness: runs the real agent-init binary, as PID 1 of a fresh PID
//! namespace (`unshare --pid --fork --mount-proc`) or as a plain child (where
//! it becomes a subreaper), and observes it through pipes and /proc.
//!
//! Every wait has a deadline; nothing synchronises on a bare sleep.

#![allow(dead_code)]

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// Generous bound for anything that should happen "at once" on a loaded
/// 2-core machine.
pub const SOON: Duration = Duration::from_secs(10);

/// The binary under test: `TEST_AGENT_INIT_BIN`, else the static release build.
pub fn agent_init() -> PathBuf {
    if let Some(p) = std::env::var_os("TEST_AGENT_INIT_BIN") {
        return PathBuf::from(p);
    }
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target/x86_64-unknown-linux-musl/release/agent-init");
    assert!(
        p.exists(),
        "{} is missing: run `make build` (or set TEST_AGENT_INIT_BIN)",
        p.display()
    );
    p
}

/// An emulator that runs the binary under test, from
/// `TEST_AGENT_INIT_RUNNER` (e.g. `qemu-aarch64-static` for the aarch64
/// build on an x86_64 machine); none by default.
pub fn runner() -> Option<OsString> {
    std::env::var_os("TEST_AGENT_INIT_RUNNER").filter(|r| !r.is_empty())
}

/// The words that start agent-init: the runner, if any, then the binary.
pub fn invocation() -> Vec<OsString> {
    runner()
        .into_iter()
        .chain([agent_init().into_os_string()])
        .collect()
}

/// `agent-init` as a command, ready for its arguments.
pub fn agent_init_command() -> Command {
    let words = invocation();
    let mut c = Command::new(&words[0]);
    c.args(&words[1..]);
    c
}

/// `agent-init` for a shell script (`$AI health …`).
pub fn agent_init_shell() -> String {
    invocation()
        .iter()
        .map(|w| w.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn testproc() -> &'static str {
    env!("CARGO_BIN_EXE_testproc")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum As {
    /// PID 1 of a new PID namespace, like in a container.
    Pid1,
    /// An ordinary process (it registers as child subreaper).
    Subreaper,
    /// PID 1 of a new PID namespace, running as this uid (and gid) without
    /// capabilities, like an image with `USER 1000`.
    Pid1User(u32),
}

/// Both modes; under an emulator only PID 1, since qemu-user (Debian 12's
/// 7.2) refuses PR_SET_CHILD_SUBREAPER, and agent-init rightly refuses to
/// run as a plain process without it.
pub fn both() -> Vec<As> {
    if runner().is_some() {
        vec![As::Pid1]
    } else {
        vec![As::Pid1, As::Subreaper]
    }
}

pub struct Running {
    process: Child,
    mode: As,
    /// agent-init's pid as seen from the test (host namespace), once looked up.
    found_pid: Option<i32>,
    lines: Receiver<String>,
    pub seen: Vec<String>,
    stderr: Arc<Mutex<String>>,
    stderr_done: Receiver<()>,
    exited: bool,
}

pub struct Exited {
    pub status: ExitStatus,
    pub code: Option<i32>,
    pub stdout: Vec<String>,
    pub stderr: String,
    pub elapsed: Duration,
}

/// Starts agent-init with `args` (options, then `--` and the command).
pub fn start(mode: As, args: &[&str]) -> Running {
    start_with(mode, args, |_| {})
}

pub fn start_with(mode: As, args: &[&str], setup: impl FnOnce(&mut Command)) -> Running {
    let mut cmd = match mode {
        As::Pid1 => {
            let mut c = Command::new("unshare");
            c.args(["--pid", "--fork", "--mount-proc"])
                .args(invocation());
            c
        }
        As::Subreaper => agent_init_command(),
        As::Pid1User(uid) => {
            let mut c = Command::new("unshare");
            let id = uid.to_string();
            c.args(["--pid", "--fork", "--mount-proc", "setpriv", "--reuid", &id])
                .args(["--regid", &id, "--clear-groups", "--inh-caps=-all"])
                .args(invocation());
            c
        }
    };
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    setup(&mut cmd);
    let mut process = cmd.spawn().expect("spawning agent-init");
    let out = process.stdout.take();
    let err = process.stderr.take().unwrap();
    let (tx, lines) = channel();
    // Unless the test took standard output for itself.
    if let Some(out) = out {
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
    }
    let stderr = Arc::new(Mutex::new(String::new()));
    let (done_tx, stderr_done) = channel();
    let sink = stderr.clone();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(err);
        let mut buf = [0u8; 4096];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
        let _ = done_tx.send(());
    });
    Running {
        process,
        mode,
        found_pid: None,
        lines,
        seen: Vec::new(),
        stderr,
        stderr_done,
        exited: false,
    }
}

impl Running {
    /// agent-init's pid in the test's namespace (for PID 1: the child that
    /// unshare forked).
    pub fn pid(&mut self) -> i32 {
        if let Some(pid) = self.found_pid {
            return pid;
        }
        let pid = match self.mode {
            As::Subreaper => self.process.id() as i32,
            As::Pid1 | As::Pid1User(_) => {
                let outer = self.process.id() as i32;
                wait_for(SOON, "unshare to fork agent-init", || {
                    children_of(outer).first().copied()
                })
            }
        };
        self.found_pid = Some(pid);
        pid
    }

    pub fn signal(&mut self, sig: Signal) {
        let pid = self.pid();
        kill(Pid::from_raw(pid), sig).expect("signalling agent-init");
    }

    /// Waits for a stdout line satisfying `pred` and returns it.
    pub fn expect_line(&mut self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        if let Some(l) = self.seen.iter().find(|l| pred(l)) {
            return l.clone();
        }
        let deadline = Instant::now() + SOON;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if pred(&line) {
                        return line;
                    }
                }
                Err(RecvTimeoutError::Timeout) => panic!(
                    "timed out waiting for {what}; stdout so far: {:?}; stderr: {}",
                    self.seen,
                    self.stderr()
                ),
                Err(RecvTimeoutError::Disconnected) => panic!(
                    "stdout closed while waiting for {what}; stdout: {:?}; stderr: {}",
                    self.seen,
                    self.stderr()
                ),
            }
        }
    }

    /// Reads stdout lines into `seen` for `d`.
    pub fn read_for(&mut self, d: Duration) {
        let deadline = Instant::now() + d;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(_) => break,
            }
        }
    }

    pub fn expect(&mut self, exact: &str) -> String {
        self.expect_line(exact, |l| l == exact)
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits (bounded) for agent-init to exit and collects its output.
    pub fn wait(mut self, timeout: Duration) -> Exited {
        let start = Instant::now();
        let status = loop {
            if let Some(s) = self.process.try_wait().unwrap() {
                break s;
            }
            if start.elapsed() > timeout {
                panic!(
                    "agent-init did not exit within {timeout:?}; stdout {:?}; stderr {}",
                    self.seen,
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        self.exited = true;
        let elapsed = start.elapsed();
        let _ = self.stderr_done.recv_timeout(SOON);
        // Grandchildren may hold stdout open; take what has arrived.
        while let Ok(l) = self.lines.recv_timeout(Duration::from_millis(50)) {
            self.seen.push(l);
        }
        Exited {
            code: status.code(),
            status,
            stdout: std::mem::take(&mut self.seen),
            stderr: self.stderr(),
            elapsed,
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.exited {
            return;
        }
        // A failing test must not leave a namespace behind.
        if let Some(pid) = self.found_pid {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// Starts agent-init as PID 1 with `options` and, as its command, testproc
/// reporting every signal it gets until SIGTERM (then it exits 0); returns
/// once the command runs.
pub fn start_signal_reporter(options: &[&str]) -> Running {
    let mut args = options.to_vec();
    args.extend_from_slice(&["--", testproc(), "signals", "--exit-on", "SIGTERM", "0"]);
    let mut init = start(As::Pid1, &args);
    init.expect_line("ready", |l| l.starts_with("ready parent"));
    init
}

/// Runs agent-init to completion.
pub fn run(mode: As, args: &[&str]) -> Exited {
    start(mode, args).wait(SOON)
}

/// Runs `agent-init ARGS` inside the namespaces of the init whose pid (in
/// the test's namespace) is `pid`, as `docker exec` would.
pub fn agent_init_inside(pid: i32, args: &[&str]) -> std::process::Output {
    Command::new("nsenter")
        .args(["-t", &pid.to_string(), "-p", "-m"])
        .args(invocation())
        .args(args)
        .output()
        .expect("running nsenter")
}

/// Polls `probe` until it yields a value or `timeout` passes (then panics).
pub fn wait_for<T>(timeout: Duration, what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Direct children of `pid`, from /proc.
pub fn children_of(pid: i32) -> Vec<i32> {
    let path = format!("/proc/{pid}/task/{pid}/children");
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// Process state letter (R, S, T, Z, …) from /proc/PID/stat.
pub fn state_of(pid: i32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rfind(')').and_then(|i| stat[i + 2..].chars().next())
}

/// A field of /proc/PID/status, e.g. "VmRSS" or "voluntary_ctxt_switches".
pub fn status_field(pid: i32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| {
        let rest = l.strip_prefix(field)?.strip_prefix(':')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// A scratch directory (mode `mode`) removed when dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Scratch {
        Scratch::with_mode(tag, 0o755)
    }

    pub fn with_mode(tag: &str, mode: u32) -> Scratch {
        use std::os::unix::fs::PermissionsExt;
        static SEQ: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let p = std::env::temp_dir().join(format!("agent-init-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        Scratch(p)
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.0.join(rel)
    }

    /// The path of `rel` as text (the directory itself for "").
    pub fn s(&self, rel: &str) -> String {
        self.path(rel)
            .to_string_lossy()
            .trim_end_matches('/')
            .to_string()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The kubelet's layout for a ConfigMap/Secret volume, with `keys`.
pub fn kubelet_volume(dir: &std::path::Path, stamp: &str, keys: &[(&str, &str)]) {
    let data = dir.join(stamp);
    std::fs::create_dir_all(&data).unwrap();
    for (k, v) in keys {
        std::fs::write(data.join(k), v).unwrap();
    }
    // Atomic swap, as the kubelet does it: a new link renamed over ..data.
    let tmp = dir.join("..data_tmp");
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(stamp, &tmp).unwrap();
    std::fs::rename(&tmp, dir.join("..data")).unwrap();
    for (k, _) in keys {
        let link = dir.join(k);
        if std::fs::symlink_metadata(&link).is_err() {
            std::os::unix::fs::symlink(format!("..data/{k}"), &link).unwrap();
        }
    }
}

/// Runs agent-init (not PID 1) with `args` and `env`; its whole output.
pub fn agent(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut c = agent_init_command();
    c.args(args).stdin(Stdio::null());
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

pub fn out(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn err(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts agent-init exited with `code` and that its error output names
/// every one of `needles`.
pub fn exits_with(o: &std::process::Output, code: i32, needles: &[&str]) {
    let e = err(o);
    assert_eq!(o.status.code(), Some(code), "stdout {}; stderr {e}", out(o));
    for needle in needles {
        assert!(e.contains(needle), "stderr lacks {needle:?}: {e}");
    }
}

/// `GET path` from the probe endpoint on `port`: the status code (0 when
/// there is no status line) and the whole answer.
pub fn http_get(port: u16, path: &str) -> std::io::Result<(u16, String)> {
    use std::io::Write;
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(SOON))?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n")?;
    let mut text = String::new();
    s.read_to_string(&mut text)?;
    let code = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    Ok((code, text))
}
