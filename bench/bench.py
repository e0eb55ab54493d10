#!/usr/bin/env python3
"""agent-init benchmarks: side by side with tini, dumb-init and catatonit and
with the shell scripts it replaces, measured in one run on this machine.

Writes bench/RESULTS.md (regenerated, never edited by hand), prints it, and
refreshes the headline table in README.md between its bench markers.
Needs root (PID namespaces), tini, dumb-init, catatonit, curl, git.
"""

import http.server
import os
import platform
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
AI = os.environ.get(
    "TEST_AGENT_INIT_BIN",
    os.path.join(ROOT, "target/x86_64-unknown-linux-musl/release/agent-init"),
)
TESTPROC = os.environ.get("TESTPROC", os.path.join(ROOT, "target/release/testproc"))
BASELINE = os.path.join(ROOT, "bench", "baseline")
QUICK = os.environ.get("BENCH_QUICK") == "1"
N_START = 50 if QUICK else 300
N_HEALTH = 20 if QUICK else 100
N_SIGNALS = 100 if QUICK else 1000
N_ORPHANS = 1000 if QUICK else 10000
IDLE_SECONDS = 2 if QUICK else 10
DEVNULL = subprocess.DEVNULL

# How each init runs a command. tini needs -s to reap when it is not PID 1.
INITS = {
    "agent-init": [AI, "--log-level", "error", "--"],
    "tini": ["tini", "-s", "--"],
    "dumb-init": ["dumb-init", "--"],
    "catatonit": ["catatonit", "--"],
}
ANCHORS = ["tini", "dumb-init", "catatonit"]


