#!/usr/bin/env bash
# Shared by the benchmark scripts: a throwaway PostgreSQL cluster and the Backstop jar.
set -euo pipefail

BENCH_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PG_BIN="$(printf "%s\n" /usr/lib/postgresql/*/bin | sort -V | tail -1)"
export PG_BIN

# start_cluster DIR PORT: initdb (as postgres when root) and start on 127.0.0.1:PORT, trust auth.
start_cluster() {
  local dir="$1" port="$2" as=()
  [ "$(id -u)" = 0 ] && as=(runuser -u postgres --)
  mkdir -p "$dir"
  [ "$(id -u)" = 0 ] && chown postgres "$dir"
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    "${as[@]}" "$PG_BIN/initdb" -D "$dir/data" -U postgres --auth=trust --no-sync >/dev/null
  fi
  "${as[@]}" "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c shared_buffers=256MB -c max_wal_size=4GB -c checkpoint_timeout=30min" \
    start >/dev/null
}

stop_cluster() {
  local dir="$1" as=()
  [ "$(id -u)" = 0 ] && as=(runuser -u postgres --)
  "${as[@]}" "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
}

ensure_jar() {
  if [ ! -f "$BENCH_ROOT/target/backstop.jar" ]; then
    (cd "$BENCH_ROOT" && mvn -q -B -ntp -DskipTests package) >&2 # stdout is the path alone
  fi
  echo "$BENCH_ROOT/target/backstop.jar"
}

# await_class_data JAR COMMAND: waits (up to a minute) for the class-data archive that the launcher's first run
# of COMMAND dumps beside JAR in the background, so that no timed run goes without it.
await_class_data() {
  local archive="${1%.jar}-$2.jsa" waited=0
  until [ -f "$archive" ] && [ "$archive" -nt "$1" ]; do
    if [ "$waited" -ge 600 ]; then
      echo "no class-data archive $archive after a minute: timed runs go without it" >&2
      return 0
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
}

# median of the numbers on stdin
median() {
  sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2}'
}

now() { date +%s.%N; }

# pgbackrest_conf FILE WORK PORT [GLOBAL-LINE...]: pgBackRest's configuration for the stanza "bench" of the
# cluster start_cluster made in WORK/pg on PORT, its repository and spool under WORK/pgbr, uncompressed (the
# figures compare copying and replaying, not compressing); extra [global] lines after PORT.
pgbackrest_conf() {
  local file="$1" work="$2" port="$3"
  shift 3
  {
    echo "[global]"
    echo "repo1-path=$work/pgbr/repo"
    echo "lock-path=$work/pgbr/lock"
    echo "log-path=$work/pgbr/log"
    echo "start-fast=y"
    echo "compress-type=none"
    echo "log-level-console=warn"
    echo "repo1-retention-full=1"
    for line in "$@"; do echo "$line"; done
    echo
    echo "[bench]"
    echo "pg1-path=$work/pg/data"
    echo "pg1-port=$port"
    echo "pg1-socket-path=$work/pg"
    echo "pg1-user=postgres"
  } > "$file"
  chmod 644 "$file"
}
