//! Black-box tests of agent-init's security boundaries: the status socket
//! answers only processes of its own container (its abstract name is
//! reachable from the whole network namespace, so a pod's sidecars and the
//! host can connect); every answer is JSON; no client can stall the init;
//! the health endpoint stays on loopback unless told; and planted secrets
//! appear in no output. Each refusal has a control showing the same client
//! inside the container is answered.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::symlink;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use rstest::rstest;
use support::*;

const SECRET: &str = "sk-ant-planted-env-7f3a9c";

/// A keep-alive init, PID 1 of its namespace, with a secret in its
/// environment; `run_as` is the uid it runs as.
fn container(mode: As, extra: &[&str]) -> Running {
    let mut args = vec!["--log-level", "warn"];
    args.extend_from_slice(extra);
    start_with(mode, &args, |c| {
        c.env("ANTHROPIC_API_KEY", SECRET);
    })
}

/// The abstract name the init of `init` serves: `@agent-init/<pid ns inode>/status`.
fn socket_of(init: &mut Running) -> String {
    let pid = init.pid();
    let name = wait_for(SOON, "status socket", || {
        let link = std::fs::read_link(format!("/proc/{pid}/ns/pid")).ok()?;
        let inode: String = link
            .to_string_lossy()
            .chars()
            .filter(char::is_ascii_digit)
            .collect();
        let name = format!("@agent-init/{inode}/status");
        let table = std::fs::read_to_string("/proc/net/unix").ok()?;
        table.contains(&name).then_some(name)
    });
    name
}

/// Where a client runs, relative to the init's container.
#[derive(Debug, Clone, Copy)]
enum Client {
    /// On the host: another PID namespace, same network namespace.
    Host,
    /// A sidecar: a PID namespace of its own, sharing only the network
    /// namespace, as this uid.
    Sidecar(u32),
    /// The init's PID namespace but not its mounts (a sidecar of a pod with
    /// shareProcessNamespace, `kubectl debug --target`), as this uid.
    SharedPidOnly(u32),
    /// Inside the container (`docker exec`: PID and mount namespace), as
    /// this uid.
    Inside(u32),
}

fn as_uid(uid: u32) -> Vec<String> {
    if uid == 0 {
        return Vec::new();
    }
    let id = uid.to_string();
    ["setpriv", "--reuid", &id, "--regid", &id, "--clear-groups"]
        .map(String::from)
        .to_vec()
}

impl Client {
    fn command(self, init_pid: i32, argv: &[&str]) -> Command {
        let ns = init_pid.to_string();
        let prefix: Vec<String> = match self {
            Client::Host => Vec::new(),
            Client::Sidecar(uid) => [
                vec!["unshare".into(), "--pid".into(), "--fork".into()],
                as_uid(uid),
            ]
            .concat(),
            Client::SharedPidOnly(uid) => [
                vec!["nsenter".into(), "-t".into(), ns, "-p".into()],
                as_uid(uid),
            ]
            .concat(),
            Client::Inside(uid) => [
                vec!["nsenter".into(), "-t".into(), ns, "-p".into(), "-m".into()],
                as_uid(uid),
            ]
            .concat(),
        };
        let all: Vec<String> = prefix
            .into_iter()
            .chain(argv.iter().map(|s| s.to_string()))
            .collect();
        let mut c = Command::new(&all[0]);
        c.args(&all[1..]).stdin(Stdio::null());
        c
    }

    /// Sends `request` to `socket` and returns the answer.
    fn ask(self, init_pid: i32, socket: &str, request: &str) -> String {
        let o = self
            .command(init_pid, &[testproc(), "uds", request, socket])
            .output()
            .unwrap();
        let line = String::from_utf8_lossy(&o.stdout).trim().to_string();
        assert!(
            line.starts_with(socket),
            "{self:?}: no answer line: {line} {}",
            String::from_utf8_lossy(&o.stderr)
        );
        line[socket.len()..].trim().to_string()
    }
}

fn json(answer: &str) -> serde_json::Value {
    serde_json::from_str(answer).unwrap_or_else(|e| panic!("not JSON ({e}): {answer}"))
}

