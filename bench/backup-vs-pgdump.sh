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
rm -rf "$backups" "$work/bare.dump"
mkdir -p "$backups"
export PGHOST=127.0.0.1 PGPORT="$port" PGUSER=postgres PGDATABASE="bench$scale"
export BACKSTOP_BACKUP_DIR="$backups" BACKSTOP_PG_BIN_DIR="$PG_BIN" BACKSTOP_CONFIG=/dev/null
java_opts=(-XX:+UseSerialGC -Xss512k -XX:MaxRAM=256m -XX:MaxRAMPercentage=50 -XX:ReservedCodeCacheSize=32m -XX:CICompilerCount=2 -Xshare:auto)

peaks="$work/peaks"
echo "0 0" > "$peaks"
sample() { # sample PID: heap used (jstat, KB) and RSS (KB) while it lives; maxima go to $peaks
  local pid="$1" heap rss max_heap max_rss
  read -r max_heap max_rss < "$peaks"
  while kill -0 "$pid" 2>/dev/null; do
    heap=$(jstat -gc "$pid" 2>/dev/null | awk 'NR==2 {printf "%d", $3+$4+$6+$8}') || true
    rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null) || true
    [ -n "${heap:-}" ] && [ "$heap" -gt "$max_heap" ] && max_heap=$heap
    [ -n "${rss:-}" ] && [ "$rss" -gt "$max_rss" ] && max_rss=$rss
    echo "$max_heap $max_rss" > "$peaks"
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
  java "${java_opts[@]}" -jar "$jar" backup > "$work/backstop.out" 2>&1 &
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
read -r peak_heap_kb peak_rss_kb < "$peaks"
echo "peak JVM heap used during backup: $((peak_heap_kb / 1024)) MB; peak RSS: $((peak_rss_kb / 1024)) MB (sampled every 0.5 s; heap capped at 128 MB by the flags)"
