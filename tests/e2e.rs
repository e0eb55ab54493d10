//! End-to-end tests against a real Docker engine: the images built by
//! `make e2e` (E2E_IMAGES, default claude gemini openhands) run for real.
//! Docker (`docker inspect`, exit codes, /proc inside the container) is the
//! oracle. A missing engine fails these tests; it never skips them.

mod support;

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

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

/// How to ask a CLI for its version (the OpenHands CLI only has --help).
fn version_args(cli: &str) -> &'static str {
    if cli == "openhands" {
        "--help"
    } else {
        "--version"
    }
}

/// (image tag, CLI command, size budget in MB)
fn images() -> Vec<(String, &'static str, u64)> {
    let wanted = std::env::var("E2E_IMAGES").unwrap_or_else(|_| "claude gemini openhands".into());
    wanted
        .split_whitespace()
        .map(|name| {
            let (cli, budget) = match name {
                "claude" => ("claude", 800), // a native binary: see docker/README.md
                "codex" => ("codex", 800),
                "opencode" => ("opencode", 800),
                "gemini" => ("gemini", 500),
                "qwen" => ("qwen", 500),
                "openhands" => ("openhands", 800),
                "aider" => ("aider", 800),
                other => panic!("unknown image {other}"),
            };
            (format!("agent-init/{name}:dev"), cli, budget)
        })
        .collect()
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

#[test]
fn cli_runs_as_uid_1000_and_exit_codes_pass_through() {
    for (image, cli, _) in images() {
        let out = ok(&[
            "run",
            "--rm",
            &image,
            "sh",
            "-c",
            &format!(
                "id -u; whoami; test -d /workspace && echo ws; {cli} {}",
                version_args(cli)
            ),
        ]);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "1000", "{image}: {out}");
        assert_ne!(lines[1], "root", "{image}: {out}");
        assert_eq!(lines[2], "ws", "{image}: {out}");
        assert!(lines.len() > 3, "{image}: no version printed: {out}");
        let o = docker(&["run", "--rm", &image, "sh", "-c", "exit 7"]);
        assert_eq!(o.status.code(), Some(7), "{image}");
        let o = docker(&["run", "--rm", &image, "sh", "-c", "kill -TERM $$"]);
        assert_eq!(o.status.code(), Some(143), "{image}");
        let o = docker(&["run", "--rm", &image, "no-such-command"]);
        assert_eq!(o.status.code(), Some(127), "{image}");
    }
}

#[test]
fn hardened_run_flags_work() {
    for (image, cli, _) in images() {
        let o = docker(&[
            "run",
            "--rm",
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
            &image,
            cli,
            version_args(cli),
        ]);
        assert!(
            o.status.success(),
            "{image}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

#[test]
fn images_stay_within_their_size_budget() {
    for (image, _, budget) in images() {
        let bytes: u64 = ok(&["image", "inspect", "-f", "{{.Size}}", &image])
            .parse()
            .unwrap();
        let mb = bytes / 1_000_000;
        eprintln!("{image}: {mb} MB (budget {budget} MB)");
        assert!(mb < budget, "{image} is {mb} MB, budget {budget} MB");
        let labels = ok(&["image", "inspect", "-f", "{{json .Config.Labels}}", &image]);
        for key in [
            "org.opencontainers.image.version",
            "org.opencontainers.image.revision",
            "org.opencontainers.image.source",
        ] {
            assert!(labels.contains(key), "{image} lacks label {key}: {labels}");
        }
        let user = ok(&["image", "inspect", "-f", "{{.Config.User}}", &image]);
        assert_eq!(user, "1000:1000", "{image}");
    }
}

/// Keep-alive on a read-only root with every capability dropped: the
/// health check and `agent-init exec` need nothing writable.
#[test]
fn keep_alive_exec_health_and_fast_stop() {
    for (image, _, _) in images() {
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
            &image,
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
        // agent-init exec gets the init's launch (the preset's variables).
        let v = ok(&[
            "exec",
            &c.name,
            "agent-init",
            "exec",
            "--",
            "sh",
            "-c",
            "echo $GIT_CONFIG_VALUE_0",
        ]);
        assert_eq!(v, "/workspace", "{image}");
        let h = ok(&["exec", &c.name, "agent-init", "health"]);
        assert!(h.starts_with("healthy"), "{image}: {h}");
        let began = Instant::now();
        ok(&["stop", &c.name]);
        let took = began.elapsed();
        assert!(
            took < Duration::from_secs(5),
            "{image}: docker stop took {took:?}"
        );
        let code = ok(&["inspect", "-f", "{{.State.ExitCode}}", &c.name]);
        assert_eq!(code, "0", "{image}: keep-alive exits 0 on SIGTERM");
    }
}

fn kubelet_volume() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("agent-init-e2e-cm-{}", std::process::id()));
    let data = dir.join("..2025_06_01_12_00_00.000000001");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("PROJECT_NAME"), "demo").unwrap();
    let _ = std::fs::remove_file(dir.join("..data"));
    std::os::unix::fs::symlink("..2025_06_01_12_00_00.000000001", dir.join("..data")).unwrap();
    let _ = std::fs::remove_file(dir.join("PROJECT_NAME"));
    std::os::unix::fs::symlink("..data/PROJECT_NAME", dir.join("PROJECT_NAME")).unwrap();
    dir
}

#[test]
fn configmap_mounted_read_only_is_loaded() {
    let dir = kubelet_volume();
    let mount = format!("{}:/etc/agent/config:ro", dir.display());
    for (image, _, _) in images() {
        let out = ok(&[
            "run",
            "--rm",
            "-v",
            &mount,
            "-e",
            "AGENT_INIT_CONFIGMAPS=[{path=\"/etc/agent/config\"}]",
            &image,
            "sh",
            "-c",
            "echo project=$PROJECT_NAME",
        ]);
        assert_eq!(out, "project=demo", "{image}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn waits_for_a_real_mcp_server_on_a_user_network_and_turns_unhealthy_without_it() {
    let net = Named::network();
    ok(&["network", "create", &net.name]);
    let mcp = Named::container("mcp");
    ok(&[
        "run",
        "-d",
        "--name",
        &mcp.name,
        "--network",
        &net.name,
        "--network-alias",
        "mcp",
        "agent-init/mcp-test-server:dev",
    ]);
    for (image, _, _) in images() {
        let c = Named::container("wait");
        ok(&[
            "run",
            "-d",
            "--name",
            &c.name,
            "--network",
            &net.name,
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
            &image,
        ]);
        wait_for(Duration::from_secs(90), "healthy with MCP", || {
            (health(&c.name) == "healthy").then_some(())
        });
        let logs = docker(&["logs", &c.name]);
        let logs = String::from_utf8_lossy(&logs.stderr).to_string()
            + &String::from_utf8_lossy(&logs.stdout);
        assert!(
            logs.contains("MCP server agent-init-test-server"),
            "{image}: {logs}"
        );
        if image == images()[0].0 {
            // The MCP server goes away: readiness fails, Docker sees it.
            ok(&["stop", "-t", "1", &mcp.name]);
            wait_for(Duration::from_secs(60), "unhealthy", || {
                (health(&c.name) == "unhealthy").then_some(())
            });
            ok(&["start", &mcp.name]);
        }
    }
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
    let (image, _, _) = &images()[0];
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
    let (image, _, _) = &images()[0];
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
        args.extend_from_slice(&["agent-init/mcp-test-server:dev", "-c", &script]);
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
