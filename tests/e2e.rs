//! End-to-end tests against a real Docker engine: the images built by
//! `make e2e` (every agent image that builds here) run for real, one
//! reported case per image and scenario.
//! Docker (`docker inspect`, exit codes, /proc inside the container) is the
//! oracle. A missing engine fails these tests; it never skips them.

mod support;

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rstest::rstest;
use support::wait_for;

fn docker_bin() -> String {
    std::env::var("DOCKER").unwrap_or_else(|_| "docker".into())
}

fn docker(args: &[&str]) -> Output {
    Command::new(docker_bin())
        .args(args)
        .output()
        .expect("running docker")
}

/// `docker exec C agent-init exec -- sh -c SCRIPT`: a task started in the
/// container with the init's launch, as a task runner does.
fn agent_exec_sh<'a>(container: &'a str, script: &'a str) -> [&'a str; 8] {
    [
        "exec",
        container,
        "agent-init",
        "exec",
        "--",
        "sh",
        "-c",
        script,
    ]
}

fn ok(args: &[&str]) -> String {
    let o = docker(args);
    assert!(
        o.status.success(),
        "docker {args:?} failed: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// One agent image: what its name promises.
struct Image {
    name: &'static str,
    /// The command on PATH.
    cli: &'static str,
    /// The package it was installed from.
    package: &'static str,
    /// Arguments that make the CLI identify itself.
    identify: &'static [&'static str],
    /// The seeds' size budget: Node-based 500 MB, the Rust CLI (codex)
    /// 700 MB, Python-based 800 MB; claude's CLI alone is about 400 MB, so
    /// its image is held to 800 MB (docker/README.md).
    budget_mb: u64,
}

const IMAGES: [Image; 6] = [
    Image {
        name: "claude",
        cli: "claude",
        package: "@anthropic-ai/claude-code",
        identify: &["--version"],
        budget_mb: 800,
    },
    Image {
        name: "codex",
        cli: "codex",
        package: "@openai/codex",
        identify: &["--version"],
        budget_mb: 700,
    },
    Image {
        name: "opencode",
        cli: "opencode",
        package: "opencode-ai",
        identify: &["--version"],
        budget_mb: 500,
    },
    Image {
        name: "gemini",
        cli: "gemini",
        package: "@google/gemini-cli",
        identify: &["--version"],
        budget_mb: 500,
    },
    Image {
        name: "qwen",
        cli: "qwen",
        package: "@qwen-code/qwen-code",
        identify: &["--version"],
        budget_mb: 500,
    },
    // The OpenHands CLI has no --version; its help names it.
    Image {
        name: "openhands",
        cli: "openhands",
        package: "openhands",
        identify: &["--help"],
        budget_mb: 800,
    },
];

fn image(name: &str) -> &'static Image {
    IMAGES
        .iter()
        .find(|i| i.name == name)
        .expect("a known image")
}

impl Image {
    fn tag(&self) -> String {
        format!("agent-init/{}:dev", self.name)
    }
}

/// `docker run` flags of the hardened setup the images are built for.
const HARDENED: [&str; 13] = [
    "--read-only",
    "--tmpfs",
    "/tmp",
    "--tmpfs",
    "/workspace:uid=1000,gid=1000",
    "--tmpfs",
    "/home:uid=1000,gid=1000",
    "--cap-drop",
    "ALL",
    "--security-opt",
    "no-new-privileges",
    "--user",
    "1000:1000",
];

