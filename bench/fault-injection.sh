#!/usr/bin/env bash
# Issue 12: fault injection from outside, repeatable. Scenarios (one line each, then a summary):
#   kill    SIGKILL at random points of N dumps; after each: no final name without a matching
#           manifest, no orphan pg_dump; the next backup sweeps the leftovers and succeeds
#   full    the backup directory on an 8 MB tmpfs (root only): exit 5, no temporary file, the
#           earlier backup intact
#   slow    50 stalled HTTP clients during a dump: /health p99 must stay under 10 ms
#   race    daemon + POST /backup + two CLI backups of one target at once, 10 rounds: never two
#           pg_dumps of the target at a time, every run ends verified or busy (6 / 409)
# Usage: bench/fault-injection.sh [N_KILLS]   (default 20)
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
kills="${1:-20}"
work="${BENCH_DIR:-/tmp/backstop-bench}/faults"
port="${BENCH_PORT:-55442}"
rm -rf "$work"
mkdir -p "$work"
jar="$(ensure_jar)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  mountpoint -q "$work/full" 2>/dev/null && umount "$work/full"
  stop_cluster "$work/pg"
}
trap cleanup EXIT
start_cluster "$work/pg" "$port"
psql=("$PG_BIN/psql" -X -q -h 127.0.0.1 -p "$port" -U postgres -v ON_ERROR_STOP=1)
"${psql[@]}" -c "CREATE DATABASE faults" -c "CREATE DATABASE tiny"
"${psql[@]}" -d faults -c "CREATE TABLE t AS SELECT g AS id, md5(g::text) || md5((g*3)::text) AS payload FROM generate_series(1, 1500000) g"
"${psql[@]}" -d tiny -c "CREATE TABLE t AS SELECT generate_series(1, 100) AS id"
export PGHOST=127.0.0.1 PGPORT="$port" PGUSER=postgres BACKSTOP_PG_BIN_DIR="$PG_BIN"
export BACKSTOP_CONFIG="$work/empty.conf"
: > "$BACKSTOP_CONFIG"
bs() { java -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -jar "$jar" "$@"; }
failed=0
report() { # name, ok(0/1), text
  if [ "$2" = 0 ]; then printf '%-6s PASS  %s\n' "$1" "$3"; else printf '%-6s FAIL  %s\n' "$1" "$3"; failed=$((failed + 1)); fi
}
# Every final-named dump has a manifest whose sha256 and size match it.
check_dir() {
  python3 - "$1" <<'PY'
import hashlib, json, os, sys
bad = 0
for root, _, files in os.walk(sys.argv[1]):
    for f in files:
        if f.endswith(".dump") and not f.startswith("."):
            p = os.path.join(root, f)
            if os.path.islink(p):
                continue
            try:
                m = json.load(open(p + ".json"))
            except Exception:
                bad += 1; print("no manifest:", p); continue
            h = hashlib.sha256(open(p, "rb").read()).hexdigest()
            if h != m["sha256"] or os.path.getsize(p) != m["size_bytes"]:
                bad += 1; print("mismatch:", p)
print(bad)
PY
}

# --- kill: SIGKILL at random points of N dumps ------------------------------------------------
dir="$work/kill"
start=$(now); BACKSTOP_BACKUP_DIR="$dir" PGDATABASE=faults bs backup >/dev/null 2>&1; ref=$(python3 -c "print(round($(now) - $start, 2))")
violations=0; orphans=0
for _ in $(seq 1 "$kills"); do
  BACKSTOP_BACKUP_DIR="$dir" PGDATABASE=faults bs backup >/dev/null 2>&1 &
  p=$!
  sleep "$(python3 -c "import random; print(round(random.uniform(0.05, $ref), 3))")"
  kill -9 "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
  for _ in $(seq 1 50); do pgrep -f "pg_dump.*--snapshot" >/dev/null || break; sleep 0.1; done
  pgrep -f "pg_dump.*--snapshot" >/dev/null && orphans=$((orphans + 1))
  bad=$(check_dir "$dir" | tail -1); violations=$((violations + bad))
done
BACKSTOP_BACKUP_DIR="$dir" PGDATABASE=faults bs backup >/dev/null 2>&1 && after=0 || after=1
left=$(find "$dir" -name '.backstop-tmp-*' | wc -l)
ok=$(( violations + orphans + after + left == 0 ? 0 : 1 ))
report kill "$ok" "$kills SIGKILLs at random points of a ${ref}s backup: $violations bad final files, $orphans orphan pg_dumps, next backup exit $after, $left leftovers after it"

