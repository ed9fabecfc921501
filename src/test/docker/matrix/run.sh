#!/usr/bin/env bash
# One row of the version matrix, inside the project's image built for one PostgreSQL major (Debian's
# own packages of one suite): a server of that major, then backup, verify, restore into a new
# database, restore onto an empty server with its roles, the data-loss alarm and recover, a point-in-time
# data directory (restore --at --physical) started with that major's server, each by the
# image's own backstop command (as the image runs it: dropped to the backstop user). Prints one line
# per operation:  MATRIX <operation> PASS|FAIL <seconds> <what it saw>  and exits 1 when one failed.
set -uo pipefail
major="$(find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -n | tail -1)"
bin="/usr/lib/postgresql/$major/bin"
pw="matrix-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
failed=0

server() { # server NAME PORT: a fresh cluster of this major on 127.0.0.1:PORT, the superuser's password $pw
  local dir="/tmp/pg-$1"
  mkdir -p "$dir" && chown postgres "$dir"
  printf '%s\n' "$pw" > /tmp/pwfile && chown postgres /tmp/pwfile
  setpriv --reuid=postgres --regid=postgres --init-groups "$bin/initdb" -D "$dir" -U postgres --pwfile=/tmp/pwfile \
    --auth-local=trust --auth-host=scram-sha-256 >/dev/null || return 1
  setpriv --reuid=postgres --regid=postgres --init-groups "$bin/pg_ctl" -D "$dir" -w -l "$dir.log" \
    -o "-c listen_addresses=127.0.0.1 -p $2 -c unix_socket_directories=/tmp" start >/dev/null
}
sql() { # sql PORT DB STATEMENT...
  local port="$1" db="$2"; shift 2
  PGPASSWORD="$pw" "$bin/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d "$db" -At "$@"
}
bs() { # backstop against the server on port $1, as the image runs it
  local port="$1"; shift
  env PGHOST=127.0.0.1 PGPORT="$port" PGUSER=postgres PGPASSWORD="$pw" PGDATABASE=shop BACKSTOP_CONFIG=/dev/null \
    BACKSTOP_TARGET=shop BACKSTOP_BACKUP_DIR=/backups /app/docker-entrypoint.sh "$@" 2>&1
}
row() { # row NAME START STATUS DETAIL
  local took; took="$(awk -v s="$2" -v e="$(date +%s.%N)" 'BEGIN {printf "%.1f", e - s}')"
  if [ "$3" = 0 ]; then echo "MATRIX $1 PASS $took $4"; else echo "MATRIX $1 FAIL $took $4"; failed=1; fi
}

server a 5432 || { echo "MATRIX server FAIL 0 initdb failed"; exit 1; }
sql 5432 postgres -c "CREATE ROLE app_owner LOGIN PASSWORD 'owner-pw'" -c "CREATE ROLE readonly LOGIN PASSWORD 'ro-pw'" \
  -c "CREATE DATABASE shop OWNER app_owner"
sql 5432 shop -c "SET ROLE app_owner" -c "CREATE TABLE items(id int PRIMARY KEY, name text)" \
  -c "INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 500) g" \
  -c "CREATE TABLE orders(id bigint PRIMARY KEY, item int REFERENCES items)" \
  -c "INSERT INTO orders SELECT g, 1 + g % 500 FROM generate_series(1, 2000) g" -c "GRANT SELECT ON items TO readonly"
echo "MATRIX server PASS 0 PostgreSQL $(sql 5432 postgres -c 'SHOW server_version'), client $("$bin/pg_dump" --version)"

t=$(date +%s.%N); out="$(bs 5432 backup)"; s=$?
row backup "$t" "$s" "$(echo "$out" | tail -1)"

t=$(date +%s.%N); out="$(bs 5432 verify)"; s=$?
row verify "$t" "$s" "$(echo "$out" | tail -1)"

t=$(date +%s.%N); out="$(bs 5432 restore latest --into shop_copy --yes)"; s=$?
n="$(sql 5432 shop_copy -c 'SELECT count(*) FROM items' 2>&1)"
[ "$s" = 0 ] && [ "$n" = 500 ] || s=1
row restore-into "$t" "$s" "items: $n; $(echo "$out" | tail -1)"

sql 5432 shop -c "DELETE FROM orders WHERE id > 100"
t=$(date +%s.%N); out="$(bs 5432 check)"; s=$?
[ "$s" = 1 ] && echo "$out" | grep -q "public.orders" && s=0 || s=1
row data-loss-alarm "$t" "$s" "check exits 1: $(echo "$out" | grep -m1 'public.orders' | tr -s ' ' | cut -c1-80)"

t=$(date +%s.%N); out="$(bs 5432 recover public.orders --from pinned --apply --yes)"; s=$?
n="$(sql 5432 shop -c 'SELECT count(*) FROM orders' 2>&1)"
bs 5432 check >/dev/null; c=$?
[ "$s" = 0 ] && [ "$n" = 2000 ] && [ "$c" = 0 ] || s=1
row recover "$t" "$s" "orders: $n, check exits $c; $(echo "$out" | tail -1 | cut -c1-80)"

