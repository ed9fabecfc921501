#!/usr/bin/env bash
# Issue 17: compression by measurement. Side by side in one run on one generated database
# (several tables of different shapes, > 400 MB): bare pg_dump -Fc -Z0, -Z1 and its default
# (gzip 6), and Backstop's default verified backup through the CLI and through the daemon (POST
# /backup, the scheduler's code path, with the daemon's JVM flags). Wall, CPU (the process and its
# children) and size for each, and the ratios.
# Usage: bench/compression.sh [SCALE]   (default 1: ~600 MB; IDLE_SECONDS, default 60, before the RSS is read)
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
scale="${1:-1}"
work="${BENCH_DIR:-/tmp/backstop-bench}/compression"
port="${BENCH_PORT:-55472}"
rm -rf "$work"
mkdir -p "$work"
jar="$(ensure_jar)"
trap 'kill "${daemon:-0}" 2>/dev/null || true; stop_cluster "$work/pg"' EXIT
start_cluster "$work/pg" "$port"
export PGHOST=127.0.0.1 PGPORT="$port" PGUSER=postgres PGDATABASE=shapes BACKSTOP_CONFIG=/dev/null BACKSTOP_PG_BIN_DIR="$PG_BIN"
psql=("$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1)
"$PG_BIN/createdb" shapes
"${psql[@]}" \
  -c "CREATE TABLE events AS SELECT g AS id, now() - g * interval '1 second' AS at, (g % 97)::int AS kind,
        md5(g::text) || ' ' || md5((g * 7)::text) AS message FROM generate_series(1, 3000000 * $scale) g" \
  -c "CREATE TABLE ledger AS SELECT g AS id, (g % 10007)::bigint AS account, (g % 1000) / 7.0 AS amount,
        (g % 3 = 0) AS settled FROM generate_series(1, 5000000 * $scale) g" \
  -c "CREATE TABLE documents AS SELECT g AS id, jsonb_build_object('title', 'doc ' || g, 'tags',
        jsonb_build_array('a' || g % 13, 'b' || g % 7), 'body', repeat(md5(g::text), 4)) AS doc
        FROM generate_series(1, 300000 * $scale) g" \
  -c "VACUUM ANALYZE"
echo "database: $("${psql[@]}" -Atc "SELECT pg_size_pretty(pg_database_size('shapes'))") in 3 tables (text, numbers, jsonb)"

# run NAME FILE COMMAND...: wall and CPU (user+sys of it and its children), and the file's size.
run() {
  local name="$1" file="$2"; shift 2
  python3 - "$name" "$file" "$@" <<'PY'
import os, resource, subprocess, sys, time
name, path, cmd = sys.argv[1], sys.argv[2], sys.argv[3:]
r0 = resource.getrusage(resource.RUSAGE_CHILDREN); t0 = time.perf_counter()
subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
wall = time.perf_counter() - t0; r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
size = os.path.getsize(path) if os.path.isfile(path) else 0
print(f"{name}\t{wall:.2f}\t{cpu:.2f}\t{size}")
PY
}
# pg_dump 16 and later compress with zstd themselves: then Backstop's default is that, and it is shown bare too.
native_zstd=no
[ "$("$PG_BIN/pg_dump" --version | sed -E 's/.* ([0-9]+)[.0-9]*.*/\1/')" -ge 16 ] && native_zstd=yes
echo "pg_dump: $("$PG_BIN/pg_dump" --version)"
results="$work/results.tsv"
: > "$results"
for _ in 1 2; do
  rm -rf "$work/out" && mkdir -p "$work/out"
  rm -rf "$work/cli"
  {
    run "pg_dump -Fc -Z0" "$work/out/z0.dump" "$PG_BIN/pg_dump" -Fc -Z0 -f "$work/out/z0.dump" shapes
    run "pg_dump -Fc -Z1" "$work/out/z1.dump" "$PG_BIN/pg_dump" -Fc -Z1 -f "$work/out/z1.dump" shapes
    run "pg_dump -Fc (gzip 6)" "$work/out/z6.dump" "$PG_BIN/pg_dump" -Fc -f "$work/out/z6.dump" shapes
    if [ "$native_zstd" = yes ]; then
      run "pg_dump -Fc --compress=zstd:1" "$work/out/zstd1.dump" "$PG_BIN/pg_dump" -Fc --compress=zstd:1 \
        -f "$work/out/zstd1.dump" shapes
    fi
    BACKSTOP_BACKUP_DIR="$work/cli" run "backstop backup (CLI)" /dev/null "$BENCH_ROOT/backstop" backup
  } >> "$results"
  cli_file=$(find "$work/cli/app/hourly" -name 'app-*.dump*' ! -name '*.json' | head -1)
  sed -i "\$s|\t0\$|\t$(stat -c %s "$cli_file")|" "$results"
done

# The daemon path: the scheduler's code in the daemon's JVM (C1 only, small heap), triggered by POST /backup.
hport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
BACKSTOP_BACKUP_DIR="$work/daemon" BACKSTOP_SCHEDULE="0 0 0 1 1 ?" BACKSTOP_HTTP_PORT="$hport" BACKSTOP_HTTP_BIND=127.0.0.1 \
  BACKSTOP_HTTP_TOKEN=bench BACKSTOP_JAR="$jar" "$BENCH_ROOT/backstop" daemon > "$work/daemon.log" 2>&1 &
daemon=$!
until grep -q "backup app finished" "$work/daemon.log"; do sleep 0.2; kill -0 "$daemon"; done
for _ in 1 2; do
  python3 - "$daemon" "$hport" >> "$results" <<'PY'
import sys, time, urllib.error, urllib.request
pid, port = sys.argv[1], sys.argv[2]
def cpu():
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return sum(int(x) for x in f[11:15]) / 100.0   # utime stime cutime cstime
req = urllib.request.Request(f"http://127.0.0.1:{port}/backup?label=bench", method="POST",
                             headers={"Authorization": "Bearer bench"})
while True:
    c0 = cpu(); t0 = time.perf_counter()
    try:
        body = urllib.request.urlopen(req, timeout=3600).read().decode()
        break
    except urllib.error.HTTPError as e:
        if e.code != 409:
            raise
        time.sleep(0.2)  # 409: the target's lock is still held (the start-up backup's last steps): ask again
wall = time.perf_counter() - t0; c1 = cpu()
import json; size = json.loads(body)["size_bytes"]
print(f"backstop, daemon path (POST /backup)\t{wall:.2f}\t{c1 - c0:.2f}\t{size}")
PY
done
# Idle memory: the daemon's resident set 60 s after its last backup of this database (issue 17: 80 MB or less).
sleep "${IDLE_SECONDS:-60}"
idle_rss=$(awk '/VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$daemon/status")
python3 - "$results" <<'PY'
import sys, collections
rows = collections.OrderedDict()
for line in open(sys.argv[1]):
    name, wall, cpu, size = line.rstrip("\n").split("\t")
    rows.setdefault(name, []).append((float(wall), float(cpu), int(size)))
best = {n: min(v) for n, v in rows.items()}          # the faster of the rounds
z0, z1, z6 = best["pg_dump -Fc -Z0"], best["pg_dump -Fc -Z1"], best["pg_dump -Fc (gzip 6)"]
print(f"{'what':40} {'wall s':>7} {'cpu s':>7} {'size MB':>8} {'/-Z0':>6} {'/-Z1':>6} {'size/gzip6':>10}")
for n, (w, c, s) in best.items():
    print(f"{n:40} {w:7.2f} {c:7.2f} {s/1e6:8.1f} {w/z0[0]:6.2f} {w/z1[0]:6.2f} {s/z6[2]:10.2f}")
PY
echo "idle daemon ${IDLE_SECONDS:-60} s after its backups of this database: RSS ${idle_rss} MB"
manifest=$(find "$work/cli/app/hourly" -name 'app-*.json' | head -1)
echo "backstop's compression: $(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["compress"])' "$manifest")"