# --- full: an 8 MB disk ----------------------------------------------------------------------
if [ "$(id -u)" = 0 ]; then
  mkdir -p "$work/full" && mount -t tmpfs -o size=8m tmpfs "$work/full"
  BACKSTOP_BACKUP_DIR="$work/full" PGDATABASE=tiny bs backup >/dev/null 2>&1
  before=$(check_dir "$work/full" | tail -1)
  set +e; out=$(BACKSTOP_BACKUP_DIR="$work/full" PGDATABASE=faults bs backup 2>&1); code=$?; set -e
  left=$(find "$work/full" -name '.backstop-tmp-*' | wc -l)
  intact=$(check_dir "$work/full" | tail -1)
  named=$(grep -c "is full" <<<"$out" || true)
  ok=$(( code == 5 && left == 0 && intact == 0 && before == 0 && named > 0 ? 0 : 1 ))
  report full "$ok" "8 MB tmpfs: exit $code (5 expected), $left temporary files, earlier backup intact: $([ "$intact" = 0 ] && echo yes || echo no), message names the full disk: $([ "$named" -gt 0 ] && echo yes || echo no)"
  umount "$work/full"
else
  report full 1 "needs root to mount a tmpfs"
fi

# --- slow: 50 stalled clients during a dump ----------------------------------------------------
"${psql[@]}" -d faults -c "SELECT 1" >/dev/null
mkfifo "$work/hold"
( "${psql[@]}" -d faults < "$work/hold" >/dev/null 2>&1 ) &
pids+=($!)
exec 7>"$work/hold"
echo "BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE;" >&7
hport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
BACKSTOP_BACKUP_DIR="$work/slow" PGDATABASE=faults BACKSTOP_SCHEDULE="0 0 0 1 1 ?" BACKSTOP_HTTP_PORT="$hport" \
  BACKSTOP_HTTP_BIND=127.0.0.1 bs daemon > "$work/slow.log" 2>&1 &
pids+=($!)
until grep -q '"backup_in_progress":true' <(curl -s "http://127.0.0.1:$hport/health" || true); do sleep 0.2; done
line=$(python3 - "$hport" <<'PY'
import http.client, socket, sys, time
port = int(sys.argv[1])
stalled = []
for _ in range(50):
    s = socket.create_connection(("127.0.0.1", port)); s.sendall(b"GET /hea"); stalled.append(s)
lat = []
c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
for _ in range(1000):
    t0 = time.perf_counter(); c.request("GET", "/health"); r = c.getresponse(); r.read()
    lat.append((time.perf_counter() - t0) * 1000)
lat.sort()
print(f"{lat[500]:.2f} {lat[989]:.2f} {lat[-1]:.2f}")
PY
)
read -r p50 p99 max <<<"$line"
echo "ROLLBACK;" >&7; exec 7>&-
ok=$(python3 -c "print(0 if $p99 < 10 else 1)")
report slow "$ok" "/health with 50 stalled connections during a dump, 1,000 requests: p50 $p50 ms, p99 $p99 ms, max $max ms"
kill "${pids[-1]}" 2>/dev/null || true

# --- race: daemon, HTTP and CLI backups of one target at once --------------------------------
hport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export BACKSTOP_HTTP_TOKEN=race-token
BACKSTOP_BACKUP_DIR="$work/race" PGDATABASE=faults BACKSTOP_SCHEDULE="0/3 * * * * ?" BACKSTOP_HTTP_PORT="$hport" \
  BACKSTOP_HTTP_BIND=127.0.0.1 bs daemon > "$work/race.log" 2>&1 &
daemon=$!; pids+=("$daemon")
until curl -s "http://127.0.0.1:$hport/health" >/dev/null; do sleep 0.2; done
( most=0; while kill -0 "$daemon" 2>/dev/null; do n=$(pgrep -fc "pg_dump.*--snapshot" || true); [ "$n" -gt "$most" ] && most=$n && echo "$most" > "$work/most"; sleep 0.05; done ) &
pids+=($!)
echo 0 > "$work/most"
codes=()
for _ in $(seq 1 10); do
  curl -s -o /dev/null -w '%{http_code}\n' -X POST -H "Authorization: Bearer race-token" "http://127.0.0.1:$hport/backup?label=race" > "$work/http.code" &
  h=$!
  BACKSTOP_BACKUP_DIR="$work/race" PGDATABASE=faults bs backup >/dev/null 2>&1 & a=$!
  BACKSTOP_BACKUP_DIR="$work/race" PGDATABASE=faults bs backup >/dev/null 2>&1 & b=$!
  set +e; wait "$a"; ca=$?; wait "$b"; cb=$?; wait "$h"; set -e
  codes+=("$ca" "$cb" "$(cat "$work/http.code")")
done
kill "$daemon" 2>/dev/null || true; wait "$daemon" 2>/dev/null || true
most=$(cat "$work/most")
badcodes=$(printf '%s\n' "${codes[@]}" | grep -cvxE '0|6|200|409' || true)
bad=$(check_dir "$work/race" | tail -1)
failures=$(grep -c "verification of .* failed\|backup of target .* failed" "$work/race.log" || true)
ok=$(( most <= 1 && badcodes == 0 && bad == 0 && failures == 0 ? 0 : 1 ))
report race "$ok" "10 rounds of POST + 2 CLI backups beside a 3 s schedule: at most $most pg_dump at once, exit codes/statuses $(printf '%s\n' "${codes[@]}" | sort | uniq -c | awk '{printf "%s×%s ", $2, $1}'), $bad bad final files, $failures daemon failures"

echo "summary: $((4 - failed)) of 4 scenarios passed"
[ "$failed" = 0 ]
