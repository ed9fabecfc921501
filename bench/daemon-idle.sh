#!/usr/bin/env bash
# Issue 3 benchmark: the daemon's resident memory when idle, with the JVM flags of the
# container image, and the time from start to its first scheduling decision.
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
jar="$(ensure_jar)"
work="${BENCH_DIR:-/tmp/backstop-bench}/idle"
port="${BENCH_PORT_IDLE:-55433}"
rm -rf "$work"; mkdir -p "$work"
trap 'kill "$pid" 2>/dev/null || true; stop_cluster "$work/pg"' EXIT
start_cluster "$work/pg" "$port"
"$PG_BIN/psql" -X -q -h 127.0.0.1 -p "$port" -U postgres -c "CREATE TABLE users AS SELECT g AS id FROM generate_series(1, 10000) g"
export PGHOST=127.0.0.1 PGPORT="$port" PGUSER=postgres PGDATABASE=postgres
export BACKSTOP_BACKUP_DIR="$work/backups" BACKSTOP_PG_BIN_DIR="$PG_BIN" BACKSTOP_CONFIG=/dev/null
# Through the ./backstop launcher, as the container runs it: its flags and its environment.
t0=$(now)
BACKSTOP_JAR="$jar" "$BENCH_ROOT/backstop" daemon > "$work/daemon.log" 2>&1 &
pid=$!
until grep -q "daemon started" "$work/daemon.log"; do sleep 0.05; kill -0 "$pid" || { cat "$work/daemon.log"; exit 1; }; done
started=$(python3 -c "print(round($(now) - $t0, 2))")
until grep -q "backup app finished" "$work/daemon.log"; do sleep 0.1; done
first=$(python3 -c "print(round($(now) - $t0, 2))")
echo "start to first scheduling decision: ${started} s; start-up backup finished at ${first} s"
sleep "${IDLE_SECONDS:-60}"
rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
heap=$(jstat -gc "$pid" | awk 'NR==2 {printf "%d", ($3+$4+$6+$8)/1024}')
echo "idle daemon after ${IDLE_SECONDS:-60} s: RSS $((rss / 1024)) MB, heap used ${heap} MB (flags: $(tr '\0' ' ' < "/proc/$pid/cmdline"))"
