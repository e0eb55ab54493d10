# agent-init: build, test, benchmark.
#   make build   static release binary (musl)
#   make test    every test: lint, unit, black-box, end-to-end (Docker)
#   make demo    the main job, shown end to end

# The architecture to build for (`make build ARCH=aarch64`): x86_64 or
# aarch64, static musl binaries both, linked by rust-lld.
ARCH    ?= x86_64
ARCHES  := x86_64 aarch64
TARGET  := $(ARCH)-unknown-linux-musl
BIN     := target/$(TARGET)/release/agent-init
CARGO   ?= cargo
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
# Docker's names for the architectures (TARGETARCH).
docker_arch_x86_64  := amd64
docker_arch_aarch64 := arm64
# No machine's paths in the binary: the registry's sources are named
# /cargo/…, the workspace's are relative already. With the fixed profile
# (no incremental, one codegen unit, no timestamps anywhere) two builds
# give the same bytes (make reproducible).
CARGO_HOME_DIR := $(or $(CARGO_HOME),$(HOME)/.cargo)
REMAP    = --config 'target.$(1)-unknown-linux-musl.rustflags=["--remap-path-prefix=$(CARGO_HOME_DIR)=/cargo"]'

VENV    := target/mcp-venv
K8S_VENV := target/k8s-venv
PYTHON  ?= python3

# The black-box tests run the x86_64 binary; `make test-aarch64` runs a
# subset against the aarch64 one under qemu-user.
export TEST_AGENT_INIT_BIN := $(CURDIR)/target/x86_64-unknown-linux-musl/release/agent-init
export MCP_PYTHON     := $(CURDIR)/$(VENV)/bin/python

.PHONY: setup build test instructions fuzz fuzz-smoke test-aarch64 sbom dist reproducible manifests unit lint layers integration fmt clean demo mcp-venv bench \
        base-images images e2e e2e-run image-mcp-server image-dev image-dev-code \
        image-sandbox-base image-sandbox-developer

# Images. BuildKit is needed (secrets); a docker client without buildx falls
# back to the distribution's classic client, which has BuildKit built in.
DOCKER ?= $(shell docker buildx version >/dev/null 2>&1 && echo docker || \
            { [ -x /usr/bin/docker ] && echo /usr/bin/docker || echo docker; })
# The agent images: one Dockerfile (docker/Dockerfile), a runtime family and
# a package per CLI. Listed in build order: images of one family share
# their cached layers (native binaries, then Node, then Python).
IMAGES      := claude codex opencode gemini qwen openhands aider
claude_ARGS    := FAMILY=native PACKAGE=@anthropic-ai/claude-code BINARY=claude-code-linux-{npm_arch}/claude
codex_ARGS     := FAMILY=native PACKAGE=@openai/codex BINARY=codex-linux-{npm_arch}/vendor/{rust_arch}-unknown-linux-musl/bin/codex
opencode_ARGS  := FAMILY=native PACKAGE=opencode-ai BINARY=opencode-linux-{npm_arch}/bin/opencode
gemini_ARGS    := FAMILY=node PACKAGE=@google/gemini-cli
qwen_ARGS      := FAMILY=node PACKAGE=@qwen-code/qwen-code
openhands_ARGS := FAMILY=python PACKAGE=openhands VERSION_FLAG=--help
aider_ARGS     := FAMILY=python PACKAGE=aider-chat
# Every image that builds here (aider needs the registry's Python 3.12).
E2E_IMAGES  := claude codex opencode gemini qwen openhands
# Local stand-ins by default (make base-images); set BASE_PREFIX= to use the
# registry's node:22-slim, python:3.12-slim, debian:bookworm-slim.
BASE_PREFIX ?= agent-init-base/
CA_BUNDLE   ?= $(wildcard /etc/ssl/certs/ca-certificates.crt)
REVISION    := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
BUILD_ARGS   = --build-arg NODE_IMAGE=$(BASE_PREFIX)node:22-slim \
               --build-arg PYTHON_IMAGE=$(BASE_PREFIX)python:3.12-slim \
               --build-arg RUNTIME_IMAGE=$(BASE_PREFIX)debian:bookworm-slim \
               --build-arg VERSION=$(VERSION) \
               --build-arg REVISION=$(REVISION) \
               $(if $(CA_BUNDLE),--secret id=ca$(comma)src=$(CA_BUNDLE))
comma := ,

# What a fresh machine lacks (the musl target, apt packages): installed by
# scripts/setup.sh, which does nothing when everything is there.
setup:
	@scripts/setup.sh