def timed(cmd, n, env=None):
    """Median wall time and mean CPU time (user+sys of the whole process
    tree) of running cmd n times, in seconds."""
    subprocess.run(cmd, stdout=DEVNULL, stderr=DEVNULL, env=env, check=True)  # warm
    walls = []
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run(cmd, stdout=DEVNULL, stderr=DEVNULL, env=env, check=True)
        walls.append(time.perf_counter() - t)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) / n
    return statistics.median(walls), cpu


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def wait_child(outer, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        kids = children(outer)
        if kids:
            return kids[0]
        time.sleep(0.005)
    raise RuntimeError(f"no child of {outer}")


def status_field(pid, name):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(name + ":"):
                return int(line.split()[1])
    raise KeyError(name)


def as_pid1(cmd, **kw):
    """Starts cmd as PID 1 of a new PID namespace; returns (popen, host pid)."""
    p = subprocess.Popen(["unshare", "--pid", "--fork", "--mount-proc"] + cmd, **kw)
    return p, wait_child(p.pid)


def stop(p, pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    p.wait(timeout=10)


class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


def mcp_stand_in():
    """A plain HTTP endpoint on loopback standing in for the MCP server's
    /health, answered by a thread of this process."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/health"


# ---------------------------------------------------------------- benchmarks


def bench_startup(results, url, work):
    rows = {}
    rows["no init (`true` alone)"] = timed(["true"], N_START)
    for name, prefix in INITS.items():
        rows[name] = timed(prefix + ["true"], N_START)
    # As in a container: PID 1 of a fresh PID namespace (unshare's cost is
    # the same for every init).
    pid1 = ["unshare", "--pid", "--fork", "--mount-proc"]
    for name, prefix in INITS.items():
        rows[f"{name} as PID 1"] = timed(pid1 + [p for p in prefix if p != "-s"] + ["true"], N_START)
    env = dict(os.environ, WORKSPACE=work, MCP_URL=url, REQUIRED_ENV="HOME",
               GIT_CONFIG_GLOBAL=os.path.join(work, ".gitconfig"))
    rows["shell entrypoint.sh (all steps)"] = timed(
        ["bash", os.path.join(BASELINE, "entrypoint.sh"), "true"], N_START // 3, env)
    # The same steps done by agent-init: workspace check, git trust, a
    # required variable, one readiness probe of the MCP endpoint.
    rows["agent-init (same steps)"] = timed(
        [AI, "--log-level", "error", "--workspace", work, "--require-mount", "false",
         "--require-env", "HOME", "--wait", url, "--", "true"], N_START // 3)
    results["startup"] = rows


def bench_health(results, url, work):
    init, pid = as_pid1([AI, "--log-level", "error"], stderr=DEVNULL)
    try:
        enter = ["nsenter", "-t", str(pid), "-p", "-m"]
        ours = enter + [AI, "health", "--cli", "sh", "--workspace", work,
                        "--require-mount", "false", "--mcp", url]
        theirs = enter + ["env", "CLI=sh", f"WORKSPACE={work}", f"MCP_URL={url}",
                          "bash", os.path.join(BASELINE, "health-check.sh")]
        subprocess.run(ours, check=True, stdout=DEVNULL)
        subprocess.run(theirs, check=True, stdout=DEVNULL)
        results["health"] = {
            "agent-init health": timed(ours, N_HEALTH),
            "shell health-check.sh": timed(theirs, N_HEALTH),
            "nsenter alone (overhead in both)": timed(enter + ["true"], N_HEALTH),
        }
        h = results["health"]
        nsenter = h["nsenter alone (overhead in both)"]
        h["agent-init health, less nsenter"] = (
            h["agent-init health"][0] - nsenter[0], h["agent-init health"][1] - nsenter[1])
        h["shell health-check.sh, less nsenter"] = (
            h["shell health-check.sh"][0] - nsenter[0], h["shell health-check.sh"][1] - nsenter[1])
    finally:
        stop(init, pid)


def bench_idle(results):
    cmds = {
        "agent-init": [AI, "--log-level", "error"],
        "tini": ["tini", "--", "sleep", "infinity"],
        "dumb-init": ["dumb-init", "sleep", "infinity"],
        "catatonit": ["catatonit", "-P"],
    }
    running = {name: as_pid1(cmd, stderr=DEVNULL) for name, cmd in cmds.items()}
    try:
        time.sleep(1)
        def switches(pid):
            return (status_field(pid, "voluntary_ctxt_switches")
                    + status_field(pid, "nonvoluntary_ctxt_switches"))
        before = {n: switches(pid) for n, (_, pid) in running.items()}
        time.sleep(IDLE_SECONDS)
        results["idle"] = {
            n: (status_field(pid, "VmRSS"), switches(pid) - before[n])
            for n, (_, pid) in running.items()
        }
    finally:
        for p, pid in running.values():
            stop(p, pid)


def signal_reporter(prefix):
    """An init as PID 1 of testproc's signal reporter, once it is ready:
    (popen, host pid of the init)."""
    p, pid = as_pid1(prefix + [TESTPROC, "signals"], stdout=subprocess.PIPE,
                     stderr=DEVNULL, text=True, bufsize=1)
    if not p.stdout.readline().startswith("ready"):
        stop(p, pid)
        raise RuntimeError(f"{prefix[0]}: the signal reporter did not start")
    return p, pid


def bench_signals(results):
    rows = {}
    for name, prefix in INITS.items():
        p, pid = signal_reporter(prefix)
        try:
            lat = []
            for _ in range(N_SIGNALS):
                t = time.perf_counter_ns()
                os.kill(pid, signal.SIGUSR1)
                line = p.stdout.readline()
                lat.append((time.perf_counter_ns() - t) / 1000)
                assert line.strip() == "parent SIGUSR1", line
            lat.sort()
            rows[name] = (statistics.median(lat), lat[int(len(lat) * 0.99) - 1])
        finally:
            stop(p, pid)
    results["signals"] = rows


def bench_reaping(results):
    """The median of 3 runs each, the inits taking turns (one run is at
    the mercy of whatever else the machine does meanwhile)."""
    times = {name: [] for name in INITS}
    script = f"{TESTPROC} orphans {N_ORPHANS} && {TESTPROC} wait-reaped 1 300"
    for _ in range(3):
        for name, prefix in INITS.items():
            cmd = ["unshare", "--pid", "--fork", "--mount-proc"] + prefix + ["sh", "-c", script]
            t = time.perf_counter()
            subprocess.run(cmd, check=True, stdout=DEVNULL, stderr=DEVNULL)
            times[name].append(time.perf_counter() - t)
    results["reaping"] = {name: statistics.median(ts) for name, ts in times.items()}


def crate_of(name):
    """The crate a demangled symbol belongs to (std, core and alloc as std)."""
    import re
    m = re.search(r"([a-z_][a-z0-9_]*)::", name)
    if not m:
        return "[other]"
    c = m.group(1)
    return "std" if c in ("core", "alloc", "std", "hashbrown", "backtrace", "gimli",
                          "addr2line", "miniz_oxide", "object", "rustc_demangle") else c


def bench_crates(results):
    """What each crate costs: its code in the binary (from the symbols of an
    unstripped build of the same code) and its code resident in the idle
    init (from /proc/PID/pagemap, each resident page counted for the crate
    owning most of it)."""
    binary = os.path.join(ROOT, "target", "bench-symbols", "x86_64-unknown-linux-musl",
                          "release", "agent-init")
    nm = subprocess.run(["nm", "-C", "--defined-only", "-S", binary],
                        capture_output=True, text=True, check=True).stdout
    symbols = []
    for line in nm.splitlines():
        parts = line.split(" ", 3)
        if len(parts) == 4 and parts[2] in "tTrR":
            symbols.append((int(parts[0], 16), int(parts[1], 16), crate_of(parts[3])))
    size = {}
    for _, n, c in symbols:
        size[c] = size.get(c, 0) + n
    # The owner of each page: the crate with the most bytes on it.
    owner = {}
    for addr, n, c in symbols:
        a = addr
        while a < addr + n:
            page = a // 4096
            chunk = min(addr + n, (page + 1) * 4096) - a
            owner.setdefault(page, {}).setdefault(c, 0)
            owner[page][c] += chunk
            a += chunk
    p, pid = as_pid1([binary, "--log-level", "error"], stderr=DEVNULL)
    resident = {}
    try:
        time.sleep(1)
        ranges = []
        with open(f"/proc/{pid}/maps") as f:
            for line in f:
                fields = line.split()
                if len(fields) >= 6 and fields[5] == binary:
                    a, b = (int(x, 16) for x in fields[0].split("-"))
                    ranges.append((a, b))
        with open(f"/proc/{pid}/pagemap", "rb") as pm:
            for a, b in ranges:
                for page in range(a // 4096, b // 4096):
                    pm.seek(page * 8)
                    entry = int.from_bytes(pm.read(8), "little")
                    if entry >> 63 and page in owner:
                        c = max(owner[page], key=owner[page].get)
                        resident[c] = resident.get(c, 0) + 4096
    finally:
        stop(p, pid)
    results["crates"] = {c: (size.get(c, 0), resident.get(c, 0)) for c in size}


def bench_size(results):
    rows = {}
    for name, path in [("agent-init", AI), ("tini-static", "/usr/bin/tini-static"),
                       ("tini", "/usr/bin/tini"), ("dumb-init", "/usr/bin/dumb-init"),
                       ("catatonit", "/usr/bin/catatonit")]:
        desc = subprocess.run(["file", "-bL", path], capture_output=True, text=True).stdout
        static = "static" in desc
        rows[name] = (os.path.getsize(path), "static" if static else "dynamic")
    results["size"] = rows


def bench_instructions(results):
    """Instructions of `INIT -- true` as PID 1 (callgrind): a count, the
    same on a busy machine; `make instructions` holds agent-init to a
    ceiling with the same measurement."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import instructions
    rows = {"agent-init": instructions.count([AI])}
    for name, path in [("tini", "/usr/bin/tini"), ("tini-static", "/usr/bin/tini-static"),
                       ("dumb-init", "/usr/bin/dumb-init"), ("catatonit", "/usr/bin/catatonit")]:
        if os.path.exists(path):
            rows[name] = instructions.count([path])
    results["instructions"] = rows


def bench_syscalls(results):
    """System calls PID 1 makes per forwarded signal: strace attached to the
    init alone (not its child) while N signals go through, the count
    divided by N."""
    n = 50
    rows = {}
    for name, prefix in INITS.items():
        p, pid = signal_reporter(prefix)
        try:
            # Once settled: what an init does once after start-up (agent-init
            # lets go of startup's pages at 200 ms) is not per signal.
            time.sleep(0.5)
            with tempfile.NamedTemporaryFile(prefix="agent-init-strace-") as trace:
                st = subprocess.Popen(["strace", "-q", "-p", str(pid), "-o", trace.name],
                                      stderr=DEVNULL)
                # strace is attached once the init shows it as its tracer.
                deadline = time.monotonic() + 10
                while status_field(pid, "TracerPid") == 0 and time.monotonic() < deadline:
                    time.sleep(0.01)
                time.sleep(0.2)
                for _ in range(n):
                    os.kill(pid, signal.SIGUSR1)
                    assert p.stdout.readline().strip() == "parent SIGUSR1"
                time.sleep(0.2)
                st.terminate()
                st.wait(timeout=10)
                with open(trace.name) as f:
                    # The call the init sleeps in when strace attaches is
                    # the first signal's wait; the one it is in at the
                    # detach belongs to the next.
                    calls = [l for l in f if l.strip() and not l.startswith(("---", "+++"))
                             and "<detached" not in l]
                rows[name] = len(calls) / n
        finally:
            stop(p, pid)
    results["syscalls"] = rows


# Which change bought what: instructions of `agent-init -- true` as PID 1
# (bench/instructions.py), measured when each landed.
HISTORY = [
    ("signal-hook, 53 handlers registered one by one (before)", 2_173_306),
    ("signals from one signalfd, read in the loop", 682_796),
    ("environment passed on as it is when unchanged; dlmalloc behind a spin lock", 455_185),
    ("the loop a struct; nothing torn down at exit", 352_508),
    ("environment read in place; secret names scanned letter by letter", 271_235),
    ("fewer system calls (status socket, descriptor reserve); wait and hooks futures boxed "
     "only when configured", 262_302),
    ("signals the parent left ignored set back to the default (one read of /proc/self/status)",
     274_077),
]


# ------------------------------------------------------------------ reporting


def ratio(ours, theirs):
    r = ours / theirs if theirs else float("inf")
    verdict = "wins" if r < 0.95 else ("ties" if r <= 1.05 else "**loses**")
    return f"{r:.2f}× ({verdict})"


def machine():
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = status_like("/proc/meminfo", "MemTotal") // 1024
    versions = []
    for tool, arg in [("tini", "--version"), ("dumb-init", "--version")]:
        out = subprocess.run([tool, arg], capture_output=True, text=True)
        versions.append((out.stdout or out.stderr).strip().splitlines()[0])
    ai = subprocess.run([AI, "--version"], capture_output=True, text=True).stdout.strip()
    return (f"{os.cpu_count()} × {cpu}, {mem} MiB RAM, Linux {platform.release()}; "
            f"{ai}, {'; '.join(versions)}, catatonit from Debian")


def status_like(path, key):
    with open(path) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def render(r):
    ms = lambda s: f"{s * 1000:.2f} ms"
    out = ["# Benchmark results", "",
           "Regenerated by `make bench` (bench/bench.py); do not edit by hand.", "",
           f"Machine: {machine()}.", "",
           f"Run: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
           + (" (quick mode: small counts)" if QUICK else "") + ".", ""]

    s = r["startup"]
    out += ["## Startup overhead: `INIT -- true`", "",
            f"{N_START} runs each; wall = median, CPU = mean user+sys of the process tree.", "",
            "| runner | wall | CPU | agent-init vs it (wall) |", "|---|---|---|---|"]
    for name, (wall, cpu) in s.items():
        if name in ("agent-init", "agent-init as PID 1", "agent-init (same steps)") or name.startswith("no init"):
            vs = ""
        elif name.endswith(" as PID 1"):
            vs = ratio(s["agent-init as PID 1"][0], wall)
        elif name.startswith("shell"):
            vs = ratio(s["agent-init (same steps)"][0], wall) + " with the same steps"
        else:
            vs = ratio(s["agent-init"][0], wall)
        out.append(f"| {name} | {ms(wall)} | {ms(cpu)} | {vs} |")
    out += ["", "The last two rows do the same startup work before `true`: the workspace check, "
            "git safe.directory, a required variable and one readiness probe of the MCP "
            "endpoint (curl in the shell script, agent-init's own HTTP client).", ""]

    h = r["health"]
    ours, theirs = h["agent-init health"], h["shell health-check.sh"]
    out += ["## Health check: one probe", "",
            f"{N_HEALTH} probes each, run with nsenter inside a PID namespace whose PID 1 is "
            "agent-init (like `docker exec`); both check CLI, workspace, an HTTP MCP "
            "endpoint on loopback, memory and disk.", "",
            "| probe | wall | CPU |", "|---|---|---|"]
    for name, (wall, cpu) in h.items():
        out.append(f"| {name} | {ms(wall)} | {ms(cpu)} |")
    out += ["", f"agent-init health vs shell: wall {ratio(ours[0], theirs[0])}, "
            f"CPU {ratio(ours[1], theirs[1])}.", ""]

    i = r["idle"]
    out += ["## Idle cost of PID 1", "",
            f"Each init as PID 1 of its own PID namespace, idle for {IDLE_SECONDS} s "
            "(agent-init and catatonit without a child, tini and dumb-init with `sleep infinity`).", "",
            "| init | RSS | context switches while idle | agent-init vs it (RSS) |", "|---|---|---|---|"]
    for name, (rss, sw) in i.items():
        vs = "" if name == "agent-init" else ratio(i["agent-init"][0], rss)
        out.append(f"| {name} | {rss} KiB | {sw} | {vs} |")
    out.append("")

    g = r["signals"]
    out += ["## Signal forwarding latency", "",
            f"SIGUSR1 sent to PID 1 → the command's handler has run and reported on a pipe; "
            f"{N_SIGNALS} signals each, microseconds.", "",
            "| init | median | p99 | agent-init vs it (median) |", "|---|---|---|---|"]
    for name, (med, p99) in g.items():
        vs = "" if name == "agent-init" else ratio(g["agent-init"][0], med)
        out.append(f"| {name} | {med:.0f} µs | {p99:.0f} µs | {vs} |")
    out.append("")

    z = r["reaping"]
    out += ["## Reaping", "",
            f"PID 1 adopts {N_ORPHANS} orphans that exit at once; time until /proc shows "
            "no zombie (includes creating them, identical for all); the median of 3 runs.", "",
            "| init | time | agent-init vs it |", "|---|---|---|"]
    for name, t in z.items():
        vs = "" if name == "agent-init" else ratio(z["agent-init"], t)
        out.append(f"| {name} | {t:.2f} s | {vs} |")
    out.append("")

    n = r["instructions"]
    out += ["## Instructions: `INIT -- true` as PID 1", "",
            "callgrind's count (the same on a busy machine) with a 40-variable environment; "
            "the command's own instructions are not counted. `make test` holds agent-init "
            "to the ceiling in bench/instructions.ceiling.", "",
            "| init | instructions | agent-init vs it |", "|---|---|---|"]
    for name, count in n.items():
        vs = "" if name == "agent-init" else ratio(n["agent-init"], count)
        out.append(f"| {name} | {count:,} | {vs} |")
    out += ["", "What each change bought (agent-init, same measure):", "",
            "| change | instructions |", "|---|---|"]
    for what, count in HISTORY:
        out.append(f"| {what} | {count:,} |")
    out.append("")

    c = r["syscalls"]
    out += ["## System calls per forwarded signal", "",
            "strace attached to PID 1 alone while SIGUSR1 goes through 50 times.", "",
            "| init | system calls per signal |", "|---|---|"]
    for name, per in c.items():
        out.append(f"| {name} | {per:.1f} |")
    out.append("")

    out += budgets(r)

    if "crates" in r:
        c = r["crates"]
        rows = sorted(c.items(), key=lambda kv: -kv[1][0])
        out += ["## What each crate costs", "",
                "Code in the binary (text and read-only data of the crate's symbols, from an "
                "unstripped build of the same code) and code resident in the idle init "
                "(pages of the binary present in /proc/PID/pagemap, each counted for the crate "
                "owning most of it; the kernel maps up to 16 neighbouring cached pages on each "
                "fault, so small figures are coarse).", "",
                "| crate | code | resident while idle |", "|---|---|---|"]
        for name, (size, res) in rows[:25]:
            out.append(f"| {name} | {size / 1024:.0f} KiB | {res / 1024:.0f} KiB |")
        rest = rows[25:]
        if rest:
            out.append(f"| {len(rest)} more | {sum(v[0] for _, v in rest) / 1024:.0f} KiB | "
                       f"{sum(v[1] for _, v in rest) / 1024:.0f} KiB |")
        out.append("")

    b = r["size"]
    out += ["## Binary size", "", "| binary | bytes | linking | agent-init vs it |", "|---|---|---|---|"]
    for name, (size, link) in b.items():
        vs = "" if name == "agent-init" else ratio(b["agent-init"][0], size)
        out.append(f"| {name} | {size:,} | {link} | {vs} |")
    out += ["", "agent-init also carries the health checks, the status socket and the "
            "HTTP probe endpoint; tini and catatonit are inits only.", ""]
    return "\n".join(out)


# The budgets the core is held to (issue: lean core).
def budgets(r):
    s, h, i, g, b, z = r["startup"], r["health"], r["idle"], r["signals"], r["size"], r["reaping"]
    n, c = r["instructions"], r["syscalls"]
    health_cpu = h["agent-init health, less nsenter"][1]
    shell_cpu = h["shell health-check.sh, less nsenter"][1]
    rows = []
    for mode in ["", " as PID 1"]:
        ours, tini = s[f"agent-init{mode}"][0], s[f"tini{mode}"][0]
        rows.append((f"`agent-init -- true`{mode or ' not as PID 1'}, wall", "at most 1.0× tini",
                     f"{ours / tini:.2f}× ({ours * 1000:.2f} vs {tini * 1000:.2f} ms)",
                     ours <= tini))
    rows += [
        ("instructions of `agent-init -- true` as PID 1", "at most 300,000",
         f"{n['agent-init']:,}", n["agent-init"] <= 300_000),
        ("signal forwarding, median", "at most tini's",
         f"{g['agent-init'][0]:.0f} µs (tini {g['tini'][0]:.0f} µs)",
         g["agent-init"][0] <= g["tini"][0]),
        ("system calls per forwarded signal", "at most 3", f"{c['agent-init']:.1f}",
         c["agent-init"] <= 3.0),
        (f"reaping {N_ORPHANS} orphans", "at most tini's time",
         f"{z['agent-init']:.2f} s (tini {z['tini']:.2f} s)", z["agent-init"] <= z["tini"]),
        ("one health probe, CPU (less nsenter)", "at most 1.0 ms",
         f"{health_cpu * 1000:.2f} ms", health_cpu <= 0.0010),
        ("one health probe vs the shell, CPU", "at least 15× less",
         f"{shell_cpu / health_cpu:.1f}× less", shell_cpu >= 15 * health_cpu),
        ("idle RSS of PID 1", "at most tini's",
         f"{i['agent-init'][0]} KiB (tini {i['tini'][0]} KiB)", i["agent-init"][0] <= i["tini"][0]),
        (f"context switches in {IDLE_SECONDS} s idle", "0", f"{i['agent-init'][1]}",
         i["agent-init"][1] == 0),
        ("static binary", "at most 4 MiB", f"{b['agent-init'][0] / 1048576:.2f} MiB",
         b["agent-init"][0] <= 4 * 1048576),
    ]
    out = ["## Budgets", "",
           "| measure | budget | measured | |", "|---|---|---|---|"]
    for what, budget, measured, met in rows:
        out.append(f"| {what} | {budget} | {measured} | {'met' if met else '**missed**'} |")
    out.append("")
    return out


def headline(r):
    s, h, i, g = r["startup"], r["health"], r["idle"], r["signals"]
    return "\n".join([
        "| measure | agent-init | tini | dumb-init | shell script |",
        "|---|---|---|---|---|",
        f"| `INIT -- true`, wall | {s['agent-init'][0]*1000:.2f} ms | {s['tini'][0]*1000:.2f} ms | "
        f"{s['dumb-init'][0]*1000:.2f} ms | |",
        f"| startup with the entrypoint's steps, wall | {s['agent-init (same steps)'][0]*1000:.2f} ms | | | "
        f"{s['shell entrypoint.sh (all steps)'][0]*1000:.2f} ms "
        f"({ratio(s['agent-init (same steps)'][0], s['shell entrypoint.sh (all steps)'][0])}) |",
        f"| instructions of `INIT -- true` as PID 1 (callgrind) | {r['instructions']['agent-init']:,} | "
        f"{r['instructions'].get('tini', 0):,} | {r['instructions'].get('dumb-init', 0):,} | |",
        f"| idle RSS of PID 1 | {i['agent-init'][0]} KiB | {i['tini'][0]} KiB | {i['dumb-init'][0]} KiB | |",
        f"| signal forwarding, median | {g['agent-init'][0]:.0f} µs | {g['tini'][0]:.0f} µs | "
        f"{g['dumb-init'][0]:.0f} µs | |",
        f"| one health probe, CPU (less nsenter) | {h['agent-init health, less nsenter'][1]*1000:.2f} ms | | | "
        f"{h['shell health-check.sh, less nsenter'][1]*1000:.2f} ms "
        f"({ratio(h['agent-init health, less nsenter'][1], h['shell health-check.sh, less nsenter'][1])}) |",
    ])


def update_readme(table):
    path = os.path.join(ROOT, "README.md")
    with open(path) as f:
        text = f.read()
    start, end = "<!-- bench:start -->", "<!-- bench:end -->"
    if start in text and end in text:
        before, rest = text.split(start, 1)
        after = rest.split(end, 1)[1]
        with open(path, "w") as f:
            f.write(f"{before}{start}\n{table}\n{end}{after}")


def main():
    for tool in ["tini", "dumb-init", "catatonit", "curl", "git", "unshare", "nsenter",
                 "valgrind", "strace"]:
        if subprocess.run(["sh", "-c", f"command -v {tool}"], stdout=DEVNULL).returncode:
            sys.exit(f"bench: {tool} is missing (make bench installs the anchors)")
    for path in [AI, TESTPROC]:
        if not os.path.exists(path):
            sys.exit(f"bench: {path} is missing (make bench builds it)")
    results = {}
    url = mcp_stand_in()
    with tempfile.TemporaryDirectory(prefix="agent-init-bench-") as work:
        steps = [("startup", lambda: bench_startup(results, url, work)),
                 ("health", lambda: bench_health(results, url, work)),
                 ("idle", lambda: bench_idle(results)),
                 ("signals", lambda: bench_signals(results)),
                 ("reaping", lambda: bench_reaping(results)),
                 ("instructions", lambda: bench_instructions(results)),
                 ("syscalls", lambda: bench_syscalls(results)),
                 ("size", lambda: bench_size(results)),
                 ("crates", lambda: bench_crates(results))]
        for name, step in steps:
            t = time.perf_counter()
            step()
            print(f"bench: {name} done in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    report = render(results)
    out = os.environ.get("BENCH_RESULTS", os.path.join(ROOT, "bench", "RESULTS.md"))
    with open(out, "w") as f:
        f.write(report)
    if out.endswith("bench/RESULTS.md"):
        update_readme(headline(results))
    print(report)


if __name__ == "__main__":
    main()
