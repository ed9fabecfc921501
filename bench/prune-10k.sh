#!/usr/bin/env bash
# Issue 3 benchmark: one prune over a target holding 10,000 backups (small files with real
# manifests; retention never reads dump contents). Times a dry run, the prune that deletes
# all but 24, and a prune with nothing left to delete.
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
jar="$(ensure_jar)"
work="${BENCH_DIR:-/tmp/backstop-bench}/prune"
rm -rf "$work"
mkdir -p "$work/app/hourly"
n="${1:-10000}"
echo "writing $n backups ..."
python3 - "$work/app/hourly" "$n" <<'PY'
import json, sys, datetime, os, hashlib
d, n = sys.argv[1], int(sys.argv[2])
start = datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc)
for i in range(n):
    t = start + datetime.timedelta(hours=i)
    name = "app-" + t.strftime("%Y%m%dT%H%M%SZ") + ".dump"
    with open(os.path.join(d, name), "w") as f:
        f.write("x")
    m = {"format_version": 1, "sequence": i + 1, "target": "app", "database": "app", "host": "db", "port": 5432,
         "server_version": "15.18", "pg_dump_version": "15.18", "system_identifier": "1", "database_oid": 1,
         "file": name, "tier": "hourly", "label": None, "started_at": t.isoformat().replace("+00:00", "Z"),
         "finished_at": t.isoformat().replace("+00:00", "Z"), "duration_seconds": 1.0, "size_bytes": 1,
         "sha256": hashlib.sha256(b"x").hexdigest(), "compress": "6", "row_counts": {"public.users": i},
         "verification": {"method": "bench", "result": "passed", "verified_at": t.isoformat().replace("+00:00", "Z"),
                          "table_data_entries": 1}, "pinned": False, "pin_reason": None}
    with open(os.path.join(d, name + ".json"), "w") as f:
        json.dump(m, f)
PY
export BACKSTOP_BACKUP_DIR="$work" BACKSTOP_CONFIG=/dev/null BACKSTOP_RETENTION_DAILY=0
run() { local t0; t0=$(now); java -XX:+UseSerialGC -Xshare:auto -jar "$jar" "$@" > "$work/out.txt"; echo "$(now) - $t0" | bc; }
echo "dry run over $n backups:      $(run prune --dry-run) s  ($(tail -1 "$work/out.txt"))"
echo "prune deleting down to 24:    $(run prune) s  ($(tail -1 "$work/out.txt"))"
echo "prune with nothing to delete: $(run prune) s  ($(tail -1 "$work/out.txt"))"
echo "left: $(find "$work/app/hourly" -name '*.dump' | wc -l) dumps"
