//! Black-box tests of `agent-init health` and the HTTP probe endpoint: each
//! check passing and failing, timeouts honoured, output bounds, JSON shape,
//! every probe kind. The init runs as PID 1 of a PID namespace; the health
//! command runs inside it as its command or through nsenter (like `docker
//! exec`). Mounts happen inside the namespace's own mount namespace.

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use support::*;

fn bin() -> String {
    agent_init().to_string_lossy().into_owned()
}

/// Runs `agent-init health ARGS` with no init around at all.
fn health_alone(args: &[&str]) -> Output {
    Command::new(agent_init())
        .arg("health")
        .args(args)
        .output()
        .unwrap()
}

/// Runs a shell script as the command of an agent-init that is PID 1, with
/// $AI pointing at the binary; returns the init's outcome.
fn in_container(script: &str) -> Exited {
    let script = format!("AI={}; {script}", bin());
    run(
        As::Pid1,
        &["--log-level", "warn", "--", "sh", "-c", &script],
    )
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A tiny HTTP server on a thread: answers every request with `response`
/// (raw bytes) after `delay`, or never when `delay` is None.
fn fake_server(response: &'static str, delay: Option<Duration>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for mut conn in listener.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf);
            match delay {
                Some(d) => {
                    std::thread::sleep(d);
                    let _ = conn.write_all(response.as_bytes());
                    // Keep SSE-style streams open, like a real server may.
                    held.push(conn);
                }
                None => held.push(conn),
            }
        }
    });
    port
}

fn mcp_python() -> PathBuf {
    std::env::var_os("MCP_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/mcp-venv/bin/python")
        })
}

struct McpServer(Child);

impl McpServer {
    /// Starts the official-SDK MCP server on `port` after `delay` seconds.
    fn start(port: u16, delay: f64) -> McpServer {
        let py = mcp_python();
        assert!(py.exists(), "{} missing: run `make mcp-venv`", py.display());
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/mcp_server.py");
        let child = Command::new(py)
            .arg(script)
            .arg(port.to_string())
            .arg(delay.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        McpServer(child)
    }

    fn wait_listening(port: u16) {
        wait_for(Duration::from_secs(30), "MCP server to listen", || {
            TcpStream::connect(("127.0.0.1", port)).ok().map(|_| ())
        });
    }
}

impl Drop for McpServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn without_a_running_init_the_process_check_fails() {
    let out = health_alone(&[]);
    assert_eq!(out.status.code(), Some(1));
    let t = text(&out);
    assert!(t.starts_with("unhealthy (readiness)"), "{t}");
    assert!(t.lines().nth(1).unwrap().starts_with("FAIL process"), "{t}");
    assert!(t.contains("is agent-init PID 1"), "{t}");
}

#[test]
fn liveness_readiness_and_startup_pass_under_a_running_init() {
    let out = in_container(
        "$AI health --probe liveness && $AI health --probe startup && \
         $AI health --probe readiness --cli sh --workspace /tmp --require-mount false",
    );
    assert_eq!(out.code, Some(0), "{:?} {}", out.stdout, out.stderr);
    let all = out.stdout.join("\n");
    assert!(all.contains("healthy (liveness)"), "{all}");
    assert!(all.contains("ok   process: agent-init"), "{all}");
    assert!(all.contains("ok   cli: sh at"), "{all}");
    assert!(all.contains("ok   disk:"), "{all}");
    assert!(all.contains("ok   memory:"), "{all}");
    // Liveness looks at nothing external.
    let live = out
        .stdout
        .iter()
        .take_while(|l| !l.starts_with("healthy (startup)"));
    assert_eq!(live.filter(|l| l.starts_with("ok ")).count(), 1, "{all}");
}

#[test]
fn health_works_through_exec_into_a_keep_alive_container() {
    let mut init = start(As::Pid1, &["--log-level", "warn"]);
    let pid = init.pid();
    let out = wait_for(SOON, "health through nsenter", || {
        let o = Command::new("nsenter")
            .args(["-t", &pid.to_string(), "-p", "-m"])
            .arg(agent_init())
            .args(["health", "--format", "json"])
            .output()
            .unwrap();
        (o.status.code() == Some(0)).then_some(o)
    });
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["status"], "healthy");
    assert_eq!(v["probe"], "readiness");
    let process = &v["checks"].as_array().unwrap()[0];
    assert!(
        process["detail"].as_str().unwrap().contains("keep-alive"),
        "{v}"
    );
    init.signal(Signal::SIGTERM);
    assert_eq!(init.wait(SOON).code, Some(0));
}