#[rstest]
#[case::the_host_as_root(As::Pid1, Client::Host)]
#[case::a_sidecar_as_root(As::Pid1, Client::Sidecar(0))]
#[case::a_sidecar_as_uid_1000(As::Pid1, Client::Sidecar(1000))]
#[case::a_process_sharing_only_the_pid_namespace(As::Pid1, Client::SharedPidOnly(0))]
#[case::a_sidecar_of_an_unprivileged_init(As::Pid1User(1000), Client::Sidecar(1000))]
#[case::a_root_process_sharing_only_the_pid_namespace_of_an_unprivileged_init(
    As::Pid1User(1000),
    Client::SharedPidOnly(0)
)]
fn clients_outside_the_container_are_refused_every_request(#[case] mode: As, #[case] who: Client) {
    let mut init = container(mode, &[]);
    let socket = socket_of(&mut init);
    let pid = init.pid();
    for request in ["status", "launch", "bogus", "-"] {
        let answer = who.ask(pid, &socket, request);
        assert!(!answer.contains(SECRET), "{request}: leaked: {answer}");
        let v = json(&answer);
        assert_eq!(
            v["error"], "permission denied: the client is not a process of this container",
            "{request}: {answer}"
        );
    }
    init.signal(Signal::SIGTERM);
    assert_eq!(init.wait(SOON).code, Some(0));
}

/// The control for the refusals above: the same client, inside.
#[rstest]
#[case::root_inside_a_root_init(As::Pid1, Client::Inside(0), true)]
#[case::another_uid_inside_gets_status_but_not_the_launch(As::Pid1, Client::Inside(1000), false)]
#[case::the_inits_own_uid(As::Pid1User(1000), Client::Inside(1000), true)]
#[case::root_inside_an_unprivileged_init(As::Pid1User(1000), Client::Inside(0), true)]
fn clients_inside_the_container_are_answered(
    #[case] mode: As,
    #[case] who: Client,
    #[case] gets_launch: bool,
) {
    let mut init = container(mode, &[]);
    let socket = socket_of(&mut init);
    let pid = init.pid();
    let status = json(&wait_for(SOON, "startup to finish", || {
        let a = who.ask(pid, &socket, "status");
        a.contains("running").then_some(a)
    }));
    assert_eq!(status["mode"], "keep-alive", "{status}");
    assert_eq!(status["pid"], 1, "{status}");
    let launch = who.ask(pid, &socket, "launch");
    if gets_launch {
        assert_eq!(
            json(&launch)["env"]["ANTHROPIC_API_KEY"],
            SECRET,
            "{launch}"
        );
    } else {
        assert!(!launch.contains(SECRET), "{launch}");
        assert!(
            json(&launch)["error"]
                .as_str()
                .unwrap()
                .starts_with("permission denied: only root or uid 0"),
            "{launch}"
        );
    }
    init.signal(Signal::SIGTERM);
    assert_eq!(init.wait(SOON).code, Some(0));
}

#[rstest]
#[case::unknown("bogus", "unknown request `bogus` (known: status, launch, health)")]
#[case::with_quotes(
    "say \"hi\"",
    "unknown request `say \"hi\"` (known: status, launch, health)"
)]
#[case::empty("", "empty request (known: status, launch, health)")]
#[case::nothing_at_all("-", "no request: the client closed its side without sending one")]
#[case::too_long(&"x".repeat(300), "request longer than 256 bytes")]
fn every_answer_is_one_json_object(#[case] request: &str, #[case] error: &str) {
    let mut init = container(As::Pid1, &[]);
    let socket = socket_of(&mut init);
    let answer = Client::Inside(0).ask(init.pid(), &socket, request);
    assert_eq!(json(&answer)["error"], error, "{answer}");
    init.signal(Signal::SIGTERM);
    assert_eq!(init.wait(SOON).code, Some(0));
}

