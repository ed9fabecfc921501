#!/usr/bin/env bash
# Issue 8 benchmark: wall time of one `backstop guard --hook` call through the ./backstop
# launcher (the way a coding assistant's hook runs it), median and max of 20 calls, for an
# allowed and a destructive command. The first call builds the class-data archive.
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
ensure_jar > /dev/null
rm -f "$BENCH_ROOT/target/backstop-guard.jsa"
for command in "ls -la" "docker compose down -v" "psql -c \\\"DELETE FROM users\\\""; do
  input="{\"tool_name\":\"Bash\",\"tool_input\":{\"command\":\"$command\"}}"
  "$BENCH_ROOT/backstop" guard --hook <<< "$input" > /dev/null # warms the class-data archive
  times=()
  for _ in $(seq 1 20); do
    t0=$(now)
    answer=$("$BENCH_ROOT/backstop" guard --hook <<< "$input")
    times+=("$(echo "($(now) - $t0) * 1000" | bc)")
  done
  decision=$(grep -o '"permissionDecision":"[a-z]*"' <<< "$answer")
  printf '%-34s %s  median %.0f ms, max %.0f ms\n' "$command" "$decision" \
    "$(printf '%s\n' "${times[@]}" | median)" "$(printf '%s\n' "${times[@]}" | sort -g | tail -1)"
done
