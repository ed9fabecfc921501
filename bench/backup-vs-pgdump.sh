#!/usr/bin/env bash
# Issue 2 benchmark: `backstop backup` (snapshot, counts, dump, full verification, sha256,
# fsync) against a bare `pg_dump -Fc -f` of the same ~1 GB database, alternating, several
# rounds, in one run. Prints each round, the median ratio, where Backstop's extra time goes,
# and the peak JVM heap sampled during the dump.
#
#   bench/backup-vs-pgdump.sh [ROUNDS] [SCALE]     (defaults: 5 rounds, scale 1 = about 1 GB)
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"

rounds="${1:-5}"
scale="${2:-1}"
work="${BENCH_DIR:-/tmp/backstop-bench}"
port="${BENCH_PORT:-55432}"
mkdir -p "$work"
cp "$(ensure_jar)" "$work/backstop.jar" # a rebuild during the run must not change what is measured
jar="$work/backstop.jar"
trap 'stop_cluster "$work/pg"' EXIT
start_cluster "$work/pg" "$port"
psql=("$PG_BIN/psql" -X -q -h 127.0.0.1 -p "$port" -U postgres -v ON_ERROR_STOP=1)

if [ "$("${psql[@]}" -Atc "SELECT count(*) FROM pg_database WHERE datname = 'bench$scale'")" = 0 ]; then
  echo "generating bench$scale (about $scale GB) ..."
  t0=$(now)
  "${psql[@]}" -c "CREATE DATABASE bench$scale"
  "${psql[@]}" -d "bench$scale" <<SQL
CREATE TABLE users(id bigint PRIMARY KEY, email text, name text, created_at timestamptz);
INSERT INTO users SELECT g, 'user' || g || '@example.com', 'Name ' || md5(g::text), now() - g * interval '1 minute'
  FROM generate_series(1, 2000000 * $scale) g;
CREATE TABLE orders(id bigint PRIMARY KEY, user_id bigint, amount numeric(10,2), status text);
INSERT INTO orders SELECT g, g % (2000000 * $scale) + 1, (g % 10000) / 100.0, (ARRAY['new','paid','shipped','cancelled'])[g % 4 + 1]
  FROM generate_series(1, 6000000 * $scale) g;
CREATE TABLE events(id bigint, user_id bigint, kind smallint, at timestamptz, payload text);
INSERT INTO events SELECT g, g % 100000, (g % 7)::smallint, now() - g * interval '1 second', substr(md5(g::text), 1, 16)
  FROM generate_series(1, 12000000 * $scale) g;
VACUUM ANALYZE;
SQL
  echo "generated in $(printf '%.0f' "$(echo "$(now) - $t0" | bc)") s"
fi
"${psql[@]}" -Atc "SELECT 'database size: ' || pg_size_pretty(pg_database_size('bench$scale')) || ', rows: ' ||
  (SELECT sum(n_live_tup) FROM pg_stat_user_tables)" -d "bench$scale"

backups="$work/backups"
rm -rf "$backups" "$work/bare.dump" "$work"/gc-*.log
mkdir -p "$backups"
export PGHOST=127.0.0.1 PGPORT="$port" PGUSER=postgres PGDATABASE="bench$scale"
export BACKSTOP_BACKUP_DIR="$backups" BACKSTOP_PG_BIN_DIR="$PG_BIN" BACKSTOP_CONFIG=/dev/null
java_opts=(-XX:+UseSerialGC -Xss512k -XX:MaxRAM=256m -XX:MaxRAMPercentage=50 -XX:ReservedCodeCacheSize=32m -XX:CICompilerCount=2 -Xshare:auto)

peaks="$work/peaks"
echo "0" > "$peaks"
# Peak RSS from /proc with shell builtins only: a sampler that starts processes (jstat starts a
# JVM) takes CPU from the run it measures. Peak heap comes from the JVM's own GC log instead.
sample() {
  local pid="$1" max=0 key value _
  while kill -0 "$pid" 2>/dev/null; do
    while read -r key value _; do
      [ "$key" = "VmRSS:" ] && [ "$value" -gt "$max" ] && max=$value
    done < "/proc/$pid/status" 2>/dev/null || true
    echo "$max" > "$peaks"
    sleep 0.5
  done
}

printf '%-6s %10s %10s %8s %10s %10s\n' round bare_s backstop_s ratio dump_s verify_s
ratios=()
for r in $(seq 1 "$rounds"); do
  sync
  t0=$(now)
  "$PG_BIN/pg_dump" -Fc -f "$work/bare.dump" "bench$scale"
  bare=$(echo "$(now) - $t0" | bc)
  rm -f "$work/bare.dump"

  sync
  t0=$(now)
  java "${java_opts[@]}" -Xlog:gc:file="$work/gc-$r.log" -jar "$jar" backup > "$work/backstop.out" 2>&1 &
  pid=$!
  sample "$pid" &
  sampler=$!
  wait "$pid"
  ours=$(echo "$(now) - $t0" | bc)
  wait "$sampler" || true
  line=$(grep '^backup ' "$work/backstop.out")
  dump_s=$(sed -E 's/.*\(dump ([0-9.]+) s.*/\1/' <<< "$line")
  verify_s=$(sed -E 's/.*verify ([0-9.]+) s\).*/\1/' <<< "$line")
  ratio=$(echo "scale=3; $ours / $bare" | bc)
  ratios+=("$ratio")
  printf '%-6s %10.2f %10.2f %8.3f %10s %10s\n' "$r" "$bare" "$ours" "$ratio" "$dump_s" "$verify_s"
  rm -rf "${backups:?}"/*
done
echo "last: $line"
echo "median ratio backstop/bare: $(printf '%s\n' "${ratios[@]}" | median)"
peak_rss_kb=$(cat "$peaks")
# "Pause Young (Allocation Failure) 6M->1M(11M)": the heap in use just before each collection.
peak_heap=$(cat "$work"/gc-*.log | grep -oE '[0-9]+M->' | sed 's/M->//' | sort -n | tail -1)
gcs=$(cat "$work"/gc-*.log | grep -c 'Pause' || true)
echo "peak JVM heap in use (before any of $gcs collections, all rounds): ${peak_heap:-0} MB; peak RSS of the last round: $((peak_rss_kb / 1024)) MB"
