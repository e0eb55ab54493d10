//! Black-box tests of the init core: exit codes, reaping, signal forwarding,
//! shutdown, keep-alive, subreaper, terminal handling, logging, static build.
//! Each runs the real binary; the kernel (/proc, wait status) is the oracle.

mod support;

use std::time::Duration;

use nix::sys::signal::Signal;
use support::*;

fn sh(script: &str) -> Vec<String> {
    vec!["--".into(), "sh".into(), "-c".into(), script.into()]
}

fn args(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn exit_code_of_the_command_passes_through() {
    for mode in both() {
        let out = run(mode, &args(&sh("exit 42")));
        assert_eq!(out.code, Some(42), "{mode:?}: {}", out.stderr);
        let out = run(mode, &args(&sh("true")));
        assert_eq!(out.code, Some(0), "{mode:?}: {}", out.stderr);
    }
}

#[test]
fn command_killed_by_signal_gives_128_plus_n() {
    for mode in both() {
        let out = run(mode, &args(&sh("kill -USR1 $$")));
        assert_eq!(out.code, Some(128 + 10), "{mode:?}: {}", out.stderr);
        let out = run(mode, &args(&sh("kill -KILL $$")));
        assert_eq!(out.code, Some(137), "{mode:?}: {}", out.stderr);
    }
}

#[test]
fn command_without_double_dash() {
    let out = run(As::Subreaper, &["sh", "-c", "exit 5"]);
    assert_eq!(out.code, Some(5), "{}", out.stderr);
}

#[test]
fn missing_command_is_127_and_named() {
    for mode in both() {
        let out = run(mode, &["--", "no-such-command-xyz"]);
        assert_eq!(out.code, Some(127), "{mode:?}");
        assert!(out.stderr.contains("no-such-command-xyz"), "{}", out.stderr);
    }
}

#[test]
fn non_executable_command_is_126() {
    let dir = std::env::temp_dir().join(format!("agent-init-noexec-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("script");
    std::fs::write(&file, "#!/bin/sh\nexit 0\n").unwrap();
    let out = run(As::Subreaper, &["--", file.to_str().unwrap()]);
    assert_eq!(out.code, Some(126), "{}", out.stderr);
    assert!(out.stderr.contains("script"), "{}", out.stderr);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn usage_errors_exit_64() {
    let out = run(As::Subreaper, &["--no-such-flag"]);
    assert_eq!(out.code, Some(64));
    assert!(out.stderr.contains("--no-such-flag"), "{}", out.stderr);
    let out = run(As::Subreaper, &["--grace-period", "soon", "--", "true"]);
    assert_eq!(out.code, Some(64));
    assert!(out.stderr.contains("soon"), "{}", out.stderr);
}

#[test]
fn help_and_version() {
    let out = run(As::Subreaper, &["--help"]);
    assert_eq!(out.code, Some(0));
    let help = out.stdout.join("\n");
    for needle in [
        "--grace-period",
        "AGENT_INIT_GRACE_PERIOD",
        "--signal-target",
        "keep-alive",
        "Exit codes:",
        "Subcommands:",
    ] {
        assert!(help.contains(needle), "--help lacks {needle}");
    }
    let out = run(As::Subreaper, &["--version"]);
    assert_eq!(out.code, Some(0));
    assert!(out.stdout[0].starts_with("agent-init "), "{:?}", out.stdout);
}

#[test]
fn orphans_are_reaped() {
    let tp = testproc();
    for mode in both() {
        // $PPID of the shell is agent-init, whatever namespace it is in.
        let script = format!("{tp} orphans 200 && {tp} wait-reaped $PPID 20");
        let out = run(mode, &args(&sh(&script)));
        assert_eq!(
            out.code,
            Some(0),
            "{mode:?}: {:?} {}",
            out.stdout,
            out.stderr
        );
        assert!(
            out.stdout.contains(&"reaped".to_string()),
            "{:?}",
            out.stdout
        );
    }
}

#[test]
fn thousands_of_orphans_at_once_are_reaped() {
    let tp = testproc();
    let script = format!("{tp} orphans 5000 && {tp} wait-reaped 1 30");
    let out = start(As::Pid1, &args(&sh(&script))).wait(Duration::from_secs(120));
    assert_eq!(out.code, Some(0), "{:?} {}", out.stdout, out.stderr);
}

/// The README's promise: when the command exits, what it left running in
/// its process group is asked to stop (SIGTERM) instead of being silently
/// SIGKILLed later. A grandchild that traps SIGTERM leaves a mark; with
/// `--signal-target child` the group is not signalled and it is found
/// still running afterwards (the control).
#[rstest::rstest]
#[case::the_group_gets_sigterm("group")]
#[case::not_with_signal_target_child("child")]
fn what_the_command_leaves_in_its_group_gets_sigterm(#[case] target: &str) {
    let dir = std::env::temp_dir().join(format!(
        "agent-init-leftover-{target}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (mark, fifo) = (dir.join("got-sigterm"), dir.join("ready"));
    // The grandchild reports its pid once its trap is set; only then does
    // the command exit.
    let script = format!(
        "mkfifo {fifo}; \
         sh -c 'trap \"touch {mark}; exit 0\" TERM; echo $$ > {fifo}; while :; do sleep 0.05; done' >/dev/null 2>&1 & \
         read pid < {fifo}; echo $pid; exit 4",
        fifo = fifo.display(),
        mark = mark.display()
    );
    let out = run(
        As::Subreaper,
        &[
            "--log-level",
            "warn",
            "--signal-target",
            target,
            "--",
            "sh",
            "-c",
            &script,
        ],
    );
    assert_eq!(out.code, Some(4), "{}", out.stderr);
    let pid: i32 = out.stdout[0].parse().unwrap();
    if target == "group" {
        wait_for(SOON, "the grandchild's mark", || {
            mark.exists().then_some(())
        });
    } else {
        assert!(
            matches!(state_of(pid), Some(s) if s != 'Z'),
            "the grandchild is gone though nobody signalled it"
        );
        assert!(!mark.exists());
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), Signal::SIGKILL);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

const FORWARDED: [Signal; 8] = [
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
    Signal::SIGCONT,
    Signal::SIGTSTP,
    Signal::SIGTTIN,
];

#[test]
fn signals_reach_the_whole_process_group_by_default() {
    for mode in both() {
        let mut init = start(mode, &["--", testproc(), "signals", "--fork"]);
        init.expect_line("parent ready", |l| l.starts_with("ready parent"));
        init.expect_line("child ready", |l| l.starts_with("ready child"));
        for sig in FORWARDED.into_iter().chain([Signal::SIGTTOU]) {
            init.signal(sig);
            init.expect(&format!("parent {}", sig.as_str()));
            init.expect(&format!("child {}", sig.as_str()));
        }
        init.signal(Signal::SIGTERM);
        let out = init.wait(SOON);
        assert!(out.stdout.contains(&"parent SIGTERM".to_string()));
    }
}

#[test]
fn signal_target_child_spares_the_rest_of_the_group() {
    let mut init = start(
        As::Pid1,
        &[
            "--signal-target",
            "child",
            "--",
            testproc(),
            "signals",
            "--fork",
            "--exit-on",
            "SIGTERM",
            "0",
        ],
    );
    init.expect_line("parent ready", |l| l.starts_with("ready parent"));
    init.expect_line("child ready", |l| l.starts_with("ready child"));
    init.signal(Signal::SIGUSR1);
    init.expect("parent SIGUSR1");
    // A second signal after the first: ordering on the pipe proves the
    // grandchild had its chance to report SIGUSR1 and did not.
    init.signal(Signal::SIGUSR2);
    init.expect("parent SIGUSR2");
    init.signal(Signal::SIGTERM);
    let out = init.wait(SOON);
    assert_eq!(out.code, Some(0));
    assert!(
        !out.stdout.iter().any(|l| l.starts_with("child SIGUSR")),
        "{:?}",
        out.stdout
    );
}

#[test]
fn sigterm_is_forwarded_and_exit_code_follows_the_command() {
    for mode in both() {
        let mut init = start(
            mode,
            &["--", testproc(), "signals", "--exit-on", "SIGTERM", "3"],
        );
        init.expect_line("ready", |l| l.starts_with("ready"));
        init.signal(Signal::SIGTERM);
        let out = init.wait(SOON);
        assert_eq!(out.code, Some(3), "{mode:?}: {}", out.stderr);
        assert!(out.stdout.contains(&"parent SIGTERM".to_string()));
    }
    let mut init = start(
        As::Pid1,
        &["--", testproc(), "signals", "--exit-on", "SIGINT", "130"],
    );
    init.expect_line("ready", |l| l.starts_with("ready"));
    init.signal(Signal::SIGINT);
    assert_eq!(init.wait(SOON).code, Some(130));
}

#[test]
fn command_ignoring_sigterm_is_killed_after_the_grace_period() {
    for mode in both() {
        let mut init = start(
            mode,
            &["--grace-period", "1", "--", testproc(), "ignore-term"],
        );
        init.expect("ready");
        init.signal(Signal::SIGTERM);
        let out = init.wait(SOON);
        assert_eq!(out.code, Some(137), "{mode:?}: {}", out.stderr);
        assert!(
            out.elapsed >= Duration::from_millis(900),
            "{:?}",
            out.elapsed
        );
        assert!(out.elapsed < Duration::from_secs(5), "{:?}", out.elapsed);
        assert!(
            out.stderr.contains("grace period expired"),
            "{}",
            out.stderr
        );
    }
}

#[test]
fn grace_kill_takes_the_whole_group() {
    // The shell ignores SIGTERM and so does its background grandchild; both
    // must be gone when agent-init returns (checked from /proc by pid).
    let tp = testproc();
    let script = format!("trap '' TERM; {tp} ignore-term & echo grandchild $!; wait");
    let mut init = start(
        As::Subreaper,
        &args(&[vec!["--grace-period".into(), "0.5".into()], sh(&script)].concat()),
    );
    let line = init.expect_line("grandchild pid", |l| l.starts_with("grandchild "));
    init.expect("ready");
    let grandchild: i32 = line[11..].parse().unwrap();
    init.signal(Signal::SIGTERM);
    let out = init.wait(SOON);
    assert_eq!(out.code, Some(137), "{}", out.stderr);
    wait_for(SOON, "grandchild to be gone", || {
        matches!(state_of(grandchild), None | Some('Z')).then_some(())
    });
}

#[test]
fn stop_and_continue_reach_the_command() {
    let mut init = start(As::Pid1, &["--", testproc(), "sleep"]);
    init.expect("ready");
    let pid = init.pid();
    let child = wait_for(SOON, "command pid", || children_of(pid).first().copied());
    init.signal(Signal::SIGTSTP);
    wait_for(SOON, "command stopped", || {
        (state_of(child) == Some('T')).then_some(())
    });
    init.signal(Signal::SIGCONT);
    wait_for(SOON, "command continued", || {
        (state_of(child) == Some('S')).then_some(())
    });
    // A stopped command still shuts down on SIGTERM: agent-init continues it.
    init.signal(Signal::SIGTSTP);
    wait_for(SOON, "command stopped again", || {
        (state_of(child) == Some('T')).then_some(())
    });
    init.signal(Signal::SIGTERM);
    let out = init.wait(SOON);
    assert_eq!(out.code, Some(128 + 15), "{}", out.stderr);
    assert!(out.elapsed < Duration::from_secs(5));
}

#[test]
fn keep_alive_reaps_exec_orphans_and_stops_on_sigterm() {
    let mut init = start(As::Pid1, &[]);
    wait_for(SOON, "keep-alive to log", || {
        init.stderr().contains("keeping alive").then_some(())
    });
    // What `docker exec` does: enter the namespace and start a process there.
    let tp = testproc();
    let pid = init.pid();
    let status = std::process::Command::new("nsenter")
        .args(["-t", &pid.to_string(), "-p", "-m", tp, "orphans", "100"])
        .status()
        .unwrap();
    assert!(status.success());
    let zombies = || {
        std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
            .filter(|p| {
                let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
                let after = stat.rfind(')').map(|i| &stat[i + 2..]).unwrap_or("");
                let mut f = after.split(' ');
                f.next() == Some("Z") && f.next() == Some(pid.to_string().as_str())
            })
            .count()
    };
    wait_for(SOON, "exec'd orphans to be reaped", || {
        (zombies() == 0).then_some(())
    });
    init.signal(Signal::SIGTERM);
    let out = init.wait(SOON);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
}

#[test]
fn keep_alive_gives_exec_processes_the_grace_period() {
    let mut init = start(As::Pid1, &["--grace-period", "1"]);
    wait_for(SOON, "keep-alive to log", || {
        init.stderr().contains("keeping alive").then_some(())
    });
    let mut exec = std::process::Command::new("nsenter")
        .args([
            "-t",
            &init.pid().to_string(),
            "-p",
            "-m",
            testproc(),
            "ignore-term",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(exec.stdout.take().unwrap()),
        &mut first,
    )
    .unwrap();
    assert_eq!(first.trim(), "ready");
    init.signal(Signal::SIGTERM);
    let out = init.wait(SOON);
    let _ = exec.wait();
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.elapsed >= Duration::from_millis(900),
        "{:?}",
        out.elapsed
    );
    assert!(
        out.stderr.contains("grace period expired"),
        "{}",
        out.stderr
    );
}

/// The loop thread's voluntary context switches: each is one wake-up
/// from a sleep (involuntary ones are preemptions, which a busy machine
/// causes, not the init).
fn wakeups(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap()
}

/// Whether the loop thread sleeps in epoll_wait (state S; where the kernel
/// names the wait channel, in epoll).
fn asleep_in_epoll(pid: i32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/stat")).unwrap_or_default();
    let state = stat
        .rsplit_once(") ")
        .and_then(|(_, rest)| rest.chars().next());
    let wchan =
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/wchan")).unwrap_or_default();
    state == Some('S') && (wchan.contains("epoll") || wchan.is_empty() || wchan == "0")
}

#[test]
fn keep_alive_is_idle_without_wakeups() {
    let mut init = start(As::Pid1, &["--log-level", "debug", "--"]);
    wait_for(SOON, "the init to settle", || {
        init.stderr().contains("settled").then_some(())
    });
    let pid = init.pid();
    // Counting starts once the loop sleeps, seen twice in a row.
    wait_for(SOON, "the init asleep in epoll_wait", || {
        (asleep_in_epoll(pid) && {
            std::thread::sleep(Duration::from_millis(20));
            asleep_in_epoll(pid)
        })
        .then_some(())
    });
    let before = wakeups(pid);
    // Measuring idleness needs idle time; this sleep is the measurement
    // window, not a synchronisation.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(wakeups(pid), before, "agent-init woke up while idle");
    let rss_kib = status_field(pid, "VmRSS").unwrap();
    assert!(rss_kib < 4096, "idle RSS {rss_kib} KiB");
    // The negative control: a signal (ignored in keep-alive mode) is a
    // wake-up the count sees.
    init.signal(Signal::SIGWINCH);
    wait_for(SOON, "the wake-up of a signal to be counted", || {
        (wakeups(pid) > before).then_some(())
    });
    init.signal(Signal::SIGTERM);
    assert_eq!(init.wait(SOON).code, Some(0));
}

#[test]
fn subreaper_warning_is_printed_once_and_pid1_is_quiet() {
    let out = run(As::Subreaper, &args(&sh("true")));
    assert_eq!(out.stderr.matches("subreaper").count(), 1, "{}", out.stderr);
    let out = run(As::Pid1, &args(&sh("true")));
    assert!(!out.stderr.contains("subreaper"), "{}", out.stderr);
}

#[test]
fn json_logs_are_one_object_per_line() {
    let out = run(
        As::Subreaper,
        &["--log-format", "json", "--log-level", "debug", "--", "true"],
    );
    assert_eq!(out.code, Some(0));
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert!(lines.len() >= 2, "{}", out.stderr);
    for line in lines {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(
            v.get("level").is_some() && v.get("timestamp").is_some(),
            "{line}"
        );
    }
}

#[test]
fn secret_values_never_reach_the_log() {
    let secret = "sk-ant-do-not-log-me-4242";
    for format in ["text", "json"] {
        let init = start_with(
            As::Subreaper,
            &["--log-format", format, "--log-level", "trace", "--", "true"],
            |c| {
                c.env("ANTHROPIC_API_KEY", secret)
                    .env("GITHUB_TOKEN", secret)
                    .env("DB_PASSWORD", secret)
                    .env("PLAIN_SETTING", "visible-value-1717");
            },
        );
        let out = init.wait(SOON);
        assert_eq!(out.code, Some(0));
        assert!(
            out.stderr.contains("visible-value-1717"),
            "env is not logged at all: {}",
            out.stderr
        );
        assert!(out.stderr.contains("ANTHROPIC_API_KEY"), "{}", out.stderr);
        assert!(
            !out.stderr.contains(secret),
            "secret leaked: {}",
            out.stderr
        );
    }
}

#[test]
fn binary_is_static_and_runs_without_any_library() {
    let bin = agent_init();
    let file = std::process::Command::new("file")
        .arg("-L")
        .arg(&bin)
        .output()
        .unwrap();
    let desc = String::from_utf8_lossy(&file.stdout);
    assert!(
        desc.contains("statically linked") || desc.contains("static-pie linked"),
        "{desc}"
    );
    // An empty root, like a FROM scratch image: nothing but the binary.
    let root = std::env::temp_dir().join(format!("agent-init-scratch-{}", std::process::id()));
    std::fs::create_dir_all(&root).unwrap();
    std::fs::copy(&bin, root.join("agent-init")).unwrap();
    let out = std::process::Command::new("chroot")
        .arg(&root)
        .args(["/agent-init", "--", "/agent-init", "--version"])
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&root);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("agent-init "));
}

/// Regression: a SIGCHLD arriving while the init tears down its signal
/// handling made it spin forever instead of exiting (the handler wrote to
/// a closed socket, raising SIGPIPE inside the SIGPIPE handler). Children
/// dying just as the init exits make that moment likely; ten rounds.
#[test]
fn exits_promptly_while_its_children_die_around_it() {
    for round in 0..10 {
        let out = start(
            As::Pid1,
            &args(&sh("for i in $(seq 50); do sleep 30 & done; exit 0")),
        )
        .wait(Duration::from_secs(5));
        assert_eq!(out.code, Some(0), "round {round}: {}", out.stderr);
    }
}

/// The init's sockets (status, signal delivery) and event descriptors
/// stay its own; the command gets only what the init itself was given.
#[test]
fn the_command_inherits_no_descriptor_of_the_init() {
    let out = run(
        As::Pid1,
        &args(&sh(
            "ls -l /proc/self/fd | grep -c -E 'socket:|anon_inode:' || true",
        )),
    );
    assert_eq!(out.stdout, ["0"], "{}", out.stderr);
    // Control: the init does hold such descriptors.
    let mut init = start(As::Pid1, &["--log-level", "warn"]);
    let pid = init.pid();
    let held = wait_for(SOON, "the init's descriptors", || {
        let n = std::fs::read_dir(format!("/proc/{pid}/fd"))
            .ok()?
            .flatten()
            .filter(|e| {
                std::fs::read_link(e.path())
                    .map(|l| l.to_string_lossy().starts_with("socket:"))
                    .unwrap_or(false)
            })
            .count();
        (n > 0).then_some(n)
    });
    assert!(held > 0);
    init.signal(Signal::SIGTERM);
    assert_eq!(init.wait(SOON).code, Some(0));
}

/// dumb-init's rule: SIGCONT follows a forwarded SIGTERM only to a stopped
/// command; a running one that handles SIGCONT must not see a spurious one.
#[rstest::rstest]
#[case::running_command_gets_no_sigcont(false)]
#[case::stopped_command_is_continued(true)]
fn sigcont_follows_sigterm_only_when_the_command_is_stopped(#[case] stopped: bool) {
    let mut init = start(
        As::Pid1,
        &["--", testproc(), "signals", "--exit-on", "SIGTERM", "0"],
    );
    let ready = init.expect_line("ready", |l| l.starts_with("ready parent"));
    let host_pid = children_of(init.pid())[0];
    assert!(ready.contains("parent"));
    if stopped {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(host_pid), Signal::SIGSTOP).unwrap();
        wait_for(SOON, "the command stopped", || {
            (state_of(host_pid) == Some('T')).then_some(())
        });
    }
    init.signal(Signal::SIGTERM);
    let out = init.wait(SOON);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stdout.contains(&"parent SIGTERM".to_string()),
        "{:?}",
        out.stdout
    );
    // A stopped process's SIGCONT handler runs too once it is continued.
    assert_eq!(
        out.stdout.contains(&"parent SIGCONT".to_string()),
        stopped,
        "{:?}",
        out.stdout
    );
}

/// dumb-init's rule: the init does not keep the directory it started in
/// busy (a workspace mount); the command still starts there.
#[test]
fn the_init_leaves_its_start_directory_once_the_command_runs() {
    let dir = std::env::temp_dir().join(format!("agent-init-cwd-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut init = start_with(As::Pid1, &["--", "sh", "-c", "pwd; exec sleep 1000"], |c| {
        c.current_dir(&dir);
    });
    init.expect(dir.to_str().unwrap());
    let pid = init.pid();
    let cwd = wait_for(SOON, "the init in /", || {
        let cwd = std::fs::read_link(format!("/proc/{pid}/cwd")).ok()?;
        (cwd == std::path::Path::new("/")).then_some(cwd)
    });
    assert_eq!(cwd, std::path::Path::new("/"));
    init.signal(Signal::SIGTERM);
    init.wait(SOON);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A `setsid` grandchild has left the command's session and group: no
/// group signal reaches it. It still gets SIGTERM when the command exits
/// (or on SIGTERM), and agent-init waits for it to clean up.
#[rstest::rstest]
#[case::pid1_command_exits(As::Pid1, false)]
#[case::pid1_sigterm(As::Pid1, true)]
#[case::subreaper_command_exits(As::Subreaper, false)]
#[case::subreaper_sigterm(As::Subreaper, true)]
fn a_setsid_grandchild_gets_sigterm_and_time_to_clean_up(#[case] mode: As, #[case] sigterm: bool) {
    let dir = std::env::temp_dir().join(format!(
        "agent-init-tree-{}-{mode:?}-{sigterm}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mark = dir.join("cleaned-up");
    let fifo = dir.join("ready");
    let wait = if sigterm {
        "while :; do sleep 0.05; done"
    } else {
        "true"
    };
    let script = format!(
        "mkfifo {fifo}; \
         setsid sh -c 'trap \"sleep 0.3; touch {mark}; exit 0\" TERM; echo $$ > {fifo}; while :; do sleep 0.05; done' >/dev/null 2>&1 & \
         read pid < {fifo}; echo started; {wait}; exit 3",
        fifo = fifo.display(),
        mark = mark.display()
    );
    let mut init = start(mode, &["--grace-period", "5s", "--", "sh", "-c", &script]);
    init.expect("started");
    if sigterm {
        init.signal(Signal::SIGTERM);
    }
    let out = init.wait(SOON);
    let code = if sigterm { 128 + 15 } else { 3 };
    assert_eq!(out.code, Some(code), "{}", out.stderr);
    assert!(
        mark.exists(),
        "the grandchild had not cleaned up when agent-init exited: {}",
        out.stderr
    );
    assert!(out.elapsed < Duration::from_secs(3), "{:?}", out.elapsed);
    assert!(
        !out.stderr
            .contains("still running when the grace period ended"),
        "{}",
        out.stderr
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// One that ignores SIGTERM is SIGKILLed when the grace period ends, and
/// named in the log.
#[rstest::rstest]
#[case::pid1(As::Pid1)]
#[case::subreaper(As::Subreaper)]
fn a_grandchild_ignoring_sigterm_is_killed_at_the_deadline_and_named(#[case] mode: As) {
    let script = "setsid sh -c 'trap \"\" TERM; exec sleep 1000' >/dev/null 2>&1 & \
                  sleep 0.2; echo started; exit 0";
    let mut init = start(mode, &["--grace-period", "1s", "--", "sh", "-c", script]);
    init.expect("started");
    let out = init.wait(SOON);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.elapsed >= Duration::from_millis(800) && out.elapsed < Duration::from_secs(4),
        "{:?}",
        out.elapsed
    );
    assert!(
        out.stderr
            .contains("still running when the grace period ended, SIGKILL")
            && out.stderr.contains("(sleep)"),
        "{}",
        out.stderr
    );
}

// Parity with tini and dumb-init: the features their own test suites check.

/// A field of /proc/PID/status as a bit set (bit `signo - 1`).
fn signal_set(status: &str, field: &str) -> u64 {
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|h| u64::from_str_radix(h.trim(), 16).ok())
        .unwrap_or_else(|| panic!("no {field} in {status}"))
}

fn bits(signals: &[i32]) -> u64 {
    signals.iter().fold(0, |set, s| set | 1u64 << (s - 1))
}

/// tini's "signal configuration test" (sigconf), with SIGCHLD added:
/// what agent-init's parent left ignored and blocked, the command starts
/// with too, though agent-init itself reads all of them from its signalfd
/// (and an ignored SIGCHLD would have the kernel reap the command unseen:
/// agent-init must still see it exit). The control: without the parent's
/// settings the command has none of them.
#[test]
fn the_command_starts_with_the_dispositions_and_mask_agent_init_was_given() {
    use nix::libc::*;
    use std::os::unix::process::CommandExt;
    const IGNORED: [i32; 4] = [SIGTTOU, SIGSEGV, SIGINT, SIGCHLD];
    const BLOCKED: [i32; 3] = [SIGTTIN, SIGILL, SIGTERM];
    fn configure(cmd: &mut std::process::Command) {
        // SAFETY: signal() with SIG_IGN and sigprocmask install no handler
        // code and are async-signal-safe; the set lives on this stack.
        unsafe {
            cmd.pre_exec(|| {
                for s in IGNORED {
                    signal(s, SIG_IGN);
                }
                let mut set: sigset_t = std::mem::zeroed();
                sigemptyset(&mut set);
                for s in BLOCKED {
                    sigaddset(&mut set, s);
                }
                sigprocmask(SIG_BLOCK, &set, std::ptr::null_mut());
                Ok(())
            });
        }
    }
    let cat = ["--", "cat", "/proc/self/status"];
    for mode in both() {
        let control = run(mode, &cat);
        assert_eq!(control.code, Some(0), "{}", control.stderr);
        let status = control.stdout.join("\n");
        assert_eq!(
            signal_set(&status, "SigIgn:") & bits(&IGNORED),
            0,
            "{status}"
        );
        assert_eq!(
            signal_set(&status, "SigBlk:") & bits(&BLOCKED),
            0,
            "{status}"
        );

        let exited = start_with(mode, &cat, configure).wait(SOON);
        assert_eq!(exited.code, Some(0), "{mode:?}: {}", exited.stderr);
        let status = exited.stdout.join("\n");
        let ignored = signal_set(&status, "SigIgn:");
        let blocked = signal_set(&status, "SigBlk:");
        // `unshare --fork`, which starts agent-init as PID 1 here, sets its
        // own SIGCHLD back to the default: only the subreaper is given it.
        let expected = match mode {
            As::Subreaper => bits(&IGNORED),
            _ => bits(&IGNORED) & !bits(&[SIGCHLD]),
        };
        assert_eq!(ignored & bits(&IGNORED), expected, "{mode:?}: {status}");
        assert_eq!(
            blocked & bits(&BLOCKED),
            bits(&BLOCKED),
            "{mode:?}: {status}"
        );
    }
}

/// tini's `-e`: `--remap-exit FROM=TO` (repeatable, comma-separated, a bare
/// FROM is FROM=0; also from `AGENT_INIT_REMAP_EXIT`); other codes pass
/// through; the termination report says both codes.
#[test]
fn remapped_exit_codes_and_only_those() {
    let exit = |code: u8| format!("exit {code}");
    /// Flags, variables, the command's code, agent-init's.
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], u8, i32);
    let cases: [Case; 6] = [
        (&["--remap-exit", "143=0"], &[], 143, 0),
        (&["--remap-exit", "143"], &[], 143, 0),
        (
            &["--remap-exit", "1=2,3=4", "--remap-exit", "5=6"],
            &[],
            5,
            6,
        ),
        (&[], &[("AGENT_INIT_REMAP_EXIT", "130=0,3=9")], 3, 9),
        // Negative controls: other codes, and no option at all.
        (&["--remap-exit", "143=0"], &[], 3, 3),
        (&[], &[], 143, 143),
    ];
    for (flags, env, code, expected) in cases {
        let script = exit(code);
        let mut args = flags.to_vec();
        args.extend_from_slice(&["--", "sh", "-c", &script]);
        let exited = start_with(As::Subreaper, &args, |c| {
            c.envs(env.iter().copied());
        })
        .wait(SOON);
        assert_eq!(
            exited.code,
            Some(expected),
            "{flags:?} {env:?}: {}",
            exited.stderr
        );
    }
    let log = std::env::temp_dir().join(format!("agent-init-remap-{}", std::process::id()));
    let log_arg = log.to_str().unwrap();
    let exited = run(
        As::Subreaper,
        &[
            "--termination-log",
            log_arg,
            "--remap-exit",
            "143=0",
            "--",
            "sh",
            "-c",
            "exit 143",
        ],
    );
    assert_eq!(exited.code, Some(0));
    let report = std::fs::read_to_string(&log).unwrap();
    assert!(
        report.starts_with("agent-init: command exited with 143 (exit 0)\n"),
        "{report}"
    );
    assert!(
        report.contains("exit code 143 was remapped to 0"),
        "{report}"
    );
    let _ = std::fs::remove_file(&log);
}

/// A bad remap is refused before anything runs, naming the key and where
/// it came from: a flag is a usage error (64), a variable a configuration
/// error (78).
#[test]
fn a_bad_remap_is_refused_naming_its_source() {
    let o = agent(&["--remap-exit", "300=0", "--", "true"], &[]);
    exits_with(&o, 64, &["remap_exit", "300"]);
    let o = agent(&["--remap-exit", "3=1,3=2", "--", "true"], &[]);
    exits_with(&o, 64, &["remap_exit", "remapped twice"]);
    let o = agent(&["--", "true"], &[("AGENT_INIT_REMAP_EXIT", "x=0")]);
    exits_with(&o, 78, &["AGENT_INIT_REMAP_EXIT", "`x`"]);
}

/// tini's `-w`: every reaped orphan is named in a warning (tini's wording,
/// so what greps for it finds it); without the option there is none.
#[test]
fn warn_reaped_names_every_reaped_orphan() {
    // The subshell exits at once: its sleep is an orphan agent-init adopts.
    let script = "(sleep 0.2 &); sleep 1";
    for mode in both() {
        let warned = run(mode, &["--warn-reaped", "--", "sh", "-c", script]);
        assert_eq!(warned.code, Some(0), "{}", warned.stderr);
        let line = warned
            .stderr
            .lines()
            .find(|l| l.contains("Reaped zombie process with pid="))
            .unwrap_or_else(|| panic!("{mode:?}: no warning: {}", warned.stderr));
        assert!(
            line.contains("WARN") && line.contains("command=") && line.contains("sleep"),
            "{line}"
        );
        // The command itself is agent-init's own child: not named.
        assert_eq!(
            warned.stderr.matches("Reaped zombie").count(),
            1,
            "{}",
            warned.stderr
        );

        let quiet = run(mode, &["--", "sh", "-c", script]);
        assert_eq!(quiet.code, Some(0));
        assert!(!quiet.stderr.contains("Reaped zombie"), "{}", quiet.stderr);
    }
}

/// tini's `-p`: agent-init not PID 1, started by a process that is then
/// SIGKILLed, gets the parent-death signal, forwards it to the command and
/// stops: the command ignores it, so the grace period ends it. The control:
/// the same signal sent while the parent lives is only forwarded.
#[test]
fn parent_death_signal_stops_the_command_when_the_parent_dies() {
    let reporter = format!("{} signals --exit-on SIGTERM 0", testproc());
    let script = format!(
        "{} --grace-period 1s --parent-death-signal SIGUSR1 -- {reporter} & wait",
        agent_init_shell()
    );
    let started = |script: &str| {
        let mut parent = std::process::Command::new("sh")
            .args(["-c", script])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let sh = parent.id() as i32;
        let init = wait_for(SOON, "agent-init under sh", || {
            children_of(sh).first().copied()
        });
        let lines = std::io::BufRead::lines(std::io::BufReader::new(parent.stdout.take().unwrap()));
        (parent, init, lines)
    };
    let alive = |pid: i32| {
        std::path::Path::new(&format!("/proc/{pid}")).exists()
            && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .unwrap_or_default()
                .contains(") Z ")
    };

    // The control: the parent lives; SIGUSR1 is forwarded, nothing stops.
    let (mut parent, init, mut lines) = started(&script);
    assert!(lines.next().unwrap().unwrap().starts_with("ready parent"));
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(init), Signal::SIGUSR1).unwrap();
    assert_eq!(lines.next().unwrap().unwrap(), "parent SIGUSR1");
    std::thread::sleep(Duration::from_millis(1500));
    assert!(alive(init), "agent-init stopped on a plain SIGUSR1");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(init), Signal::SIGTERM).unwrap();
    assert!(parent.wait().unwrap().success());

    // The parent dies.
    let (mut parent, init, mut lines) = started(&script);
    assert!(lines.next().unwrap().unwrap().starts_with("ready parent"));
    parent.kill().unwrap();
    parent.wait().unwrap();
    assert_eq!(lines.next().unwrap().unwrap(), "parent SIGUSR1");
    wait_for(SOON, "agent-init to stop after its parent died", || {
        (!alive(init)).then_some(())
    });
}

/// dumb-init's `--rewrite` for agent CLIs: with `--stop-signal SIGINT` a
/// SIGTERM to agent-init reaches the command as SIGINT; other signals go
/// as they are.
#[test]
fn the_stop_signal_replaces_sigterm_for_the_command() {
    let mut init = start_signal_reporter(&["--stop-signal", "SIGINT", "--grace-period", "2s"]);
    init.signal(Signal::SIGUSR1);
    init.expect("parent SIGUSR1");
    init.signal(Signal::SIGTERM);
    init.expect("parent SIGINT");
    assert!(
        !init.seen.iter().any(|l| l == "parent SIGTERM"),
        "{:?}",
        init.seen
    );
    // The reporter exits only on SIGTERM: the grace period ends it.
    let exited = init.wait(SOON);
    assert_eq!(exited.code, Some(137), "{}", exited.stderr);
}
