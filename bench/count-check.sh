#!/usr/bin/env bash
# Issue 4 benchmark: time and database load of one row-count check on a database with
# 1,000 tables and on one with a 50-million-row table (estimate path and exact path), and
# the time from an incident (DELETE without WHERE) to the raised alarm in the daemon.
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
work="${BENCH_DIR:-/tmp/backstop-bench}/counts"
port="${BENCH_PORT_COUNTS:-55434}"
big_rows="${BIG_ROWS:-50000000}"
mkdir -p "$work"
cp "$(ensure_jar)" "$work/backstop.jar"
jar="$work/backstop.jar"
trap 'kill "${daemon:-0}" 2>/dev/null || true; stop_cluster "$work/pg"' EXIT
start_cluster "$work/pg" "$port"
psql=("$PG_BIN/psql" -X -q -h 127.0.0.1 -p "$port" -U postgres -v ON_ERROR_STOP=1)
export PGHOST=127.0.0.1 PGPORT="$port" PGUSER=postgres BACKSTOP_PG_BIN_DIR="$PG_BIN" BACKSTOP_CONFIG=/dev/null
java_opts=(-XX:+UseSerialGC -Xss512k -XX:ReservedCodeCacheSize=32m -XX:CICompilerCount=2 -Xshare:auto)
bs() { java "${java_opts[@]}" -jar "$jar" "$@"; }

# load DB: buffers touched and tuples read by everything in the database, before and after
load() { "${psql[@]}" -d "$1" -Atc "SELECT blks_hit + blks_read, tup_returned + tup_fetched FROM pg_stat_database WHERE datname = '$1'" | tr '|' ' '; }
measure() { # measure DB LABEL ENV...: one `backstop check`, with its time and the database's load
  local db="$1" label="$2"; shift 2
  "${psql[@]}" -d "$db" -c "SELECT pg_stat_force_next_flush()" >/dev/null 2>&1 || true
  sleep 1.2
  read -r b0 t0 < <(load "$db")
  local s; s=$(now)
  env "$@" PGDATABASE="$db" BACKSTOP_BACKUP_DIR="$work/backups-$db" java "${java_opts[@]}" -jar "$jar" check > "$work/check.out" || true
  local wall; wall=$(echo "$(now) - $s" | bc)
  sleep 1.2
  read -r b1 t1 < <(load "$db")
  printf '%-34s command %6.2f s, %s; buffers touched %s, tuples read %s\n' "$label" "$wall" \
    "$(grep -o 'checked .*' "$work/check.out")" "$((b1 - b0))" "$((t1 - t0))"
}

if [ "$("${psql[@]}" -Atc "SELECT count(*) FROM pg_database WHERE datname = 'many'")" = 0 ]; then
  echo "creating 1,000 tables of 1,000 rows ..."
  "${psql[@]}" -c "CREATE DATABASE many"
  "${psql[@]}" -d many -c "DO \$\$ BEGIN FOR i IN 1..1000 LOOP EXECUTE format('CREATE TABLE t%s AS SELECT g AS id FROM generate_series(1, 1000) g', i); END LOOP; END \$\$"
fi
if [ "$("${psql[@]}" -Atc "SELECT count(*) FROM pg_database WHERE datname = 'huge'")" = 0 ]; then
  echo "creating a table of $big_rows rows ..."
  "${psql[@]}" -c "CREATE DATABASE huge"
  "${psql[@]}" -d huge -c "CREATE TABLE events AS SELECT g AS id FROM generate_series(1, $big_rows) g" -c "VACUUM ANALYZE events"
fi
for db in many huge; do
  rm -rf "$work/backups-$db"
  PGDATABASE=$db BACKSTOP_BACKUP_DIR="$work/backups-$db" BACKSTOP_PG_DUMP_COMPRESS=1 bs backup | sed 's/^/baseline: /'
done
measure many "1,000 tables (all exact)"
measure huge "50M rows, estimate path (default)"
# The exact path, forced through the config file (estimate-above has no environment variable).
echo 'backstop.row-counts.estimate-above = 100000000000' > "$work/exact.conf"
measure huge "50M rows, exact count(*)" BACKSTOP_CONFIG="$work/exact.conf"

echo "incident to alarm (daemon, check-interval 10s, DELETE FROM t1 in the 1,000-table database):"
PGDATABASE=many BACKSTOP_BACKUP_DIR="$work/backups-many" BACKSTOP_CHECK_INTERVAL=10s BACKSTOP_SCHEDULE="0 0 * * * ?" \
  java "${java_opts[@]}" -jar "$jar" daemon > "$work/daemon.log" 2>&1 &
daemon=$!
until grep -q "daemon started" "$work/daemon.log"; do sleep 0.1; done
sleep 2
t0=$(now)
"${psql[@]}" -d many -c "DELETE FROM t1"
until grep -q "DATA LOSS" "$work/daemon.log"; do sleep 0.05; done
echo "  alarm raised $(echo "$(now) - $t0" | bc) s after the DELETE committed (at most check-interval + one check)"
grep -o "DATA LOSS.*dropped[^;.]*\|DATA LOSS.*empty[^;.]*" "$work/daemon.log" | head -1 | cut -c1-160
