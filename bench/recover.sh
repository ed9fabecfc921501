#!/usr/bin/env bash
# Issue 16: undo of a DELETE. Side by side in one run: recovering 1M deleted rows of a 10M-row
# table with `backstop recover --apply` against a bare single-table `pg_restore -t` of the same
# backup into an empty database (what a person would otherwise start from), and the dry run's time.
# Usage: bench/recover.sh [ROWS] [DELETED]   (defaults: 10000000 1000000)
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
rows="${1:-10000000}"
deleted="${2:-1000000}"
work="${BENCH_DIR:-/tmp/backstop-bench}/recover"
port="${BENCH_PORT:-55462}"
rm -rf "$work"
mkdir -p "$work"
jar="$(ensure_jar)"
trap 'stop_cluster "$work/pg"' EXIT
start_cluster "$work/pg" "$port"
export PGHOST=127.0.0.1 PGPORT="$port" PGUSER=postgres PGDATABASE=app BACKSTOP_BACKUP_DIR="$work/backups"
export BACKSTOP_CONFIG="$work/empty.conf" BACKSTOP_PG_BIN_DIR="$PG_BIN"
: > "$BACKSTOP_CONFIG"
psql=("$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1)
"$PG_BIN/createdb" app
"${psql[@]}" -c "CREATE TABLE events(id bigint PRIMARY KEY, account int, payload text)" \
  -c "INSERT INTO events SELECT g, g % 1000, md5(g::text) FROM generate_series(1, $rows) g" -c "VACUUM ANALYZE events"
bs() { java -XX:+UseSerialGC -jar "$jar" "$@"; }
bs backup >/dev/null 2>&1
dump=$(find "$work/backups/app/hourly" -name 'app-*.dump*' ! -name '*.json' | head -1)
# pg_restore reads a .dump as is, a .dump.zst (pg_dump older than 16) through zstd: the documented command.
bare_restore() { if [[ "$dump" == *.zst ]]; then zstd -dc < "$dump" | "$PG_BIN/pg_restore" "$@"; else "$PG_BIN/pg_restore" "$@" "$dump"; fi; }
echo "table: $rows rows ($("${psql[@]}" -Atc "SELECT pg_size_pretty(pg_total_relation_size('events'))")), dump $(du -h "$dump" | cut -f1)"
"${psql[@]}" -c "DELETE FROM events WHERE id % $(( rows / deleted )) = 0"
echo "deleted: $("${psql[@]}" -Atc "SELECT $rows - count(*) FROM events") rows"

t0=$(now); bs recover public.events >/dev/null 2>&1; t1=$(now)
dry=$(python3 -c "print(round($t1 - $t0, 2))")
t0=$(now); bs recover public.events --apply --yes -v > "$work/apply.log" 2>&1; t1=$(now)
apply=$(python3 -c "print(round($t1 - $t0, 2))")
back=$("${psql[@]}" -Atc "SELECT count(*) FROM events")

"$PG_BIN/createdb" bare
t0=$(now); bare_restore -d bare -t events; t1=$(now)
bare=$(python3 -c "print(round($t1 - $t0, 2))")

printf '%-58s %8s\n' "what" "wall s"
printf '%-58s %8s\n' "backstop recover public.events (dry run: compare)" "$dry"
printf '%-58s %8s\n' "backstop recover public.events --apply --yes" "$apply"
printf '%-58s %8s\n' "bare pg_restore -t events into an empty database" "$bare"
echo "rows after apply: $back of $rows; apply / bare ratio: $(python3 -c "print(round($apply / $bare, 2))")"
grep -E "safety backup|applied|live keys read|backup app.*finished|verified" "$work/apply.log" | cut -c1-400 || true