build: build-$(ARCH)

# `cargo auditable` embeds the dependency list in the binary; the binary is
# also staged where the Dockerfiles' TARGETARCH-aware COPY finds it.
build-%: setup
	@case " $(ARCHES) " in *" $* "*) ;; *) echo "error: ARCH=$* (known: $(ARCHES))"; exit 1;; esac
	$(CARGO) auditable build --release --locked --target $*-unknown-linux-musl -p agent-init $(call REMAP,$*)
	@scripts/check-binary.sh $* target/$*-unknown-linux-musl/release/agent-init
	@mkdir -p target/platform/$(docker_arch_$*)
	@cp -f target/$*-unknown-linux-musl/release/agent-init target/platform/$(docker_arch_$*)/agent-init

test: setup lint unit fuzz-smoke manifests integration instructions test-aarch64 reproducible e2e

# The aarch64 binary under qemu-user: the core subset (scripts/test-emulated.sh
# names it), and the x86_64 binary failing it as the negative control.
test-aarch64: build-x86_64 build-aarch64 mcp-venv
	CARGO=$(CARGO) scripts/test-emulated.sh $(CURDIR)/target/aarch64-unknown-linux-musl/release/agent-init \
	  $(CURDIR)/target/x86_64-unknown-linux-musl/release/agent-init

# Fuzzing (cargo-fuzz, libFuzzer; fuzz/): every corpus replayed, then each
# target on new inputs, briefly in `make test`, longer with `make fuzz`
# (FUZZ_SECONDS per target). A finding is kept in fuzz/artifacts/TARGET/.
FUZZ_SECONDS ?= 300
fuzz-smoke: setup
	scripts/fuzz.sh 10
fuzz: setup
	scripts/fuzz.sh $(FUZZ_SECONDS)

# Release artifacts. SOURCE_DATE_EPOCH (the last commit's time) is the only
# time written anywhere.
export SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
DIST_NAME = agent-init-$(VERSION)-$(1)-linux-musl

# A CycloneDX SBOM per architecture (cargo-cyclonedx, checked against the
# dependency list embedded in the binary).
sbom: $(addprefix build-,$(ARCHES))
	@mkdir -p target/sbom
	@for a in $(ARCHES); do \
	  scripts/sbom.py $$a target/$$a-unknown-linux-musl/release/agent-init target/sbom/$(call DIST_NAME,$$a).cdx.json || exit 1; \
	done

