//! Black-box tests of supervised services and periodic jobs, with
//! agent-init as PID 1 of a fresh PID namespace. Services and jobs are
//! small shell scripts that record what happened to them in files, with
//! timestamps, so the order and the gaps are the kernel's and the clock's
//! word, not agent-init's.

mod support;

use std::process::{Command, Output};
use std::time::Duration;

use nix::sys::signal::Signal;
use rstest::rstest;
use support::*;

/// A scratch directory with a config.toml (`$DIR` in it is the
/// directory), removed when dropped.
struct Dir(Scratch);

impl Dir {
    fn new(config: &str) -> Dir {
        let d = Dir(Scratch::with_mode("svc", 0o777));
        let config = config.replace("$DIR", &d.s(""));
        std::fs::write(d.0.path("config.toml"), config).unwrap();
        d
    }
    fn s(&self, rel: &str) -> String {
        self.0.s(rel)
    }
    fn config(&self) -> String {
        self.s("config.toml")
    }
    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.0.path(rel)).unwrap_or_default()
    }
    fn lines(&self, rel: &str) -> Vec<String> {
        self.read(rel).lines().map(str::to_string).collect()
    }
}

/// Runs agent-init as PID 1 with the directory's configuration and a shell
/// script as the command ($AI is agent-init, $DIR the directory).
fn start_in(dir: &Dir, extra: &[&str], script: &str) -> Running {
    let script = format!("AI='{}'; DIR={}; {script}", agent_init_shell(), dir.s(""));
    let config = dir.config();
    let mut args = vec!["--config", config.as_str()];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--", "sh", "-c", &script]);
    start(As::Pid1, &args)
}

/// Milliseconds since the epoch, from a line `name <ns>`.
fn millis(line: &str) -> f64 {
    let ns: f64 = line.rsplit(' ').next().unwrap().trim().parse().unwrap();
    ns / 1e6
}

