//! A stand-in command for the black-box tests: does one precise thing with
//! processes or signals and reports what the kernel told it on stdout.
//!
//! testproc signals [--fork] [--exit-on SIG CODE]
//!     print "ready <role> <pid> <pgid>", then one "<role> <SIGNAME>" line per
//!     signal received; --fork starts a grandchild ("child") doing the same.
//! testproc orphans N
//!     create N orphans (double fork) that exit at once, then return.
//! testproc wait-reaped PPID SECONDS
//!     wait until no zombie has parent PPID; exit 1 naming the count if time
//!     runs out.
//! testproc fork-storm
//!     in a process group of its own, fork children that sleep until the
//!     kernel refuses one more; print "full N", then sleep too.
//! testproc ignore-term
//!     ignore SIGTERM and sleep forever.
//! testproc sleep
//!     sleep forever with default signal dispositions.
//! testproc uds REQUEST SOCKET...
//!     for each unix socket (`@name` abstract, else a path): connect, send
//!     REQUEST (with a newline, unless it is `-` for "send nothing and
//!     close"), print `SOCKET ANSWER` on one line (or `SOCKET error: …`).
//! testproc uds-silent SOCKET N SECONDS
//!     open N connections, say nothing for SECONDS, then read each answer
//!     and print `answers: A` followed by each distinct answer.
//! testproc uds-names PREFIX
//!     print the abstract unix socket names starting with PREFIX from
//!     /proc/net/unix (as a sidecar sharing the network namespace sees them).

use std::io::Write;
use std::time::{Duration, Instant};

use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicI32, Ordering};

use nix::sys::signal::{self, SaFlags, SigAction, SigHandler, SigSet, Signal};
use nix::sys::wait::waitpid;
use nix::unistd::{fork, getpgrp, getpid, pause, ForkResult};

const CAUGHT: [Signal; 17] = [
    // Sent by kill(2), the fault signals are ordinary ones (dumb-init's
    // test_proxies_signals sends them too).
    Signal::SIGSEGV,
    Signal::SIGBUS,
    Signal::SIGFPE,
    Signal::SIGILL,
    Signal::SIGTRAP,
    Signal::SIGSYS,
    Signal::SIGTERM,
    Signal::SIGINT,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
    Signal::SIGCONT,
    Signal::SIGTSTP,
    Signal::SIGTTIN,
    Signal::SIGTTOU,
];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["signals", rest @ ..] => signals(rest),
        ["orphans", n] => orphans(n.parse().expect("count")),
        ["wait-reaped", ppid, secs] => wait_reaped(
            ppid.parse().expect("ppid"),
            Duration::from_secs_f64(secs.parse().expect("seconds")),
        ),
        ["fork-storm"] => {
            nix::unistd::setpgid(getpid(), getpid()).unwrap();
            let mut n = 0;
            loop {
                // SAFETY: single-threaded; the child only sleeps.
                match unsafe { fork() } {
                    Ok(ForkResult::Child) => loop {
                        pause();
                    },
                    Ok(ForkResult::Parent { .. }) => n += 1,
                    Err(_) => break,
                }
            }
            say(&format!("full {n}"));
            loop {
                pause();
            }
        }
        ["ignore-term"] => {
            // SAFETY: SIG_IGN installs no handler code.
            unsafe { signal::signal(Signal::SIGTERM, SigHandler::SigIgn) }.unwrap();
            say("ready");
            loop {
                pause();
            }
        }
        ["sleep"] => {
            say("ready");
            loop {
                pause();
            }
        }
        ["uds", request, sockets @ ..] => {
            for s in sockets {
                let answer = uds_request(s, request);
                say(&format!("{s} {}", answer.replace('\n', "\\n")));
            }
        }
        ["uds-silent", socket, n, secs] => {
            let held: Vec<_> = (0..n.parse::<usize>().expect("count"))
                .filter_map(|_| uds_connect(socket).ok())
                .collect();
            say(&format!("holding {}", held.len()));
            std::thread::sleep(Duration::from_secs_f64(secs.parse().expect("seconds")));
            let mut answers = std::collections::BTreeSet::new();
            let mut count = 0;
            for mut conn in held {
                use std::io::Read;
                let mut out = String::new();
                conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                if conn.read_to_string(&mut out).is_ok() && !out.is_empty() {
                    count += 1;
                    answers.insert(out);
                }
            }
            say(&format!("answers: {count}"));
            for a in answers {
                say(&a);
            }
        }
        ["uds-names", prefix] => {
            let table = std::fs::read_to_string("/proc/net/unix").unwrap();
            let mut seen = std::collections::BTreeSet::new();
            for line in table.lines().skip(1) {
                if let Some(path) = line.split_whitespace().nth(7) {
                    if path.starts_with(prefix) && seen.insert(path.to_string()) {
                        say(path);
                    }
                }
            }
        }
        _ => {
            eprintln!("testproc: unknown arguments {args:?}");
            std::process::exit(2);
        }
    }
}

