#!/usr/bin/env bash
# Issue 7 benchmark: restore of the ~1 GB benchmark database (bench/backup-vs-pgdump.sh makes it)
# with `backstop restore --jobs 1` and `--jobs 2` against a bare `pg_restore` of the same file,
# side by side, and the restore drill (`backstop verify`) against a bare restore.
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
work="${BENCH_DIR:-/tmp/backstop-bench}"
port="${BENCH_PORT:-55432}"
mkdir -p "$work/restore"
cp "$(ensure_jar)" "$work/restore/backstop.jar"
jar="$work/restore/backstop.jar"
trap 'stop_cluster "$work/pg"' EXIT
start_cluster "$work/pg" "$port"
psql=("$PG_BIN/psql" -X -q -h 127.0.0.1 -p "$port" -U postgres -v ON_ERROR_STOP=1)
if [ "$("${psql[@]}" -Atc "SELECT count(*) FROM pg_database WHERE datname = 'bench1'")" = 0 ]; then
  echo "run bench/backup-vs-pgdump.sh first: it generates the bench1 database" >&2
  exit 2
fi
export PGHOST=127.0.0.1 PGPORT="$port" PGUSER=postgres PGDATABASE=bench1
export BACKSTOP_BACKUP_DIR="$work/restore/backups" BACKSTOP_PG_BIN_DIR="$PG_BIN" BACKSTOP_CONFIG=/dev/null
java_opts=(-XX:+UseSerialGC -Xss512k -XX:ReservedCodeCacheSize=32m -XX:CICompilerCount=2 -Xshare:auto)
rm -rf "$BACKSTOP_BACKUP_DIR"
java "${java_opts[@]}" -jar "$jar" backup
dump=$(find "$BACKSTOP_BACKUP_DIR/app/hourly" -name '*.dump' | head -1)
drop() { "${psql[@]}" -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)"; }
timed() { local t0; t0=$(now); "$@" > "$work/restore/out.txt" 2>&1; echo "$(now) - $t0" | bc; }
for jobs in 1 2; do
  drop r_bare; drop r_backstop
  "${psql[@]}" -c "CREATE DATABASE r_bare"
  sync
  bare=$(timed "$PG_BIN/pg_restore" --exit-on-error -j "$jobs" -d r_bare "$dump")
  sync
  ours=$(timed java "${java_opts[@]}" -jar "$jar" restore "$dump" --into r_backstop --yes --jobs "$jobs")
  grep -q "row counts match the manifest" "$work/restore/out.txt" || { cat "$work/restore/out.txt"; exit 1; }
  printf 'jobs %s: bare pg_restore %6.1f s, backstop restore %6.1f s, ratio %.3f\n' "$jobs" "$bare" "$ours" \
    "$(echo "$ours / $bare" | bc -l)"
done
drop r_bare; drop r_backstop
"${psql[@]}" -c "CREATE DATABASE r_bare"
sync
bare=$(timed "$PG_BIN/pg_restore" --exit-on-error -j 1 -d r_bare "$dump")
drop r_bare
sync
drill=$(timed java "${java_opts[@]}" -jar "$jar" verify "$dump")
grep -q "passed" "$work/restore/out.txt" || { cat "$work/restore/out.txt"; exit 1; }
printf 'drill (verify): %6.1f s against a bare restore of %6.1f s: overhead %.1f s (%.1f%%): %s\n' "$drill" "$bare" \
  "$(echo "$drill - $bare" | bc -l)" "$(echo "100 * ($drill - $bare) / $bare" | bc -l)" "$(cat "$work/restore/out.txt")"
