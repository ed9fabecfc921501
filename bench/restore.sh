#!/usr/bin/env bash
# Restore of a generated ~300 MB database: `backstop restore` (sha256 check, database recreated as
# the archive describes it, pg_restore, properties, every table counted against the manifest)
# against a bare restore of the same file with the documented standard command, side by side.
# Usage: bench/restore.sh [SCALE]   (default 1)
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
scale="${1:-1}"
work="${BENCH_DIR:-/tmp/backstop-bench}/restore"
port="${BENCH_PORT:-55482}"
rm -rf "$work"
mkdir -p "$work"
jar="$(ensure_jar)"
trap 'stop_cluster "$work/pg"' EXIT
start_cluster "$work/pg" "$port"
psql=("$PG_BIN/psql" -X -q -h 127.0.0.1 -p "$port" -U postgres -v ON_ERROR_STOP=1)
"${psql[@]}" -c "CREATE DATABASE source"
"${psql[@]}" -d source -c "CREATE TABLE orders AS SELECT g AS id, g % 1000 AS customer, md5(g::text) AS note
    FROM generate_series(1, 3000000 * $scale) g" -c "ALTER TABLE orders ADD PRIMARY KEY (id)" \
  -c "CREATE TABLE lines AS SELECT g AS id, g % 3000000 AS order_id, (g % 97) * 1.5 AS amount
    FROM generate_series(1, 4000000 * $scale) g" -c "CREATE INDEX ON lines(order_id)"
export PGHOST=127.0.0.1 PGPORT="$port" PGUSER=postgres PGDATABASE=source
export BACKSTOP_BACKUP_DIR="$work/backups" BACKSTOP_PG_BIN_DIR="$PG_BIN" BACKSTOP_CONFIG=/dev/null
BACKSTOP_JAR="$jar" "$BENCH_ROOT/backstop" backup
dump=$(find "$BACKSTOP_BACKUP_DIR/app/hourly" -name 'app-*.dump*' ! -name '*.json' | head -1)
timed() { local t0; t0=$(now); "$@" > "$work/out.txt" 2>&1; python3 -c "print(round($(now) - $t0, 2))"; }
bare_restore() {
  if [[ "$dump" == *.zst ]]; then zstd -dc < "$dump" | "$PG_BIN/pg_restore" --exit-on-error -d r_bare
  else "$PG_BIN/pg_restore" --exit-on-error -d r_bare "$dump"; fi
}
"${psql[@]}" -c "CREATE DATABASE r_bare"
sync
bare=$(timed bare_restore)
sync
ours=$(timed env BACKSTOP_JAR="$jar" "$BENCH_ROOT/backstop" restore "$dump" --into r_backstop --yes)
grep -q "row counts match the manifest" "$work/out.txt" || { cat "$work/out.txt"; exit 1; }
echo "restore of $(basename "$dump") ($(du -h "$dump" | cut -f1)): bare ${bare} s, backstop restore ${ours} s, ratio $(python3 -c "print(round($ours / $bare, 2))")"
