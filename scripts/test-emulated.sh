#!/usr/bin/env bash
# The core black-box tests against the aarch64 binary, run by qemu-user on
# this (x86_64) machine, each agent-init as PID 1 of its own PID namespace:
# exit codes, reaping, signal forwarding, keep-alive, health. qemu-user
# (Debian 12's 7.2) refuses PR_SET_CHILD_SUBREAPER, so the subreaper cases
# of these tests run on the native binary only.
# Then the negative control: the x86_64 binary under the same emulator must
# fail the same tests (a build that ignored ARCH would be caught).
#   scripts/test-emulated.sh AARCH64_BINARY X86_64_BINARY
set -euo pipefail
emulated=$(realpath "$1") native=$(realpath "$2")
runner=${QEMU:-qemu-aarch64-static}
cargo=${CARGO:-cargo}

# The subset (substring filters of test names), as the README lists it.
subset=(
  # exit codes
  exit_code_of_the_command_passes_through command_killed_by_signal_gives_128_plus_n
  missing_command_is_127_and_named
  # reaping
  orphans_are_reaped thousands_of_orphans_at_once_are_reaped
  # signal forwarding and shutdown
  signals_reach_the_whole_process_group_by_default sigterm_is_forwarded_and_exit_code_follows_the_command
  command_ignoring_sigterm_is_killed_after_the_grace_period stop_and_continue_reach_the_command
  a_setsid_grandchild_gets_sigterm_and_time_to_clean_up::case_1_pid1
  a_setsid_grandchild_gets_sigterm_and_time_to_clean_up::case_2_pid1
  # keep-alive
  keep_alive_reaps_exec_orphans_and_stops_on_sigterm keep_alive_gives_exec_processes_the_grace_period
  # health: probes, the HTTP endpoint, dependency checks (HTTP, MCP, TLS), drain
  without_a_running_init_the_process_check_fails liveness_readiness_and_startup_pass_under_a_running_init
  health_works_through_exec_into_a_keep_alive_container json_output_has_the_documented_shape
  http_endpoint_serves_probes_and_caches a_failing_dependency_is_unhealthy_with_the_reason
  real_mcp_server_passes_and_failing_server_fails https_checks_and_waits_trust_the_system_ca_store
  the_drain_delay_holds_sigterm_while_readiness_fails
)

run() { # BINARY LOG
  TEST_AGENT_INIT_BIN=$1 TEST_AGENT_INIT_RUNNER=$runner \
    "$cargo" test --locked --no-fail-fast -p agent-init-tests --test init --test health -- --test-threads 2 "${subset[@]}" >"$2" 2>&1
}

"$(dirname "$0")/check-binary.sh" aarch64 "$emulated" >/dev/null
log=$(mktemp) wrong=$(mktemp)
trap 'rm -f "$log" "$wrong"' EXIT
started=$(date +%s)
if ! run "$emulated" "$log"; then
  grep -E "^test .*FAILED|panicked" "$log" >&2 || tail -50 "$log" >&2
  echo "error: the aarch64 binary failed the emulated subset" >&2
  exit 1
fi
# Every filter ran at least one test (a renamed test must not drop out).
for name in "${subset[@]}"; do
  grep -q "^test [^ ]*${name}[^ ]* \.\.\. " "$log" || { echo "error: no test matched $name" >&2; exit 1; }
done
passed=$(grep -o "ok\. [0-9]* passed" "$log" | awk '{n += $2} END {print n}')
echo "emulated: $passed tests passed with $(basename "$emulated") (aarch64) under $runner in $(( $(date +%s) - started )) s"

if run "$native" "$wrong"; then
  echo "error: the x86_64 binary passed under $runner: the subset cannot tell the architectures apart" >&2
  exit 1
fi
failed=$(grep -o "[0-9]* failed;" "$wrong" | awk '{n += $1} END {print n}')
if grep -q "^test .* \.\.\. ok" "$wrong"; then
  grep "^test .* \.\.\. ok" "$wrong" >&2
  echo "error: these tests pass with the x86_64 binary under $runner" >&2
  exit 1
fi
why=$(grep -m1 -o "Invalid ELF image[^\"]*\|Exec format error" "$wrong" || echo "see the log")
echo "emulated: negative control: the x86_64 binary under $runner fails $failed tests ($why), as it must"