# dist/: the binaries, their SBOMs, the license inventory (only permissive
# licenses pass) and SHA256SUMS, named with the version.
dist: sbom
	@$(PYTHON) scripts/licenses.py --self-test
	rm -rf dist && mkdir -p dist
	@for a in $(ARCHES); do \
	  cp target/$$a-unknown-linux-musl/release/agent-init dist/$(call DIST_NAME,$$a) && \
	  cp target/sbom/$(call DIST_NAME,$$a).cdx.json dist/ || exit 1; \
	done
	$(PYTHON) scripts/licenses.py dist/agent-init-$(VERSION)-THIRD-PARTY-LICENSES.md dist/*.cdx.json
	cd dist && sha256sum agent-init-* > SHA256SUMS && touch -d @$(SOURCE_DATE_EPOCH) * && cat SHA256SUMS

# Two builds, here and in a copy of the sources at another path with
# another CARGO_HOME, give the same dist/ bytes.
reproducible: dist
	scripts/reproducible.sh

lint: setup layers
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --locked --workspace --all-targets -- -D warnings

# One-way dependencies between agent-init's top-level modules. The check is
# shown to fail once, on a module that reaches up a layer.
layers:
	$(PYTHON) scripts/check-layers.py
	@t=$$(mktemp -d) && mkdir -p $$t/src && echo 'use crate::init;' > $$t/src/sys.rs && touch $$t/src/init.rs && \
	  if $(PYTHON) scripts/check-layers.py $$t/src >/dev/null; then \
	    echo "check-layers.py let sys use init"; rm -rf $$t; exit 1; fi; rm -rf $$t

unit: setup
	$(CARGO) test --locked -p agent-init -p healthcheck

base-images:
	DOCKER=$(DOCKER) BASE_PREFIX=$(patsubst %/,%,$(BASE_PREFIX)) docker/base/build.sh

images: $(addprefix image-,$(IMAGES)) image-mcp-server image-dev image-sandbox-developer image-dev-code

# Every image is built through docker/build.sh, which keeps BuildKit from
# taking one Dockerfile for another (see the script).
image-%: build
	@[ -n "$($*_ARGS)" ] || { echo "no image $* (known: $(IMAGES))"; exit 1; }
	DOCKER=$(DOCKER) docker/build.sh docker/Dockerfile agent-init/$*:dev $(BUILD_ARGS) \
	  --build-arg CLI=$* $(addprefix --build-arg ,$($*_ARGS))

# An MCP server (official Python SDK) with agent-init as PID 1.
image-mcp-server: build
	DOCKER=$(DOCKER) docker/build.sh docker/mcp-server/Dockerfile agent-init/mcp-server:dev $(BUILD_ARGS)

# The developer image: the claude image plus sshd and a gh job, supervised
# by agent-init; dev-code adds code-server (minutes to install: built and
# checked by `make images`, not by `make e2e`).
image-dev: image-claude
	DOCKER=$(DOCKER) docker/build.sh docker/dev/Dockerfile agent-init/dev:dev $(BUILD_ARGS) \
	  --build-arg AGENT_IMAGE=agent-init/claude:dev
# Task sandboxes (seed 004): keep-alive + `agent-init exec`.
image-sandbox-base: build
	DOCKER=$(DOCKER) docker/build.sh docker/sandbox-base/Dockerfile agent-init/sandbox-base:dev $(BUILD_ARGS)
image-sandbox-developer: image-sandbox-base
	DOCKER=$(DOCKER) docker/build.sh docker/sandbox-developer/Dockerfile agent-init/sandbox-developer:dev \
	  $(BUILD_ARGS) --build-arg BASE_IMAGE=agent-init/sandbox-base:dev

image-dev-code: image-claude
	DOCKER=$(DOCKER) docker/build.sh docker/dev/Dockerfile agent-init/dev-code:dev $(BUILD_ARGS) \
	  --build-arg AGENT_IMAGE=agent-init/claude:dev --build-arg CODE_SERVER=true
	DOCKER=$(DOCKER) $(CARGO) test --locked -p agent-init-tests --test e2e -- --ignored dev_code_image

# End-to-end tests against a real Docker engine (started if none runs).
# The engine may only be installed by engine.sh: the sub-make picks the
# docker client again once it is there.
e2e: build mcp-venv
	tests/e2e/engine.sh
	$(MAKE) e2e-run

e2e-run: base-images image-mcp-server $(addprefix image-,$(E2E_IMAGES)) image-dev image-sandbox-developer $(K8S_VENV)/.installed
	DOCKER=$(DOCKER) K8S_PYTHON=$(CURDIR)/$(K8S_VENV)/bin/python $(CARGO) test --locked -p agent-init-tests --test e2e -- --test-threads 2

# Black-box tests of the static binary; they need root (PID namespaces).
integration: build mcp-venv
	$(CARGO) test --locked -p agent-init-tests --test init --test tty --test health --test startup --test security --test services --test hardening \
	  -- --test-threads 2

# Start-up cost as a test: the instructions of `agent-init -- true` as PID 1
# (callgrind counts the same on a busy machine), at most the checked-in
# ceiling.
instructions: build
	$(PYTHON) bench/instructions.py --check bench/instructions.ceiling

# The Kubernetes manifests, validated offline against the API schemas.
manifests: $(K8S_VENV)/.installed
	scripts/validate-manifests.sh $(K8S_VENV)
$(K8S_VENV)/.installed:
	$(PYTHON) -m venv $(K8S_VENV)
	$(K8S_VENV)/bin/pip install --quiet --disable-pip-version-check 'kubernetes-validate>=1.33'
	touch $@

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
	rm -rf dist

# The main job: PID-1 behaviour in a PID namespace, then in a real container
# (the Docker engine is started if none runs; stand-in bases are built).
demo: build
	scripts/demo.sh
	tests/e2e/engine.sh
	$(MAKE) base-images image-claude
	DOCKER=$(DOCKER) scripts/demo-docker.sh

# Benchmarks against tini, dumb-init, catatonit and the shell scripts;
# writes bench/RESULTS.md and the README's headline table.
bench: build
	@for t in tini dumb-init catatonit curl valgrind strace; do command -v $$t >/dev/null || NEED="$$NEED $$t"; done; \
	  if [ -n "$$NEED" ]; then apt-get update -qq && apt-get install -y -qq $$NEED; fi
	$(CARGO) build --release --locked -p agent-init-tests --bins
	CARGO_PROFILE_RELEASE_STRIP=false $(CARGO) build --release --locked --target $(TARGET) \
	  -p agent-init --target-dir target/bench-symbols
	$(PYTHON) bench/bench.py
