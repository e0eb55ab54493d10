//! Black-box tests of the startup steps and the configuration: every step
//! and every failure path, run through the real binary (as PID 1 where the
//! status socket or mounts matter). The command prints what it got, so the
//! kernel and the child's own view are the oracle.

mod support;

use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use rstest::rstest;
use support::*;

/// The whole output, line by line: every key with a real value or
/// `(unset)`, its source in words, variable names under env.set in their
/// own case, and a secret's value redacted.
#[test]
fn config_shows_every_value_with_its_source() {
    let s = Scratch::new("cfg");
    std::fs::write(s.path("c.toml"), "grace_period = 3\n[wait]\ntimeout = 12\n").unwrap();
    let o = agent(
        &[
            "config",
            "--config",
            &s.s("c.toml"),
            "--signal-target",
            "child",
        ],
        &[
            ("AGENT_INIT_WORKSPACE__PATH", "/srv/ws"),
            ("AGENT_INIT_ENV__SET__GITHUB_TOKEN", "ghp_secret123"),
            ("AGENT_INIT_ENV__SET__MixedCase", "shown"),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let file = s.s("c.toml");
    let expected = format!(
        "# configuration file: {file}
configmaps = []                    # default
credentials = []                   # default
env.enabled = true                 # default
env.require = []                   # default
env.set.GITHUB_TOKEN = <redacted>  # env AGENT_INIT_ENV__SET__GITHUB_TOKEN
env.set.MixedCase = \"shown\"        # env AGENT_INIT_ENV__SET__MixedCase
git.enabled = true                 # default
git.safe_directories = []          # default
git.stale_locks = \"remove\"         # default
grace_period = \"3s\"                # file {file} key grace_period
health.cache = \"0s\"                # default
health.check_timeouts = {{}}         # default
health.cli = (unset)               # default
health.deep = false                # default
health.listen = (unset)            # default
health.mcp = (unset)               # default
health.min_free_disk_mb = 100      # default
health.min_free_inodes = 1000      # default
health.min_free_memory_mb = 64     # default
health.probe = \"readiness\"         # default
health.skip = []                   # default
health.timeout = \"5s\"              # default
hooks = []                         # default
jobs = {{}}                          # default
log_format = \"text\"                # default
log_level = \"info\"                 # default
no_new_privs = false               # default
parent_death_signal = (unset)      # default
preset = (unset)                   # default
remap_exit = []                    # default
services = {{}}                      # default
shutdown.delay = \"0s\"              # default
signal_target = \"child\"            # flag --signal-target
stop_signal = (unset)              # default
termination_log = (unset)          # default
user = (unset)                     # default
wait.enabled = true                # default
wait.timeout = \"12s\"               # file {file} key wait.timeout
wait.urls = []                     # default
warn_reaped = false                # default
workspace.enabled = true           # default
workspace.path = \"/srv/ws\"         # env AGENT_INIT_WORKSPACE__PATH
workspace.require_mount = true     # default
"
    );
    let got = out(&o);
    for (n, (g, e)) in got.lines().zip(expected.lines()).enumerate() {
        assert_eq!(g, e, "line {n}:\n{got}");
    }
    assert_eq!(got.lines().count(), expected.lines().count(), "{got}");
}

/// One case per kind of bad input: each names the key (or file, or
/// variable) and where the value came from, and exits 78; a flag whose
/// value does not parse is a usage error, 64. None of them may crash.
#[rstest]
#[case::toml_syntax(Some("grace_period = 3\n[workspace\npath = \"/x\"\n"), &[], &[], 78, &["line 2", "c.toml"])]
#[case::unknown_key_in_the_file(Some("[workspace]\npth = \"/x\"\n"), &[], &[], 78, &["workspace.pth", "unknown field"])]
#[case::not_a_boolean(None, &[("AGENT_INIT_WORKSPACE__REQUIRE_MOUNT", "maybe")], &[], 78,
    &["workspace.require_mount from env AGENT_INIT_WORKSPACE__REQUIRE_MOUNT"])]
#[case::not_a_duration(None, &[("AGENT_INIT_GRACE_PERIOD", "soon")], &[], 78,
    &["grace_period from env AGENT_INIT_GRACE_PERIOD", "`soon` is not a duration"])]
#[case::unknown_variable(None, &[("AGENT_INIT_NO_SUCH_KEY", "1")], &[], 78, &["AGENT_INIT_NO_SUCH_KEY"])]
#[case::unknown_preset_from_a_flag(None, &[], &["--preset", "notepad"], 64, &["preset from flag --preset: unknown preset `notepad`"])]
#[case::unparsable_flag_value(None, &[], &["--grace-period", "soon"], 64, &["grace_period from flag --grace-period", "soon"])]
#[case::negative_wait_timeout(None, &[("AGENT_INIT_WAIT__TIMEOUT", "-1")], &["--wait", "tcp://127.0.0.1:9"], 78,
    &["wait.timeout from env AGENT_INIT_WAIT__TIMEOUT: `-1` is negative"])]
#[case::absurd_grace_period(Some("grace_period = 1e308\n"), &[], &[], 78, &["grace_period from file", "1e308 is far too long"])]
#[case::infinite_cache(None, &[("AGENT_INIT_HEALTH__CACHE", "inf")], &["--health-listen", "127.0.0.1:0"], 78,
    &["health.cache from env AGENT_INIT_HEALTH__CACHE", "`inf` is not a finite number of seconds"])]
#[case::too_long_grace_period(None, &[("AGENT_INIT_GRACE_PERIOD", "3d")], &[], 78,
    &["grace_period from env AGENT_INIT_GRACE_PERIOD: 3days is too long (at most 1day)"])]