/// `docker run --rm` with the hardened flags and quiet logs.
fn run_hardened(tag: &str, argv: &[&str]) -> Output {
    let mut args = vec!["run", "--rm"];
    args.extend_from_slice(&HARDENED);
    args.extend_from_slice(&["-e", "AGENT_INIT_LOG_LEVEL=warn", tag]);
    args.extend_from_slice(argv);
    docker(&args)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn both(o: &Output) -> String {
    stdout(o) + &String::from_utf8_lossy(&o.stderr)
}

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// A container (or network) name unique to this run, removed on drop.
struct Named {
    name: String,
    network: bool,
}

impl Named {
    fn container(tag: &str) -> Named {
        let n = SEQ.fetch_add(1, Ordering::SeqCst);
        Named {
            name: format!("agent-init-e2e-{tag}-{}-{n}", std::process::id()),
            network: false,
        }
    }
    fn network() -> Named {
        let mut n = Named::container("net");
        n.network = true;
        n
    }
}

impl Drop for Named {
    fn drop(&mut self) {
        if self.network {
            let _ = docker(&["network", "rm", &self.name]);
        } else {
            let _ = docker(&["rm", "-f", &self.name]);
        }
    }
}

fn health(name: &str) -> String {
    ok(&["inspect", "-f", "{{.State.Health.Status}}", name])
}

#[test]
fn engine_is_there() {
    let o = docker(&["info", "--format", "{{.ServerVersion}}"]);
    assert!(
        o.status.success(),
        "no Docker engine: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The regression test for images built from the wrong Dockerfile: the
/// image's labels, the package recorded at build time and the CLI on PATH
/// all name the CLI the image is named after. Under the hardened flags.
#[rstest]
fn each_image_is_the_cli_its_name_says(
    #[values("claude", "codex", "opencode", "gemini", "qwen", "openhands")] name: &str,
) {
    let img = image(name);
    let tag = img.tag();
    let label = |key: &str| {
        ok(&[
            "image",
            "inspect",
            "-f",
            &format!("{{{{index .Config.Labels \"{key}\"}}}}"),
            &tag,
        ])
    };
    assert_eq!(label("io.agent-init.cli"), img.cli);
    assert_eq!(label("io.agent-init.package"), img.package);
    assert_eq!(
        label("org.opencontainers.image.title"),
        format!("agent-init-{}", img.cli)
    );
    let recorded = run_hardened(&tag, &["cat", "/opt/cli/PACKAGE"]);
    let recorded = stdout(&recorded);
    let (package, version) = recorded.trim().split_once(' ').unwrap_or(("", ""));
    assert_eq!(package, img.package, "{recorded}");
    assert!(!version.is_empty(), "{recorded}");
    let mut argv = vec![img.cli];
    argv.extend_from_slice(img.identify);
    let o = run_hardened(&tag, &argv);
    assert!(o.status.success(), "{name}: {}", both(&o));
    let said = both(&o);
    if img.identify == ["--help"] {
        assert!(
            said.contains(&format!("usage: {}", img.cli)),
            "{name}: {said}"
        );
    } else {
        assert!(
            said.contains(version),
            "{name}: `{} --version` does not report {package} {version}: {said}",
            img.cli
        );
    }
}

#[rstest]
fn each_image_runs_agent_init_with_its_preset(
    #[values("claude", "codex", "opencode", "gemini", "qwen", "openhands")] name: &str,
) {
    let o = run_hardened(&image(name).tag(), &["agent-init", "config"]);
    assert!(o.status.success(), "{}", both(&o));
    let config = stdout(&o);
    let line = config
        .lines()
        .find(|l| l.starts_with("preset = "))
        .unwrap_or("");
    let expected = format!("preset = \"{name}\"");
    assert!(line.starts_with(&expected), "{config}");
    assert!(line.ends_with("# env AGENT_INIT_PRESET"), "{config}");
}

#[rstest]
fn cli_runs_as_uid_1000_and_exit_codes_pass_through(
    #[values("claude", "codex", "opencode", "gemini", "qwen", "openhands")] name: &str,
) {
    let tag = image(name).tag();
    let out = ok(&[
        "run",
        "--rm",
        "-e",
        "AGENT_INIT_LOG_LEVEL=warn",
        &tag,
        "sh",
        "-c",
        "id -u; whoami; test -d /workspace && echo ws",
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.first(), Some(&"1000"), "{out}");
    assert_ne!(lines.get(1), Some(&"root"), "{out}");
    assert_eq!(lines.get(2), Some(&"ws"), "{out}");
    let o = docker(&["run", "--rm", &tag, "sh", "-c", "exit 7"]);
    assert_eq!(o.status.code(), Some(7));
    let o = docker(&["run", "--rm", &tag, "sh", "-c", "kill -TERM $$"]);
    assert_eq!(o.status.code(), Some(143));
    let o = docker(&["run", "--rm", &tag, "no-such-command"]);
    assert_eq!(o.status.code(), Some(127));
}

#[rstest]
fn each_image_stays_within_its_size_budget(
    #[values("claude", "codex", "opencode", "gemini", "qwen", "openhands")] name: &str,
) {
    let img = image(name);
    let tag = img.tag();
    let bytes: u64 = ok(&["image", "inspect", "-f", "{{.Size}}", &tag])
        .parse()
        .unwrap();
    let mb = bytes / 1_000_000;
    eprintln!("{tag}: {mb} MB (budget {} MB)", img.budget_mb);
    assert!(
        mb < img.budget_mb,
        "{tag} is {mb} MB, budget {} MB",
        img.budget_mb
    );
    let labels = ok(&["image", "inspect", "-f", "{{json .Config.Labels}}", &tag]);
    for key in [
        "org.opencontainers.image.version",
        "org.opencontainers.image.revision",
        "org.opencontainers.image.source",
    ] {
        assert!(labels.contains(key), "{tag} lacks label {key}: {labels}");
    }
    let user = ok(&["image", "inspect", "-f", "{{.Config.User}}", &tag]);
    assert_eq!(user, "1000:1000");
}

/// Keep-alive on a read-only root with every capability dropped: the
/// health check and `agent-init exec` need nothing writable.
#[rstest]
fn keep_alive_exec_health_and_fast_stop(
    #[values("claude", "codex", "opencode", "gemini", "qwen", "openhands")] name: &str,
) {
    let tag = image(name).tag();
    let c = Named::container("keep");
    ok(&[
        "run",
        "--read-only",
        "--tmpfs",
        "/tmp",
        "--tmpfs",
        "/workspace:uid=1000,gid=1000",
        "--cap-drop",
        "ALL",
        "--security-opt",
        "no-new-privileges",
        "-d",
        "--name",
        &c.name,
        "--health-interval",
        "1s",
        "--health-start-period",
        "0s",
        "--health-retries",
        "1",
        &tag,
    ]);
    wait_for(Duration::from_secs(60), "healthy", || {
        (health(&c.name) == "healthy").then_some(())
    });
    // docker exec: orphans left behind are reaped by PID 1.
    ok(&[
        "exec",
        &c.name,
        "sh",
        "-c",
        "for i in 1 2 3 4 5 6 7 8 9 10; do (sleep 0.1 &) ; done",
    ]);
    wait_for(Duration::from_secs(20), "no zombies", || {
        let z = ok(&[
            "exec",
            &c.name,
            "sh",
            "-c",
            "cat /proc/[0-9]*/stat 2>/dev/null | awk '$3 == \"Z\"' | wc -l",
        ]);
        (z == "0").then_some(())
    });
    // agent-init exec gets the init's launch (the git step's variables).
    let v = ok(&agent_exec_sh(&c.name, "echo $GIT_CONFIG_VALUE_0"));
    assert_eq!(v, "/workspace");
    let h = ok(&["exec", &c.name, "agent-init", "health"]);
    assert!(h.starts_with("healthy"), "{h}");
    let began = Instant::now();
    ok(&["stop", &c.name]);
    let took = began.elapsed();
    assert!(took < Duration::from_secs(5), "docker stop took {took:?}");
    let code = ok(&["inspect", "-f", "{{.State.ExitCode}}", &c.name]);
    assert_eq!(code, "0", "keep-alive exits 0 on SIGTERM");
}

fn kubelet_volume(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("agent-init-e2e-cm-{tag}-{}", std::process::id()));
    let data = dir.join("..2025_06_01_12_00_00.000000001");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("PROJECT_NAME"), "demo").unwrap();
    let _ = std::fs::remove_file(dir.join("..data"));
    std::os::unix::fs::symlink("..2025_06_01_12_00_00.000000001", dir.join("..data")).unwrap();
    let _ = std::fs::remove_file(dir.join("PROJECT_NAME"));
    std::os::unix::fs::symlink("..data/PROJECT_NAME", dir.join("PROJECT_NAME")).unwrap();
    dir
}

#[rstest]
fn configmap_mounted_read_only_is_loaded(
    #[values("claude", "codex", "opencode", "gemini", "qwen", "openhands")] name: &str,
) {
    let dir = kubelet_volume(name);
    let mount = format!("{}:/etc/agent/config:ro", dir.display());
    let out = ok(&[
        "run",
        "--rm",
        "-v",
        &mount,
        "-e",
        "AGENT_INIT_CONFIGMAPS=[{path=\"/etc/agent/config\"}]",
        &image(name).tag(),
        "sh",
        "-c",
        "echo project=$PROJECT_NAME",
    ]);
    let _ = std::fs::remove_dir_all(dir);
    assert_eq!(out, "project=demo");
}

/// An MCP server container (the official Python SDK) on a network of its
/// own, reachable as `mcp`; both are removed when dropped.
struct McpNetwork {
    // Fields drop in order: the container must go before its network.
    server: Named,
    net: Named,
}

impl McpNetwork {
    fn start() -> McpNetwork {
        let net = Named::network();
        ok(&["network", "create", &net.name]);
        let server = Named::container("mcp");
        let mut args = vec!["run", "-d", "--name", &server.name, "--network", &net.name];
        args.extend_from_slice(&["--network-alias", "mcp", "--health-interval", "1s"]);
        args.extend_from_slice(&["--health-start-period", "0s"]);
        args.extend_from_slice(&HARDENED[..HARDENED.len() - 2]);
        args.push("agent-init/mcp-server:dev");
        ok(&args);
        McpNetwork { server, net }
    }

    /// Starts `tag` on the network, waiting for and checking the server.
    fn agent(&self, tag: &str) -> Named {
        let c = Named::container("wait");
        ok(&[
            "run",
            "-d",
            "--name",
            &c.name,
            "--network",
            &self.net.name,
            "--health-interval",
            "1s",
            "--health-start-period",
            "0s",
            "--health-retries",
            "1",
            "-e",
            "AGENT_INIT_WAIT__URLS=[\"mcp+http://mcp:8000/mcp\"]",
            "-e",
            "AGENT_INIT_HEALTH__MCP=mcp+http://mcp:8000/mcp",
            tag,
        ]);
        c
    }
}

#[rstest]
fn waits_for_a_real_mcp_server_on_a_user_network(
    #[values("claude", "codex", "opencode", "gemini", "qwen", "openhands")] name: &str,
) {
    let mcp = McpNetwork::start();
    let c = mcp.agent(&image(name).tag());
    wait_for(Duration::from_secs(90), "healthy with MCP", || {
        (health(&c.name) == "healthy").then_some(())
    });
    let logs = docker(&["logs", &c.name]);
    let logs = both(&logs);
    assert!(logs.contains("MCP server agent-init-mcp-server"), "{logs}");
}

/// The MCP-server image: agent-init as PID 1 of the official Python SDK's
/// server, its HEALTHCHECK an MCP handshake; Docker calls it healthy.
#[test]
fn the_mcp_server_image_turns_healthy_through_a_real_handshake() {
    let mcp = McpNetwork::start();
    wait_for(Duration::from_secs(60), "the MCP server healthy", || {
        (health(&mcp.server.name) == "healthy").then_some(())
    });
    let out = ok(&[
        "exec",
        &mcp.server.name,
        "agent-init",
        "health",
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let checks = v["checks"].as_array().unwrap();
    let mcp_check = checks.iter().find(|c| c["name"] == "mcp").unwrap();
    assert!(
        mcp_check["detail"]
            .as_str()
            .unwrap()
            .contains("agent-init-mcp-server"),
        "{v}"
    );
    assert_eq!(
        ok(&["exec", &mcp.server.name, "cat", "/proc/1/comm"]),
        "agent-init"
    );
    // Negative control: with the server process gone, the same check fails.
    ok(&[
        "exec",
        &mcp.server.name,
        "sh",
        "-c",
        "kill $(cat /proc/1/task/1/children)",
    ]);
    let status = docker(&["exec", &mcp.server.name, "agent-init", "health"]);
    assert_ne!(status.status.code(), Some(0), "{}", both(&status));
}

/// A fresh ed25519 key pair (public, private), made in a container.
fn keypair() -> (String, String) {
    let keys = ok(&[
        "run",
        "--rm",
        "--entrypoint",
        "sh",
        "agent-init/dev:dev",
        "-c",
        "ssh-keygen -q -t ed25519 -N '' -f /tmp/k && cat /tmp/k.pub /tmp/k",
    ]);
    let (public, private) = keys.split_once('\n').unwrap();
    (public.to_string(), private.to_string())
}

/// The developer image, hardened, on a network of its own with a key pair
/// made for the test; removed when dropped.
struct Dev {
    // Fields drop in order: the container must go before its network.
    c: Named,
    net: Named,
    private_key: String,
}

impl Dev {
    fn start(extra: &[&str]) -> Dev {
        let (public, private) = keypair();
        let net = Named::network();
        ok(&["network", "create", &net.name]);
        let c = Named::container("dev");
        let authorized = format!("SSH_AUTHORIZED_KEYS={public}");
        let mut args = vec!["run", "-d", "--name", &c.name, "--network", &net.name];
        args.extend_from_slice(&["--network-alias", "dev", "-e", &authorized]);
        args.extend_from_slice(&HARDENED);
        args.extend_from_slice(extra);
        args.push("agent-init/dev:dev");
        ok(&args);
        // `status` is 69 until the init has bound its status socket.
        wait_for(Duration::from_secs(30), "the status socket", || {
            let o = docker(&["exec", &c.name, "agent-init", "status"]);
            o.status.success().then_some(())
        });
        Dev {
            net,
            c,
            private_key: private,
        }
    }

    /// `ssh -p 2222 agent@dev CMD` from another container on the network.
    fn ssh(&self, command: &str) -> Output {
        self.ssh_with(&self.private_key, command)
    }

    fn ssh_with(&self, private_key: &str, command: &str) -> Output {
        let key = format!("KEY={private_key}");
        let script = format!(
            "umask 077; printf '%s\\n' \"$KEY\" > /tmp/k; exec ssh -i /tmp/k -p 2222 -o BatchMode=yes \
             -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
             -o ConnectTimeout=5 agent@dev '{command}'"
        );
        docker(&[
            "run",
            "--rm",
            "--network",
            &self.net.name,
            "-e",
            &key,
            "--entrypoint",
            "sh",
            "agent-init/dev:dev",
            "-c",
            &script,
        ])
    }

    fn status(&self) -> serde_json::Value {
        let out = ok(&[
            "exec",
            &self.c.name,
            "agent-init",
            "status",
            "--format",
            "json",
        ]);
        serde_json::from_str(&out).unwrap()
    }

    fn sshd(&self) -> serde_json::Value {
        let s = self.status();
        s["services"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == "sshd")
            .cloned()
            .unwrap()
    }
}

#[test]
fn dev_image_ssh_login_by_key_survives_a_killed_sshd() {
    let dev = Dev::start(&[]);
    wait_for(Duration::from_secs(30), "sshd ready", || {
        (dev.sshd()["state"] == "ready").then_some(())
    });
    let login = dev.ssh("echo logged in as $(id -u)");
    assert_eq!(
        stdout(&login).trim(),
        "logged in as 1000",
        "{}",
        both(&login)
    );
    // Negative control: a key that is not authorized gets nowhere.
    let (_, stranger) = keypair();
    let refused = dev.ssh_with(&stranger, "true");
    assert_ne!(refused.status.code(), Some(0), "{}", both(&refused));

    let first = dev.sshd()["pid"].as_i64().unwrap();
    ok(&["exec", &dev.c.name, "kill", "-9", &first.to_string()]);
    let again = wait_for(Duration::from_secs(30), "sshd back", || {
        let s = dev.sshd();
        (s["state"] == "ready" && s["pid"].as_i64() != Some(first)).then_some(s)
    });
    assert_eq!(again["restarts"], 1, "{again}");
    assert_eq!(again["last_exit"], "killed by SIGKILL", "{again}");
    let login = dev.ssh("echo back");
    assert_eq!(stdout(&login).trim(), "back", "{}", both(&login));
    // Host keys were made at start, in the container: never in the image.
    let baked = docker(&[
        "run",
        "--rm",
        "--entrypoint",
        "sh",
        "agent-init/dev:dev",
        "-c",
        "find / -xdev -name 'ssh_host_*' 2>/dev/null",
    ]);
    assert_eq!(stdout(&baked).trim(), "", "{}", both(&baked));
    let made = ok(&["exec", &dev.c.name, "sh", "-c", "ls /tmp/ssh"]);
    assert!(made.contains("ssh_host_ed25519_key"), "{made}");
}

#[test]
fn dev_image_runs_the_gh_job_on_schedule() {
    let dev = Dev::start(&["-e", "AGENT_INIT_JOBS__GH_TOKEN__EVERY=1s"]);
    let job = wait_for(Duration::from_secs(30), "two runs of the job", || {
        let s = dev.status();
        let job = s["jobs"]
            .as_array()?
            .iter()
            .find(|j| j["name"] == "gh_token")?
            .clone();
        (job["runs"].as_u64()? >= 2 && !job["last"].is_null()).then_some(job)
    });
    // Not logged in: gh says so and exits 1, which the job records.
    assert_eq!(job["last"]["outcome"], "exited with 1", "{job}");
    let logs = both(&docker(&["logs", &dev.c.name]));
    assert!(
        logs.contains("[gh_token] You are not logged into any GitHub hosts"),
        "{logs}"
    );
    assert_eq!(job["skipped"], 0, "{job}");
}

/// code-server is in the dev-code image only (`make images`, not `make
/// e2e`: its install takes minutes). Run by `make check-dev-code`.
#[test]
#[ignore = "needs agent-init/dev-code:dev from make images"]
fn dev_code_image_serves_code_server_healthz() {
    let net = Named::network();
    ok(&["network", "create", &net.name]);
    let c = Named::container("dev-code");
    let mut args = vec![
        "run",
        "-d",
        "--name",
        &c.name,
        "--network",
        &net.name,
        "--network-alias",
        "dev",
    ];
    args.extend_from_slice(&HARDENED);
    args.push("agent-init/dev-code:dev");
    ok(&args);
    let status = wait_for(Duration::from_secs(120), "code-server ready", || {
        let out = docker(&["exec", &c.name, "agent-init", "status", "--format", "json"]);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        let cs = v["services"]
            .as_array()?
            .iter()
            .find(|s| s["name"] == "code_server")?
            .clone();
        (cs["state"] == "ready").then_some(v)
    });
    let code = ok(&[
        "run",
        "--rm",
        "--network",
        &net.name,
        "--entrypoint",
        "curl",
        "agent-init/dev-code:dev",
        "-s",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "http://dev:8080/healthz",
    ]);
    assert_eq!(code, "200", "{status}");
}

#[test]
fn readiness_turns_unhealthy_when_the_mcp_server_goes() {
    let mcp = McpNetwork::start();
    let c = mcp.agent(&IMAGES[0].tag());
    wait_for(Duration::from_secs(90), "healthy with MCP", || {
        (health(&c.name) == "healthy").then_some(())
    });
    ok(&["stop", "-t", "1", &mcp.server.name]);
    wait_for(Duration::from_secs(60), "unhealthy", || {
        (health(&c.name) == "unhealthy").then_some(())
    });
}

#[test]
fn static_binary_runs_in_a_scratch_image() {
    let bin = support::agent_init();
    let dir = std::env::temp_dir().join(format!("agent-init-e2e-scratch-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(&bin, dir.join("agent-init")).unwrap();
    std::fs::write(
        dir.join("Dockerfile"),
        "FROM scratch\nCOPY agent-init /agent-init\nENTRYPOINT [\"/agent-init\", \"--\"]\n",
    )
    .unwrap();
    let tag = format!("agent-init-e2e-scratch:{}", std::process::id());
    ok(&["build", "-q", "-t", &tag, dir.to_str().unwrap()]);
    let out = ok(&["run", "--rm", &tag, "/agent-init", "--version"]);
    assert!(out.starts_with("agent-init "), "{out}");
    let _ = docker(&["rmi", &tag]);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn memory_check_sees_the_containers_limit() {
    let image = &IMAGES[0].tag();
    let o = docker(&[
        "run",
        "--rm",
        "--memory",
        "128m",
        "-e",
        "AGENT_INIT_LOG_LEVEL=warn",
        image,
        "agent-init",
        "health",
        "--skip",
        "process",
        "--min-free-memory",
        "200",
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("of a 128 MiB limit"), "{out}");
}

/// The attack from the security issue, against a real container: a second
/// container on `--network container:<agent>` (a pod's sidecar) finds the
/// agent's abstract sockets and sends every request, as root and as uid
/// 1000, and also sharing the agent's PID namespace (a pod with
/// shareProcessNamespace). It gets refusals only; `docker exec` still works.
#[test]
fn a_sidecar_sharing_the_network_gets_nothing_from_the_status_socket() {
    const KEY: &str = "sk-ant-e2e-planted-3c9d1f";
    let image = &IMAGES[0].tag();
    let agent = Named::container("agent");
    ok(&[
        "run",
        "-d",
        "--name",
        &agent.name,
        "-e",
        &format!("ANTHROPIC_API_KEY={KEY}"),
        image,
    ]);
    wait_for(Duration::from_secs(30), "the agent's status socket", || {
        let o = docker(&[
            "exec",
            &agent.name,
            "agent-init",
            "health",
            "--probe",
            "startup",
        ]);
        o.status.success().then_some(())
    });
    let script = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/status_attack.py"),
    )
    .unwrap();
    let network = format!("container:{}", agent.name);
    let sidecars: [(&str, &[&str]); 3] = [
        ("root", &["--user", "0"]),
        ("uid 1000", &["--user", "1000:1000"]),
        (
            "root sharing the PID namespace",
            &["--user", "0", "--pid", &network],
        ),
    ];
    for (who, flags) in sidecars {
        let mut args = vec!["run", "--rm", "--network", &network];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["--entrypoint", "python3"]);
        args.extend_from_slice(&["agent-init/mcp-server:dev", "-c", &script]);
        let out = ok(&args);
        let mut lines = out.lines();
        let found: usize = lines
            .next()
            .and_then(|l| l.strip_prefix("found "))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        assert!(found >= 1, "{who}: the socket was not even visible: {out}");
        let answers: Vec<&str> = lines.collect();
        assert_eq!(answers.len(), found * 4, "{who}: {out}");
        for line in answers {
            assert!(!line.contains(KEY), "{who}: leaked: {line}");
            let json = line.splitn(3, ' ').nth(2).unwrap_or("");
            let v: serde_json::Value = serde_json::from_str(json)
                .unwrap_or_else(|e| panic!("{who}: not JSON ({e}): {line}"));
            assert_eq!(
                v["error"], "permission denied: the client is not a process of this container",
                "{who}: {line}"
            );
        }
    }
    // Control: inside the container the same init answers.
    let env = ok(&["exec", &agent.name, "agent-init", "exec", "--", "env"]);
    assert!(
        env.lines().any(|l| l == format!("ANTHROPIC_API_KEY={KEY}")),
        "agent-init exec lost the launch: {env}"
    );
}

/// Two Dockerfiles of one name, size and modification time (what a fresh
/// checkout gives), built back to back from one context.
struct LookAlikes {
    dir: PathBuf,
}

impl LookAlikes {
    fn new(tag: &str) -> LookAlikes {
        let dir = std::env::temp_dir().join(format!("agent-init-e2e-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("context")).unwrap();
        for which in ["first", "other"] {
            let d = dir.join(which);
            std::fs::create_dir_all(&d).unwrap();
            // Same length: "first" and "other" have five letters each.
            std::fs::write(
                d.join("Dockerfile"),
                format!("FROM scratch\nLABEL which=\"{which}\"\n"),
            )
            .unwrap();
            let touched = Command::new("touch")
                .args(["-d", "2026-01-01 00:00:00"])
                .arg(d.join("Dockerfile"))
                .status()
                .unwrap();
            assert!(touched.success());
        }
        LookAlikes { dir }
    }

    fn dockerfile(&self, which: &str) -> String {
        self.dir
            .join(which)
            .join("Dockerfile")
            .to_string_lossy()
            .into_owned()
    }

    fn context(&self) -> String {
        self.dir.join("context").to_string_lossy().into_owned()
    }

    fn which(tag: &str) -> String {
        ok(&[
            "image",
            "inspect",
            "-f",
            "{{index .Config.Labels \"which\"}}",
            tag,
        ])
    }
}

impl Drop for LookAlikes {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn two_look_alike_dockerfiles_build_two_different_images() {
    let twins = LookAlikes::new("twins");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docker/build.sh");
    let n = std::process::id();
    for which in ["first", "other"] {
        let tag = format!("agent-init-e2e-twin-{which}:{n}");
        let o = Command::new(&script)
            .arg(twins.dockerfile(which))
            .arg(&tag)
            .arg("-q")
            .env("DOCKER", docker_bin())
            .env("CONTEXT", twins.context())
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", both(&o));
    }
    let first = LookAlikes::which(&format!("agent-init-e2e-twin-first:{n}"));
    let other = LookAlikes::which(&format!("agent-init-e2e-twin-other:{n}"));
    let _ = docker(&[
        "rmi",
        &format!("agent-init-e2e-twin-first:{n}"),
        &format!("agent-init-e2e-twin-other:{n}"),
    ]);
    assert_eq!((first.as_str(), other.as_str()), ("first", "other"));
}

/// The control: with a plain `docker build -f`, this engine takes the second
/// Dockerfile for the first (the bug docker/build.sh exists for). Should an
/// engine stop doing so, this test says it, and the workaround can go.
#[test]
fn a_plain_docker_build_confuses_the_look_alikes() {
    let twins = LookAlikes::new("plain");
    let n = std::process::id();
    for which in ["first", "other"] {
        let tag = format!("agent-init-e2e-plain-{which}:{n}");
        let o = Command::new(docker_bin())
            .args([
                "build",
                "-q",
                "-f",
                &twins.dockerfile(which),
                "-t",
                &tag,
                &twins.context(),
            ])
            .env("DOCKER_BUILDKIT", "1")
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", both(&o));
    }
    let other = LookAlikes::which(&format!("agent-init-e2e-plain-other:{n}"));
    let _ = docker(&[
        "rmi",
        &format!("agent-init-e2e-plain-first:{n}"),
        &format!("agent-init-e2e-plain-other:{n}"),
    ]);
    assert_eq!(other, "first", "this engine no longer confuses them");
}

/// A plain HTTP GET from the host: (status code, body).
fn http_get(host: &str, port: u16, path: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect_timeout(
        &format!("{host}:{port}").parse().ok()?,
        Duration::from_secs(2),
    )
    .ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let code = out.split_whitespace().nth(1)?.parse().ok()?;
    Some((code, out))
}

/// The Deployment's container spec (image, args, env, volumes in the
/// kubelet's layout, securityContext, memory limit) run through `docker
/// run` as the kubelet would, and its three probes asked as the kubelet
/// asks them: they pass against the real image.
#[test]
fn the_deployments_container_passes_its_own_probes() {
    let python = std::env::var("K8S_PYTHON").unwrap_or_else(|_| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../target/k8s-venv/bin/python")
            .to_string_lossy()
            .into_owned()
    });
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let volumes = std::env::temp_dir().join(format!("agent-init-k8s-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&volumes);
    std::fs::create_dir_all(&volumes).unwrap();
    let spec = Command::new(&python)
        .arg(root.join("tests/e2e/k8s_container.py"))
        .arg(root.join("deploy/kubernetes/claude.yaml"))
        .args(["claude-agent", "agent"])
        .arg(&volumes)
        .arg("ANTHROPIC_API_KEY=sk-ant-e2e-not-a-real-key")
        .output()
        .expect("running the manifest converter (make manifests builds its venv)");
    assert!(
        spec.status.success(),
        "{}",
        String::from_utf8_lossy(&spec.stderr)
    );
    let spec: serde_json::Value = serde_json::from_slice(&spec.stdout).unwrap();
    let c = Named::container("k8s");
    let mut args: Vec<String> = vec!["run".into(), "-d".into(), "--name".into(), c.name.clone()];
    for f in spec["flags"].as_array().unwrap() {
        args.push(f.as_str().unwrap().to_string());
    }
    args.push(spec["image"].as_str().unwrap().to_string());
    for a in spec["args"].as_array().unwrap() {
        args.push(a.as_str().unwrap().to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    ok(&args);
    let ip = ok(&[
        "inspect",
        "-f",
        "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
        &c.name,
    ]);
    let probes = &spec["probes"];
    let get = |probe: &str| {
        let h = &probes[probe]["httpGet"];
        http_get(
            &ip,
            h["port"].as_u64().unwrap() as u16,
            h["path"].as_str().unwrap(),
        )
    };
    let startup = &probes["startup"];
    let budget =
        startup["periodSeconds"].as_u64().unwrap() * startup["failureThreshold"].as_u64().unwrap();
    wait_for(Duration::from_secs(budget), "the startup probe", || {
        get("startup").filter(|(code, _)| *code == 200)
    });
    let (code, body) = get("readiness").expect("readiness answered");
    let logs = both(&docker(&["logs", &c.name]));
    assert_eq!(code, 200, "{body}\n{logs}");
    // The memory check measured against the manifest's limit.
    assert!(body.contains("2048 MiB limit"), "{body}");
    let liveness: Vec<&str> = probes["liveness"]["exec"]["command"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let mut exec = vec!["exec", &c.name];
    exec.extend_from_slice(&liveness);
    ok(&exec);
    // The key came from the Secret volume, and no log line shows it.
    let env = ok(&agent_exec_sh(&c.name, "echo ${#ANTHROPIC_API_KEY}"));
    assert_eq!(env, "25");
    assert!(!logs.contains("sk-ant-e2e-not-a-real-key"), "{logs}");
    // Stopped as the kubelet would: within the pod's grace period, with
    // the drain delay first.
    let grace = spec["grace"].as_u64().unwrap().to_string();
    let began = Instant::now();
    ok(&["stop", "-t", &grace, &c.name]);
    assert!(
        began.elapsed() < Duration::from_secs(15),
        "{:?}",
        began.elapsed()
    );
    assert_eq!(ok(&["inspect", "-f", "{{.State.ExitCode}}", &c.name]), "0");
    let _ = std::fs::remove_dir_all(&volumes);
}

/// A sandbox container as the seed runs it: keep-alive, hardened, health
/// checked every second.
fn sandbox(image: &str) -> Named {
    let c = Named::container("sandbox");
    let tag = format!("agent-init/{image}:dev");
    let mut args = vec!["run", "-d", "--name", &c.name, "--health-interval", "1s"];
    args.extend_from_slice(&["--health-start-period", "0s"]);
    args.extend_from_slice(&HARDENED);
    args.push(&tag);
    ok(&args);
    wait_for(Duration::from_secs(30), "the sandbox healthy", || {
        (health(&c.name) == "healthy").then_some(())
    });
    c
}

/// The seed's own verification, each command run as a task is:
/// `docker exec <c> agent-init exec -- …` in a hardened container.
#[rstest]
#[case::base_node_20_or_newer("sandbox-base", &["node", "-p", "+process.versions.node.split('.')[0] >= 20"], "true")]
#[case::base_npm("sandbox-base", &["npm", "--version"], ".")]
#[case::base_git("sandbox-base", &["git", "--version"], "git version")]
#[case::base_bash("sandbox-base", &["bash", "--version"], "GNU bash")]
#[case::base_curl_wget_vim_nano("sandbox-base", &["sh", "-c", "for t in curl wget vim nano; do command -v $t; done"], "nano")]
#[case::base_whoami("sandbox-base", &["whoami"], "sandbox")]
#[case::developer_tsc("sandbox-developer", &["tsc", "--version"], "Version")]
#[case::developer_tsx("sandbox-developer", &["tsx", "--version"], "tsx")]
#[case::developer_jq("sandbox-developer", &["jq", "--version"], "jq-")]
#[case::developer_python3("sandbox-developer", &["python3", "--version"], "Python 3")]
#[case::developer_anthropic_sdk("sandbox-developer", &["npm", "list", "-g", "@anthropic-ai/sdk"], "@anthropic-ai/sdk@")]
#[case::developer_build_tools("sandbox-developer", &["sh", "-c", "make --version && g++ --version"], "GNU Make")]
fn sandbox_images_have_the_seeds_tools(
    #[case] image: &str,
    #[case] argv: &[&str],
    #[case] needle: &str,
) {
    let c = sandbox(image);
    let mut args = vec!["exec", &c.name, "agent-init", "exec", "--"];
    args.extend_from_slice(argv);
    let out = ok(&args);
    assert!(out.contains(needle), "{argv:?}: {out}");
}

/// The sandbox pattern under load: 20 tasks at once, some killed midway
/// with `docker exec … kill`; no zombie remains, health stays healthy, and
/// `docker stop` ends everything (tasks still running included) well
/// within the grace period.
#[test]
fn sandbox_under_load_of_twenty_concurrent_tasks() {
    let c = sandbox("sandbox-base");
    let name = c.name.clone();
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let name = name.clone();
            std::thread::spawn(move || {
                let script = format!(
                    "echo $$ > /tmp/task-{i}.pid; sh -c 'sleep 30 & wait' & sleep 3; echo done-{i}"
                );
                docker(&agent_exec_sh(&name, &script))
            })
        })
        .collect();
    // Kill a quarter of them midway, from outside, as a task runner would,
    // each as soon as it runs (dockerd starts execs one after the other).
    let killers: Vec<_> = (0..20)
        .step_by(4)
        .map(|i| {
            let name = name.clone();
            std::thread::spawn(move || {
                let kill = format!(
                    "while [ ! -s /tmp/task-{i}.pid ]; do sleep 0.05; done; kill -9 $(cat /tmp/task-{i}.pid)"
                );
                ok(&["exec", &name, "sh", "-c", &kill]);
            })
        })
        .collect();
    for k in killers {
        k.join().unwrap();
    }
    let mut finished = 0;
    for (i, t) in tasks.into_iter().enumerate() {
        let out = t.join().unwrap();
        if i % 4 == 0 {
            assert_ne!(out.status.code(), Some(0), "task {i} survived its kill");
        } else {
            assert!(
                stdout(&out).contains(&format!("done-{i}")),
                "task {i}: {}",
                both(&out)
            );
            finished += 1;
        }
    }
    assert_eq!(finished, 15);
    // What the tasks left behind (the backgrounded sleeps) is still running;
    // when it ends, PID 1 reaps it: no zombie at any point after.
    ok(&[
        "exec",
        &name,
        "sh",
        "-c",
        "pkill -f 'sleep 30' || kill $(pgrep -f 'sleep 30') 2>/dev/null; true",
    ]);
    let zombies = || {
        ok(&[
            "exec",
            &name,
            "sh",
            "-c",
            "grep -l '^State:.*Z' /proc/[0-9]*/status 2>/dev/null | wc -l",
        ])
    };
    wait_for(Duration::from_secs(10), "no zombies", || {
        (zombies() == "0").then_some(())
    });
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(health(&name), "healthy");
    // Tasks still running when the container stops end with it, in time.
    for _ in 0..3 {
        ok(&[
            "exec",
            "-d",
            &name,
            "agent-init",
            "exec",
            "--",
            "sleep",
            "1000",
        ]);
    }
    let began = Instant::now();
    ok(&["stop", "-t", "10", &name]);
    assert!(
        began.elapsed() < Duration::from_secs(5),
        "{:?}",
        began.elapsed()
    );
    assert_eq!(ok(&["inspect", "-f", "{{.State.ExitCode}}", &name]), "0");
}

/// Images take the binary of the platform they are built for: the line of
/// docker/Dockerfile that adds agent-init (every other Dockerfile has the
/// same line), built FROM scratch for linux/amd64 and linux/arm64, copies
/// each platform's own binary, and the arm64 image runs agent-init as PID 1
/// (under the qemu-user that tests/e2e/engine.sh registers). The agent
/// images themselves need their base images for arm64, which cannot be
/// pulled here.
#[test]
fn each_platform_gets_its_own_binary() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let main = std::fs::read_to_string(repo.join("docker/Dockerfile")).unwrap();
    let copy = main
        .lines()
        .find(|l| l.starts_with("COPY") && l.ends_with(" /usr/local/bin/agent-init"))
        .expect("docker/Dockerfile adds agent-init")
        .to_string();
    assert!(copy.contains("${TARGETARCH}"), "{copy}");
    for other in [
        "docker/dev/Dockerfile",
        "docker/mcp-server/Dockerfile",
        "docker/sandbox-base/Dockerfile",
    ] {
        let text = std::fs::read_to_string(repo.join(other)).unwrap();
        assert!(text.lines().any(|l| l == copy), "{other} lacks {copy}");
    }
    let dir = std::env::temp_dir().join(format!("agent-init-e2e-platform-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let dockerfile = dir.join("Dockerfile");
    std::fs::write(
        &dockerfile,
        format!(
            "FROM scratch\nARG TARGETARCH\n{copy}\nENTRYPOINT [\"/usr/local/bin/agent-init\"]\n"
        ),
    )
    .unwrap();
    let script = repo.join("docker/build.sh");
    let n = std::process::id();
    // ELF e_machine: 62 is x86-64, 183 is AArch64.
    for (arch, machine) in [("amd64", 62u16), ("arm64", 183)] {
        let platform = format!("linux/{arch}");
        let tag = format!("agent-init-e2e-platform-{arch}:{n}");
        let built = Command::new(&script)
            .arg(&dockerfile)
            .arg(&tag)
            .args(["-q", "--platform", &platform])
            .env("DOCKER", docker_bin())
            .env("CONTEXT", &repo)
            .output()
            .unwrap();
        assert!(built.status.success(), "{}", both(&built));
        assert_eq!(
            ok(&["image", "inspect", "-f", "{{.Architecture}}", &tag]),
            arch
        );
        let c = Named::container("platform");
        ok(&["create", "--name", &c.name, "--platform", &platform, &tag]);
        let copied = dir.join(format!("agent-init-{arch}"));
        let from = format!("{}:/usr/local/bin/agent-init", c.name);
        ok(&["cp", &from, copied.to_str().unwrap()]);
        let inside = std::fs::read(&copied).unwrap();
        let staged =
            std::fs::read(repo.join(format!("target/platform/{arch}/agent-init"))).unwrap();
        assert!(inside == staged, "{arch}: the image has another binary");
        assert_eq!(
            u16::from_le_bytes([inside[18], inside[19]]),
            machine,
            "{arch}"
        );
        // PID 1 of the platform's container, running a command.
        let out = docker(&[
            "run",
            "--rm",
            "--platform",
            &platform,
            &tag,
            "--",
            "/usr/local/bin/agent-init",
            "--version",
        ]);
        assert_eq!(out.status.code(), Some(0), "{arch}: {}", both(&out));
        assert!(
            stdout(&out).starts_with("agent-init "),
            "{arch}: {}",
            both(&out)
        );
        assert!(
            both(&out).contains("command exited code=0"),
            "{arch}: {}",
            both(&out)
        );
        drop(c);
        let _ = docker(&["rmi", "-f", &tag]);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