/// Ten clients that connect from inside and say nothing delay neither
/// signal forwarding nor another client; each of them is still served (it
/// gets its refusal once its time is up), which shows they really held
/// the server's attention meanwhile.
#[test]
fn silent_clients_delay_neither_signals_nor_other_clients() {
    let mut init = start_signal_reporter(&["--log-level", "warn"]);
    let socket = socket_of(&mut init);
    let pid = init.pid();
    let mut silent = Client::Inside(0)
        .command(pid, &[testproc(), "uds-silent", &socket, "10", "1"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(silent.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut lines, &mut line).unwrap();
    assert_eq!(line.trim(), "holding 10");
    let began = Instant::now();
    let answer = Client::Inside(0).ask(pid, &socket, "status");
    let answered = began.elapsed();
    let sent = Instant::now();
    init.signal(Signal::SIGUSR1);
    init.expect("parent SIGUSR1");
    let forwarded = sent.elapsed();
    assert!(answer.contains("\"running\""), "{answer}");
    assert!(
        answered < Duration::from_millis(300),
        "status took {answered:?}"
    );
    assert!(
        forwarded < Duration::from_millis(300),
        "SIGUSR1 took {forwarded:?}"
    );
    // Control: every silent client was served, once its time was up.
    let rest: Vec<String> = std::io::BufRead::lines(lines)
        .map_while(Result::ok)
        .collect();
    assert_eq!(
        rest,
        ["answers: 10", r#"{"error":"no request received in time"}"#],
        "{rest:?}"
    );
    let _ = silent.wait();
    init.signal(Signal::SIGTERM);
    assert_eq!(init.wait(SOON).code, Some(0));
}

/// The local address of the TCP socket listening on `port`, as the kernel
/// shows it in /proc/net/tcp (hex, network byte order for IPv4).
fn listening_address(port: u16) -> Option<String> {
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    table.lines().skip(1).find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        let (addr, p) = f.get(1)?.split_once(':')?;
        (u16::from_str_radix(p, 16).ok()? == port && f.get(3) == Some(&"0A"))
            .then(|| addr.to_string())
    })
}

#[rstest]
#[case::a_bare_port_means_loopback("{port}", "0100007F", false)]
#[case::a_colon_port_means_loopback(":{port}", "0100007F", false)]
#[case::an_explicit_loopback_address("127.0.0.1:{port}", "0100007F", false)]
#[case::every_address_when_told_with_a_warning("0.0.0.0:{port}", "00000000", true)]
fn health_listen_stays_on_loopback_unless_told(
    #[case] spec: &str,
    #[case] kernel_address: &str,
    #[case] warns: bool,
) {
    let port = free_port();
    let spec = spec.replace("{port}", &port.to_string());
    let mut init = start(As::Pid1, &["--health-listen", &spec]);
    let addr = wait_for(SOON, "endpoint to listen", || listening_address(port));
    assert_eq!(addr, kernel_address);
    init.signal(Signal::SIGTERM);
    let out = init.wait(SOON);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let warning = "the health endpoint listens beyond loopback: whoever reaches this address \
                   reads the health report";
    assert_eq!(out.stderr.contains(warning), warns, "{}", out.stderr);
}

// ---------------------------------------------------------------------------
// Secret hygiene: a token planted in an environment variable, in a
// ConfigMap key and in a credentials file appears in no output, even where
// the configuration routes it there (an expanded URL, a hook that prints
// it). Each case also shows the placeholder where the token would be, so it
// cannot pass by never reaching the leak.

const IN_CONFIGMAP: &str = "cm-planted-token-51d0e2";
const IN_CREDENTIALS: &str = "cred-planted-token-a8b4f6";

struct Planted {
    dir: PathBuf,
}

impl Planted {
    fn new(tag: &str) -> Planted {
        let dir =
            std::env::temp_dir().join(format!("agent-init-secrets-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("home")).unwrap();
        // A Secret volume as the kubelet writes it; the key's name does not
        // look secret.
        let data = dir.join("cm/..2026_01_01_00_00_00.000000001");
        std::fs::create_dir_all(&data).unwrap();
        std::fs::write(data.join("DB_URL"), IN_CONFIGMAP).unwrap();
        symlink("..2026_01_01_00_00_00.000000001", dir.join("cm/..data")).unwrap();
        symlink("..data/DB_URL", dir.join("cm/DB_URL")).unwrap();
        std::fs::write(
            dir.join("creds.json"),
            format!("{{\"token\":\"{IN_CREDENTIALS}\"}}"),
        )
        .unwrap();
        Planted { dir }
    }

    fn path(&self, rel: &str) -> String {
        self.dir.join(rel).to_string_lossy().into_owned()
    }

    /// A configuration file that routes the secrets towards the output.
    fn config(&self, extra: &str) -> String {
        let toml = format!(
            "log_level = \"trace\"\n\
             [[configmaps]]\npath = \"{cm}\"\n\
             [[credentials]]\nsource = \"{creds}\"\ndest = \"~/.claude/.credentials.json\"\n\
             [env.set]\nSERVICE_TOKEN = \"{SECRET}\"\nPLAIN_COPY = \"{SECRET}\"\n{extra}",
            cm = self.path("cm"),
            creds = self.path("creds.json"),
        );
        let path = self.dir.join("config.toml");
        std::fs::write(&path, toml).unwrap();
        path.to_string_lossy().into_owned()
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(agent_init())
            .args(args)
            .env("ANTHROPIC_API_KEY", SECRET)
            .env("HOME", self.path("home"))
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }
}

impl Drop for Planted {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

const LEAKY_HOOK: &str = "[[hooks]]\nname = \"leaky\"\ncommand = \
    \"echo key=$ANTHROPIC_API_KEY; echo cm=$DB_URL; cat ~/.claude/.credentials.json; echo\"\n";

fn assert_clean(what: &str, text: &str, redacted_at_least: usize) {
    for planted in [SECRET, IN_CONFIGMAP, IN_CREDENTIALS] {
        assert!(!text.contains(planted), "{what}: {planted} leaked:\n{text}");
    }
    let shown = text.matches("<redacted>").count();
    assert!(
        shown >= redacted_at_least,
        "{what}: the secrets never reached this output ({shown} placeholders), so the \
         test proves nothing:\n{text}"
    );
}

fn all(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
}

#[rstest]
#[case::text("text")]
#[case::json("json")]
fn no_secret_in_the_logs(#[case] format: &str) {
    let p = Planted::new(&format!("logs-{format}"));
    let config = p.config(LEAKY_HOOK);
    let o = p.run(&["--config", &config, "--log-format", format, "--", "true"]);
    assert_eq!(o.status.code(), Some(0), "{}", all(&o));
    // The hook printed all three; each line shows the placeholder.
    assert_clean("logs", &all(&o), 3);
    if format == "json" {
        for line in String::from_utf8_lossy(&o.stderr).lines() {
            serde_json::from_str::<serde_json::Value>(line)
                .unwrap_or_else(|e| panic!("{e}: {line}"));
        }
    }
}

#[test]
fn no_secret_in_agent_init_config() {
    let p = Planted::new("config");
    let config = p.config("");
    let o = p.run(&["config", "--config", &config]);
    assert_eq!(o.status.code(), Some(0), "{}", all(&o));
    // SERVICE_TOKEN by its name, PLAIN_COPY by its value.
    assert_clean("agent-init config", &all(&o), 2);
}

#[test]
fn no_secret_in_agent_init_check() {
    let p = Planted::new("check");
    let config = p.config(
        "[wait]\nurls = [\"http://127.0.0.1:9/?k=${ANTHROPIC_API_KEY}&c=${DB_URL}\"]\ntimeout = 0.2\n",
    );
    let o = p.run(&["check", "--config", &config]);
    assert_eq!(o.status.code(), Some(69), "{}", all(&o));
    assert_clean("agent-init check", &all(&o), 2);
}

#[rstest]
#[case::text("text")]
#[case::json("json")]
fn no_secret_in_agent_init_health(#[case] format: &str) {
    let p = Planted::new(&format!("health-{format}"));
    let config = p.config(&mcp_answering_500());
    let o = p.run(&[
        "health", "--config", &config, "--skip", "process", "--format", format,
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", all(&o));
    assert_clean("agent-init health", &all(&o), 1);
}

/// `[health] mcp = …` pointing at a server that answers 500, with the
/// token in the URL: the failing check's detail shows the URL.
fn mcp_answering_500() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf);
            let _ = conn.write_all(b"HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n");
        }
    });
    format!("[health]\nmcp = \"http://127.0.0.1:{port}/mcp?key=${{ANTHROPIC_API_KEY}}\"\n")
}

fn http_get(port: u16, path: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(SOON)).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn no_secret_in_the_http_probe_bodies() {
    let p = Planted::new("http");
    let config = p.config(&mcp_answering_500());
    let port = free_port();
    let listen = port.to_string();
    let home = p.path("home");
    let mut init = start_with(
        As::Pid1,
        &["--config", &config, "--health-listen", &listen],
        |c| {
            c.env("ANTHROPIC_API_KEY", SECRET).env("HOME", &home);
        },
    );
    wait_for(SOON, "endpoint", || {
        TcpStream::connect(("127.0.0.1", port)).ok()
    });
    let bodies: String = ["/livez", "/readyz", "/healthz", "/startupz", "/nope"]
        .iter()
        .map(|path| http_get(port, path))
        .collect();
    init.signal(Signal::SIGTERM);
    let out = init.wait(SOON);
    assert_clean("HTTP bodies", &bodies, 2);
    assert_clean("the init's logs", &out.stderr, 0);
}

#[rstest]
#[case::a_wait_url_that_carries_them(
    "[wait]\nurls = [\"http://127.0.0.1:9/?k=${ANTHROPIC_API_KEY}&c=${DB_URL}\"]\ntimeout = 0.2\n",
    69
)]
#[case::a_failing_hook_that_prints_them(
    "[[hooks]]\nname = \"leaky\"\ncommand = \"echo $ANTHROPIC_API_KEY $DB_URL; cat ~/.claude/.credentials.json; exit 3\"\n",
    75
)]
#[case::a_url_that_is_bad_after_expansion("[wait]\nurls = [\"tcp://${DB_URL}\"]\n", 78)]
fn no_secret_in_the_errors_of_failed_steps(#[case] extra: &str, #[case] code: i32) {
    let p = Planted::new(&format!("fail-{code}"));
    let config = p.config(extra);
    for format in ["text", "json"] {
        let o = p.run(&["--config", &config, "--log-format", format, "--", "true"]);
        assert_eq!(o.status.code(), Some(code), "{}", all(&o));
        assert_clean("errors", &all(&o), 1);
    }
}

