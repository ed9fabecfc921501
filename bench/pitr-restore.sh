#!/usr/bin/env bash
# Issue 33 benchmark, side by side in one run on the same data and the same WAL:
#  1. a whole cluster back to a point in time, each timed until the server is promoted and takes
#     connections: Backstop's `restore --at T --physical DIR` (its base backup and its streamed WAL; run
#     through the `backstop` launcher, after one untimed run that writes the launcher's class-data archive),
#     pgBackRest's `restore --type=time` (Debian's pgbackrest, archive-push from the same server; skipped
#     with a note when it is not installed), and a hand-made `pg_basebackup` + `recovery_target_time`
#     replay over a `cp` archive; every result is checked to hold the same data;
#  2. one table's 1M deleted rows put back with `recover --at` against `restore --at` of the whole
#     database into a new one.
#
#   bench/pitr-restore.sh [SCALE] [SECONDS] [ROUNDS]
#   (defaults: pgbench scale 10 = about 160 MB, 30 s of writes, 5 rounds of the three restores, alternating)
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"

scale="${1:-10}"
seconds="${2:-30}"
rounds="${3:-5}"
work="${BENCH_DIR:-/tmp/backstop-bench-pitr-restore}"
port="${BENCH_PORT:-55435}"
port2=$((port + 1))
http="${BENCH_HTTP_PORT:-58082}"
as=()
[ "$(id -u)" = 0 ] && as=(runuser -u postgres --)
daemon_pid=""
cleanup() {
  [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
  "${as[@]}" "$PG_BIN/pg_ctl" -D "$work/restored/data" -m immediate -w stop >/dev/null 2>&1 || true
  "$PG_BIN/psql" -X -q -h 127.0.0.1 -p "$port" -U postgres -c "SELECT pg_drop_replication_slot('backstop_app')" \
    >/dev/null 2>&1 || true
  stop_cluster "$work/pg"
}
trap cleanup EXIT
stop_cluster "$work/pg"
rm -rf "$work"
mkdir -p "$work/handmade-archive" "$work/pgbr/log" "$work/pgbr/lock" "$work/pgbr/spool"
cp "$(ensure_jar)" "$work/backstop.jar"
[ "$(id -u)" = 0 ] && chown -R postgres "$work/handmade-archive" "$work/pgbr" && chown postgres "$work"
start_cluster "$work/pg" "$port"
psql=("$PG_BIN/psql" -X -q -h 127.0.0.1 -p "$port" -U postgres -v ON_ERROR_STOP=1)

pgbr=""
archive="cp %p $work/handmade-archive/%f"
if command -v pgbackrest >/dev/null; then
  pgbr="$work/pgbackrest.conf"
  pgbackrest_conf "$pgbr" "$work" "$port" "spool-path=$work/pgbr/spool"
  archive="pgbackrest --config=$pgbr --stanza=bench archive-push %p && $archive"
else
  echo "pgbackrest is not installed (apt-get install --no-install-recommends pgbackrest): its column is skipped"
fi
"${psql[@]}" -c "ALTER SYSTEM SET archive_mode = on" -c "ALTER SYSTEM SET archive_command = '$archive'" \
  -c "ALTER SYSTEM SET track_commit_timestamp = on"
stop_cluster "$work/pg"
start_cluster "$work/pg" "$port"
"${psql[@]}" -c "CREATE DATABASE app"
"$PG_BIN/pgbench" -h 127.0.0.1 -p "$port" -U postgres -i -q -s "$scale" app 2>/dev/null
[ -n "$pgbr" ] && "${as[@]}" pgbackrest --config="$pgbr" --stanza=bench stanza-create >/dev/null
echo "database: $("${psql[@]}" -Atc "SELECT pg_size_pretty(pg_database_size('app'))") (pgbench scale $scale); $(nproc) cores"

touch "$work/empty.conf"
export BACKSTOP_CONFIG="$work/empty.conf" BACKSTOP_BACKUP_DIR="$work/backups" BACKSTOP_PG_BIN_DIR="$PG_BIN" \
  PGHOST=127.0.0.1 PGPORT="$port" PGUSER=postgres PGDATABASE=app BACKSTOP_TARGET=app
# Backstop as its users run it: through its launcher (the JVM flags and the class-data archive it keeps per command).
backstop=(env BACKSTOP_JAR="$work/backstop.jar" "$BENCH_ROOT/backstop")
BACKSTOP_PITR=true BACKSTOP_SCHEDULE="0 0 0 1 1 ?" BACKSTOP_RESTORE_DRILL_EVERY=0 BACKSTOP_HTTP_PORT="$http" \
  BACKSTOP_HTTP_BIND=127.0.0.1 BACKSTOP_CHECK_INTERVAL=1h "${backstop[@]}" daemon >> "$work/daemon.log" 2>&1 &
daemon_pid=$!
until curl -fs "http://127.0.0.1:$http/metrics" 2>/dev/null \
    | grep -Eq '^backstop_pitr_window_start_timestamp_seconds\{target="app"\} [1-9]'; do
  kill -0 "$daemon_pid" || { echo "the daemon stopped: $work/daemon.log"; exit 1; }
  sleep 0.5
done
[ -n "$pgbr" ] && "${as[@]}" pgbackrest --config="$pgbr" --stanza=bench --type=full backup >/dev/null
"${as[@]}" "$PG_BIN/pg_basebackup" -h 127.0.0.1 -p "$port" -U postgres -D "$work/handmade-base" -Fp -X stream -c fast

# The same writes for everyone; the point lies between two halves of them.
"$PG_BIN/pgbench" -h 127.0.0.1 -p "$port" -U postgres -n -c 2 -j 2 -T "$((seconds / 2))" app >/dev/null 2>&1
# (to the millisecond, in the form all three read: pgBackRest takes no finer time)
point=$("${psql[@]}" -Atc "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.MS')")
"$PG_BIN/pgbench" -h 127.0.0.1 -p "$port" -U postgres -n -c 2 -j 2 -T "$((seconds - seconds / 2))" app >/dev/null 2>&1
wal=$("${psql[@]}" -Atc "SELECT pg_size_pretty(pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0'))")
"${psql[@]}" -Atc "SELECT pg_switch_wal()" >/dev/null
"${psql[@]}" -Atc "SELECT pg_switch_wal()" >/dev/null
# every segment before the current one archived by archive_command (pgBackRest's and the hand-made copy)
until [ "$("${psql[@]}" -Atc "SELECT coalesce(last_archived_wal >= pg_walfile_name(pg_current_wal_lsn() - 1), false)
    FROM pg_stat_archiver")" = t ]; do
  sleep 0.2
done
until [ "$("${psql[@]}" -Atc "SELECT coalesce(bool_and(flush_lsn >= pg_current_wal_lsn()), false) FROM pg_stat_replication")" = t ]; do
  sleep 0.2
done
echo "point: $point UTC; WAL written in all: $wal"

now() { date +%s.%N; }
restored=("$PG_BIN/psql" -X -q -h 127.0.0.1 -p "$port2" -U postgres -d app -At)
# start_restored: starts the server on $work/restored/data and waits until it is promoted; prints what it holds.
start_restored() {
  [ "$(id -u)" = 0 ] && chown -R postgres "$work/restored"
  chmod 700 "$work/restored/data"
  rm -f "$work/restored/data/postmaster.pid"
  "${as[@]}" "$PG_BIN/pg_ctl" -D "$work/restored/data" -l "$work/restored/log" -w -t 900 \
    -o "-p $port2 -k $work/restored -c listen_addresses=127.0.0.1 -c archive_mode=off -c hba_file=$work/restored/hba" \
    start >/dev/null
  until [ "$("${restored[@]}" -c "SELECT NOT pg_is_in_recovery()" 2>/dev/null)" = t ]; do
    sleep 0.05
  done
}
state_of_restored() {
  "${restored[@]}" -c "SELECT (SELECT count(*) FROM pgbench_history) || ' history rows, balance ' || (SELECT sum(abalance) FROM pgbench_accounts)"
}
stop_restored() {
  "${as[@]}" "$PG_BIN/pg_ctl" -D "$work/restored/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$work/restored"
}
fresh_restored() {
  rm -rf "$work/restored"
  mkdir -p "$work/restored"
  echo "local all all trust
host all all 127.0.0.1/32 trust" > "$work/restored/hba"
  [ "$(id -u)" = 0 ] && chown -R postgres "$work/restored"
}

# ---- 1. the whole cluster back to the point, ROUNDS rounds alternating, medians ----
# One untimed run first: a command's first run through the launcher writes its class-data archive.
"${backstop[@]}" restore --at "$point" --physical "$work/warm-up" >/dev/null
await_class_data "$work/backstop.jar" restore
rm -rf "$work/warm-up"
ratios=(); bs_prep=(); bs_all=(); br_prep=(); br_all=(); hm_prep=(); hm_all=()
same() { # the state a method left, against Backstop's of the same round
  [ "$2" = "$bs_state" ] || echo "  round $r: $1 DIFFERENT from Backstop's: $2 vs $bs_state"
}
for r in $(seq 1 "$rounds"); do
  fresh_restored
  t0=$(now)
  "${backstop[@]}" restore --at "$point" --physical "$work/restored/data" >/dev/null
  t1=$(now)
  start_restored
  t2=$(now)
  bs_state=$(state_of_restored)
  stop_restored
  bs_prep+=("$(echo "$t1 - $t0" | bc)"); bs_all+=("$(echo "$t2 - $t0" | bc)")
  line="round $r: Backstop $(printf %.2f "${bs_all[-1]}") s"

  if [ -n "$pgbr" ]; then
    fresh_restored
    mkdir -p "$work/restored/data" && chmod 700 "$work/restored/data"
    [ "$(id -u)" = 0 ] && chown -R postgres "$work/restored"
    t0=$(now)
    "${as[@]}" pgbackrest --config="$pgbr" --stanza=bench --pg1-path="$work/restored/data" --type=time \
      --target="$point+00" --target-exclusive --target-action=promote restore >/dev/null
    t1=$(now)
    start_restored
    t2=$(now)
    same pgBackRest "$(state_of_restored)"
    stop_restored
    br_prep+=("$(echo "$t1 - $t0" | bc)"); br_all+=("$(echo "$t2 - $t0" | bc)")
    line="$line, pgBackRest $(printf %.2f "${br_all[-1]}") s"
  fi

  fresh_restored
  t0=$(now)
  cp -a "$work/handmade-base" "$work/restored/data"
  rm -f "$work/restored/data/postmaster.pid"
  cat >> "$work/restored/data/postgresql.auto.conf" <<CONF
restore_command = 'cp $work/handmade-archive/%f %p'
recovery_target_time = '$point+00'
recovery_target_inclusive = off
recovery_target_action = 'promote'
CONF
  touch "$work/restored/data/recovery.signal"
  t1=$(now)
  start_restored
  t2=$(now)
  same hand-made "$(state_of_restored)"
  stop_restored
  hm_prep+=("$(echo "$t1 - $t0" | bc)"); hm_all+=("$(echo "$t2 - $t0" | bc)")
  # this round's ratio: Backstop against the faster of the peers that ran beside it
  peer="${hm_all[-1]}"
  if [ -n "$pgbr" ] && [ "$(echo "${br_all[-1]} < $peer" | bc)" = 1 ]; then peer="${br_all[-1]}"; fi
  ratios+=("$(echo "scale=3; ${bs_all[-1]} / $peer" | bc)")
  echo "$line, hand-made $(printf %.2f "${hm_all[-1]}") s: $bs_state"
done
# median_of NAME...: the median of those values, two decimals
median_of() { printf '%s\n' "$@" | median | xargs printf %.2f; }
row() { # label, all times, data-directory times
  local label="$1"; shift
  local n=$(( $# / 2 ))
  local all=("${@:1:$n}") prep=("${@:$((n + 1))}")
  local a p
  a=$(median_of "${all[@]}"); p=$(median_of "${prep[@]}")
  echo "$label $a s (data directory $p s, replay and promotion $(printf %.2f "$(echo "$a - $p" | bc)") s)"
}
echo "medians of $rounds rounds, each until promoted and taking connections:"
row "  Backstop restore --at --physical:" "${bs_all[@]}" "${bs_prep[@]}"
[ -n "$pgbr" ] && row "  pgBackRest restore --type=time:   " "${br_all[@]}" "${br_prep[@]}"
row "  hand-made pg_basebackup + replay: " "${hm_all[@]}" "${hm_prep[@]}"
fastest=$(median_of "${hm_all[@]}")
if [ -n "$pgbr" ] && [ "$(echo "$(median_of "${br_all[@]}") < $fastest" | bc)" = 1 ]; then
  fastest=$(median_of "${br_all[@]}")
fi
echo "Backstop = $(echo "scale=3; $(median_of "${bs_all[@]}") / $fastest" | bc)x the faster peer ($fastest s)"
# A busy machine slows whole rounds: the ratio within each round, side by side, is steadier than one of medians.
echo "median of the rounds' own ratios (Backstop / the round's faster peer): $(median_of "${ratios[@]}")x"

# ---- 2. 1M deleted rows: recover --at against restore --at of the whole database ----
"${psql[@]}" -d app -c "CREATE TABLE big (id bigint PRIMARY KEY, v text NOT NULL)" \
  -c "INSERT INTO big SELECT g, md5(g::text) FROM generate_series(1, 1000000) g"
before=$("${psql[@]}" -d app -Atc "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')")
"${psql[@]}" -d app -c "DELETE FROM big"
until [ "$("${psql[@]}" -Atc "SELECT coalesce(bool_and(flush_lsn >= pg_current_wal_lsn()), false) FROM pg_stat_replication")" = t ]; do
  sleep 0.2
done
t0=$(now)
"${backstop[@]}" recover public.big --at "$before" --apply --yes >/dev/null
t1=$(now)
back=$("${psql[@]}" -d app -Atc "SELECT count(*) FROM big")
t2=$(now)
"${backstop[@]}" restore --at "$before" --into app_at --yes >/dev/null
t3=$(now)
whole=$("${psql[@]}" -d app_at -Atc "SELECT count(*) FROM big")
rc=$(echo "$t1 - $t0" | bc); rs=$(echo "$t3 - $t2" | bc)
echo "recover --at of 1M deleted rows: $(printf %.2f "$rc") s ($back rows back); restore --at of the whole database ($("${psql[@]}" -Atc "SELECT pg_size_pretty(pg_database_size('app_at'))")): $(printf %.2f "$rs") s ($whole rows) = $(echo "scale=3; $rc / $rs" | bc)x"