# PITR: the daemon streams this major's WAL and takes a base backup; a data directory to a time between two
# batches of rows, started with this major's server, holds the first batch only. 13 to 15 promote at the
# point on Backstop's trigger file, 16 and later after the end-of-recovery checkpoint.
waitfor() { # waitfor SECONDS COMMAND...: until COMMAND succeeds, at most SECONDS
  local until=$((SECONDS + $1)); shift
  until "$@"; do [ "$SECONDS" -lt "$until" ] || return 1; sleep 0.5; done
}
# shellcheck disable=SC2317 # called through waitfor
promoted() { # the data directory's server out of recovery (a function: waitfor asks it anew each time)
  [ "$(sql 5434 shop -c "SELECT NOT pg_is_in_recovery()" 2>/dev/null)" = t ]
}
t=$(date +%s.%N)
set -m # the daemon in a process group of its own, stopped whole
BACKSTOP_PITR=true BACKSTOP_SCHEDULE="0 0 0 1 1 ?" BACKSTOP_RESTORE_DRILL_EVERY=0 BACKSTOP_HTTP_PORT=18080 \
  BACKSTOP_HTTP_BIND=127.0.0.1 BACKSTOP_CHECK_INTERVAL=1h bs 5432 daemon > /tmp/daemon.log 2>&1 &
daemon=$!
set +m
s=0; detail=""
waitfor 300 compgen -G "/backups/shop/base/*.json" >/dev/null || { s=1; detail="no base backup: $(tail -3 /tmp/daemon.log)"; }
if [ "$s" = 0 ]; then
  sql 5432 shop -c "CREATE TABLE at_point(id int PRIMARY KEY)" -c "INSERT INTO at_point SELECT generate_series(1, 100)"
  point="$(sql 5432 shop -c "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')")"
  sql 5432 shop -c "INSERT INTO at_point SELECT generate_series(101, 300)"
  seg="$(sql 5432 postgres -c "SELECT pg_walfile_name(pg_switch_wal())")"
  waitfor 120 grep -qs "^$seg" /backups/shop/wal/ledger.tsv || { s=1; detail="segment $seg not archived: $(tail -3 /tmp/daemon.log)"; }
fi
if [ "$s" = 0 ]; then
  out="$(bs 5432 restore --at "$point" --physical /tmp/phys/data)"; s=$?
  detail="$(echo "$out" | tail -1 | cut -c1-80)"
fi
if [ "$s" = 0 ]; then
  chown -R postgres /tmp/phys && chmod 700 /tmp/phys/data
  setpriv --reuid=postgres --regid=postgres --init-groups "$bin/pg_ctl" -D /tmp/phys/data -w -t 300 -l /tmp/phys.log \
    -o "-c listen_addresses=127.0.0.1 -p 5434 -c unix_socket_directories=/tmp -c archive_mode=off" start >/dev/null
  waitfor 300 promoted || s=1
  n="$(sql 5434 shop -c "SELECT count(*) || ' of 300, ids ' || min(id) || '-' || max(id) FROM at_point" 2>&1)"
  [ "$n" = "100 of 300, ids 1-100" ] || s=1
  if [ "$major" -le 15 ]; then
    how="at once"; grep -q "promote trigger file found" /tmp/phys.log && [ ! -e /tmp/phys/data/backstop.promote ] || s=1
  else
    how="after the end-of-recovery checkpoint"; grep -q "checkpoint starting: end-of-recovery" /tmp/phys.log || s=1
  fi
  detail="rows: $n, promoted $how; $(grep -m1 -E 'recovery stopping' /tmp/phys.log | sed 's/.*LOG: *//' | cut -c1-60)"
  [ "$s" = 0 ] || detail="$detail; server log: $(tail -4 /tmp/phys.log | tr '\n' '|')"
  setpriv --reuid=postgres --regid=postgres --init-groups "$bin/pg_ctl" -D /tmp/phys/data -m fast -w stop >/dev/null
fi
kill -TERM -- "-$daemon" 2>/dev/null; wait "$daemon" 2>/dev/null
row restore-at-physical "$t" "$s" "$detail"

# Last: the restore below makes the empty server's database the target's (its identity), as after a lost host.
server b 5433 || { echo "MATRIX restore-empty-server FAIL 0 initdb failed"; failed=1; }
t=$(date +%s.%N); out="$(bs 5433 restore latest --into shop --with-roles --yes)"; s=$?
n="$(PGPASSWORD=owner-pw "$bin/psql" -X -At -h 127.0.0.1 -p 5433 -U app_owner -d shop -c 'SELECT count(*) FROM orders' 2>&1)"
owner="$(sql 5433 shop -c "SELECT tableowner FROM pg_tables WHERE tablename = 'items'" 2>&1)"
[ "$s" = 0 ] && [ "$n" = 2000 ] && [ "$owner" = app_owner ] || s=1
row restore-empty-server-with-roles "$t" "$s" "app_owner logs in with its old password, orders: $n, owner: $owner; $(echo "$out" | grep '^roles:' | cut -c1-80)"


exit "$failed"