#[test]
fn the_planted_secrets_do_reach_the_command() {
    // Control for the hygiene tests: the values are really there to leak.
    let p = Planted::new("control");
    let config = p.config("");
    let o = p.run(&[
        "--config",
        &config,
        "--log-level",
        "warn",
        "--",
        "sh",
        "-c",
        "echo $ANTHROPIC_API_KEY $DB_URL; cat ~/.claude/.credentials.json",
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    for planted in [SECRET, IN_CONFIGMAP, IN_CREDENTIALS] {
        assert!(out.contains(planted), "{planted} missing: {out}");
    }
}

/// The other side of masking: values of well-known variables whose names
/// only look secret (git's GIT_CONFIG_KEY_n holds `safe.directory`) stay
/// readable, so a log line says what it means.
#[test]
fn harmless_look_alike_names_are_not_masked() {
    let dir = std::env::temp_dir().join(format!("agent-init-harmless-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ws = dir.to_string_lossy().into_owned();
    let o = Command::new(agent_init())
        .args(["--workspace", &ws, "--require-mount", "false", "--", "true"])
        .env("SSH_AUTH_SOCK", "/tmp/ssh-agent.sock")
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let log = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{log}");
    assert!(
        log.contains(&format!("safe.directory {ws} (through GIT_CONFIG_*)")),
        "{log}"
    );
    assert!(!log.contains("<redacted>"), "{log}");
}
