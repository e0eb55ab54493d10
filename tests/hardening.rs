//! Black-box tests of what a hostile workload or hostile input does to
//! agent-init: a fork storm while probes run, odd and deeply nested
//! variables, fault signals sent by kill, full disks, a full descriptor
//! table, bytes that are not UTF-8, and servers that echo secrets back.
//! PID 1 must survive each one and exit with the command's code; nothing
//! half-written is left behind; no secret gets out.

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use nix::sys::signal::Signal;
use rstest::rstest;
use support::*;

/// A small tmpfs mounted on a scratch directory for the test's lifetime,
/// to be filled up.
struct Tmpfs(Scratch);

impl Tmpfs {
    fn new(tag: &str, size: &str) -> Tmpfs {
        let s = Scratch::with_mode(tag, 0o777);
        let ok = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0777"),
                "tmpfs",
            ])
            .arg(&s.0)
            .status()
            .unwrap()
            .success();
        assert!(ok, "mounting a tmpfs on {}", s.0.display());
        Tmpfs(s)
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.0.path(rel)
    }

    /// Fills what is left with one file; `filler` is its name.
    fn fill(&self) {
        let mut f = std::fs::File::create(self.path("filler")).unwrap();
        let block = vec![b'f'; 4096];
        while f.write_all(&block).is_ok() {}
        let _ = f.sync_all();
    }

    /// Every name in it but the filler.
    fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.0 .0)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n != "filler")
            .collect();
        names.sort();
        names
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0 .0).status();
    }
}

/// Writes a line to the FIFO a command waits on, without waiting for a
/// reader that is gone (a dead init took its command with it).
fn release(fifo: &std::path::Path) {
    use std::os::unix::fs::OpenOptionsExt;
    let opened = wait_for(SOON, "the command to wait on its FIFO", || {
        std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(nix::libc::O_NONBLOCK)
            .open(fifo)
            .ok()
    });
    let _ = (&opened).write_all(b"x\n");
}

// ---------------------------------------------------------------------------
// PID 1 does not die.

/// A pids cgroup (v1), limited to `max` processes once [`Pids::limit`] is
/// called; removed at the end.
struct Pids(PathBuf);

