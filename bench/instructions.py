#!/usr/bin/env python3
"""Instructions an init executes for `INIT -- true` as PID 1 of a fresh PID
namespace, counted by callgrind (valgrind): the same count on a busy
machine as on an idle one, so it is a test where a timing can only be a
benchmark. The command's own instructions are not counted (valgrind does
not follow the exec of the child).

The environment is fixed: 40 variables, like a container's.

usage: instructions.py [--check CEILING_FILE] [INIT_BINARY [ARGS...]]
  --check  exits 1 when agent-init's count is above the ceiling in the file
           (one number; comments start with #)."""
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
AI = os.environ.get(
    "TEST_AGENT_INIT_BIN",
    os.path.join(ROOT, "target/x86_64-unknown-linux-musl/release/agent-init"),
)


def environment():
    """40 variables: what a container's environment looks like."""
    env = {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": "/root",
        "HOSTNAME": "0123456789ab",
        "TERM": "xterm",
        "LANG": "C.UTF-8",
    }
    for i in range(1, 36):
        env[f"VAR_{i}"] = f"value-number-{i}-some-text"
    return env


def count(argv):
    """Instructions executed by argv[0] (run as PID 1, with `-- true`)."""
    with tempfile.TemporaryDirectory(prefix="agent-init-callgrind-") as tmp:
        out = os.path.join(tmp, "callgrind.out")
        cmd = ["unshare", "--pid", "--fork", "--mount-proc",
               "valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"]
        cmd += argv + ["--", "/bin/true"]
        run = subprocess.run(cmd, env=environment(), cwd="/", capture_output=True,
                             text=True, timeout=120)
        m = re.search(r"Collected\s*:\s*(\d+)", run.stderr)
        if run.returncode != 0 or not m:
            raise RuntimeError(f"callgrind failed ({run.returncode}): {run.stderr[-2000:]}")
        return int(m.group(1))


def ceiling(path):
    with open(path) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line:
                return int(line)
    raise ValueError(f"{path}: no number")


def main():
    args = sys.argv[1:]
    limit_file = None
    if args[:1] == ["--check"]:
        limit_file, args = args[1], args[2:]
    argv = args or [AI]
    n = count(argv)
    print(f"{os.path.basename(argv[0])} -- true as PID 1: {n:,} instructions")
    if limit_file:
        limit = ceiling(limit_file)
        if n > limit:
            sys.exit(f"instructions: {n:,} is above the ceiling of {limit:,} ({limit_file}); "
                     "find what start-up now does (bench/instructions.py, callgrind_annotate)")
        print(f"instructions: within the ceiling of {limit:,}")


if __name__ == "__main__":
    main()
