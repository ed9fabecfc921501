#!/usr/bin/env bash
# The guard as a hook costs: wall time of one call through the ./backstop launcher (the way a
# coding assistant's hook runs it), p50 and p95 of N calls, side by side with `true` and
# `python3 -c pass` in the same run: through the user's warm guard server (the default), and with
# a JVM per call (BACKSTOP_GUARD_SERVER=0). The server is started by the first call and stopped at the end.
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
n="${1:-50}"
ensure_jar > /dev/null
XDG_RUNTIME_DIR="$(mktemp -d)"
export XDG_RUNTIME_DIR
trap 'pkill -f "guard-server --state $XDG_RUNTIME_DIR" 2>/dev/null || true; rm -rf "$XDG_RUNTIME_DIR"' EXIT

# p50 and p95 in ms of N runs of the command given, stdin from $input.
measure() {
  local times=() t0
  for _ in $(seq 1 "$n"); do
    t0=$(date +%s%N)
    "$@" <<< "$input" > /dev/null 2>&1 || true
    times+=("$(( ($(date +%s%N) - t0) / 1000 ))")
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {printf "p50 %6.1f ms  p95 %6.1f ms", a[int((NR+1)*0.5)]/1000, a[int(NR*0.95+0.5)]/1000}'
}

hook() { "$BENCH_ROOT/backstop" guard --hook; }
input='{"tool_name":"Bash","tool_input":{"command":"ls -la"}}'
hook > /dev/null # starts the guard server
for _ in $(seq 1 100); do [ -f "$XDG_RUNTIME_DIR/backstop-guard-$EUID/server" ] && break; sleep 0.1; done
for _ in $(seq 1 40); do hook <<< "$input" > /dev/null; done # its JIT warms up

printf '%-58s %s\n' "true" "$(measure true)"
printf '%-58s %s\n' "python3 -c pass" "$(measure python3 -c pass)"
for command in "ls -la" "docker compose down -v" "psql -c \\\"DELETE FROM users\\\"" "kubectl -n prod delete pvc data-postgres-0"; do
  input="{\"tool_name\":\"Bash\",\"tool_input\":{\"command\":\"$command\"}}"
  answer=$(hook <<< "$input")
  decision=$(grep -o '"permissionDecision":"[a-z]*"' <<< "$answer" || echo "(no output: no danger)")
  printf '%-58s %s  %s\n' "guard --hook, server: $command" "$(measure hook)" "$decision"
done
input='{"tool_name":"Bash","tool_input":{"command":"docker compose down -v"}}'
printf '%-58s %s\n' "guard --hook, a JVM per call (BACKSTOP_GUARD_SERVER=0)" \
  "$(n=$(( n < 10 ? n : 10 )) BACKSTOP_GUARD_SERVER=0 measure hook)"
