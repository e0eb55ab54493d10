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
use rstest::rstest;
use support::*;

/// Runs `agent-init health ARGS` with no init around at all.
fn health_alone(args: &[&str]) -> Output {
    agent_init_command()
        .arg("health")
        .args(args)
        .output()
        .unwrap()
}

/// Runs a shell script as the command of an agent-init that is PID 1, with
/// $AI pointing at the binary; returns the init's outcome.
fn in_container(script: &str) -> Exited {
    let script = format!("AI='{}'; {script}", agent_init_shell());
    run(
        As::Pid1,
        &["--log-level", "warn", "--", "sh", "-c", &script],
    )
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Reads one HTTP request (head and Content-Length body) from `conn`.
fn read_request(conn: &mut TcpStream) -> String {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = conn.read(&mut buf) {
        if n == 0 {
            break;
        }
        data.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&data);
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if data.len() >= end + 4 + length {
                break;
            }
        }
    }
    String::from_utf8_lossy(&data).into_owned()
}

/// A tiny HTTP server on a thread: each request gets what `respond` makes
/// of it (raw bytes; `{id}` stands for the JSON-RPC id of the request's
/// body, as a real MCP server echoes it, and `{len}` for the length of the
/// body that follows), or no answer at all for None.
/// Connections are kept open, as a server streaming events may keep them.
fn fake_server(respond: impl Fn(&str) -> Option<String> + Send + 'static) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for mut conn in listener.incoming().flatten() {
            let request = read_request(&mut conn);
            if let Some(response) = respond(&request) {
                let id = request
                    .split_once("\"id\":")
                    .and_then(|(_, rest)| rest.split([',', '}']).next())
                    .unwrap_or("null")
                    .trim()
                    .to_string();
                let response = response.replace("{id}", &id);
                let body = response.split_once("\r\n\r\n").map_or(0, |(_, b)| b.len());
                let response = response.replace("{len}", &body.to_string());
                let _ = conn.write_all(response.as_bytes());
            }
            held.push(conn);
        }
    });
    port
}

/// The same answer to every request.
fn answering(response: &str) -> u16 {
    let response = response.to_string();
    fake_server(move |_| Some(response.clone()))
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
        Self::start_with(port, delay, "streamable-http")
    }

    /// The same, speaking `transport` (`streamable-http` or `sse`).
    fn start_with(port: u16, delay: f64, transport: &str) -> McpServer {
        let py = mcp_python();
        assert!(py.exists(), "{} missing: run `make mcp-venv`", py.display());
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/mcp_server.py");
        let child = Command::new(py)
            .arg(script)
            .arg(port.to_string())
            .arg(delay.to_string())
            .arg("127.0.0.1")
            .arg(transport)
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
        let o = agent_init_inside(pid, &["health", "--format", "json"]);
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

/// The JSON shape, and failing checks first: the failing one (mcp) is
/// planned after one that passes (cli), so the order shown is the report's
/// doing, not the plan's.
#[test]
fn json_output_has_the_documented_shape() {
    let closed = free_port();
    let out = health_alone(&[
        "--format",
        "json",
        "--skip",
        "process",
        "--cli",
        "sh",
        "--mcp",
        &format!("tcp://127.0.0.1:{closed}"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["status"], "unhealthy");
    assert_eq!(v["probe"], "readiness");
    for c in v["checks"].as_array().unwrap() {
        let keys: Vec<&str> = c.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["detail", "duration_ms", "name", "ok"], "{c}");
        assert!(c["ok"].is_boolean() && c["duration_ms"].is_number(), "{c}");
    }
    let names: Vec<(&str, bool)> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap(), c["ok"].as_bool().unwrap()))
        .collect();
    assert_eq!(
        names,
        [("mcp", false), ("cli", true), ("memory", true)],
        "failing checks come first"
    );
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
    let out = agent_init_command()
        .args(["health", "--skip", "process", "--cli", "claude"])
        .env("PATH", &path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("is not executable"), "{}", text(&out));

    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.join("claude"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = agent_init_command()
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
                agent_init_shell()
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

fn check_dependency(url: &str, extra: &[&str]) -> Output {
    let mut args = vec!["--skip", "process", "--mcp", url];
    args.extend_from_slice(extra);
    health_alone(&args)
}

const INTERNAL_ERROR: &str = "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\nboom";

fn sse_response(event_data: &str) -> String {
    let event = format!("event: message\r\ndata: {event_data}\r\n\r\n");
    // No terminating chunk: the stream stays open, as servers may keep it.
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{event}\r\n",
        event.len()
    )
}

#[rstest]
#[case::nothing_listens("tcp", "Connection refused")]
#[case::http_answers_500("http", "answered 500 (expected 2xx/3xx)")]
#[case::mcp_answers_500("mcp+http", "initialize failed: ")]
#[case::mcp_answers_a_json_rpc_error("mcp+http rpc", "bad version")]
fn a_failing_dependency_is_unhealthy_with_the_reason(#[case] kind: &str, #[case] reason: &str) {
    let url = match kind {
        "tcp" => format!("tcp://127.0.0.1:{}", free_port()),
        "http" => format!("http://127.0.0.1:{}/health", answering(INTERNAL_ERROR)),
        "mcp+http" => format!("mcp+http://127.0.0.1:{}/mcp", answering(INTERNAL_ERROR)),
        _ => {
            let body =
                r#"{"jsonrpc":"2.0","id":{id},"error":{"code":-32602,"message":"bad version"}}"#;
            let port = fake_server(move |_| {
                Some(format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {{len}}\r\n\r\n{body}"
                ))
            });
            format!("mcp+http://127.0.0.1:{port}/mcp")
        }
    };
    let out = check_dependency(&url, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let line = text(&out).lines().nth(1).unwrap_or("").to_string();
    assert!(line.starts_with("FAIL mcp: "), "{}", text(&out));
    assert!(line.contains(reason), "{}", text(&out));
}

#[rstest]
#[case::mcp("mcp+http")]
#[case::http("http")]
fn a_silent_dependency_times_out_within_its_budget(#[case] scheme: &str) {
    let silent = fake_server(|_| None);
    let began = Instant::now();
    let url = format!("{scheme}://127.0.0.1:{silent}/mcp");
    let out = check_dependency(&url, &["--check-timeout", "mcp=1s"]);
    let took = began.elapsed();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("timed out"), "{}", text(&out));
    assert!(took < Duration::from_secs(3), "{took:?}");
}