impl Pids {
    fn new(tag: &str) -> Pids {
        let dir = PathBuf::from(format!(
            "/sys/fs/cgroup/pids/agent-init-{tag}-{}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Pids(dir)
    }

    /// Makes a command join the cgroup between fork and exec (writing 0 to
    /// cgroup.procs moves the writer), so all it forks is counted.
    fn join(&self, c: &mut Command) {
        use std::os::unix::process::CommandExt;
        let procs =
            std::ffi::CString::new(self.0.join("cgroup.procs").as_os_str().as_bytes()).unwrap();
        // SAFETY: open, write and close are async-signal-safe; the path was
        // made before the fork; nothing is allocated.
        unsafe {
            c.pre_exec(move || {
                let fd = nix::libc::open(procs.as_ptr(), nix::libc::O_WRONLY);
                if fd < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                let ok = nix::libc::write(fd, b"0".as_ptr().cast(), 1) == 1;
                nix::libc::close(fd);
                if ok {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            });
        }
    }

    fn limit(&self, max: u64) {
        std::fs::write(self.0.join("pids.max"), max.to_string()).unwrap();
    }

    fn current(&self) -> u64 {
        std::fs::read_to_string(self.0.join("pids.current"))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }
}

impl Drop for Pids {
    fn drop(&mut self) {
        let _ = std::fs::write(self.0.join("pids.max"), "max");
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// A fork storm fills the container's pids cgroup while readiness is asked
/// for and a service runs: the probe still answers (its checks run on
/// threads that exist from start-up), PID 1 survives, and once the storm is
/// gone the command's own exit code is the container's.
#[test]
fn a_fork_storm_leaves_the_probes_answering_and_pid_1_alive() {
    let pids = Pids::new("storm");
    let work = Scratch::new("storm-ws");
    let fifo = work.path("go");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let script = format!("echo up; read x < {}; exit 7", fifo.display());
    let config = work.path("c.toml");
    std::fs::write(
        &config,
        format!(
            "[services.idle]\ncommand = [\"{}\", \"sleep\"]\n",
            testproc()
        ),
    )
    .unwrap();
    let mut init = start_with(
        As::Pid1,
        &[
            "--config",
            &config.display().to_string(),
            "--health-listen",
            &listen,
            "--workspace",
            &work.s(""),
            "--require-mount",
            "false",
            "--health-cache",
            "0s",
            "--",
            "sh",
            "-c",
            &script,
        ],
        |c| pids.join(c),
    );
    init.expect("up");
    wait_for(SOON, "the endpoint", || http_get(port, "/livez").ok());
    // The storm joins the cgroup and forks until the kernel refuses.
    pids.limit(pids.current() + 40);
    let mut storm = Command::new(testproc());
    storm.arg("fork-storm").stdout(Stdio::piped());
    pids.join(&mut storm);
    let mut storm = storm.spawn().unwrap();
    let mut line = String::new();
    {
        use std::io::BufRead;
        let _ = std::io::BufReader::new(storm.stdout.take().unwrap()).read_line(&mut line);
    }
    assert!(line.starts_with("full "), "{line}");
    let answered = http_get(port, "/readyz");
    let live = http_get(port, "/livez");
    // The storm goes; the command ends as it means to.
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(-(storm.id() as i32)),
        Signal::SIGKILL,
    );
    let _ = storm.wait();
    let (code, body) = answered.expect("readiness got no answer during the storm");
    assert!(code == 200 || code == 503, "{body}");
    // Checked, on a thread that existed before the storm.
    assert!(body.contains("ok   workspace"), "{body}: {}", init.stderr());
    assert!(body.contains("ok   disk"), "{body}");
    assert!(body.contains("services"), "{body}");
    release(&fifo);
    let exited = init.wait(SOON);
    assert_eq!(live.expect("liveness").0, 200);
    assert_eq!(exited.code, Some(7), "{}", exited.stderr);
    assert!(!exited.stderr.contains("panicked"), "{}", exited.stderr);
}

/// `agent-init health` (what `docker exec` runs) in a process that may
/// start no thread at all: it fails, naming why, and does not crash. The
/// negative control is the same probe with a limit that leaves room.
#[rstest]
#[case::no_thread_can_be_started("1", 1, "no thread for the check")]
#[case::with_room_to_spare("4096", 0, "healthy")]
fn health_without_a_thread_to_spare_fails_cleanly(
    #[case] nproc: &str,
    #[case] code: i32,
    #[case] needle: &str,
) {
    let work = Scratch::with_mode("nproc-ws", 0o777);
    let o = Command::new("setpriv")
        .args(["--reuid", "65534", "--regid", "65534", "--clear-groups"])
        .args(["prlimit", &format!("--nproc={nproc}")])
        .args(invocation())
        .args([
            "health",
            "--skip",
            "process,memory",
            "--require-mount",
            "false",
        ])
        .arg("--workspace")
        .arg(&work.0)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(code), "{}{}", out(&o), err(&o));
    assert!(out(&o).contains(needle), "{}", out(&o));
}

/// A variable name that is not a key, whatever its characters, is a
/// configuration error naming it; it never panics and never reaches the
/// command under another name. The last case is the negative control.
#[rstest]
#[case::a_dot_after_env_set("AGENT_INIT_ENV.SET.X", 78)]
#[case::a_longer_dotted_name("AGENT_INIT_ENV.SET.ABCD", 78)]
#[case::a_dash("AGENT_INIT_GRACE-PERIOD", 78)]
#[case::an_empty_level("AGENT_INIT_WAIT____URLS", 78)]
#[case::not_a_variable_name_under_env_set("AGENT_INIT_ENV__SET__1X", 78)]
#[case::a_real_key("AGENT_INIT_ENV__SET__ABCD", 0)]
fn odd_variable_names_are_refused_naming_them(#[case] name: &str, #[case] code: i32) {
    let o = agent(
        &["--", "sh", "-c", "echo \"ABCD=$ABCD CD=$CD\""],
        &[(name, "v")],
    );
    if code == 0 {
        exits_with(&o, 0, &[]);
        assert!(out(&o).contains("ABCD=v CD="), "{}", out(&o));
    } else {
        exits_with(&o, code, &[name]);
        assert!(!err(&o).contains("panicked"), "{}", err(&o));
    }
}

/// The same for a name or value that is not UTF-8: refused naming it
/// (escaped), never dropped in silence.
#[test]
fn an_agent_init_variable_that_is_not_utf8_is_refused() {
    let o = agent_init_command()
        .args(["--", "true"])
        .env(std::ffi::OsStr::from_bytes(b"AGENT_INIT_\xff"), "1")
        .output()
        .unwrap();
    exits_with(&o, 78, &["AGENT_INIT_\\xff", "UTF-8"]);
    let o = agent_init_command()
        .args(["--", "true"])
        .env("AGENT_INIT_USER", std::ffi::OsStr::from_bytes(b"\xff"))
        .output()
        .unwrap();
    exits_with(&o, 78, &["AGENT_INIT_USER"]);
}

/// Deep nesting in a variable is refused with 78, naming it, as in the
/// file; a shallow list is read (the negative control).
#[rstest]
#[case::wait_urls("AGENT_INIT_WAIT__URLS", "[")]
#[case::health("AGENT_INIT_HEALTH", "{a=")]
#[case::configmaps("AGENT_INIT_CONFIGMAPS", "[")]
#[case::configmaps_tables("AGENT_INIT_CONFIGMAPS", "{a=")]
fn deep_nesting_in_a_variable_is_refused(#[case] name: &str, #[case] open: &str) {
    let deep = open.repeat(5000);
    let o = agent(&["config"], &[(name, &deep)]);
    exits_with(&o, 78, &[name, "nest"]);
    // The same nesting in the file: 78 too.
    let s = Scratch::new("deep-file");
    let key = name.trim_start_matches("AGENT_INIT_").to_ascii_lowercase();
    let key = key.split("__").last().unwrap();
    std::fs::write(s.path("c.toml"), format!("{key} = {deep}\n")).unwrap();
    let o = agent(&["config", "--config", &s.s("c.toml")], &[]);
    assert_eq!(o.status.code(), Some(78), "{}", err(&o));
}

#[test]
fn a_shallow_list_in_a_variable_is_read() {
    let o = agent(
        &["config"],
        &[(
            "AGENT_INIT_WAIT__URLS",
            "[\"tcp://db:5432\", \"tcp://mcp:1\"]",
        )],
    );
    exits_with(&o, 0, &[]);
    assert!(out(&o).contains("tcp://mcp:1"), "{}", out(&o));
}

/// SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP and SIGSYS sent by a process
/// (si_code ≤ 0) are forwarded like any other signal, as dumb-init's own
/// test_proxies_signals checks: agent-init neither dies of them (which
/// would orphan the command) nor swallows them.
#[rstest]
fn fault_signals_sent_by_kill_are_forwarded(#[values(As::Pid1, As::Subreaper)] mode: As) {
    let mut init = start(
        mode,
        &["--", testproc(), "signals", "--exit-on", "SIGTERM", "0"],
    );
    init.expect_line("ready", |l| l.starts_with("ready parent"));
    for (sig, name) in [
        (Signal::SIGILL, "SIGILL"),
        (Signal::SIGTRAP, "SIGTRAP"),
        (Signal::SIGFPE, "SIGFPE"),
        (Signal::SIGSYS, "SIGSYS"),
        (Signal::SIGBUS, "SIGBUS"),
        (Signal::SIGSEGV, "SIGSEGV"),
    ] {
        init.signal(sig);
        init.expect(&format!("parent {name}"));
    }
    init.signal(Signal::SIGTERM);
    let exited = init.wait(SOON);
    assert_eq!(exited.code, Some(0), "{}", exited.stderr);
}

// ---------------------------------------------------------------------------
// Nothing is left behind or changed.

/// Staging a credentials file or a ConfigMap key on a full filesystem fails
/// with 78 and leaves no temporary file holding part of the secret; with
/// room (the negative control) the same configuration stages the file.
#[rstest]
#[case::credentials(true)]
#[case::configmap_file(false)]
fn staging_on_a_full_disk_leaves_no_temporary_file(#[case] credentials: bool) {
    let s = Scratch::new("full-stage");
    let secret: String = (0..64 * 1024)
        .map(|i| (b'a' + (i % 26) as u8) as char)
        .collect();
    std::fs::create_dir(s.path("cm")).unwrap();
    std::fs::write(s.path("cm/token"), &secret).unwrap();
    std::fs::write(s.path("creds.json"), &secret).unwrap();
    let disk = Tmpfs::new("full-stage-fs", "32k");
    let dest = disk.path("staged");
    let toml = if credentials {
        format!(
            "[[credentials]]\nsource = \"{}\"\ndest = \"{}\"\n",
            s.s("creds.json"),
            dest.display()
        )
    } else {
        format!(
            "[[configmaps]]\npath = \"{}\"\nenv = false\n[[configmaps.files]]\nkey = \"token\"\ndest = \"{}\"\n",
            s.s("cm"),
            dest.display()
        )
    };
    std::fs::write(s.path("c.toml"), toml).unwrap();
    let o = agent(&["--config", &s.s("c.toml"), "--", "true"], &[]);
    exits_with(&o, 78, &["No space left"]);
    assert!(disk.names().is_empty(), "left behind: {:?}", disk.names());
    assert!(!err(&o).contains(&secret[..64]), "{}", err(&o));
    // With room: staged whole.
    let roomy = Tmpfs::new("roomy-stage-fs", "1m");
    let toml = std::fs::read_to_string(s.path("c.toml")).unwrap().replace(
        &disk.path("").display().to_string(),
        &roomy.path("").display().to_string(),
    );
    std::fs::write(s.path("c.toml"), toml).unwrap();
    let o = agent(&["--config", &s.s("c.toml"), "--", "true"], &[]);
    exits_with(&o, 0, &[]);
    assert_eq!(
        std::fs::read_to_string(roomy.path("staged")).unwrap(),
        secret
    );
    assert_eq!(roomy.names(), ["staged"]);
}

/// A live reload that cannot stage the new value (the disk filled up since
/// start) warns, keeps the staged file's last content, and leaves no
/// temporary file; once there is room again the next swap is staged.
#[test]
fn a_restage_on_a_full_disk_keeps_the_last_content_and_no_temporary_file() {
    let s = Scratch::new("restage");
    let vol = s.path("vol");
    let big = "n".repeat(48 * 1024);
    kubelet_volume(&vol, "..2026_01", &[("token", "first-value")]);
    let disk = Tmpfs::new("restage-fs", "32k");
    let staged = disk.path("token");
    std::fs::write(
        s.path("c.toml"),
        format!(
            "[[configmaps]]\npath = \"{}\"\nenv = false\n[[configmaps.files]]\nkey = \"token\"\ndest = \"{}\"\n",
            vol.display(),
            staged.display()
        ),
    )
    .unwrap();
    let mut init = start_signal_reporter(&["--config", &s.s("c.toml")]);
    assert_eq!(std::fs::read_to_string(&staged).unwrap(), "first-value");
    disk.fill();
    kubelet_volume(&vol, "..2026_02", &[("token", &big)]);
    wait_for(SOON, "the failed restage to be reported", || {
        init.stderr().contains("No space left").then_some(())
    });
    assert_eq!(std::fs::read_to_string(&staged).unwrap(), "first-value");
    assert_eq!(disk.names(), ["token"], "left behind");
    std::fs::remove_file(disk.path("filler")).unwrap();
    kubelet_volume(&vol, "..2026_03", &[("token", "third-value")]);
    wait_for(SOON, "the next swap to be staged", || {
        (std::fs::read_to_string(&staged).ok()? == "third-value").then_some(())
    });
    assert_eq!(disk.names(), ["token"]);
    init.signal(Signal::SIGTERM);
    let out = init.wait(SOON);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
}

/// A termination report that cannot be written whole (a full disk, with
/// the workload still writing) leaves what was there: the previous report,
/// or no file where there was none, never an empty or truncated one; with
/// room the new report replaces the old one whole.
#[test]
fn a_full_disk_keeps_the_previous_termination_report() {
    let disk = Tmpfs::new("full-report", "16k");
    let report = disk.path("termination-log");
    let log = report.display().to_string();
    disk.fill();
    let o = agent(
        &["--termination-log", &log, "--", "sh", "-c", "exit 3"],
        &[],
    );
    exits_with(&o, 3, &["termination report", "No space left"]);
    assert_eq!(
        disk.names(),
        Vec::<String>::new(),
        "an empty report was left"
    );
    std::fs::remove_file(disk.path("filler")).unwrap();
    let previous = "agent-init: command exited with 5 (exit 5)\nran for 1.0 s\n";
    std::fs::write(&report, previous).unwrap();
    disk.fill();
    let o = agent(
        &["--termination-log", &log, "--", "sh", "-c", "exit 3"],
        &[],
    );
    exits_with(&o, 3, &["termination report", "previous content is kept"]);
    assert_eq!(std::fs::read_to_string(&report).unwrap(), previous);
    assert_eq!(disk.names(), ["termination-log"]);
    // Room again: the new report, whole.
    std::fs::remove_file(disk.path("filler")).unwrap();
    let o = agent(
        &["--termination-log", &log, "--", "sh", "-c", "exit 3"],
        &[],
    );
    exits_with(&o, 3, &[]);
    let now = std::fs::read_to_string(&report).unwrap();
    assert!(
        now.starts_with("agent-init: command exited with 3 (exit 3)\n"),
        "{now}"
    );
    assert!(now.ends_with(" s\n"), "{now}");
    assert_eq!(disk.names(), ["termination-log"]);
}

/// The same where the report is a file bind-mounted on its own (as the
/// kubelet mounts /dev/termination-log), which cannot be renamed over: it
/// is overwritten in place once the room for the new report is reserved.
/// On a full disk an empty file stays empty (nothing could be reserved);
/// one whose blocks hold the room gets the whole new report.
#[rstest]
#[case::empty_on_a_full_disk("", false)]
#[case::a_report_whose_room_is_reserved("previous report\n", true)]
fn a_bind_mounted_report_is_whole_or_untouched(#[case] previous: &str, #[case] replaced: bool) {
    let disk = Tmpfs::new("bind-report", "16k");
    let target = Scratch::new("bind-target");
    let source = disk.path("log");
    std::fs::write(&source, previous).unwrap();
    let mounted = target.path("termination-log");
    std::fs::write(&mounted, "").unwrap();
    assert!(Command::new("mount")
        .arg("--bind")
        .arg(&source)
        .arg(&mounted)
        .status()
        .unwrap()
        .success());
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(mounted.clone());
    disk.fill();
    let log = mounted.display().to_string();
    let o = agent(
        &["--termination-log", &log, "--", "sh", "-c", "exit 4"],
        &[],
    );
    exits_with(&o, 4, &[]);
    let now = std::fs::read_to_string(&mounted).unwrap();
    if replaced {
        assert!(
            now.starts_with("agent-init: command exited with 4 (exit 4)\n"),
            "{now}"
        );
        assert!(now.ends_with(" s\n"), "{now}");
    } else {
        assert_eq!(now, previous);
        assert!(err(&o).contains("previous content is kept"), "{}", err(&o));
    }
    assert!(target
        .path(".termination-log.agent-init.tmp")
        .symlink_metadata()
        .is_err());
}

/// The command's environment is the bytes agent-init was given: a value
/// and a name that are not UTF-8 arrive unchanged, beside what agent-init
/// sets itself.
#[test]
fn the_environment_reaches_the_command_byte_for_byte() {
    let o = agent_init_command()
        .args(["--", "env"])
        .env("ODD_VALUE", std::ffi::OsStr::from_bytes(b"\xff\xfe\x80"))
        .env(std::ffi::OsStr::from_bytes(b"ODD_\xffNAME"), "ok")
        .env("AGENT_INIT_ENV__SET__SET_BY_INIT", "yes")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let lines: Vec<&[u8]> = o.stdout.split(|b| *b == b'\n').collect();
    assert!(
        lines.contains(&&b"ODD_VALUE=\xff\xfe\x80"[..]),
        "{}",
        out(&o)
    );
    assert!(lines.contains(&&b"ODD_\xffNAME=ok"[..]), "{}", out(&o));
    assert!(lines.contains(&&b"SET_BY_INIT=yes"[..]), "{}", out(&o));
    // Set by agent-init over an inherited value that is not UTF-8: its
    // value wins.
    let o = agent_init_command()
        .args(["--", "env"])
        .env("ODD_VALUE", std::ffi::OsStr::from_bytes(b"\xff"))
        .env("AGENT_INIT_ENV__SET__ODD_VALUE", "replaced")
        .output()
        .unwrap();
    let lines: Vec<&[u8]> = o.stdout.split(|b| *b == b'\n').collect();
    assert!(lines.contains(&&b"ODD_VALUE=replaced"[..]), "{}", out(&o));
    assert!(!lines.contains(&&b"ODD_VALUE=\xff"[..]), "{}", out(&o));
}

/// One file named with bytes that are not UTF-8 does not break a mounted
/// directory: it is skipped with a warning naming it, and the other keys
/// load.
#[test]
fn an_odd_file_name_in_a_configmap_is_skipped_naming_it() {
    let s = Scratch::new("odd-name");
    let cm = s.path("cm");
    std::fs::create_dir(&cm).unwrap();
    std::fs::write(cm.join("LEVEL"), "3").unwrap();
    std::fs::write(cm.join("settings.json"), "{}").unwrap();
    std::fs::write(cm.join(std::ffi::OsStr::from_bytes(b"bad\xffname")), "x").unwrap();
    std::fs::write(
        s.path("c.toml"),
        format!(
            "[[configmaps]]\npath = \"{}\"\nenv = false\n[[configmaps.files]]\nkey = \"settings.json\"\ndest = \"{}\"\n\
             [[configmaps]]\npath = \"{}\"\nprefix = \"CM_\"\n[[configmaps.files]]\nkey = \"settings.json\"\ndest = \"{}\"\n",
            cm.display(),
            s.s("staged.json"),
            cm.display(),
            s.s("staged2.json"),
        ),
    )
    .unwrap();
    let o = agent(
        &[
            "--config",
            &s.s("c.toml"),
            "--",
            "sh",
            "-c",
            "echo level=$CM_LEVEL",
        ],
        &[],
    );
    exits_with(&o, 0, &["bad\\xffname", "not UTF-8"]);
    assert!(out(&o).contains("level=3"), "{}", out(&o));
    assert_eq!(
        std::fs::read_to_string(s.path("staged.json")).unwrap(),
        "{}"
    );
}

/// With the descriptor table full of probe clients when the command exits,
/// a subreaper still finds what the command left behind (a `setsid`
/// helper) and stops it before it exits itself, instead of concluding that
/// nothing is left.
#[test]
fn a_full_descriptor_table_does_not_hide_what_is_left_at_shutdown() {
    let s = Scratch::new("nofile");
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let go = s.path("go");
    nix::unistd::mkfifo(&go, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let script = format!(
        "setsid sleep 1000 </dev/null >/dev/null 2>&1 & echo helper $!; read x < {}; exit 3",
        go.display()
    );
    let mut c = Command::new("prlimit");
    c.arg("--nofile=40:40")
        .args(invocation())
        .args([
            "--health-listen",
            &listen,
            "--grace-period",
            "2s",
            "--",
            "sh",
            "-c",
            &script,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut init = c.spawn().unwrap();
    let mut reader = std::io::BufReader::new(init.stdout.take().unwrap());
    let mut line = String::new();
    use std::io::BufRead;
    reader.read_line(&mut line).unwrap();
    let helper: i32 = line
        .trim()
        .strip_prefix("helper ")
        .unwrap()
        .parse()
        .unwrap();
    wait_for(SOON, "the endpoint", || {
        TcpStream::connect(("127.0.0.1", port)).ok()
    });
    // Clients that say nothing hold a descriptor each, until the table is
    // full.
    let mut clients = Vec::new();
    for _ in 0..60 {
        if let Ok(c) = TcpStream::connect(("127.0.0.1", port)) {
            clients.push(c);
        }
    }
    let fds = |pid: u32| std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count());
    wait_for(SOON, "the descriptor table to fill", || {
        (fds(init.id()) >= 39).then_some(())
    });
    release(&go);
    let status = wait_for(Duration::from_secs(20), "agent-init to exit", || {
        init.try_wait().unwrap()
    });
    let alive = std::fs::read_to_string(format!("/proc/{helper}/stat"))
        .is_ok_and(|st| !st.contains(") Z "));
    if alive {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(helper), Signal::SIGKILL);
    }
    let mut stderr = String::new();
    let _ = init.stderr.take().unwrap().read_to_string(&mut stderr);
    drop(clients);
    assert_eq!(status.code(), Some(3), "{stderr}");
    assert!(!alive, "the setsid helper outlived agent-init: {stderr}");
}

// ---------------------------------------------------------------------------
// No secret gets out.

/// A server whose error page echoes the request: the basic authentication
/// it was sent (base64 of `user:password`) and lines meant to look like
/// agent-init's own.
fn echoing_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            let mut buf = vec![0u8; 65536];
            let mut n = 0;
            conn.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            while let Ok(k) = conn.read(&mut buf[n..]) {
                if k == 0 {
                    break;
                }
                n += k;
                if buf[..n].windows(4).any(|w| w == b"\r\n\r\n") {
                    break;
                }
            }
            let request = String::from_utf8_lossy(&buf[..n]).into_owned();
            let body =
                format!("you sent:\n{request}\n2026-01-01T00:00:00.000000Z  INFO forged line\n");
            let _ = write!(
                conn,
                "HTTP/1.1 401 Unauthorized\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A wait on a server that answers 401 with a body echoing the request:
/// the error is one line, bounded and masked; neither the password (in any
/// form) nor a forged log line gets out.
#[rstest]
#[case::plain_password("hunter2-secret-value")]
#[case::a_space_and_non_ascii("pä ss wörd-secret")]
fn an_echoing_server_gets_no_secret_into_the_log(#[case] password: &str) {
    let port = echoing_server();
    let url = format!("mcp+http://agent:${{DB_PASSWORD}}@127.0.0.1:{port}/mcp");
    let o = agent(
        &["--wait", &url, "--wait-timeout", "3s", "--", "true"],
        &[("DB_PASSWORD", password)],
    );
    exits_with(&o, 69, &["401", "<redacted>"]);
    let e = err(&o);
    let encoded: String = password
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let basic = base64(format!("agent:{password}").as_bytes());
    for form in [password, encoded.as_str(), basic.as_str()] {
        assert!(!e.contains(form), "{form} in: {e}");
    }
    assert!(
        !e.lines().any(|l| l.starts_with("2026-01-01T00:00:00")),
        "a forged line: {e}"
    );
    let last = e.lines().find(|l| l.contains("401")).unwrap();
    assert!(last.len() < 2000, "{last}");
}

/// Values copied from a Secret to files are masked like exported ones: a
/// hook that prints the staged file logs none of it. The negative control
/// is a value that was not staged, which shows.
#[test]
fn values_staged_as_files_are_masked() {
    let s = Scratch::new("staged-mask");
    std::fs::create_dir(s.path("cm")).unwrap();
    std::fs::write(s.path("cm/token"), "staged-secret-value-1234\n").unwrap();
    std::fs::write(s.path("plain"), "plain-value-not-secret\n").unwrap();
    std::fs::write(
        s.path("c.toml"),
        format!(
            "[[configmaps]]\npath = \"{}\"\nenv = false\n[[configmaps.files]]\nkey = \"token\"\ndest = \"{}\"\n\
             [[hooks]]\nname = \"show\"\ncommand = \"cat {} {}\"\n",
            s.s("cm"),
            s.s("staged"),
            s.s("staged"),
            s.s("plain"),
        ),
    )
    .unwrap();
    let o = agent(&["--config", &s.s("c.toml"), "--", "true"], &[]);
    exits_with(&o, 0, &["<redacted>", "plain-value-not-secret"]);
    assert!(!err(&o).contains("staged-secret-value-1234"), "{}", err(&o));
}

/// A secret that straddles the 16 KiB piece boundary of a long output line
/// is masked whole, wherever the boundary falls in it.
#[rstest]
#[case::split_early(3)]
#[case::split_in_the_middle(18)]
#[case::split_late(34)]
fn a_secret_across_the_piece_boundary_is_masked(#[case] before_boundary: usize) {
    let s = Scratch::new("boundary");
    let secret = "sk-boundary-0123456789abcdefghijklmn";
    let pad = 16 * 1024 - before_boundary;
    std::fs::write(
        s.path("c.toml"),
        format!(
            "[[hooks]]\nname = \"long\"\ncommand = \"head -c {pad} /dev/zero | tr '\\\\0' x; printf %s \\\"$SERVICE_TOKEN\\\"; echo tail\"\n"
        ),
    )
    .unwrap();
    let o = agent(
        &["--config", &s.s("c.toml"), "--", "true"],
        &[("SERVICE_TOKEN", secret)],
    );
    exits_with(&o, 0, &["<redacted>"]);
    let e = err(&o);
    for part in [&secret[..8], &secret[secret.len() - 8..]] {
        assert!(!e.contains(part), "{part} shows");
    }
}

/// `agent-init config` shows URLs without their credentials, as the logs
/// do; the rest of the URL stays (the negative control).
#[test]
fn config_does_not_print_url_credentials() {
    let s = Scratch::new("config-creds");
    std::fs::write(
        s.path("c.toml"),
        "[health]\nmcp = \"mcp+http://agent:PASSWORD-in-file@mcp:8000/mcp\"\n[wait]\nurls = [\"http://u:other-PASSWORD@db:80/\"]\n",
    )
    .unwrap();
    let o = agent(&["config", "--config", &s.s("c.toml")], &[]);
    exits_with(&o, 0, &[]);
    let text = out(&o);
    assert!(!text.contains("PASSWORD"), "{text}");
    assert!(
        text.contains("mcp+http://<redacted>@mcp:8000/mcp"),
        "{text}"
    );
    assert!(text.contains("http://<redacted>@db:80/"), "{text}");
}
