#!/usr/bin/env bash
# Issue 32 benchmark, side by side in one run on one database:
#  1. a base backup by Backstop (`backstop pitr base-backup`: pg_basebackup -Fp -X stream with a
#     CRC32C backup_manifest, each file checksummed and fsynced as it is written, then checked against
#     the manifest with pg_verifybackup for the rest) against a bare `pg_basebackup` with the same
#     flags and against pgBackRest's `backup --type=full` (Debian's pgbackrest, compress-type=none,
#     start-fast; skipped with a note when it is not installed), alternating, several rounds;
#  2. WAL receive lag while pgbench writes as fast as this machine allows, with Backstop's daemon
#     streaming (the server's own flush_lag for the slot's walsender, sampled every 0.2 s: p50/p99,
#     and the bytes behind), the CPU the archive costs (the daemon, pg_receivewal and the server's
#     walsender), and pgbench's TPS without and with streaming.
#
#   bench/pitr.sh [SCALE] [SECONDS] [ROUNDS]   (defaults: pgbench scale 30 = about 450 MB, 60 s, 3 rounds)
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"

scale="${1:-30}"
seconds="${2:-60}"
rounds="${3:-3}"
work="${BENCH_DIR:-/tmp/backstop-bench-pitr}"
port="${BENCH_PORT:-55433}"
http="${BENCH_HTTP_PORT:-58081}"
mkdir -p "$work"
cp "$(ensure_jar)" "$work/backstop.jar"
jar="$work/backstop.jar"
as=()
[ "$(id -u)" = 0 ] && as=(runuser -u postgres --)
daemon_pid=""
cleanup() {
  [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
  "$PG_BIN/psql" -X -q -h 127.0.0.1 -p "$port" -U postgres -c "SELECT pg_drop_replication_slot('backstop_app')" \
    >/dev/null 2>&1 || true
  stop_cluster "$work/pg"
}
trap cleanup EXIT
start_cluster "$work/pg" "$port"
psql=("$PG_BIN/psql" -X -q -h 127.0.0.1 -p "$port" -U postgres -v ON_ERROR_STOP=1)
db="pitr$scale"
if [ "$("${psql[@]}" -Atc "SELECT count(*) FROM pg_database WHERE datname = '$db'")" = 0 ]; then
  "${psql[@]}" -c "CREATE DATABASE $db"
  "$PG_BIN/pgbench" -h 127.0.0.1 -p "$port" -U postgres -i -q -s "$scale" "$db" 2>/dev/null
fi
echo "database: $("${psql[@]}" -Atc "SELECT pg_size_pretty(pg_database_size('$db'))") (pgbench scale $scale); $(nproc) cores"

touch "$work/empty.conf"
export BACKSTOP_CONFIG="$work/empty.conf" BACKSTOP_BACKUP_DIR="$work/backups" BACKSTOP_PG_BIN_DIR="$PG_BIN" \
  PGHOST=127.0.0.1 PGPORT="$port" PGUSER=postgres PGDATABASE="$db" BACKSTOP_TARGET=app
# Backstop as its users run it: through its launcher (the JVM flags and the class-data archive it keeps per command).
backstop=(env BACKSTOP_JAR="$jar" "$BENCH_ROOT/backstop")

# ---- 1. base backups ----
pgbr=""
if command -v pgbackrest >/dev/null; then
  pgbr="$work/pgbackrest.conf"
  mkdir -p "$work/pgbr"
  [ "$(id -u)" = 0 ] && chown postgres "$work/pgbr"
  pgbackrest_conf "$pgbr" "$work" "$port" "archive-check=n"
  "${as[@]}" pgbackrest --config="$pgbr" --stanza=bench stanza-create >/dev/null 2>&1 || true
else
  echo "pgbackrest is not installed (apt-get install --no-install-recommends pgbackrest): its column is skipped"
fi
# One untimed run first: a command's first run through the launcher writes its class-data archive.
"${backstop[@]}" pitr base-backup >/dev/null 2>&1
await_class_data "$jar" pitr
bare_t=(); bs_t=(); bs_in=(); br_t=()
for r in $(seq 1 "$rounds"); do
  rm -rf "$work/bare" "$work/backups/app/base"
  t0=$(now)
  "$PG_BIN/pg_basebackup" -h 127.0.0.1 -p "$port" -U postgres -D "$work/bare" -Fp -X stream -c fast \
    --manifest-checksums=CRC32C >/dev/null
  t1=$(now); bare_t+=("$(echo "$t1 - $t0" | bc)")
  out=$("${backstop[@]}" pitr base-backup 2>/dev/null)
  t2=$(now); bs_t+=("$(echo "$t2 - $t1" | bc)")
  bs_in+=("$(echo "$out" | sed -n 's/.* in \([0-9.]*\) s (pg_basebackup.*/\1/p')")
  line="round $r: bare pg_basebackup $(printf %.2f "${bare_t[-1]}") s, backstop $(printf %.2f "${bs_in[-1]}") s in process ($(printf %.2f "${bs_t[-1]}") s with the JVM's start)"
  if [ -n "$pgbr" ]; then
    t3=$(now)
    "${as[@]}" pgbackrest --config="$pgbr" --stanza=bench --type=full backup >/dev/null 2>&1
    t4=$(now); br_t+=("$(echo "$t4 - $t3" | bc)")
    line="$line, pgbackrest $(printf %.2f "${br_t[-1]}") s"
  fi
  echo "$line"
done
rm -rf "$work/bare"
mb=$(printf '%s\n' "${bare_t[@]}" | median); mi=$(printf '%s\n' "${bs_in[@]}" | median)
mw=$(printf '%s\n' "${bs_t[@]}" | median)
echo "base backup medians: bare $mb s; backstop $mi s = $(echo "scale=3; $mi / $mb" | bc)x (with JVM start $mw s = $(echo "scale=3; $mw / $mb" | bc)x)"
if [ -n "$pgbr" ]; then
  mr=$(printf '%s\n' "${br_t[@]}" | median)
  echo "  pgbackrest full backup $mr s = $(echo "scale=3; $mr / $mb" | bc)x bare pg_basebackup"
fi

# ---- 2. WAL receive lag under pgbench ----
cpu_of() { # utime+stime of a pid, in seconds
  awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$1/stat" 2>/dev/null || echo 0
}
bench_tps() {
  # Each run starts after a checkpoint: the one a base backup forces would otherwise tax only the runs
  # that follow a daemon's start (every page's first change after it writes a full page image to WAL).
  "${psql[@]}" -c CHECKPOINT
  "$PG_BIN/pgbench" -h 127.0.0.1 -p "$port" -U postgres -n -c 4 -j 2 -T "$seconds" "$db" 2>/dev/null \
    | sed -n 's/^tps = \([0-9.]*\).*/\1/p' | head -1
}
start_daemon() {
  BACKSTOP_PITR=true BACKSTOP_SCHEDULE="0 0 0 1 1 ?" BACKSTOP_RESTORE_DRILL_EVERY=0 BACKSTOP_HTTP_PORT="$http" \
    BACKSTOP_HTTP_BIND=127.0.0.1 "${backstop[@]}" daemon >> "$work/daemon.log" 2>&1 &
  daemon_pid=$!
  for _ in $(seq 1 600); do
    kill -0 "$daemon_pid" 2>/dev/null || { echo "the daemon stopped:"; tail -5 "$work/daemon.log"; exit 1; }
    m=$(curl -fsS "http://127.0.0.1:$http/metrics" 2>/dev/null || true)
    if echo "$m" | grep -q '^backstop_wal_streaming{target="app"} 1.0' \
        && echo "$m" | grep -Eq '^backstop_basebackup_last_success_timestamp_seconds\{target="app"\} [1-9]' \
        && echo "$m" | grep -q '^backstop_backup_in_progress{target="app"} 0.0' \
        && echo "$m" | grep -Eq '^backstop_backup_last_success_timestamp_seconds\{target="app"\} [1-9]'; then
      return
    fi
    sleep 0.5
  done
}
stop_daemon() {
  kill "$daemon_pid" 2>/dev/null; wait "$daemon_pid" 2>/dev/null || true
  daemon_pid=""
}
pct() { sort -g | awk -v p="$1" '{a[NR]=$1} END {i=int(NR*p/100+0.999); if (i<1) i=1; print a[i]}'; }
: > "$work/lag.txt"
without=(); with=(); cpu_d=0; cpu_r=0; cpu_s=0; streamed=0
for r in 1 2; do
  echo "round $r: pgbench -c 4 -j 2 for $seconds s without streaming ..."
  without+=("$(bench_tps)")
  start_daemon
  # The slot kept the WAL the round without streaming wrote: it is received first. What is measured below is
  # the lag while streaming keeps up with the writes, so the catch-up is waited for (and its time printed).
  c0=$(now)
  behind=$("${psql[@]}" -Atc "SELECT pg_current_wal_lsn()")
  until [ "$("${psql[@]}" -Atc "SELECT coalesce(bool_and(write_lsn >= '$behind'), false) FROM pg_stat_replication
      WHERE application_name = 'backstop_app'")" = t ]; do
    sleep 0.2
  done
  echo "round $r: the daemon caught up with the WAL written while it was stopped in $(printf %.1f "$(echo "$(now) - $c0" | bc)") s"
  receiver=$(pgrep -f "pg_receivewal.*backstop_app" | head -1)
  sender=$("${psql[@]}" -Atc "SELECT pid FROM pg_stat_replication WHERE application_name = 'backstop_app'")
  c0_d=$(cpu_of "$daemon_pid"); c0_r=$(cpu_of "$receiver"); c0_s=$(cpu_of "$sender")
  echo "round $r: pgbench for $seconds s with Backstop streaming, the server's write_lag sampled every 0.2 s ..."
  ( while sleep 0.2; do
      "${psql[@]}" -Atc "SELECT EXTRACT(epoch FROM write_lag), pg_wal_lsn_diff(pg_current_wal_lsn(), write_lsn)
        FROM pg_stat_replication WHERE application_name = 'backstop_app' AND write_lag IS NOT NULL" 2>/dev/null
    done ) >> "$work/lag.txt" &
  sampler=$!
  w0=$(now)
  with+=("$(bench_tps)")
  w1=$(now)
  kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null || true
  cpu_d=$(echo "$cpu_d + $(cpu_of "$daemon_pid") - $c0_d" | bc); cpu_r=$(echo "$cpu_r + $(cpu_of "$receiver") - $c0_r" | bc)
  cpu_s=$(echo "$cpu_s + $(cpu_of "$sender") - $c0_s" | bc); streamed=$(echo "$streamed + $w1 - $w0" | bc)
  stop_daemon
  echo "  TPS without ${without[-1]}, with ${with[-1]}"
done
n=$(wc -l < "$work/lag.txt")
p50=$(cut -d'|' -f1 "$work/lag.txt" | pct 50); p99=$(cut -d'|' -f1 "$work/lag.txt" | pct 99)
b50=$(cut -d'|' -f2 "$work/lag.txt" | pct 50); b99=$(cut -d'|' -f2 "$work/lag.txt" | pct 99)
wal=$(grep -c . "$work/backups/app/wal/ledger.tsv" || true)
echo "WAL receive lag (the server's write_lag for the slot's walsender, $n samples): p50 $(printf %.3f "$p50") s, p99 $(printf %.3f "$p99") s;"
echo "  bytes behind: p50 $b50, p99 $b99; $wal WAL files archived"
printf 'CPU while streaming (%% of one core over %.0f s): Backstop daemon %.1f%%, pg_receivewal %.1f%%, walsender %.1f%%\n' \
  "$streamed" "$(echo "$cpu_d * 100 / $streamed" | bc -l)" "$(echo "$cpu_r * 100 / $streamed" | bc -l)" \
  "$(echo "$cpu_s * 100 / $streamed" | bc -l)"
tw=$(printf '%s\n' "${without[@]}" | median); tp=$(printf '%s\n' "${with[@]}" | median)
echo "pgbench TPS, alternating: $tw without streaming, $tp with ($(echo "scale=3; $tp / $tw" | bc)x)"
