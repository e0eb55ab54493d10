//! `docker run -it IMAGE bash`: agent-init owns a controlling terminal; the
//! command must get it as foreground process group, Ctrl-C must reach the
//! command (not agent-init), and an interactive shell must have job control.

mod support;

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::pty::openpty;
use support::{agent_init, testproc, wait_for, SOON};

struct Terminal {
    master: std::fs::File,
    screen: Arc<Mutex<String>>,
    process: std::process::Child,
}

impl Terminal {
    /// Starts `unshare … agent-init ARGS` as a session leader whose
    /// controlling terminal is a fresh pty, as Docker does for `-it`.
    fn start(args: &[&str]) -> Terminal {
        Terminal::start_as(true, args)
    }

    /// As PID 1 of a new PID namespace, or (`pid1` false) as an ordinary
    /// process (`docker run -it` of an image whose entrypoint it is, with
    /// `--init`).
    fn start_as(pid1: bool, args: &[&str]) -> Terminal {
        let pty = openpty(None, None).expect("openpty");
        let slave: OwnedFd = pty.slave;
        let mut cmd = if pid1 {
            let mut cmd = Command::new("unshare");
            cmd.args(["--pid", "--fork", "--mount-proc"])
                .arg(agent_init());
            cmd
        } else {
            Command::new(agent_init())
        };
        cmd.args(args)
            .env("TERM", "dumb")
            .env("PS1", "$ ")
            .stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave));
        // SAFETY: setsid and ioctl(TIOCSCTTY) are async-signal-safe.
        unsafe {
            cmd.pre_exec(|| {
                nix::unistd::setsid()?;
                if nix::libc::ioctl(0, nix::libc::TIOCSCTTY as _, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let process = cmd.spawn().expect("spawning agent-init on a pty");
        let master = std::fs::File::from(pty.master);
        let screen = Arc::new(Mutex::new(String::new()));
        let sink = screen.clone();
        let mut reader = master.try_clone().unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Terminal {
            master,
            screen,
            process,
        }
    }

    fn screen(&self) -> String {
        self.screen.lock().unwrap().clone()
    }

    fn wait_screen(&self, what: &str, pred: impl Fn(&str) -> bool) {
        let deadline = std::time::Instant::now() + SOON;
        while !pred(&self.screen()) {
            assert!(
                std::time::Instant::now() < deadline,
                "timed out waiting for {what}; screen:\n{}",
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn type_(&mut self, keys: &str) {
        self.master.write_all(keys.as_bytes()).unwrap();
    }

    fn exit_code(&mut self) -> Option<i32> {
        let status = wait_for(SOON, "agent-init to exit", || {
            self.process.try_wait().unwrap()
        });
        status.code()
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
        let _ = self.master.as_raw_fd();
    }
}

/// Whether a `sleep` of session `sid` is its terminal's foreground group.
fn sleep_in_foreground(sid: i32) -> bool {
    std::fs::read_dir("/proc").unwrap().flatten().any(|e| {
        let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        let Some(open) = stat.find('(') else {
            return false;
        };
        let Some(close) = stat.rfind(')') else {
            return false;
        };
        let f: Vec<&str> = stat[close + 2..].split(' ').collect();
        // After the name: state ppid pgrp session tty_nr tpgid
        &stat[open + 1..close] == "sleep" && f[3] == sid.to_string() && f[2] == f[5]
    })
}

#[test]
fn ctrl_c_reaches_the_command_not_agent_init() {
    let mut term = Terminal::start(&["--", testproc(), "signals", "--exit-on", "SIGTERM", "0"]);
    term.wait_screen("command ready", |s| s.contains("ready parent"));
    term.type_("\x03");
    term.wait_screen("SIGINT at the command", |s| s.contains("parent SIGINT"));
    // agent-init itself got nothing: no shutdown began.
    assert!(
        !term.screen().contains("shutting down"),
        "{}",
        term.screen()
    );
    // The command's group is the terminal's foreground group.
    let line = term.screen();
    let ready = line
        .lines()
        .find(|l| l.starts_with("ready parent"))
        .unwrap();
    let fields: Vec<&str> = ready.split_whitespace().collect();
    assert_eq!(fields[2], fields[3], "command leads its own group: {ready}");
    term.type_("\x1c"); // Ctrl-\ sends SIGQUIT to the foreground group
    term.wait_screen("SIGQUIT at the command", |s| s.contains("parent SIGQUIT"));
    term.type_("\x1a"); // Ctrl-Z: the command catches SIGTSTP
    term.wait_screen("SIGTSTP at the command", |s| s.contains("parent SIGTSTP"));
    let pid = term.process.id() as i32;
    let init = wait_for(SOON, "agent-init pid", || {
        support::children_of(pid).first().copied()
    });
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(init),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    assert_eq!(term.exit_code(), Some(0));
}

#[test]
fn interactive_shell_has_job_control() {
    let mut term = Terminal::start(&["--", "bash", "--norc", "--noprofile", "-i"]);
    term.wait_screen("prompt", |s| s.contains("$ "));
    // The shell is in the foreground: its group is the terminal's group.
    term.type_("read -r _ _ _ _ pg _ _ fg _ < /proc/$$/stat; echo \"pg=$pg fg=$fg\"\n");
    term.wait_screen("group line", |s| s.lines().any(|l| l.starts_with("pg=")));
    let screen = term.screen();
    let line = screen
        .lines()
        .find(|l| l.starts_with("pg="))
        .unwrap()
        .trim()
        .to_string();
    let (pg, fg) = line.split_once(' ').unwrap();
    assert_eq!(
        pg.trim_start_matches("pg="),
        fg.trim_start_matches("fg="),
        "{line}"
    );
    // Ctrl-C interrupts a foreground job and the shell survives.
    term.type_("sleep 30\n");
    let session = term.process.id() as i32;
    wait_for(SOON, "sleep to run in the foreground", || {
        sleep_in_foreground(session).then_some(())
    });
    term.type_("\x03");
    term.type_("echo interrupted=$?\n");
    term.wait_screen("130 after Ctrl-C", |s| s.contains("interrupted=130"));
    // Background jobs and the jobs table work.
    term.type_("sleep 30 &\n");
    term.type_("jobs\n");
    term.wait_screen("job listed", |s| s.contains("Running"));
    term.type_("kill %1; wait; exit 7\n");
    let screen_before_exit = term.screen();
    assert_eq!(term.exit_code(), Some(7));
    assert!(
        !screen_before_exit.contains("no job control"),
        "{screen_before_exit}"
    );
    assert!(!screen_before_exit.contains("cannot set terminal process group"));
}

/// An interactive terminal stays clean: agent-init's INFO lines do not land
/// before the user's prompt, unless a log level was asked for.
#[rstest::rstest]
#[case::quiet_by_default(&[], false)]
#[case::an_explicit_level_is_honoured(&["--log-level", "info"], true)]
fn the_terminal_gets_no_info_lines(#[case] extra: &[&str], #[case] shown: bool) {
    let mut args = extra.to_vec();
    args.extend_from_slice(&["--", "sh", "-c", "echo the-command-ran"]);
    let mut term = Terminal::start(&args);
    term.wait_screen("the command's output", |s| s.contains("the-command-ran"));
    assert_eq!(term.exit_code(), Some(0));
    // Wait until the pty has given everything up.
    std::thread::sleep(Duration::from_millis(100));
    let screen = term.screen();
    assert_eq!(screen.contains(" INFO "), shown, "screen:\n{screen}");
}

/// dumb-init's test_tty: not PID 1 on a terminal, the subreaper note does
/// not land before the command's output (it is a debug line there). The
/// control: with the debug level asked for, it is there.
#[rstest::rstest]
#[case::quiet(&[], false)]
#[case::asked_for(&["--log-level", "debug"], true)]
fn not_pid1_on_a_terminal_the_subreaper_note_stays_off_the_screen(
    #[case] extra: &[&str],
    #[case] shown: bool,
) {
    let mut args = extra.to_vec();
    args.extend_from_slice(&["--", "sh", "-c", "echo the-command-ran"]);
    let mut term = Terminal::start_as(false, &args);
    term.wait_screen("the command's output", |s| s.contains("the-command-ran"));
    assert_eq!(term.exit_code(), Some(0));
    std::thread::sleep(Duration::from_millis(100));
    let screen = term.screen();
    assert_eq!(screen.contains("subreaper"), shown, "screen:\n{screen}");
}