/// Runs `agent-init ARGS` inside the init's namespaces (as `docker exec`).
fn inside(init: &mut Running, args: &[&str]) -> Output {
    agent_init_inside(init.pid(), args)
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {} / {}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

#[test]
fn services_start_in_dependency_order_and_before_the_command() {
    let (port, port2) = (free_port(), free_port());
    // Named so that alphabetical order is the wrong one.
    let dir = Dir::new(&format!(
        r#"
[services.z-db]
command = ["sh", "-c", "echo z-db >> $DIR/order; sleep 0.5; exec python3 -m http.server {port} --bind 127.0.0.1"]
ready = "http://127.0.0.1:{port}/"

[services.a-api]
command = ["sh", "-c", "python3 -c 'import urllib.request as u; u.urlopen(\"http://127.0.0.1:{port}/\")' && echo a-api saw z-db >> $DIR/order && exec python3 -m http.server {port2} --bind 127.0.0.1"]
depends_on = ["z-db"]
ready = "tcp://127.0.0.1:{port2}"
"#
    ));
    let init = start_in(&dir, &[], "echo command >> $DIR/order");
    let out = init.wait(SOON);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(
        dir.lines("order"),
        ["z-db", "a-api saw z-db", "command"],
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("waiting for z-db to be ready"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_killed_service_restarts_with_doubling_delays() {
    let dir = Dir::new(
        r#"
[services.victim]
command = ["sh", "-c", "echo start $(date +%s%N) >> $DIR/starts; echo $$ > $DIR/pid; exec sleep 1000"]
restart_delay = "200ms"
restart_max_delay = "10s"
"#,
    );
    // The command kills the service three times, each once it is back.
    let script = r#"
for i in 1 2 3; do
  while [ "$(wc -l < $DIR/starts)" -lt $i ]; do sleep 0.01; done
  sleep 0.05
  echo kill $(date +%s%N) >> $DIR/kills; kill -9 $(cat $DIR/pid)
done
while [ "$(wc -l < $DIR/starts)" -lt 4 ]; do sleep 0.01; done
"#;
    let out = start_in(&dir, &[], script).wait(Duration::from_secs(20));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let starts = dir.lines("starts");
    let kills = dir.lines("kills");
    assert_eq!((starts.len(), kills.len()), (4, 3), "{}", out.stderr);
    for (i, expected) in [200.0, 400.0, 800.0].into_iter().enumerate() {
        let gap = millis(&starts[i + 1]) - millis(&kills[i]);
        assert!(
            gap >= expected - 5.0 && gap < expected + 400.0,
            "restart {} came {gap:.0} ms after the kill, expected about {expected} ms",
            i + 1
        );
    }
    assert!(out.stderr.contains("killed by SIGKILL"), "{}", out.stderr);
}

#[rstest]
#[case::crash_loop_fails_readiness("exit 1", "readiness", 1)]
#[case::crash_loop_never_fails_liveness("exit 1", "liveness", 0)]
#[case::a_steady_service_is_ready("exec sleep 1000", "readiness", 0)]
fn a_crash_loop_marks_the_service_failed(
    #[case] body: &str,
    #[case] probe: &str,
    #[case] code: i32,
) {
    let dir = Dir::new(&format!(
        r#"
[services.flaky]
command = ["sh", "-c", "{body}"]
restart_delay = "10ms"
"#
    ));
    let config = dir.config();
    let mut init = start(As::Pid1, &["--config", &config]);
    // Five restarts take 10+20+40+80+160 ms; then it is failed for good.
    let status = wait_for(SOON, "the service to settle", || {
        // Until the init has bound its status socket, status is 69.
        let out = inside(&mut init, &["status", "--format", "json"]);
        if out.status.code() == Some(69) {
            return None;
        }
        let v = json(&out);
        let state = v["services"][0]["state"].as_str()?.to_string();
        let settled = state == "failed" || (state == "ready" && v["uptime_s"].as_f64()? > 0.5);
        settled.then_some(v)
    });
    let health = inside(
        &mut init,
        &[
            "health", "--config", &config, "--probe", probe, "--format", "json",
        ],
    );
    let report = json(&health);
    assert_eq!(health.status.code(), Some(code), "{report} / {status}");
    if body.starts_with("exit") {
        assert_eq!(status["services"][0]["restarts"], 5, "{status}");
        assert_eq!(
            status["services"][0]["last_exit"], "exited with 1",
            "{status}"
        );
        assert!(
            init.stderr().contains("failed: 5 restarts within 1m"),
            "{}",
            init.stderr()
        );
    }
    let services = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "services");
    match probe {
        // Liveness never looks at services.
        "liveness" => assert!(services.is_none(), "{report}"),
        _ => assert!(
            services.unwrap()["detail"]
                .as_str()
                .unwrap()
                .contains("flaky"),
            "{report}"
        ),
    }
    init.signal(Signal::SIGTERM);
    assert_eq!(init.wait(SOON).code, Some(0));
}

/// Three services in a chain, each recording when it gets SIGTERM.
fn chain(extra: &str) -> Dir {
    let svc = |name: &str, deps: &str| {
        format!(
            r#"
[services.{name}]
command = ["sh", "-c", "trap 'echo {name} $(date +%s%N) >> $DIR/stops; sleep 0.1; exit 0' TERM; while :; do sleep 0.05; done"]
depends_on = [{deps}]
"#
        )
    };
    Dir::new(&format!(
        "{}{}{}{extra}",
        svc("base", ""),
        svc("middle", "\"base\""),
        svc("top", "\"middle\"")
    ))
}

#[rstest]
#[case::when_the_command_exits(false)]
#[case::on_sigterm(true)]
fn services_stop_after_the_command_in_reverse_order(#[case] sigterm: bool) {
    let dir = chain("");
    let script = "trap 'echo command $(date +%s%N) >> $DIR/stops; exit 5' TERM; \
                  echo running; if [ -n \"$WAIT\" ]; then while :; do sleep 0.05; done; fi; \
                  echo command $(date +%s%N) >> $DIR/stops; exit 5";
    let script = if sigterm {
        format!("WAIT=1; {script}")
    } else {
        script.to_string()
    };
    let mut init = start_in(&dir, &[], &script);
    init.expect("running");
    if sigterm {
        init.signal(Signal::SIGTERM);
    }
    let out = init.wait(SOON);
    assert_eq!(out.code, Some(5), "{}", out.stderr);
    let stops = dir.lines("stops");
    let names: Vec<&str> = stops.iter().map(|l| l.split(' ').next().unwrap()).collect();
    assert_eq!(
        names,
        ["command", "top", "middle", "base"],
        "{}",
        out.stderr
    );
    let times: Vec<f64> = stops.iter().map(|l| millis(l)).collect();
    // Each one after the one before it had exited (it takes 100 ms).
    for w in times.windows(2).skip(1) {
        assert!(w[1] - w[0] >= 90.0, "{stops:?}");
    }
}

#[test]
fn a_service_that_ignores_its_stop_signal_is_killed_within_the_grace_period() {
    let dir = Dir::new(
        r#"
[services.stubborn]
command = ["sh", "-c", "trap '' TERM; echo up; while :; do sleep 0.05; done"]
stop_timeout = "1h"

[services.polite]
command = ["sh", "-c", "trap 'exit 0' HUP; while :; do sleep 0.05; done"]
stop_signal = "SIGHUP"
stop_timeout = "300ms"
"#,
    );
    let mut init = start_in(
        &dir,
        &["--grace-period", "1500ms"],
        "echo running; exec sleep 1000",
    );
    init.expect("running");
    init.expect("[stubborn] up");
    init.signal(Signal::SIGTERM);
    let out = init.wait(SOON);
    assert_eq!(out.code, Some(128 + 15), "{}", out.stderr);
    // The grace period bounds it, not the service's own hour.
    assert!(
        out.elapsed >= Duration::from_millis(1300) && out.elapsed < Duration::from_secs(4),
        "{:?} {}",
        out.elapsed,
        out.stderr
    );
    assert!(
        out.stderr.contains("service stubborn did not stop"),
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("service polite did not stop"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("stopped: exited with 0 service=polite"),
        "{}",
        out.stderr
    );
}

#[rstest]
#[case::a_slow_job_is_not_run_twice_at_once("sleep 0.7", true)]
#[case::a_quick_job_runs_every_time("true", false)]
fn jobs_never_overlap(#[case] body: &str, #[case] slow: bool) {
    let dir = Dir::new(&format!(
        r#"
[jobs.sync]
command = ["sh", "-c", "echo start >> $DIR/runs; {body}; echo end >> $DIR/runs"]
every = "200ms"
"#
    ));
    let script = "sleep 1.9; $AI status --format json > $DIR/status.json";
    let out = start_in(&dir, &[], script).wait(SOON);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let runs = dir.lines("runs");
    // Never two starts without an end between them.
    for w in runs.windows(2) {
        assert!(!(w[0] == "start" && w[1] == "start"), "{runs:?}");
    }
    let status: serde_json::Value = serde_json::from_str(&dir.read("status.json")).unwrap();
    let job = &status["jobs"][0];
    let (runs_n, skipped) = (
        job["runs"].as_u64().unwrap(),
        job["skipped"].as_u64().unwrap(),
    );
    if slow {
        assert!(skipped >= 3, "{status}");
        assert!(out.stderr.contains("run skipped"), "{}", out.stderr);
        assert!((2..=3).contains(&runs_n), "{status}");
    } else {
        assert_eq!(skipped, 0, "{status}");
        assert!(runs_n >= 7, "{status}");
        assert_eq!(job["last"]["outcome"], "exited with 0", "{status}");
        assert_eq!(job["last"]["ok"], true, "{status}");
    }
}

#[test]
fn a_job_past_its_timeout_is_killed() {
    let dir = Dir::new(
        r#"
[jobs.hang]
command = ["sh", "-c", "echo $$ > $DIR/pid; exec sleep 1000"]
every = "200ms"
timeout = "300ms"
"#,
    );
    let script = "while ! grep -q timed $DIR/status.json 2>/dev/null; do \
                  sleep 0.05; $AI status --format json > $DIR/status.json; done; \
                  kill -0 $(cat $DIR/pid) 2>/dev/null && echo still-alive; $AI status";
    let out = start_in(&dir, &[], script).wait(SOON);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let status: serde_json::Value = serde_json::from_str(&dir.read("status.json")).unwrap();
    let last = &status["jobs"][0]["last"];
    assert_eq!(last["outcome"], "timed out after 300ms: killed", "{status}");
    assert_eq!(last["ok"], false);
    let took = last["duration_ms"].as_f64().unwrap();
    assert!((300.0..1500.0).contains(&took), "{status}");
    assert!(
        !out.stdout.iter().any(|l| l == "still-alive"),
        "{:?}",
        out.stdout
    );
    assert!(
        out.stdout
            .iter()
            .any(|l| l.starts_with("job") && l.contains("hang")),
        "{:?}",
        out.stdout
    );
}

#[test]
fn service_output_is_prefixed_line_by_line() {
    let dir = Dir::new(
        r#"
[services.talker]
command = ["sh", "-c", "echo hello; echo oops >&2; head -c 40000 /dev/zero | tr '\\0' x; echo; printf partial; exec sleep 1000"]
"#,
    );
    let mut init = start_in(&dir, &[], "echo running; exec sleep 1000");
    init.expect("[talker] hello");
    init.expect_line("the long line", |l| l.len() == 9 + 40000 - 2 * 16384);
    let long: Vec<usize> = init
        .seen
        .iter()
        .filter(|l| l.starts_with("[talker] xxx"))
        .map(|l| l.len() - "[talker] ".len())
        .collect();
    assert_eq!(long, [16384, 16384, 40000 - 2 * 16384]);
    wait_for(SOON, "the stderr line", || {
        init.stderr().contains("[talker] oops\n").then_some(())
    });
    assert!(
        !init.seen.iter().any(|l| l.contains("oops")),
        "{:?}",
        init.seen
    );
    init.signal(Signal::SIGTERM);
    init.wait(SOON);
}

#[test]
fn with_json_logs_each_line_is_an_object_naming_the_service() {
    let dir = Dir::new(
        r#"
[services.talker]
command = ["sh", "-c", "echo 'hello \"world\"'; exec sleep 1000"]

[jobs.ticker]
command = ["echo", "tick"]
every = "100ms"
"#,
    );
    let mut init = start_in(&dir, &["--log-format", "json"], "exec sleep 1000");
    let line = init.expect_line("the service's line", |l| l.contains("\"service\""));
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["service"], "talker");
    assert_eq!(v["message"], "hello \"world\"");
    assert_eq!(v["stream"], "stdout");
    assert!(v["timestamp"].as_str().unwrap().ends_with('Z'));
    let line = init.expect_line("the job's line", |l| l.contains("\"job\""));
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(
        (v["job"].as_str(), v["message"].as_str()),
        (Some("ticker"), Some("tick"))
    );
    init.signal(Signal::SIGTERM);
    init.wait(SOON);
}

/// A service that floods its output while nobody reads agent-init's: the
/// pipe fills (shown), lines are dropped, and signals are still handled.
#[test]
fn a_flood_of_output_never_stalls_signal_handling() {
    use std::os::fd::AsRawFd;
    let dir = Dir::new(
        r#"
[services.flood]
command = ["yes", "flood"]
"#,
    );
    let (read_end, write_end) = nix::unistd::pipe().unwrap();
    let config = dir.config();
    let mut init = start_with(
        As::Pid1,
        &["--config", &config, "--", "sleep", "1000"],
        |c| {
            c.stdout(std::process::Stdio::from(write_end));
        },
    );
    // The pipe is full: agent-init's writes to it block from now on.
    wait_for(SOON, "the unread pipe to fill", || {
        let mut n: nix::libc::c_int = 0;
        // SAFETY: FIONREAD writes one int.
        unsafe { nix::libc::ioctl(read_end.as_raw_fd(), nix::libc::FIONREAD, &mut n) };
        (n >= 60000).then_some(())
    });
    std::thread::sleep(Duration::from_millis(300));
    let sent = std::time::Instant::now();
    init.signal(Signal::SIGTERM);
    let out = init.wait(SOON);
    assert_eq!(out.code, Some(128 + 15), "{}", out.stderr);
    assert!(
        sent.elapsed() < Duration::from_secs(3),
        "{:?}",
        sent.elapsed()
    );
    drop(read_end);
}

#[test]
fn status_lists_the_command_services_and_jobs() {
    let dir = Dir::new(
        r#"
[services.web]
command = ["sleep", "1000"]

[services.extra]
command = ["sleep", "1000"]
required = false

[jobs.tick]
command = ["true"]
every = "100ms"
"#,
    );
    let config = dir.config();
    let script = format!(
        "sleep 0.5; $AI status; $AI status --format json > $DIR/status.json; \
         $AI health --config {config} --format json > $DIR/health.json; echo health=$?"
    );
    let out = start_in(&dir, &[], &script).wait(SOON);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let table = out.stdout.join("\n");
    for needle in [
        "KIND",
        "command  -",
        "service  web",
        "service  extra (optional)",
        "job      tick",
    ] {
        assert!(table.contains(needle), "{needle:?} in\n{table}");
    }
    let status: serde_json::Value = serde_json::from_str(&dir.read("status.json")).unwrap();
    assert_eq!(status["phase"], "running");
    assert!(status["command_pid"].as_i64().unwrap() > 1);
    let services = status["services"].as_array().unwrap();
    assert_eq!(services.len(), 2);
    for s in services {
        assert_eq!(s["state"], "ready", "{status}");
        assert!(s["pid"].as_i64().unwrap() > 1);
        assert!(s["uptime_s"].as_f64().unwrap() > 0.3);
        assert_eq!(s["restarts"], 0);
    }
    assert_eq!(status["jobs"][0]["name"], "tick");
    assert!(status["jobs"][0]["runs"].as_u64().unwrap() >= 3);
    assert!(
        out.stdout.contains(&"health=0".to_string()),
        "{:?}",
        out.stdout
    );
    let health: serde_json::Value = serde_json::from_str(&dir.read("health.json")).unwrap();
    let check = health["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "services")
        .cloned()
        .unwrap_or_else(|| panic!("{health}"));
    let detail = check["detail"].as_str().unwrap();
    assert!(
        detail.contains("web ready") && detail.contains("extra ready"),
        "{health}"
    );
}

#[test]
fn status_without_an_init_is_69() {
    let o = Command::new(agent_init()).arg("status").output().unwrap();
    assert_eq!(o.status.code(), Some(69));
    assert!(String::from_utf8_lossy(&o.stderr).contains("status socket"));
}

#[rstest]
#[case::never_ready(
    "ready = \"tcp://127.0.0.1:1\"\nready_timeout = \"500ms\"",
    69,
    "not ready after 500ms"
)]
#[case::exits_for_good(
    "command = [\"true\"]\nrestart = \"never\"\nready = \"tcp://127.0.0.1:1\"",
    69,
    "service svc is exited"
)]
fn the_command_does_not_start_without_its_required_services(
    #[case] extra: &str,
    #[case] code: i32,
    #[case] message: &str,
) {
    let command = if extra.contains("command") {
        String::new()
    } else {
        "command = [\"sleep\", \"1000\"]\n".into()
    };
    let dir = Dir::new(&format!("[services.svc]\n{command}{extra}\n"));
    let out = start_in(&dir, &[], "echo the command ran").wait(SOON);
    assert_eq!(out.code, Some(code), "{}", out.stderr);
    assert!(out.stderr.contains(message), "{}", out.stderr);
    assert!(!out.stdout.iter().any(|l| l.contains("the command ran")));
}

