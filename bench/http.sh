#!/usr/bin/env bash
# Issue 5 benchmark: /health latency (p50/p99) at a few hundred requests per second from a
# second process while a dump runs, and the scrape time of /metrics with 10 targets and
# 1,000 counted tables each.
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
work="${BENCH_DIR:-/tmp/backstop-bench}/http"
port="${BENCH_PORT:-55432}"          # the backup benchmark's cluster (bench1, ~1.7 GB) when it exists
rate="${RATE:-300}"
mkdir -p "$work"
cp "$(ensure_jar)" "$work/backstop.jar"
jar="$work/backstop.jar"
trap 'kill "${daemon:-0}" 2>/dev/null || true; stop_cluster "${BENCH_DIR:-/tmp/backstop-bench}/pg"' EXIT
start_cluster "${BENCH_DIR:-/tmp/backstop-bench}/pg" "$port"
psql=("$PG_BIN/psql" -X -q -h 127.0.0.1 -p "$port" -U postgres -v ON_ERROR_STOP=1)
if [ "$("${psql[@]}" -Atc "SELECT count(*) FROM pg_database WHERE datname = 'many'")" = 0 ]; then
  "${psql[@]}" -c "CREATE DATABASE many"
  "${psql[@]}" -d many -c "DO \$\$ BEGIN FOR i IN 1..1000 LOOP EXECUTE format('CREATE TABLE t%s AS SELECT g AS id FROM generate_series(1, 1000) g', i); END LOOP; END \$\$"
fi
dumpdb=bench1
[ "$("${psql[@]}" -Atc "SELECT count(*) FROM pg_database WHERE datname = 'bench1'")" = 1 ] || dumpdb=many
{
  echo "backstop { schedule = \"0 0 0 1 1 ?\", backup-dir = \"$work/backups\", http { port = 0, bind = \"127.0.0.1\" }"
  echo "  targets = ["
  echo "    { name = dumping, host = \"127.0.0.1\", port = $port, database = $dumpdb }"
  for i in $(seq 1 9); do echo "    { name = t$i, host = \"127.0.0.1\", port = $port, database = many }"; done
  echo "  ] }"
} > "$work/backstop.conf"
rm -rf "$work/backups"
hport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
sed -i "s/port = 0/port = $hport/" "$work/backstop.conf"
PGUSER=postgres java -XX:+UseSerialGC -Xss512k -XX:ReservedCodeCacheSize=32m -XX:CICompilerCount=2 -Xshare:auto \
  -jar "$jar" --config "$work/backstop.conf" daemon > "$work/daemon.log" 2>&1 &
daemon=$!
until grep -q "daemon started" "$work/daemon.log"; do sleep 0.1; done
until [ "$(find "$work/backups/t9/hourly" -name '*.dump*' ! -name '*.json' 2>/dev/null | wc -l)" -ge 1 ]; do sleep 0.2; done
until find "$work/backups/dumping/hourly" -name '.backstop-tmp-*' 2>/dev/null | grep -q .; do sleep 0.2; done
echo "targets: dumping ($dumpdb, dump in progress) + 9 x 1,000 tables; /health at $rate req/s for 10 s:"
python3 - "$hport" "$rate" <<'PY'
import http.client, sys, time, threading
port, rate = int(sys.argv[1]), int(sys.argv[2])
lat, codes, lock = [], {}, threading.Lock()
def worker(n, share):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    interval, nxt = 1.0 / share, time.perf_counter()
    end = nxt + 10
    while nxt < end:
        t0 = time.perf_counter(); c.request("GET", "/health"); r = c.getresponse(); r.read()
        with lock:
            lat.append((time.perf_counter() - t0) * 1000); codes[r.status] = codes.get(r.status, 0) + 1
        nxt += interval
        time.sleep(max(0, nxt - time.perf_counter()))
threads = [threading.Thread(target=worker, args=(i, rate / 4)) for i in range(4)]
[t.start() for t in threads]; [t.join() for t in threads]
lat.sort()
p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]
print(f"  {len(lat)} requests, {len(lat)/10:.0f} req/s, status {codes}: p50 {p(0.5):.2f} ms, p99 {p(0.99):.2f} ms, max {lat[-1]:.2f} ms")
PY
find "$work/backups/dumping/hourly" -name '.backstop-tmp-*' | grep -q . && echo "  (the dump was still running at the end)"
python3 - "$hport" <<'PY'
import http.client, sys, time
port = int(sys.argv[1]); c = http.client.HTTPConnection("127.0.0.1", port); times = []
for _ in range(20):
    t0 = time.perf_counter(); c.request("GET", "/metrics"); r = c.getresponse(); body = r.read(); times.append((time.perf_counter() - t0) * 1000)
times.sort()
series = sum(1 for l in body.decode().splitlines() if l and not l.startswith("#"))
tables = sum(1 for l in body.decode().splitlines() if l.startswith("backstop_table_rows{"))
print(f"/metrics with 10 targets: {series} series ({tables} backstop_table_rows), {len(body)/1024:.0f} KiB; scrape median {times[10]:.1f} ms, max {times[-1]:.1f} ms")
PY
