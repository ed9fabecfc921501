#!/usr/bin/env bash
# Issue 36 benchmark: a fleet's scheduling overhead for 100 small targets, one node against three, side by side
# in one run on the same databases: the time from each scheduled slot to its pg_dump's connection (the server's
# own log: log_connections, application_name "backstop pg_dump"), p50/p99/max, split at the job's start on a
# worker thread (the fleet's runs table): the scheduler's part (trigger to job) and Backstop's own work before the
# dump (job to pg_dump); and the job store's own load (transactions and rows per second in its database, its
# connections) while the fleet runs. All nodes share this machine's cores: with a hundred dumps due in the same
# second the figures are bound by its CPU (docs/benchmarks.md has a run with a thread per target, which only
# adds contention).
#   BENCH_TARGETS (100), BENCH_CYCLES (2 measured minutes per configuration), BENCH_THREADS (4 per node).
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
jar="$(ensure_jar)"
work="${BENCH_DIR:-/tmp/backstop-bench}/fleet"
port="${BENCH_PORT_FLEET:-55441}"
store_port="${BENCH_PORT_FLEET_STORE:-55442}"
targets="${BENCH_TARGETS:-100}"
cycles="${BENCH_CYCLES:-2}"
threads="${BENCH_THREADS:-4}"
pids=()
stop_nodes() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
}
rm -rf "$work"; mkdir -p "$work"
trap 'stop_nodes; stop_cluster "$work/pg"; stop_cluster "$work/store"' EXIT
start_cluster "$work/pg" "$port"
start_cluster "$work/store" "$store_port"
psql_() { "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -U postgres "$@"; }
# The server logs each connection with its time and application name: when each pg_dump began.
psql_ -p "$store_port" -c "ALTER SYSTEM SET max_connections = 400" >/dev/null
stop_cluster "$work/store"; start_cluster "$work/store" "$store_port"
psql_ -p "$port" -c "ALTER SYSTEM SET log_connections = on" -c "ALTER SYSTEM SET max_connections = 600" \
  -c "ALTER SYSTEM SET log_line_prefix = '%m '" -c "ALTER SYSTEM SET log_timezone = 'UTC'" >/dev/null
stop_cluster "$work/pg"; start_cluster "$work/pg" "$port"
for i in $(seq 1 "$targets"); do
  echo "CREATE DATABASE t$i;"
done | psql_ -p "$port" -d postgres >/dev/null
for i in $(seq 1 "$targets"); do
  psql_ -p "$port" -d "t$i" -c "CREATE TABLE items AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 1000) g" >/dev/null
done
conf() {
  echo 'backstop {'
  echo '  schedule = "0 * * * * ?"'
  echo '  restore-drill.every = 0'
  echo "  target-defaults { host = \"127.0.0.1\", port = $port, user = postgres }"
  echo "  cluster { enabled = true, jdbc-url = \"jdbc:postgresql://127.0.0.1:$store_port/postgres\", user = postgres,"
  echo "            check-in = 15s, misfire-threshold = 60s, threads = $1, schema = bench_fleet }"
  echo '  targets = ['
  for i in $(seq 1 "$targets"); do echo "    { name = t$i, database = t$i }"; done
  echo '  ]'
  echo '}'
}

# run NODES THREADS: start NODES nodes of THREADS threads on one backup directory, wait for every target's first
# backup, then measure the next $cycles scheduled minutes; prints one line of figures.
run() {
  local n="$1" dir="$work/run-$1-$2"
  mkdir -p "$dir"
  conf "$2" > "$work/fleet.conf"
  psql_ -p "$store_port" -d postgres -c "SET client_min_messages = warning" \
    -c "DROP SCHEMA IF EXISTS bench_fleet CASCADE" >/dev/null
  for k in $(seq 1 "$n"); do
    BACKSTOP_CONFIG="$work/fleet.conf" BACKSTOP_BACKUP_DIR="$dir/backups" BACKSTOP_PG_BIN_DIR="$PG_BIN" \
      BACKSTOP_HTTP_PORT=0 BACKSTOP_CLUSTER_NODE="node-$k" BACKSTOP_JAR="$jar" \
      "$BENCH_ROOT/backstop" daemon > "$dir/node-$k.log" 2>&1 &
    pids+=($!)
  done
  # Every target's start-up backup first (a burst that is not the schedule's), then the next whole minute.
  until [ "$(find "$dir/backups" -name '*.dump*.json' ! -name '.*' 2>/dev/null | sed 's|/[^/]*/[^/]*$||' | sort -u | wc -l)" -ge "$targets" ]; do
    sleep 1
  done
  local first=$(( ($(date +%s) / 60 + 1) * 60 ))
  local end=$(( first + 60 * cycles ))
  sleep $(( first - $(date +%s) ))
  local before
  before=$(psql_ -p "$store_port" -d postgres -At -F ' ' -c "SELECT xact_commit + xact_rollback, tup_returned + tup_fetched, tup_inserted + tup_updated + tup_deleted FROM pg_stat_database WHERE datname = 'postgres'")
  local conns=0 c
  while [ "$(date +%s)" -lt "$end" ]; do
    c=$(psql_ -p "$store_port" -d postgres -At -c "SELECT count(*) FROM pg_stat_activity WHERE datname = 'postgres' AND backend_type = 'client backend'")
    [ "$c" -gt "$conns" ] && conns=$c
    sleep 2
  done
  local after
  after=$(psql_ -p "$store_port" -d postgres -At -F ' ' -c "SELECT xact_commit + xact_rollback, tup_returned + tup_fetched, tup_inserted + tup_updated + tup_deleted FROM pg_stat_database WHERE datname = 'postgres'")
  # The measured minutes' dumps may still be finishing: wait for the last slot's to begin.
  sleep 5
  stop_nodes
  psql_ -p "$store_port" -d postgres -At -F ' ' -c "SELECT target, extract(epoch FROM started_at) FROM bench_fleet.backstop_runs WHERE kind = 'backup'" > "$dir/runs.txt"
  python3 - "$work/pg/log" "$first" "$end" "$n" "$targets" "$before" "$after" "$conns" "$dir" "$2" <<'EOF'
import sys, re, datetime, glob, collections
log, first, end, n, targets = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
before, after, conns, d, threads = sys.argv[6].split(), sys.argv[7].split(), sys.argv[8], sys.argv[9], sys.argv[10]
jobs = collections.defaultdict(list)  # target -> the times its backup jobs began (the fleet's runs table)
for l in open(d + '/runs.txt'):
    target, at = l.split()
    jobs[target].append(float(at))
line = re.compile(r'^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+) (\w+) .*connection authorized: .*database=(\S+).*application_name=backstop pg_dump')
delays, scheduling, before_dump, per_slot = [], [], [], collections.defaultdict(set)
for l in open(log, errors='replace'):
    m = line.match(l)
    if not m:
        continue
    t = datetime.datetime.strptime(m.group(1), '%Y-%m-%d %H:%M:%S.%f').replace(tzinfo=datetime.timezone.utc).timestamp()
    if first <= t < end:
        slot = first + (int(t) - first) // 60 * 60
        if m.group(3) not in per_slot[slot]:  # the slot's first dump of that database
            per_slot[slot].add(m.group(3))
            delays.append(t - slot)
            began = [j for j in jobs[m.group(3)] if slot <= j <= t]
            if began:
                scheduling.append(max(began) - slot)
                before_dump.append(t - max(began))
def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] if values else float('nan')
def figures(values):
    return f"p50 {pct(values, 50):.2f} s, p99 {pct(values, 99):.2f} s"
secs = end - first
tx, rows_read, rows_written = (int(a) - int(b) for a, b in zip(after, before))
nodes = collections.Counter()
for f in glob.glob(d + '/backups/*/*/*.json'):
    m = re.search(r'"node"\s*:\s*"([^"]+)"', open(f).read())
    if m:
        nodes[m.group(1)] += 1
print(f"{n} node{'s' if n > 1 else ' '} x {threads:>3} threads: {len(delays)} scheduled dumps in {secs // 60} min "
      f"(every target every minute: {all(len(s) == targets for s in per_slot.values()) and len(per_slot) == secs // 60})\n"
      f"    trigger to pg_dump start {figures(delays)}, max {max(delays) if delays else float('nan'):.2f} s\n"
      f"    of which trigger to job start (scheduler, and the wait for a free thread) {figures(scheduling)};"
      f" job start to pg_dump (Backstop's work before the dump) {figures(before_dump)}\n"
      f"    job store: {tx / secs:.1f} tx/s, {rows_read / secs:.0f} rows read/s, {rows_written / secs:.1f} rows written/s,"
      f" {conns} connections at most; backups per node {dict(sorted(nodes.items()))}")
EOF
}

echo "fleet benchmark: $targets targets (1000 rows each), schedule every minute, all on this machine's $(nproc) cores"
run 1 "$threads"
run 3 "$threads"