#[rstest]
#[case::empty_command("[services.a]\ncommand = []", "services.a.command")]
#[case::unknown_restart(
    "[services.a]\ncommand = [\"true\"]\nrestart = \"sometimes\"",
    "restart"
)]
#[case::every_zero("[jobs.j]\ncommand = [\"true\"]\nevery = \"0s\"", "jobs.j.every")]
#[case::duplicate_name(
    "[services.a]\ncommand = [\"true\"]\n[services.a]\ncommand = [\"true\"]",
    "a"
)]
#[case::service_named_like_a_job(
    "[services.x]\ncommand = [\"true\"]\n[jobs.x]\ncommand = [\"true\"]\nevery = \"1m\"",
    "services.x"
)]
#[case::unknown_dependency(
    "[services.a]\ncommand = [\"true\"]\ndepends_on = [\"b\"]",
    "services.a.depends_on"
)]
#[case::dependency_cycle("[services.a]\ncommand = [\"true\"]\ndepends_on = [\"b\"]\n[services.b]\ncommand = [\"true\"]\ndepends_on = [\"a\"]", "go round")]
#[case::bad_stop_signal(
    "[services.a]\ncommand = [\"true\"]\nstop_signal = \"SIGNOPE\"",
    "services.a.stop_signal"
)]
#[case::unknown_user(
    "[services.a]\ncommand = [\"true\"]\nuser = \"nobody-here\"",
    "services.a.user"
)]
#[case::bad_ready_url(
    "[services.a]\ncommand = [\"true\"]\nready = \"ftp://x\"",
    "services.a.ready"
)]
#[case::unknown_key(
    "[services.a]\ncommand = [\"true\"]\nrestarts = \"always\"",
    "restarts"
)]
fn bad_service_and_job_configuration_is_78_naming_the_key(#[case] toml: &str, #[case] key: &str) {
    let dir = Dir::new(toml);
    let out = start_in(&dir, &[], "echo the command ran").wait(SOON);
    assert_eq!(out.code, Some(78), "{}", out.stderr);
    assert!(out.stderr.contains(key), "{key:?} not in {}", out.stderr);
    assert!(
        out.stderr.contains("config.toml") || out.stderr.contains(key),
        "{}",
        out.stderr
    );
    assert!(!out.stdout.iter().any(|l| l.contains("the command ran")));
}