#[test]
fn an_mcp_answer_on_an_event_stream_kept_open_is_accepted() {
    let data = r#"{"jsonrpc":"2.0","id":{id},"result":{"protocolVersion":"2025-06-18","capabilities":{},"serverInfo":{"name":"s","version":"9"}}}"#;
    let sse = fake_server(move |req| {
        if req.contains("notifications/initialized") || req.starts_with("DELETE") {
            Some("HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n".to_string())
        } else {
            req.starts_with("POST").then(|| sse_response(data))
        }
    });
    let began = Instant::now();
    let out = check_dependency(&format!("mcp+http://127.0.0.1:{sse}/mcp"), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("MCP server s 9 at http://127.0.0.1:"),
        "{}",
        text(&out)
    );
    assert!(
        text(&out).contains("(protocol 2025-06-18)"),
        "{}",
        text(&out)
    );
    assert!(began.elapsed() < Duration::from_secs(3));
}

/// An http check looks at the status line and headers only: an endpoint
/// that streams forever (an SSE `/sse`) passes at once instead of holding
/// the check until its timeout.
#[test]
fn an_http_check_does_not_read_an_endless_body() {
    let endless = answering(
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n: hi\n\r\n",
    );
    let began = Instant::now();
    let out = check_dependency(
        &format!("http://127.0.0.1:{endless}/sse"),
        &["--timeout", "5s"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("answered 200"), "{}", text(&out));
    assert!(
        began.elapsed() < Duration::from_secs(2),
        "{:?}",
        began.elapsed()
    );
}

/// A proxy that answers every request itself and says what it was asked.
fn proxy() -> (u16, std::sync::mpsc::Receiver<String>) {
    let (tx, rx) = std::sync::mpsc::channel();
    let port = fake_server(move |req| {
        let _ = tx.send(req.lines().next().unwrap_or("").to_string());
        Some("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".to_string())
    });
    (port, rx)
}

#[rstest]
#[case::through_http_proxy(&[], true)]
#[case::not_for_no_proxy_hosts(&[("NO_PROXY", "127.0.0.1")], false)]
fn http_checks_honour_the_proxy_variables(#[case] extra: &[(&str, &str)], #[case] proxied: bool) {
    let (proxy_port, asked) = proxy();
    let closed = free_port();
    let url = format!("http://127.0.0.1:{closed}/health");
    let mut cmd = agent_init_command();
    cmd.args(["health", "--skip", "process", "--mcp", &url])
        .env("HTTP_PROXY", format!("http://127.0.0.1:{proxy_port}"));
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    if proxied {
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        let line = asked.recv_timeout(SOON).unwrap();
        assert_eq!(line, format!("GET {url} HTTP/1.1"));
    } else {
        // Control: without the proxy the port is closed.
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        assert!(asked.try_recv().is_err(), "the proxy was asked");
    }
}

/// The spec's backwards-compatibility rule: a server that answers the
/// streamable HTTP POST with a 4xx may speak the 2024-11-05 HTTP+SSE
/// transport; the handshake then runs over its event stream.
#[test]
fn an_http_sse_server_of_the_2024_11_05_transport_passes() {
    let port = free_port();
    let _server = McpServer::start_with(port, 0.0, "sse");
    McpServer::wait_listening(port);
    let out = check_dependency(&format!("mcp+http://127.0.0.1:{port}/sse"), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let line = text(&out).lines().nth(1).unwrap_or("").to_string();
    assert!(
        line.starts_with("ok   mcp: MCP server agent-init-test-server"),
        "{}",
        text(&out)
    );
    assert!(line.contains("HTTP+SSE transport"), "{line}");
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
    let (code, body) = http_get(port, "/livez").unwrap();
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("ok   process"), "{body}");
    let (code, body) = http_get(port, "/readyz").unwrap();
    assert_eq!(code, 503, "MCP is down: {body}");
    assert!(body.contains("FAIL mcp"), "{body}");
    let _mcp = TcpListener::bind(("127.0.0.1", mcp_port)).unwrap();
    let (code, body) = http_get(port, "/healthz").unwrap();
    assert_eq!(code, 200, "MCP is up: {body}");
    assert_eq!(http_get(port, "/nope").unwrap().0, 404);
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
    assert_eq!(http_get(port, "/readyz").unwrap().0, 200);
    drop(mcp_listener);
    assert_eq!(http_get(port, "/readyz").unwrap().0, 200, "cached");
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
    let trusted = agent_init_command()
        .args(["health", "--skip", "process", "--mcp", &url])
        .env("SSL_CERT_FILE", &cert)
        .output()
        .unwrap();
    let untrusted = health_alone(&["--skip", "process", "--mcp", &url]);
    let waited = start_with(
        As::Pid1,
        &["--wait", &url, "--wait-timeout", "10", "--", "true"],
        |c| {
            c.env("SSL_CERT_FILE", &cert);
        },
    )
    .wait(SOON);
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
    assert_eq!(waited.code, Some(0), "{}", waited.stderr);
}

fn health_inside(pid: i32, probe: &str) -> Output {
    agent_init_inside(pid, &["health", "--probe", probe])
}

/// The drain delay: SIGTERM is held while readiness already fails and
/// liveness still passes; the command gets it after the delay.
#[rstest]
#[case::readiness_fails_at_once("readiness", 1)]
#[case::startup_fails_at_once("startup", 1)]
#[case::liveness_still_passes("liveness", 0)]
fn the_drain_delay_holds_sigterm_while_readiness_fails(#[case] probe: &str, #[case] code: i32) {
    let mut init = start_signal_reporter(&["--shutdown-delay", "1500ms", "--grace-period", "5s"]);
    let pid = init.pid();
    // Negative control: before the signal the probe passes.
    let before = health_inside(pid, probe);
    assert_eq!(before.status.code(), Some(0), "{}", text(&before));
    let sent = Instant::now();
    init.signal(Signal::SIGTERM);
    let during = health_inside(pid, probe);
    assert!(
        sent.elapsed() < Duration::from_millis(1500),
        "the probe came too late to tell"
    );
    assert_eq!(during.status.code(), Some(code), "{}", text(&during));
    if code == 1 {
        assert!(text(&during).contains("shutting down"), "{}", text(&during));
    }
    init.expect("parent SIGTERM");
    let held = sent.elapsed();
    assert!(
        held >= Duration::from_millis(1400),
        "forwarded after {held:?}"
    );
    let out = init.wait(SOON);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
}

#[test]
fn a_second_sigterm_cuts_the_drain_delay_short() {
    let mut init = start_signal_reporter(&["--shutdown-delay", "5s", "--grace-period", "8s"]);
    let sent = Instant::now();
    init.signal(Signal::SIGTERM);
    std::thread::sleep(Duration::from_millis(200));
    init.signal(Signal::SIGTERM);
    init.expect("parent SIGTERM");
    assert!(
        sent.elapsed() < Duration::from_secs(2),
        "{:?}",
        sent.elapsed()
    );
    assert_eq!(init.wait(SOON).code, Some(0));
}

#[test]
fn a_drain_delay_not_shorter_than_the_grace_period_is_refused() {
    let out = run(
        As::Subreaper,
        &[
            "--shutdown-delay",
            "10s",
            "--grace-period",
            "8s",
            "--",
            "true",
        ],
    );
    assert_eq!(out.code, Some(78), "{}", out.stderr);
    assert!(out.stderr.contains("shutdown.delay"), "{}", out.stderr);
}