#[test]
fn json_output_has_the_documented_shape() {
    let out = health_alone(&["--format", "json", "--cli", "sh"]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["status"], "unhealthy");
    for c in v["checks"].as_array().unwrap() {
        assert!(c["name"].is_string() && c["ok"].is_boolean(), "{c}");
        assert!(
            c["duration_ms"].is_number() && c["detail"].is_string(),
            "{c}"
        );
    }
    let names: Vec<&str> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names[0], "process", "failing checks come first: {names:?}");
}

#[test]
fn cli_missing_or_not_executable_fails() {
    let out = health_alone(&["--skip", "process", "--cli", "no-such-agent-cli"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("FAIL cli: no-such-agent-cli not found on PATH"),
        "{}",
        text(&out)
    );

    let dir = std::env::temp_dir().join(format!("agent-init-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("claude"), "#!/bin/sh\necho 1.0.0\n").unwrap();
    let path = format!("{}:/usr/bin:/bin", dir.display());
    let out = Command::new(agent_init())
        .args(["health", "--skip", "process", "--cli", "claude"])
        .env("PATH", &path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("is not executable"), "{}", text(&out));

    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.join("claude"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = Command::new(agent_init())
        .args(["health", "--skip", "process", "--cli", "claude", "--deep"])
        .env("PATH", &path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("claude at"), "{}", text(&out));
    assert!(
        text(&out).contains(": 1.0.0"),
        "--deep shows the version: {}",
        text(&out)
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn workspace_must_be_mounted_and_writable() {
    let out = in_container(
        "D=$(mktemp -d); \
         $AI health --skip process,memory,disk --workspace $D; echo rc=$?; \
         mount -t tmpfs -o size=4m tmpfs $D; \
         $AI health --skip process,memory,disk --workspace $D; echo rc=$?; \
         mount -o remount,ro $D; \
         $AI health --skip process,memory,disk --workspace $D; echo rc=$?; \
         $AI health --skip process,memory,disk --workspace $D/missing; echo rc=$?; \
         umount $D; rmdir $D",
    );
    let all = out.stdout.join("\n");
    let codes: Vec<&String> = out.stdout.iter().filter(|l| l.starts_with("rc=")).collect();
    assert_eq!(codes, ["rc=1", "rc=0", "rc=1", "rc=1"], "{all}");
    assert!(all.contains("is not a mount point"), "{all}");
    assert!(all.contains("mounted (tmpfs), writable"), "{all}");
    assert!(all.contains("is mounted read-only"), "{all}");
    assert!(all.contains("No such file or directory"), "{all}");
}

#[test]
fn disk_space_and_inode_thresholds() {
    let out = in_container(
        "D=$(mktemp -d); mount -t tmpfs -o size=2m,nr_inodes=64 tmpfs $D; \
         $AI health --skip process,memory --workspace $D --min-free-disk 1 --min-free-inodes 10; echo rc=$?; \
         $AI health --skip process,memory --workspace $D --min-free-disk 10; echo rc=$?; \
         $AI health --skip process,memory --workspace $D --min-free-disk 1 --min-free-inodes 100; echo rc=$?; \
         umount $D; rmdir $D",
    );
    let all = out.stdout.join("\n");
    let codes: Vec<&String> = out.stdout.iter().filter(|l| l.starts_with("rc=")).collect();
    assert_eq!(codes, ["rc=0", "rc=1", "rc=1"], "{all}");
    assert!(all.contains("FAIL disk: 2 MiB free"), "{all}");
    assert!(all.contains("(minimum 10)"), "{all}");
    assert!(all.contains("(minimum 100)"), "{all}");
}

/// Creates a memory cgroup limited to `limit_mb` (v1 or v2, whichever this
/// machine has) and returns the file to write a pid into.
fn memory_cgroup(limit_mb: u64) -> (PathBuf, PathBuf) {
    let name = format!("agent-init-test-{}", std::process::id());
    let v1 = PathBuf::from("/sys/fs/cgroup/memory");
    let (dir, limit_file) = if v1.join("memory.limit_in_bytes").exists() {
        (v1.join(&name), "memory.limit_in_bytes")
    } else {
        (PathBuf::from("/sys/fs/cgroup").join(&name), "memory.max")
    };
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(limit_file), (limit_mb << 20).to_string()).unwrap();
    (dir.clone(), dir.join("cgroup.procs"))
}

#[test]
fn memory_is_measured_against_the_cgroup_limit() {
    let (dir, procs) = memory_cgroup(64);
    let run_in_cgroup = |min: &str| {
        Command::new("sh")
            .arg("-c")
            .arg(format!(
                "echo $$ > {} && exec {} health --skip process --min-free-memory {min}",
                procs.display(),
                bin()
            ))
            .output()
            .unwrap()
    };
    let over = run_in_cgroup("100");
    let under = run_in_cgroup("8");
    let _ = std::fs::remove_dir(&dir);
    assert_eq!(over.status.code(), Some(1), "{}", text(&over));
    assert!(
        text(&over).contains("of a 64 MiB limit (cgroup"),
        "{}",
        text(&over)
    );
    assert_eq!(under.status.code(), Some(0), "{}", text(&under));
}

#[test]
fn mcp_down_slow_and_erroring_fail_with_reasons() {
    let down = free_port();
    let out = health_alone(&[
        "--skip",
        "process",
        "--mcp",
        &format!("tcp://127.0.0.1:{down}"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("Connection refused"), "{}", text(&out));

    // Slow: accepts, never answers. The timeout is honoured.
    let slow = fake_server("", None);
    let began = Instant::now();
    let out = health_alone(&[
        "--skip",
        "process",
        "--check-timeout",
        "mcp=1",
        "--mcp",
        &format!("mcp+http://127.0.0.1:{slow}/mcp"),
    ]);
    let took = began.elapsed();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("timed out"), "{}", text(&out));
    assert!(took < Duration::from_secs(3), "{took:?}");

    let error = fake_server(
        "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\nboom",
        Some(Duration::ZERO),
    );
    let out = health_alone(&[
        "--skip",
        "process",
        "--mcp",
        &format!("http://127.0.0.1:{error}/health"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("answered 500 (expected 2xx/3xx)"),
        "{}",
        text(&out)
    );
    let out = health_alone(&[
        "--skip",
        "process",
        "--mcp",
        &format!("mcp+http://127.0.0.1:{error}/mcp"),
    ]);
    assert!(
        text(&out).contains("initialize answered HTTP 500"),
        "{}",
        text(&out)
    );

    let rpc_error = fake_server(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 72\r\n\r\n{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-32602,\"message\":\"bad version\"}}",
        Some(Duration::ZERO),
    );
    let out = health_alone(&[
        "--skip",
        "process",
        "--mcp",
        &format!("mcp+http://127.0.0.1:{rpc_error}/mcp"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("initialize failed") && text(&out).contains("bad version"),
        "{}",
        text(&out)
    );
}

#[test]
fn mcp_sse_answer_on_a_stream_kept_open_is_accepted() {
    let event = "event: message\r\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"protocolVersion\":\"2025-06-18\",\"serverInfo\":{\"name\":\"s\",\"version\":\"9\"}}}\r\n\r\n";
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{event}\r\n",
        event.len()
    );
    // No terminating chunk: the stream stays open, as servers may keep it.
    let sse = fake_server(Box::leak(response.into_boxed_str()), Some(Duration::ZERO));
    let began = Instant::now();
    let out = health_alone(&[
        "--skip",
        "process",
        "--mcp",
        &format!("mcp+http://127.0.0.1:{sse}/mcp"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("MCP server s 9"), "{}", text(&out));
    assert!(began.elapsed() < Duration::from_secs(3));
}

#[test]
fn real_mcp_server_passes_and_failing_server_fails() {
    let port = free_port();
    let server = McpServer::start(port, 0.0);
    McpServer::wait_listening(port);
    let url = format!("mcp+http://127.0.0.1:{port}/mcp");
    let out = health_alone(&["--skip", "process", "--mcp", &url]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("MCP server agent-init-test-server"),
        "{}",
        text(&out)
    );
    drop(server);
    let out = health_alone(&["--skip", "process", "--mcp", &url]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
}

#[test]
fn output_stays_under_docker_4k_limit() {
    let long = "x".repeat(5000);
    let out = health_alone(&[
        "--cli",
        &long,
        "--workspace",
        &format!("/{long}"),
        "--mcp",
        &format!("tcp://{long}:1"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.len() <= 4096, "{} bytes", out.stdout.len());
    assert!(
        text(&out).lines().filter(|l| l.starts_with("FAIL")).count() >= 3,
        "{}",
        text(&out)
    );
}

#[test]
fn usage_errors_never_exit_2() {
    let out = health_alone(&["--probe", "sideways"]);
    assert_eq!(out.status.code(), Some(64));
    // A well-formed flag with a bad value is a configuration error naming it.
    let out = health_alone(&["--mcp", "ftp://x:1"]);
    assert_eq!(out.status.code(), Some(78));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("health.mcp") && err.contains("unsupported scheme"),
        "{err}"
    );
}

fn http_get(port: u16, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(SOON)).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let code = out.split_whitespace().nth(1).unwrap().parse().unwrap();
    (code, out)
}

#[test]
fn http_endpoint_serves_probes_and_caches() {
    let port = free_port();
    let mcp_port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mcp = format!("tcp://127.0.0.1:{mcp_port}");
    let mut init = start(
        As::Pid1,
        &[
            "--log-level",
            "warn",
            "--health-listen",
            &listen,
            "--mcp",
            &mcp,
            "--",
            testproc(),
            "sleep",
        ],
    );
    init.expect("ready");
    wait_for(SOON, "endpoint", || {
        TcpStream::connect(("127.0.0.1", port)).ok()
    });
    let (code, body) = http_get(port, "/livez");
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("ok   process"), "{body}");
    let (code, body) = http_get(port, "/readyz");
    assert_eq!(code, 503, "MCP is down: {body}");
    assert!(body.contains("FAIL mcp"), "{body}");
    let _mcp = TcpListener::bind(("127.0.0.1", mcp_port)).unwrap();
    let (code, body) = http_get(port, "/healthz");
    assert_eq!(code, 200, "MCP is up: {body}");
    assert_eq!(http_get(port, "/nope").0, 404);
    init.signal(Signal::SIGTERM);
    assert_eq!(init.wait(SOON).code, Some(143));

    // With a cache, a result is reused: MCP goes down, /readyz stays 200.
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mcp_listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mcp = format!("tcp://{}", mcp_listener.local_addr().unwrap());
    let mut init = start(
        As::Pid1,
        &[
            "--log-level",
            "warn",
            "--health-listen",
            &listen,
            "--health-cache",
            "60",
            "--mcp",
            &mcp,
        ],
    );
    wait_for(SOON, "endpoint", || {
        TcpStream::connect(("127.0.0.1", port)).ok()
    });
    assert_eq!(http_get(port, "/readyz").0, 200);
    drop(mcp_listener);
    assert_eq!(http_get(port, "/readyz").0, 200, "cached");
    init.signal(Signal::SIGTERM);
    assert_eq!(init.wait(SOON).code, Some(0));
}

#[test]
fn https_checks_and_waits_trust_the_system_ca_store() {
    let dir = std::env::temp_dir().join(format!("agent-init-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
        ])
        .args([
            "-addext",
            "subjectAltName=DNS:localhost",
            "-addext",
            "basicConstraints=critical,CA:FALSE",
        ])
        .args(["-addext", "extendedKeyUsage=serverAuth", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let port = free_port();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/https_server.py");
    let mut server = Command::new("python3")
        .arg(script)
        .arg(port.to_string())
        .arg(&cert)
        .arg(&key)
        .spawn()
        .unwrap();
    wait_for(SOON, "https server", || {
        TcpStream::connect(("127.0.0.1", port)).ok()
    });
    let url = format!("https://localhost:{port}/health");
    let trusted = Command::new(agent_init())
        .args(["health", "--skip", "process", "--mcp", &url])
        .env("SSL_CERT_FILE", &cert)
        .output()
        .unwrap();
    let untrusted = health_alone(&["--skip", "process", "--mcp", &url]);
    let waited = Command::new(agent_init())
        .args(["--wait", &url, "--wait-timeout", "10", "--", "true"])
        .env("SSL_CERT_FILE", &cert)
        .output()
        .unwrap();
    let _ = server.kill();
    let _ = server.wait();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(trusted.status.code(), Some(0), "{}", text(&trusted));
    assert!(
        text(&trusted).contains("answered 200"),
        "{}",
        text(&trusted)
    );
    assert_eq!(untrusted.status.code(), Some(1), "{}", text(&untrusted));
    assert!(
        text(&untrusted).to_lowercase().contains("certificate"),
        "{}",
        text(&untrusted)
    );
    assert_eq!(
        waited.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&waited.stderr)
    );
}