#[case::nan_hook_timeout(Some("[[hooks]]\ncommand = \"true\"\ntimeout = nan\n"), &[], &[], 78, &["hooks", "timeout"])]
fn bad_configuration_names_key_and_source(
    #[case] file: Option<&str>,
    #[case] env: &[(&str, &str)],
    #[case] flags: &[&str],
    #[case] code: i32,
    #[case] needles: &[&str],
) {
    let s = Scratch::new("cfgerr");
    let mut args: Vec<String> = Vec::new();
    if let Some(text) = file {
        std::fs::write(s.path("c.toml"), text).unwrap();
        args.extend(["--config".to_string(), s.s("c.toml")]);
    }
    args.extend(flags.iter().map(|f| f.to_string()));
    args.extend(["--".to_string(), "true".to_string()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = agent(&args, env);
    exits_with(&o, code, needles);
    assert!(!err(&o).contains("panicked"), "{}", err(&o));
}

#[test]
fn a_missing_configuration_file_is_named() {
    let o = agent(
        &["--config", "/nonexistent/missing.toml", "--", "true"],
        &[],
    );
    exits_with(
        &o,
        78,
        &["configuration file /nonexistent/missing.toml does not exist"],
    );
}

/// The README documents AGENT_INIT_HEALTH__PROBE: it is a real setting,
/// read by `agent-init health`, and harmless to the init.
#[test]
fn the_health_probe_variable_is_a_setting() {
    let o = agent(&["--", "true"], &[("AGENT_INIT_HEALTH__PROBE", "liveness")]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let o = agent(
        &["health", "--format", "json"],
        &[("AGENT_INIT_HEALTH__PROBE", "liveness")],
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["probe"], "liveness", "{v}");
}

#[test]
fn workspace_failures_are_reported_not_repaired() {
    let s = Scratch::new("ws");
    let o = agent(&["--workspace", &s.s("missing"), "--", "true"], &[]);
    exits_with(&o, 78, &["missing", "No such file"]);

    let o = agent(&["--workspace", &s.s(""), "--", "true"], &[]);
    exits_with(&o, 78, &["is not a mount point"]);

    // Owned by root, 0755: uid 65534 cannot write; nothing is chowned.
    let ws = s.path("ws");
    std::fs::create_dir(&ws).unwrap();
    std::fs::set_permissions(&ws, std::fs::Permissions::from_mode(0o755)).unwrap();
    let o = agent(
        &[
            "--workspace",
            &s.s("ws"),
            "--require-mount",
            "false",
            "--user",
            "nobody",
            "--",
            "true",
        ],
        &[],
    );
    exits_with(&o, 78, &["not writable by uid 65534"]);
    assert_eq!(
        std::fs::metadata(&ws).unwrap().uid(),
        0,
        "ownership untouched"
    );

    // A mounted, writable workspace passes, and so does a read-only mount fail.
    let script = format!(
        "mount -t tmpfs tmpfs {w} && {b} --workspace {w} --log-level warn -- true && echo first-ok && \
         mount -o remount,ro {w} && {b} --workspace {w} -- true",
        w = s.s("ws"),
        b = agent_init_shell()
    );
    let o = Command::new("unshare")
        .args(["--mount", "sh", "-c", &script])
        .output()
        .unwrap();
    assert!(out(&o).contains("first-ok"), "{} {}", out(&o), err(&o));
    exits_with(&o, 78, &["is mounted read-only"]);
}

#[test]
fn kubelet_configmap_layout_is_loaded_and_values_stay_out_of_logs() {
    let s = Scratch::new("cm");
    let cm = s.path("cm");
    std::fs::create_dir(&cm).unwrap();
    kubelet_volume(
        &cm,
        "..2025_01_01_00_00_00.000000001",
        &[("API_TOKEN", "tok-s3cr3t-42"), ("MODE", "fast")],
    );
    let o = agent(
        &[
            "--log-level",
            "trace",
            "--configmap",
            &s.s("cm"),
            "--",
            "sh",
            "-c",
            "echo mode=$MODE token=$API_TOKEN",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(
        out(&o).contains("mode=fast token=tok-s3cr3t-42"),
        "{}",
        out(&o)
    );
    assert!(
        err(&o).contains("API_TOKEN"),
        "names are logged: {}",
        err(&o)
    );
    assert!(
        !err(&o).contains("tok-s3cr3t-42"),
        "value leaked: {}",
        err(&o)
    );
    assert!(
        !err(&o).contains("..2025"),
        "timestamp dir is not a key: {}",
        err(&o)
    );

    // The kubelet swaps ..data atomically: the next load sees the new values.
    kubelet_volume(
        &cm,
        "..2025_01_02_00_00_00.000000002",
        &[("API_TOKEN", "tok-new"), ("MODE", "slow")],
    );
    let o = agent(
        &[
            "--configmap",
            &s.s("cm"),
            "--",
            "sh",
            "-c",
            "echo mode=$MODE token=$API_TOKEN",
        ],
        &[],
    );
    assert!(out(&o).contains("mode=slow token=tok-new"), "{}", out(&o));
}

#[test]
fn configmap_links_out_of_the_mount_are_refused() {
    let s = Scratch::new("cmout");
    std::fs::create_dir(s.path("cm")).unwrap();
    std::fs::write(s.path("outside"), "stolen").unwrap();
    symlink(s.path("outside"), s.path("cm/EVIL")).unwrap();
    let o = agent(&["--configmap", &s.s("cm"), "--", "true"], &[]);
    exits_with(&o, 78, &["EVIL", "links outside"]);

    // Keys that are not variable names must be routed to files.
    std::fs::create_dir(s.path("cm2")).unwrap();
    std::fs::write(s.path("cm2/settings.json"), "{}").unwrap();
    let o = agent(&["--configmap", &s.s("cm2"), "--", "true"], &[]);
    exits_with(
        &o,
        78,
        &["`settings.json` is not a valid environment variable name"],
    );
}

#[test]
fn configmap_files_and_dotenv_and_credentials_are_staged() {
    let s = Scratch::new("files");
    std::fs::create_dir(s.path("cm")).unwrap();
    std::fs::create_dir(s.path("home")).unwrap();
    std::fs::write(s.path("cm/settings.json"), "{\"theme\":\"dark\"}").unwrap();
    std::fs::write(s.path("cm/LEVEL"), "3").unwrap();
    std::fs::write(
        s.path("vars.env"),
        "# comment\nexport FROM_DOTENV=\"quoted value\"\nPLAIN=x\n",
    )
    .unwrap();
    std::fs::write(s.path("creds.json"), "{\"token\":\"c\"}").unwrap();
    std::fs::set_permissions(s.path("creds.json"), std::fs::Permissions::from_mode(0o444)).unwrap();
    let toml = format!(
        "[[configmaps]]\npath = \"{cm}\"\n[[configmaps.files]]\nkey = \"settings.json\"\ndest = \"~/.claude/settings.json\"\nmode = \"0640\"\n\
         [[configmaps]]\npath = \"{env}\"\n\
         [[credentials]]\nsource = \"{cred}\"\ndest = \"~/.claude/.credentials.json\"\n",
        cm = s.s("cm"),
        env = s.s("vars.env"),
        cred = s.s("creds.json")
    );
    std::fs::write(s.path("c.toml"), toml).unwrap();
    let o = agent(
        &[
            "--config",
            &s.s("c.toml"),
            "--",
            "sh",
            "-c",
            "echo level=$LEVEL dotenv=\"$FROM_DOTENV\" plain=$PLAIN",
        ],
        &[("HOME", &s.s("home"))],
    );
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(
        out(&o).contains("level=3 dotenv=quoted value plain=x"),
        "{}",
        out(&o)
    );
    let settings = s.path("home/.claude/settings.json");
    assert_eq!(
        std::fs::read_to_string(&settings).unwrap(),
        "{\"theme\":\"dark\"}"
    );
    assert_eq!(std::fs::metadata(&settings).unwrap().mode() & 0o777, 0o640);
    let creds = s.path("home/.claude/.credentials.json");
    assert_eq!(
        std::fs::read_to_string(&creds).unwrap(),
        "{\"token\":\"c\"}"
    );
    assert_eq!(std::fs::metadata(&creds).unwrap().mode() & 0o777, 0o600);
    // The original is untouched.
    assert_eq!(
        std::fs::metadata(s.path("creds.json")).unwrap().mode() & 0o777,
        0o444
    );
}

#[test]
fn required_env_and_expansion() {
    let o = agent(&["--require-env", "ANTHROPIC_API_KEY", "--", "true"], &[]);
    exits_with(&o, 78, &["ANTHROPIC_API_KEY"]);
    let o = agent(
        &["--require-env", "ANTHROPIC_API_KEY", "--", "true"],
        &[("ANTHROPIC_API_KEY", "")],
    );
    assert_eq!(o.status.code(), Some(78), "empty counts as missing");

    let s = Scratch::new("envfile");
    std::fs::write(s.path("creds"), "x").unwrap();
    let alt = format!(
        "ANTHROPIC_API_KEY|CLAUDE_CODE_OAUTH_TOKEN|file:{}",
        s.s("creds")
    );
    let o = agent(&["--require-env", &alt, "--", "true"], &[]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "a file alternative satisfies it: {}",
        err(&o)
    );
    let o = agent(&["--require-env", "A|B", "--", "true"], &[]);
    assert!(err(&o).contains("A or B"), "{}", err(&o));

    let o = agent(
        &["--", "sh", "-c", "echo url=$MCP_URL"],
        &[
            (
                "AGENT_INIT_ENV__SET__MCP_URL",
                "http://${MCP_HOST:-localhost}:${MCP_PORT}/mcp",
            ),
            ("MCP_PORT", "8000"),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(
        out(&o).contains("url=http://localhost:8000/mcp"),
        "{}",
        out(&o)
    );
    let o = agent(
        &["--", "true"],
        &[("AGENT_INIT_ENV__SET__X", "${NOT_SET_ANYWHERE}")],
    );
    exits_with(&o, 78, &["NOT_SET_ANYWHERE"]);
}

#[test]
fn git_trusts_a_workspace_owned_by_another_uid() {
    let s = Scratch::new("git");
    let repo = s.path("repo");
    std::fs::create_dir(&repo).unwrap();
    let git = |args: &[&str]| {
        Command::new("git")
            .arg("-C")
            .arg(&repo)
            .args(args)
            .output()
            .unwrap()
    };
    assert!(git(&["init", "-q"]).status.success());
    Command::new("chown")
        .args(["-R", "4242:4242"])
        .arg(&repo)
        .status()
        .unwrap();
    std::fs::set_permissions(&repo, std::fs::Permissions::from_mode(0o777)).unwrap();
    let base = [
        "--workspace",
        &s.s("repo"),
        "--require-mount",
        "false",
        "--user",
        "nobody",
    ];
    let status = ["--", "git", "-C", &s.s("repo"), "status", "--short"];
    let o = agent(&[&base[..], &status[..]].concat(), &[]);
    assert_eq!(o.status.code(), Some(0), "git status failed: {}", err(&o));
    // Without the step, git refuses: the test above can fail.
    let o = agent(
        &[&base[..], &status[..]].concat(),
        &[("AGENT_INIT_GIT__ENABLED", "false")],
    );
    assert_ne!(o.status.code(), Some(0));
    assert!(err(&o).contains("dubious ownership"), "{}", err(&o));
}

#[test]
fn user_drop_sets_identity_home_and_no_new_privs() {
    let o = agent(
        &[
            "--user",
            "nobody",
            "--",
            "sh",
            "-c",
            "echo id=$(id -u):$(id -g) home=$HOME user=$USER; grep NoNewPrivs /proc/self/status",
        ],
        &[("AGENT_INIT_NO_NEW_PRIVS", "true")],
    );
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(
        out(&o).contains("id=65534:65534 home=/nonexistent user=nobody"),
        "{}",
        out(&o)
    );
    assert!(out(&o).contains("NoNewPrivs:\t1"), "{}", out(&o));
    let o = agent(&["--user", "no-such-user", "--", "true"], &[]);
    exits_with(&o, 78, &["no user `no-such-user`"]);
    // Running as non-root from the start works, and cannot switch.
    let o = Command::new("setpriv")
        .args(["--reuid", "65534", "--regid", "65534", "--clear-groups"])
        .arg(agent_init())
        .args(["--", "sh", "-c", "id -u"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert_eq!(out(&o).trim(), "65534");
    let o = Command::new("setpriv")
        .args(["--reuid", "65534", "--regid", "65534", "--clear-groups"])
        .arg(agent_init())
        .args(["--user", "root", "--", "true"])
        .output()
        .unwrap();
    exits_with(&o, 78, &["cannot switch"]);
}

#[test]
fn preset_sets_documented_env_and_user_overrides_win() {
    let o = agent(
        &[
            "--preset",
            "claude",
            "--",
            "sh",
            "-c",
            "echo t=$DISABLE_TELEMETRY u=$DISABLE_AUTOUPDATER d=$CLAUDE_CONFIG_DIR",
        ],
        &[("DISABLE_AUTOUPDATER", "0"), ("HOME", "/home/agent")],
    );
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(
        out(&o).contains("t=1 u=0 d=/home/agent/.claude"),
        "{}",
        out(&o)
    );
}

#[test]
fn hooks_log_output_and_fail_with_75() {
    let s = Scratch::new("hooks");
    std::fs::write(
        s.path("ok.toml"),
        "[[hooks]]\nname = \"greet\"\ncommand = \"echo hello from hook; echo to-stderr >&2\"\n",
    )
    .unwrap();
    let o = agent(&["--config", &s.s("ok.toml"), "--", "true"], &[]);
    exits_with(&o, 0, &["hello from hook", "to-stderr"]);
    std::fs::write(
        s.path("fail.toml"),
        "[[hooks]]\nname = \"broken\"\ncommand = \"exit 3\"\n",
    )
    .unwrap();
    let o = agent(&["--config", &s.s("fail.toml"), "--", "true"], &[]);
    exits_with(&o, 75, &["hook broken failed"]);
    std::fs::write(
        s.path("slow.toml"),
        "[[hooks]]\nname = \"slow\"\ncommand = \"sleep 30\"\ntimeout = 0.5\n",
    )
    .unwrap();
    let began = Instant::now();
    let o = agent(&["--config", &s.s("slow.toml"), "--", "true"], &[]);
    exits_with(&o, 75, &["timed out"]);
    assert!(began.elapsed() < Duration::from_secs(5));
}

#[test]
fn wait_for_an_absent_dependency_fails_with_69() {
    let port = free_port();
    let url = format!("tcp://127.0.0.1:{port}");
    let began = Instant::now();
    let o = agent(&["--wait", &url, "--wait-timeout", "1", "--", "true"], &[]);
    exits_with(&o, 69, &[&url, "Connection refused"]);
    assert!(
        began.elapsed() < Duration::from_secs(4),
        "{:?}",
        began.elapsed()
    );
}

#[test]
fn wait_urls_and_health_urls_are_expanded_before_they_are_checked() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let o = agent(
        &[
            "--wait",
            "tcp://127.0.0.1:${MCP_PORT}",
            "--wait-timeout",
            "5",
            "--",
            "true",
        ],
        &[("MCP_PORT", &port)],
    );
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    // A URL that is bad after expansion is still a configuration error,
    // named, at startup.
    let o = agent(
        &["--wait", "tcp://127.0.0.1:${MCP_PORT}", "--", "true"],
        &[("MCP_PORT", "eighty")],
    );
    exits_with(&o, 78, &["wait.urls[0]"]);
    let o = agent(&["--", "true"], &[("AGENT_INIT_HEALTH__MCP", "ftp://x:1")]);
    exits_with(&o, 78, &["health.mcp"]);
}

#[test]
fn wait_for_a_late_real_mcp_server_then_start() {
    let port = free_port();
    let py = std::env::var_os("MCP_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/mcp-venv/bin/python")
        });
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/mcp_server.py");
    let mut server = Command::new(py)
        .arg(script)
        .arg(port.to_string())
        .arg("1.5")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("mcp+http://127.0.0.1:{port}/mcp");
    let o = agent(
        &[
            "--wait",
            &url,
            "--wait-timeout",
            "60",
            "--",
            "echo",
            "started",
        ],
        &[],
    );
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert_eq!(out(&o).trim(), "started");
    assert!(
        err(&o).contains("MCP server agent-init-test-server"),
        "{}",
        err(&o)
    );
    assert!(err(&o).contains("ready"), "{}", err(&o));
}

#[test]
fn sigterm_during_startup_aborts_and_startup_probe_waits() {
    let port = free_port();
    let url = format!("tcp://127.0.0.1:{port}");
    let mut init = start(
        As::Pid1,
        &["--wait", &url, "--wait-timeout", "60", "--", "true"],
    );
    let pid = init.pid();
    let probe = |kind: &str| agent_init_inside(pid, &["health", "--probe", kind]);
    let startup = wait_for(SOON, "status socket", || {
        let o = probe("startup");
        out(&o).contains("process").then_some(o)
    });
    assert_eq!(startup.status.code(), Some(1), "{}", out(&startup));
    assert!(
        out(&startup).contains("startup steps not finished"),
        "{}",
        out(&startup)
    );
    // Not ready before the command runs: traffic must not reach it yet.
    let ready = probe("readiness");
    assert_eq!(ready.status.code(), Some(1), "{}", out(&ready));
    assert!(
        out(&ready).contains("startup steps not finished"),
        "{}",
        out(&ready)
    );
    let live = probe("liveness");
    assert_eq!(
        live.status.code(),
        Some(0),
        "liveness does not wait: {}",
        out(&live)
    );
    let began = Instant::now();
    init.signal(Signal::SIGTERM);
    let done = init.wait(SOON);
    assert_eq!(done.code, Some(143), "{}", done.stderr);
    assert!(began.elapsed() < Duration::from_secs(2));
    assert!(
        done.stderr.contains("startup interrupted"),
        "{}",
        done.stderr
    );
}

#[test]
fn exec_runs_with_the_inits_launch() {
    let s = Scratch::new("exec");
    std::fs::create_dir(s.path("cm")).unwrap();
    std::fs::write(s.path("cm/FROM_CM"), "cm-value").unwrap();
    let mut init = start(
        As::Pid1,
        &[
            "--configmap",
            &s.s("cm"),
            "--user",
            "nobody",
            "--log-level",
            "warn",
        ],
    );
    let pid = init.pid();
    let exec = |extra: &[&str]| {
        let mut c = Command::new("nsenter");
        c.args(["-t", &pid.to_string(), "-p", "-m"]);
        c.args(extra);
        c.arg(agent_init()).args([
            "exec",
            "--",
            "sh",
            "-c",
            "echo v=$FROM_CM id=$(id -u) home=$HOME",
        ]);
        c.output().unwrap()
    };
    let o = wait_for(SOON, "exec to work", || {
        let o = exec(&[]);
        o.status.success().then_some(o)
    });
    assert!(
        out(&o).contains("v=cm-value id=65534 home=/nonexistent"),
        "{} {}",
        out(&o),
        err(&o)
    );
    // Another non-root user may not read the launch (it holds secrets).
    let o = exec(&["-S", "1000", "-G", "1000"]);
    exits_with(&o, 78, &["permission denied"]);
    init.signal(Signal::SIGTERM);
    assert_eq!(init.wait(SOON).code, Some(0));
}

#[test]
fn check_validates_without_running_anything() {
    let s = Scratch::new("check");
    let o = agent(
        &["check", "--workspace", &s.s(""), "--require-mount", "false"],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(out(&o).contains("ok:"), "{}", out(&o));
    let o = agent(&["check", "--workspace", &s.s("nope")], &[]);
    assert_eq!(o.status.code(), Some(78));
    std::fs::write(
        s.path("hook.toml"),
        format!("[[hooks]]\ncommand = \"touch {}\"\n", s.s("ran")),
    )
    .unwrap();
    let o = agent(&["check", "--config", &s.s("hook.toml")], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(!s.path("ran").exists(), "check must not run hooks");
}

#[test]
fn codex_preset_creates_codex_home_for_the_commands_user() {
    let s = Scratch::new("codexhome");
    std::fs::create_dir(s.path("home")).unwrap();
    let o = agent(
        &[
            "--preset",
            "codex",
            "--",
            "sh",
            "-c",
            "stat -c '%a %U' $CODEX_HOME",
        ],
        &[("HOME", &s.s("home"))],
    );
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert_eq!(out(&o).trim(), "700 root");
    assert!(err(&o).contains("created CODEX_HOME"), "{}", err(&o));
    // A home that cannot be written to is reported, not fatal.
    let o = agent(
        &["--preset", "codex", "--", "true"],
        &[("HOME", "/proc/no-such-home")],
    );
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(err(&o).contains("CODEX_HOME: creating"), "{}", err(&o));
}

/// A git killed mid-commit leaves `.git/index.lock`; at startup a lock
/// untouched for a minute is removed (and logged), a fresh one is left
/// alone, and `git add` works again. `warn` only logs, `ignore` is silent.
#[rstest]
#[case::remove("remove", true)]
#[case::warn("warn", false)]
#[case::ignore("ignore", false)]
fn stale_git_locks(#[case] policy: &str, #[case] removed: bool) {
    let s = Scratch::new("git-locks");
    let ws = s.path("ws");
    std::fs::create_dir_all(&ws).unwrap();
    let git = |args: &[&str]| {
        let o = Command::new("git")
            .arg("-C")
            .arg(&ws)
            .args(args)
            .output()
            .unwrap();
        assert!(o.status.success(), "git {args:?}: {}", err(&o));
    };
    git(&["init", "-q"]);
    std::fs::write(ws.join("file"), "x").unwrap();
    let old = ws.join(".git/index.lock");
    let young = ws.join(".git/refs/heads/main.lock");
    std::fs::create_dir_all(young.parent().unwrap()).unwrap();
    std::fs::write(&old, "").unwrap();
    std::fs::write(&young, "").unwrap();
    let two_minutes_ago = std::time::SystemTime::now() - Duration::from_secs(120);
    std::fs::File::options()
        .write(true)
        .open(&old)
        .unwrap()
        .set_modified(two_minutes_ago)
        .unwrap();
    let ws_s = ws.to_string_lossy().into_owned();
    let script = format!("cd {ws_s} && git add file && echo added");
    let o = agent(
        &[
            "--workspace",
            &ws_s,
            "--require-mount",
            "false",
            "--",
            "sh",
            "-c",
            &script,
        ],
        &[("AGENT_INIT_GIT__STALE_LOCKS", policy)],
    );
    assert_eq!(old.exists(), !removed, "{}", err(&o));
    assert!(young.exists(), "a fresh lock must stay: {}", err(&o));
    assert_eq!(
        out(&o).contains("added"),
        removed,
        "{} {}",
        out(&o),
        err(&o)
    );
    let logged = err(&o).contains("stale git lock");
    assert_eq!(logged, policy != "ignore", "{}", err(&o));
    if removed {
        assert!(err(&o).contains("removed stale git lock"), "{}", err(&o));
    }
}

/// The termination report: what ended the container, for `kubectl
/// describe`; redacted, at most 4 KiB.
#[rstest]
#[case::clean_exit(&["--", "true"], None, 0, "agent-init: command exited with 0 (exit 0)")]
#[case::killed_by_a_signal(&["--", "sh", "-c", "kill -TERM $$"], None, 143, "command killed by SIGTERM (exit 143)")]
#[case::forced_sigkill(&["--grace-period", "300ms", "--", "sh", "-c", "trap '' TERM; echo up; while :; do sleep 0.05; done"], Some(Signal::SIGTERM), 137, "the grace period ran out")]
#[case::failed_step(&["--workspace", "/nonexistent/supersecret-value-42", "--", "true"], None, 78, "startup failed (exit 78): workspace")]
fn the_termination_report_says_what_ended_the_container(
    #[case] args: &[&str],
    #[case] signal: Option<Signal>,
    #[case] code: i32,
    #[case] needle: &str,
) {
    let s = Scratch::new("termlog");
    let log = s.s("termination-log");
    let mut all = vec!["--termination-log", log.as_str()];
    all.extend_from_slice(args);
    let mut init = start_with(As::Pid1, &all, |c| {
        c.env("SERVICE_API_TOKEN", "supersecret-value-42");
    });
    if let Some(sig) = signal {
        init.expect("up");
        init.signal(sig);
    }
    let out = init.wait(SOON);
    assert_eq!(out.code, Some(code), "{}", out.stderr);
    let report = std::fs::read_to_string(&log).unwrap();
    assert!(report.contains(needle), "{report}");
    assert!(report.contains("ran for "), "{report}");
    assert!(report.len() <= 4096);
    assert!(!report.contains("supersecret-value-42"), "{report}");
}

/// An empty value turns the report off, even over a path set elsewhere.
#[test]
fn an_empty_termination_log_setting_writes_nothing() {
    let s = Scratch::new("termlog-off");
    let log = s.s("termination-log");
    let o = agent(
        &["--termination-log", "", "--", "true"],
        &[("AGENT_INIT_TERMINATION_LOG", &log)],
    );
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(!s.path("termination-log").exists());
    // Negative control: without the flag, the variable's path gets it.
    let o = agent(&["--", "true"], &[("AGENT_INIT_TERMINATION_LOG", &log)]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(s.path("termination-log").exists());
}

/// Kubernetes' service links for a Service named `agent-init` (or
/// `agent-init-health`) look like settings; they are ignored with a debug
/// line each, while a real typo still fails.
#[rstest]
#[case::the_links_of_a_service_named_agent_init(&[
    ("AGENT_INIT_SERVICE_HOST", "10.96.0.12"),
    ("AGENT_INIT_SERVICE_PORT", "8081"),
    ("AGENT_INIT_SERVICE_PORT_HEALTH", "8081"),
    ("AGENT_INIT_PORT", "tcp://10.96.0.12:8081"),
    ("AGENT_INIT_PORT_8081_TCP", "tcp://10.96.0.12:8081"),
    ("AGENT_INIT_PORT_8081_TCP_ADDR", "10.96.0.12"),
    ("AGENT_INIT_PORT_8081_TCP_PORT", "8081"),
    ("AGENT_INIT_PORT_8081_TCP_PROTO", "tcp"),
    ("AGENT_INIT_HEALTH_SERVICE_HOST", "10.96.0.13"),
    ("AGENT_INIT_HEALTH_PORT_80_TCP_PORT", "80"),
], 0, "ignored: a Kubernetes service link")]
#[case::a_typo_is_still_an_error(&[("AGENT_INIT_GRACE_PERIDO", "5")], 78, "grace_perido")]
#[case::a_link_shape_with_a_wrong_value_is_not_a_link(&[("AGENT_INIT_SERVICE_HOST", "not-an-ip")], 78, "service_host")]
fn kubernetes_service_links_do_not_break_startup(
    #[case] env: &[(&str, &str)],
    #[case] code: i32,
    #[case] needle: &str,
) {
    let o = agent(&["--log-level", "debug", "--", "true"], env);
    assert_eq!(o.status.code(), Some(code), "{}", err(&o));
    assert!(err(&o).contains(needle), "{needle:?} not in {}", err(&o));
    if code == 0 {
        let lines = err(&o)
            .matches("ignored: a Kubernetes service link")
            .count();
        assert_eq!(lines, env.len(), "one debug line each: {}", err(&o));
    }
}

/// Waits until `path` holds `want`.
fn wait_content(path: &Path, want: &str) {
    wait_for(
        SOON,
        &format!("{} to hold {want:?}", path.display()),
        || (std::fs::read_to_string(path).ok()? == want).then_some(()),
    );
}

/// The kubelet updates a mounted ConfigMap by swapping `..data`: the staged
/// file follows within a second, the command gets SIGHUP once per swap,
/// and a key that disappears is survived.
#[test]
fn a_swapped_configmap_is_staged_again_and_signalled_once_per_swap() {
    let s = Scratch::new("reload");
    let vol = s.path("vol");
    kubelet_volume(&vol, "..2026_01", &[("token", "one"), ("greeting", "hi")]);
    let staged = s.path("staged/token");
    let config = format!(
        "[[configmaps]]\npath = \"{}\"\non_change = \"signal:SIGHUP\"\n[[configmaps.files]]\nkey = \"token\"\ndest = \"{}\"\nmode = \"0640\"\n",
        vol.display(),
        staged.display()
    );
    std::fs::write(s.path("c.toml"), config).unwrap();
    let mut init = start_signal_reporter(&["--config", &s.s("c.toml")]);
    wait_content(&staged, "one");
    for (i, value) in ["two", "three", "four"].iter().enumerate() {
        let began = Instant::now();
        kubelet_volume(
            &vol,
            &format!("..2026_1{i}"),
            &[("token", value), ("greeting", "hi")],
        );
        wait_content(&staged, value);
        assert!(
            began.elapsed() < Duration::from_secs(1),
            "{:?}",
            began.elapsed()
        );
        // Time for a second, wrong one to arrive.
        init.read_for(Duration::from_millis(400));
        let sighups = init.seen.iter().filter(|l| *l == "parent SIGHUP").count();
        assert_eq!(sighups, i + 1, "one SIGHUP per swap: {:?}", init.seen);
    }
    let mode = std::fs::metadata(&staged).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o640);
    // A swap without `greeting` (an exported key) and then without `token`
    // (a staged one): logged, survived.
    let _ = std::fs::remove_file(vol.join("greeting"));
    kubelet_volume(&vol, "..2026_20", &[("token", "five")]);
    wait_content(&staged, "five");
    let _ = std::fs::remove_file(vol.join("token"));
    kubelet_volume(&vol, "..2026_21", &[("other", "x")]);
    wait_for(SOON, "the missing key to be reported", || {
        init.stderr().contains("key `token` is gone").then_some(())
    });
    assert_eq!(std::fs::read_to_string(&staged).unwrap(), "five");
    assert!(
        init.stderr().contains("keys greeting changed"),
        "{}",
        init.stderr()
    );
    init.signal(Signal::SIGTERM);
    let out = init.wait(SOON);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    // Values are never logged.
    assert!(!out.stderr.contains("three"), "{}", out.stderr);
}

/// A thousand swaps in a burst: signals are still forwarded at once, and
/// memory does not grow with the number of swaps.
#[test]
fn a_flood_of_configmap_swaps_stalls_nothing() {
    let s = Scratch::new("reload-flood");
    let vol = s.path("vol");
    kubelet_volume(&vol, "..0", &[("k", "0")]);
    let config = format!(
        "[[configmaps]]\npath = \"{}\"\nenv = false\non_change = \"signal:SIGHUP\"\n",
        vol.display()
    );
    std::fs::write(s.path("c.toml"), config).unwrap();
    let mut init = start(
        As::Pid1,
        &["--config", &s.s("c.toml"), "--", testproc(), "signals"],
    );
    init.expect_line("ready", |l| l.starts_with("ready parent"));
    let pid = init.pid();
    let rss = || status_field(pid, "VmRSS").unwrap();
    let before = rss();
    for i in 0..1000 {
        let stamp = format!("..{}", i + 1);
        kubelet_volume(&vol, &stamp, &[("k", &i.to_string())]);
        // The kubelet removes the old version, as here.
        let _ = std::fs::remove_dir_all(vol.join(format!("..{i}")));
    }
    let sent = Instant::now();
    init.signal(Signal::SIGUSR1);
    init.expect("parent SIGUSR1");
    assert!(
        sent.elapsed() < Duration::from_secs(1),
        "{:?}",
        sent.elapsed()
    );
    std::thread::sleep(Duration::from_millis(300));
    let after = rss();
    assert!(after < before + 2048, "VmRSS {before} KiB -> {after} KiB");
    let sighups = init.seen.iter().filter(|l| *l == "parent SIGHUP").count();
    assert!(sighups <= 1000, "{sighups}");
    init.signal(Signal::SIGTERM);
    init.wait(SOON);
}

#[rstest]
#[case::unknown_action(
    "sometimes",
    "is not `restage`, `signal:SIGNAME` (e.g. signal:SIGHUP) or `restart`"
)]
#[case::unknown_signal("signal:SIGNOPE", "`SIGNOPE` is not a signal")]
fn a_bad_on_change_is_78_naming_the_key(#[case] value: &str, #[case] needle: &str) {
    let s = Scratch::new("on-change");
    let vol = s.path("vol");
    kubelet_volume(&vol, "..1", &[("k", "v")]);
    std::fs::write(
        s.path("c.toml"),
        format!(
            "[[configmaps]]\npath = \"{}\"\non_change = \"{value}\"\n",
            vol.display()
        ),
    )
    .unwrap();
    let o = agent(&["--config", &s.s("c.toml"), "--", "true"], &[]);
    exits_with(&o, 78, &["configmaps[0].on_change", needle]);
}

/// `on_change = "restart"`: the command (in keep-alive mode, the services)
/// is stopped and started again, and the new one sees the new values.
#[rstest]
#[case::the_command(false)]
#[case::the_services_in_keep_alive_mode(true)]
fn on_change_restart_starts_it_again_with_the_new_values(#[case] keep_alive: bool) {
    let s = Scratch::new("restart");
    let vol = s.path("vol");
    kubelet_volume(&vol, "..1", &[("GREETING", "one")]);
    let body = "trap 'exit 0' TERM; echo \"started $GREETING\"; while :; do sleep 0.05; done";
    let mut config = format!(
        "[[configmaps]]\npath = \"{}\"\non_change = \"restart\"\n",
        vol.display()
    );
    if keep_alive {
        config.push_str(&format!(
            "[services.svc]\ncommand = [\"sh\", \"-c\", \"{}\"]\n",
            body.replace('"', "\\\"")
        ));
    }
    std::fs::write(s.path("c.toml"), config).unwrap();
    let mut args = vec!["--config".to_string(), s.s("c.toml")];
    if !keep_alive {
        args.extend(["--", "sh", "-c", body].map(String::from));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut init = start(As::Pid1, &args);
    let prefix = if keep_alive { "[svc] " } else { "" };
    init.expect(&format!("{prefix}started one"));
    kubelet_volume(&vol, "..2", &[("GREETING", "two")]);
    init.expect(&format!("{prefix}started two"));
    init.signal(Signal::SIGTERM);
    let out = init.wait(SOON);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let what = if keep_alive {
        "restarting the services"
    } else {
        "restarting the command"
    };
    assert!(out.stderr.contains(what), "{}", out.stderr);
}

/// A reload's restart of the command and a `signal:` reaction honour
/// `signal_target`: with `child` they reach the command alone, not a helper
/// it started in its group; with `group` (the negative control) the helper
/// gets them too.
#[rstest]
fn reload_reactions_honour_the_signal_target(
    #[values("restart", "signal:SIGHUP")] on_change: &str,
    #[values("child", "group")] target: &str,
) {
    let s = Scratch::new("reload-target");
    let vol = s.path("vol");
    kubelet_volume(&vol, "..1", &[("GREETING", "one")]);
    let hits = s.path("helper-hits");
    std::fs::write(&hits, "").unwrap();
    std::fs::write(
        s.path("c.toml"),
        format!(
            "signal_target = \"{target}\"\n[[configmaps]]\npath = \"{}\"\non_change = \"{on_change}\"\n",
            vol.display()
        ),
    )
    .unwrap();
    // The helper records every TERM or HUP it gets and keeps running.
    let body = format!(
        "sh -c 'trap \"echo hit >> {h}\" TERM HUP; while :; do sleep 0.05; done' & \
         trap 'exit 0' TERM; trap 'echo hup' HUP; echo \"started $GREETING\"; \
         while :; do sleep 0.05; done",
        h = hits.display()
    );
    let mut init = start(
        As::Pid1,
        &["--config", &s.s("c.toml"), "--", "sh", "-c", &body],
    );
    init.expect("started one");
    kubelet_volume(&vol, "..2", &[("GREETING", "two")]);
    init.expect(if on_change == "restart" {
        "started two"
    } else {
        "hup"
    });
    let hit = || !std::fs::read_to_string(&hits).unwrap().is_empty();
    if target == "group" {
        wait_for(Duration::from_secs(5), "the helper's record", || {
            hit().then_some(())
        });
    } else {
        std::thread::sleep(Duration::from_millis(500));
        assert!(
            !hit(),
            "the helper was signalled with signal_target = child"
        );
    }
    init.signal(Signal::SIGTERM);
    let out = init.wait(SOON);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
}

/// A command that cannot be started again after a reload ends the init
/// with the start's error (127: gone), but in order: the services still
/// get their stop signal and stop, instead of dying by SIGKILL with the
/// namespace.
#[test]
fn a_command_that_cannot_start_again_still_ends_in_an_orderly_shutdown() {
    let s = Scratch::new("restart-gone");
    let vol = s.path("vol");
    kubelet_volume(&vol, "..1", &[("GREETING", "one")]);
    std::fs::copy("/bin/sh", s.path("cmd")).unwrap();
    std::fs::write(
        s.path("c.toml"),
        format!(
            "[[configmaps]]\npath = \"{}\"\non_change = \"restart\"\n\
             [services.svc]\ncommand = [\"sh\", \"-c\", \"trap 'echo svc stopped; exit 0' TERM; echo svc up; while :; do sleep 0.05; done\"]\n",
            vol.display()
        ),
    )
    .unwrap();
    let mut init = start(
        As::Pid1,
        &[
            "--config",
            &s.s("c.toml"),
            "--",
            &s.s("cmd"),
            "-c",
            "trap 'exit 0' TERM; echo \"started $GREETING\"; while :; do sleep 0.05; done",
        ],
    );
    init.expect("[svc] svc up");
    init.expect("started one");
    std::fs::remove_file(s.path("cmd")).unwrap();
    kubelet_volume(&vol, "..2", &[("GREETING", "two")]);
    let out = init.wait(SOON);
    assert_eq!(out.code, Some(127), "{}", out.stderr);
    assert!(
        out.stderr.contains("restarting the command"),
        "{}",
        out.stderr
    );
    assert!(
        out.stdout.iter().any(|l| l == "[svc] svc stopped"),
        "the service was not stopped in order: {:?}\n{}",
        out.stdout,
        out.stderr
    );
}

/// A SIGTERM while a reload's restart is under way ends the init: the
/// command stopping for its restart is not started again (the restart test
/// above is the control: without the SIGTERM it is).
#[test]
fn a_shutdown_during_a_restart_does_not_start_the_command_again() {
    let s = Scratch::new("restart-stop");
    let vol = s.path("vol");
    kubelet_volume(&vol, "..1", &[("GREETING", "one")]);
    std::fs::write(
        s.path("c.toml"),
        format!(
            "[[configmaps]]\npath = \"{}\"\non_change = \"restart\"\n",
            vol.display()
        ),
    )
    .unwrap();
    // Slow to stop: the SIGTERM to the init comes while it is stopping.
    let body = "trap 'echo stopping; sleep 0.5; exit 0' TERM; echo \"started $GREETING\"; \
                while :; do sleep 0.05; done";
    let mut init = start(
        As::Pid1,
        &["--config", &s.s("c.toml"), "--", "sh", "-c", body],
    );
    init.expect("started one");
    kubelet_volume(&vol, "..2", &[("GREETING", "two")]);
    init.expect("stopping");
    init.signal(Signal::SIGTERM);
    let out = init.wait(SOON);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        !out.stdout.iter().any(|l| l == "started two"),
        "started again during the shutdown: {:?}",
        out.stdout
    );
}
