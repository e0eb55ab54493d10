# agent-init: build, test, benchmark.
#   make build   static release binary (musl)
#   make test    every test: unit, lint, black-box
#   make demo    the main job, shown end to end

TARGET  ?= x86_64-unknown-linux-musl
BIN     := target/$(TARGET)/release/agent-init
CARGO   ?= cargo

VENV    := target/mcp-venv
PYTHON  ?= python3

export TEST_AGENT_INIT_BIN := $(CURDIR)/$(BIN)
export MCP_PYTHON     := $(CURDIR)/$(VENV)/bin/python

.PHONY: build test unit lint integration fmt clean demo mcp-venv bench

build:
	$(CARGO) build --release --locked --target $(TARGET) -p agent-init
	@file -L $(BIN) | grep -Eq 'statically linked|static-pie linked' || { echo "error: $(BIN) is not static"; exit 1; }
	@ls -l $(BIN) | awk '{print "built $(BIN): " $$5 " bytes"}'

test: lint unit integration

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --locked --workspace --all-targets -- -D warnings

unit:
	$(CARGO) test --locked -p agent-init -p healthcheck

# Black-box tests of the static binary; they need root (PID namespaces).
integration: build mcp-venv
	$(CARGO) test --locked -p agent-init-tests -- --test-threads 2

# The official MCP Python SDK, for a real MCP server in the tests.
mcp-venv: $(VENV)/.installed
$(VENV)/.installed: tests/fixtures/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r $<
	touch $@

fmt:
	$(CARGO) fmt --all

clean:
	$(CARGO) clean

demo: build
	scripts/demo.sh

# Benchmarks against tini, dumb-init, catatonit and the shell scripts;
# writes bench/RESULTS.md and the README's headline table.
bench: build
	@for t in tini dumb-init catatonit curl; do command -v $$t >/dev/null || NEED="$$NEED $$t"; done; \
	  if [ -n "$$NEED" ]; then apt-get update -qq && apt-get install -y -qq $$NEED; fi
	$(CARGO) build --release --locked -p agent-init-tests --bins
	$(PYTHON) bench/bench.py