fn uds_connect(socket: &str) -> std::io::Result<std::os::unix::net::UnixStream> {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::{SocketAddr, UnixStream};
    match socket.strip_prefix('@') {
        Some(name) => UnixStream::connect_addr(&SocketAddr::from_abstract_name(name)?),
        None => UnixStream::connect(socket),
    }
}

/// One request on a fresh connection; the whole answer, or what went wrong.
fn uds_request(socket: &str, request: &str) -> String {
    use std::io::Read;
    let mut conn = match uds_connect(socket) {
        Ok(c) => c,
        Err(e) => return format!("error: connect: {e}"),
    };
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    // A server may answer (and close) before it reads: then the write
    // fails and the answer is still there to read, as for any client.
    let written = if request == "-" {
        Ok(())
    } else {
        conn.write_all(format!("{request}\n").as_bytes())
    };
    let _ = conn.shutdown(std::net::Shutdown::Write);
    let mut out = String::new();
    match (conn.read_to_string(&mut out), written) {
        (Ok(_), _) if !out.is_empty() => out,
        (_, Err(e)) => format!("error: write: {e}"),
        (Err(e), _) => format!("error: read: {e}"),
        (Ok(_), Ok(())) => out,
    }
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Write end of the self-pipe the signal handler reports through.
static PIPE_WR: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_signal(signo: nix::libc::c_int) {
    let byte = signo as u8;
    // SAFETY: write(2) is async-signal-safe; the buffer is a local byte.
    unsafe {
        nix::libc::write(
            PIPE_WR.load(Ordering::Relaxed),
            (&byte as *const u8).cast(),
            1,
        )
    };
}

/// Catches the signals with an ordinary handler (as real programs do, so
/// /proc shows them as caught) and reports each one on stdout.
fn signals(rest: &[&str]) {
    let fork_child = rest.contains(&"--fork");
    let exit_on = rest.iter().position(|a| *a == "--exit-on").map(|i| {
        (
            rest[i + 1].to_string(),
            rest[i + 2].parse::<i32>().expect("code"),
        )
    });
    let mut role = "parent";
    if fork_child {
        // SAFETY: single-threaded here; the child only runs this function.
        if let ForkResult::Child = unsafe { fork() }.unwrap() {
            role = "child";
        }
    }
    let (rd, wr) = nix::unistd::pipe().unwrap();
    PIPE_WR.store(wr.as_raw_fd(), Ordering::Relaxed);
    let action = SigAction::new(
        SigHandler::Handler(on_signal),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    for s in CAUGHT {
        // SAFETY: the handler only calls write(2).
        unsafe { signal::sigaction(s, &action) }.unwrap();
    }
    say(&format!("ready {role} {} {}", getpid(), getpgrp()));
    let mut file = std::fs::File::from(rd);
    let mut byte = [0u8; 1];
    loop {
        use std::io::Read;
        match file.read(&mut byte) {
            Ok(1) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            other => panic!("self-pipe: {other:?}"),
        }
        let sig = Signal::try_from(byte[0] as i32).unwrap();
        say(&format!("{role} {}", sig.as_str()));
        if let Some((name, code)) = &exit_on {
            if sig.as_str() == name {
                std::process::exit(*code);
            }
        }
    }
}

fn orphans(n: usize) {
    for _ in 0..n {
        // SAFETY: single-threaded; children only call _exit/fork.
        match unsafe { fork() }.unwrap() {
            ForkResult::Child => {
                if let Ok(ForkResult::Child) = unsafe { fork() } {
                    // The grandchild: outlives its parent by a moment so it
                    // really is re-parented before it becomes a zombie.
                    std::thread::sleep(Duration::from_millis(20));
                    unsafe { nix::libc::_exit(0) };
                }
                unsafe { nix::libc::_exit(0) };
            }
            ForkResult::Parent { child } => {
                waitpid(child, None).unwrap();
            }
        }
    }
    say(&format!("orphaned {n}"));
}

/// Zombies whose parent is `ppid`, read from /proc.
fn zombies_of(ppid: i32) -> usize {
    let mut count = 0;
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // Fields after the parenthesised command name: state, ppid, ...
        let Some(after) = stat.rfind(')').map(|i| &stat[i + 2..]) else {
            continue;
        };
        let mut fields = after.split(' ');
        let state = fields.next();
        let parent: Option<i32> = fields.next().and_then(|p| p.parse().ok());
        if state == Some("Z") && parent == Some(ppid) {
            count += 1;
        }
    }
    count
}

fn wait_reaped(ppid: i32, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    loop {
        let left = zombies_of(ppid);
        if left == 0 {
            say("reaped");
            return;
        }
        if Instant::now() > deadline {
            say(&format!("zombies {left}"));
            std::process::exit(1);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