#[test]
fn services_can_be_configured_through_the_environment() {
    let dir = Dir::new("");
    let config = dir.config();
    let out = start_with(
        As::Pid1,
        &[
            "--config",
            &config,
            "--",
            "sh",
            "-c",
            "sleep 0.3; echo done",
        ],
        |c| {
            c.env(
                "AGENT_INIT_SERVICES__ECHO__COMMAND",
                r#"["sh", "-c", "echo from-env; exec sleep 1000"]"#,
            );
        },
    )
    .wait(SOON);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stdout.contains(&"[echo] from-env".to_string()),
        "{:?}",
        out.stdout
    );
}

/// How PID 1 was told about its service (a file at another path named by
/// a flag or by a variable, or the services themselves in a variable):
/// none of which `agent-init health` run beside it has.
#[derive(Debug, Clone, Copy)]
enum Via {
    ConfigFlag,
    ConfigVariable,
    ServicesVariable,
}

/// `agent-init health` run beside the init (as `docker exec` and a
/// HEALTHCHECK run it) takes the init's settings over the status socket,
/// however PID 1 was configured: a killed required service fails its
/// readiness naming the service, as the init's own /readyz does; liveness
/// still passes; once the service is back both pass again. The report says
/// where its settings came from.
#[rstest]
#[case::a_file_at_another_path_by_flag(Via::ConfigFlag)]
#[case::a_file_at_another_path_by_variable(Via::ConfigVariable)]
#[case::services_in_a_variable_only_pid_1_has(Via::ServicesVariable)]
fn health_beside_the_init_probes_with_the_inits_settings(#[case] via: Via) {
    let dir = Dir::new(
        r#"
[services.victim]
command = ["sh", "-c", "echo $$ > $DIR/pid; exec sleep 1000"]
restart_delay = "8s"
"#,
    );
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let config = dir.config();
    let services = format!(
        "{{victim = {{command = [\"sh\", \"-c\", \"echo $$ > {}/pid; exec sleep 1000\"], restart_delay = \"8s\"}}}}",
        dir.s("")
    );
    let mut args: Vec<&str> = vec!["--health-listen", &listen];
    if let Via::ConfigFlag = via {
        args.extend(["--config", config.as_str()]);
    }
    args.extend(["--", "sleep", "1000"]);
    let mut init = start_with(As::Pid1, &args, |c| match via {
        Via::ConfigFlag => {}
        Via::ConfigVariable => {
            c.env("AGENT_INIT_CONFIG", &config);
        }
        Via::ServicesVariable => {
            c.env("AGENT_INIT_SERVICES", &services);
        }
    });
    let state = |init: &mut Running| -> String {
        let o = inside(init, &["status", "--format", "json"]);
        serde_json::from_slice::<serde_json::Value>(&o.stdout)
            .ok()
            .and_then(|v| v["services"][0]["state"].as_str().map(str::to_string))
            .unwrap_or_default()
    };
    let readyz = || http_get(port, "/readyz").unwrap().1;
    wait_for(SOON, "the service to be ready", || {
        (state(&mut init) == "ready").then_some(())
    });
    // Up: readiness passes, from the init's settings.
    let up = inside(&mut init, &["health", "--probe", "readiness"]);
    let text = String::from_utf8_lossy(&up.stdout).into_owned();
    assert_eq!(up.status.code(), Some(0), "{text}");
    assert!(text.contains("services: victim ready"), "{text}");
    assert!(text.contains("settings from the running init"), "{text}");
    // Killed: both fail, naming it, until its restart.
    let pid = dir.read("pid").trim().to_string();
    let killed = Command::new("nsenter")
        .args([
            "-t",
            &init.pid().to_string(),
            "-p",
            "-m",
            "kill",
            "-9",
            &pid,
        ])
        .status()
        .unwrap();
    assert!(killed.success());
    wait_for(SOON, "the service to be down", || {
        (state(&mut init) == "backoff").then_some(())
    });
    let down = inside(&mut init, &["health", "--probe", "readiness"]);
    let endpoint = readyz();
    let live = inside(&mut init, &["health", "--probe", "liveness"]);
    let text = String::from_utf8_lossy(&down.stdout).into_owned();
    assert_eq!(down.status.code(), Some(1), "{text}");
    assert!(
        text.contains("FAIL services: not ready: victim backoff"),
        "{text}"
    );
    assert!(endpoint.starts_with("HTTP/1.1 503"), "{endpoint}");
    assert!(endpoint.contains("victim backoff"), "{endpoint}");
    assert_eq!(
        live.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&live.stdout)
    );
    // Back: it passes again.
    wait_for(Duration::from_secs(20), "the service to be back", || {
        (state(&mut init) == "ready").then_some(())
    });
    let back = inside(&mut init, &["health", "--probe", "readiness"]);
    assert_eq!(
        back.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&back.stdout)
    );
}

/// Its own flags still count for the run, over the init's settings; and
/// with no init to ask, the command uses its own configuration and says so.
#[test]
fn health_flags_override_the_inits_settings_and_no_init_means_its_own() {
    let dir = Dir::new(
        r#"
[services.victim]
command = ["sleep", "1000"]
"#,
    );
    let config = dir.config();
    let mut init = start(As::Pid1, &["--config", &config, "--", "sleep", "1000"]);
    wait_for(SOON, "the init's status socket", || {
        inside(&mut init, &["status"])
            .status
            .success()
            .then_some(())
    });
    let skipped = inside(
        &mut init,
        &["health", "--probe", "readiness", "--skip", "services"],
    );
    let text = String::from_utf8_lossy(&skipped.stdout).into_owned();
    assert!(!text.contains("services:"), "{text}");
    assert!(text.contains("settings from the running init"), "{text}");
    let alone = agent_init_command()
        .args(["health", "--probe", "liveness", "--config", &config])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&alone.stdout).into_owned();
    assert!(
        text.contains(&format!(
            "settings from the configuration file {config}: no init answered"
        )),
        "{text}"
    );
}
