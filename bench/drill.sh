#!/usr/bin/env bash
# Issue 15: what a restore drill costs the production server. Side by side in one run, on one
# pgbench database: application tps with no drill, with a drill on the target (the old way,
# restore-drill.on-target = true) and with the default drill in a throwaway local cluster; then
# the local drill's wall time against a bare pg_restore into a fresh local cluster.
# Usage: bench/drill.sh [SCALE] [SECONDS]   (defaults: 20 (~300 MB), 20)
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
scale="${1:-20}"
secs="${2:-20}"
work="${BENCH_DIR:-/tmp/backstop-bench}/drill"
port="${BENCH_PORT:-55452}"
rm -rf "$work"
mkdir -p "$work"
jar="$(ensure_jar)"
trap 'stop_cluster "$work/pg"; stop_cluster "$work/bare"' EXIT
start_cluster "$work/pg" "$port"
export PGHOST=127.0.0.1 PGPORT="$port" PGUSER=postgres PGDATABASE=bench BACKSTOP_BACKUP_DIR="$work/backups"
export BACKSTOP_CONFIG="$work/empty.conf" BACKSTOP_PG_BIN_DIR="$PG_BIN"
: > "$BACKSTOP_CONFIG"
"$PG_BIN/createdb" bench
"$PG_BIN/pgbench" -i -q -s "$scale" bench >/dev/null 2>&1
bs() { java -XX:+UseSerialGC -jar "$jar" "$@"; }
bs backup >/dev/null 2>&1
dump=$(find "$work/backups/app/hourly" -name 'app-*.dump*' ! -name '*.json' | head -1)
# pg_restore reads a .dump as is, a .dump.zst (pg_dump older than 16) through zstd: the documented command.
bare_restore() { if [[ "$dump" == *.zst ]]; then zstd -dc < "$dump" | "$PG_BIN/pg_restore" "$@"; else "$PG_BIN/pg_restore" "$@" "$dump"; fi; }
echo "database: pgbench scale $scale ($("$PG_BIN/psql" -Atc "SELECT pg_size_pretty(pg_database_size('bench'))")), dump $(du -h "$dump" | cut -f1)"

tps() { "$PG_BIN/pgbench" -c 4 -j 2 -T "$secs" bench 2>/dev/null | awk '/^tps/ {printf "%.0f", $3}'; }
wal() { "$PG_BIN/psql" -Atc "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint"; }
# drill_loop MODE: drills back to back while pgbench runs; prints tps, drills done and WAL written.
drill_loop() {
  local mode="$1" stop="$work/stop" n=0
  rm -f "$stop"
  (
    while [ ! -f "$stop" ]; do
      if [ "$mode" = target ]; then BACKSTOP_RESTORE_DRILL_ON_TARGET=true bs verify >/dev/null 2>&1; else bs verify >/dev/null 2>&1; fi
      n=$((n + 1)); echo "$n" > "$work/drills"
    done
  ) &
  local loop=$! w0 t
  w0=$(wal)
  t=$(tps)
  touch "$stop"; wait "$loop"
  echo "$t $(cat "$work/drills" 2>/dev/null || echo 0) $(( ($(wal) - w0) / 1048576 ))"
}
w0=$(wal); base=$(tps); base_wal=$(( ($(wal) - w0) / 1048576 ))
# The local drill first: the on-target drills' DROP DATABASE forces checkpoints, after which the
# load writes full-page images, which would be charged to whatever runs next.
read -r loc_tps loc_n loc_wal <<<"$(drill_loop local)"
read -r on_tps on_n on_wal <<<"$(drill_loop target)"
printf '%-34s %8s %8s %10s\n' "pgbench -c 4, ${secs}s" "tps" "drills" "WAL MB"
printf '%-34s %8s %8s %10s\n' "no drill" "$base" "-" "$base_wal"
printf '%-34s %8s %8s %10s   (%s%% of no-drill tps)\n' "drill on the target (old way)" "$on_tps" "$on_n" "$on_wal" "$(( on_tps * 100 / base ))"
printf '%-34s %8s %8s %10s   (%s%% of no-drill tps)\n' "drill in a local cluster (default)" "$loc_tps" "$loc_n" "$loc_wal" "$(( loc_tps * 100 / base ))"

# Drill wall time against a bare pg_restore into a fresh local cluster (both include initdb + start).
t0=$(now); bs verify >/dev/null 2>&1; t1=$(now)
drill=$(python3 -c "print(round($t1 - $t0, 2))")
t0=$(now)
start_cluster "$work/bare" $((port + 1))
"$PG_BIN/createdb" -h 127.0.0.1 -p $((port + 1)) bench
bare_restore -h 127.0.0.1 -p $((port + 1)) -d bench
stop_cluster "$work/bare"
t1=$(now)
bare=$(python3 -c "print(round($t1 - $t0, 2))")
echo "drill wall time: backstop verify ${drill}s, bare initdb + pg_restore ${bare}s, ratio $(python3 -c "print(round($drill / $bare, 2))")"
