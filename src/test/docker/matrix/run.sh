#!/usr/bin/env bash
# One row of the version matrix, inside the project's image built for one PostgreSQL major (Debian's
# own packages of one suite): a server of that major, then backup, verify, restore into a new
# database, restore onto an empty server with its roles, the data-loss alarm and recover, each by the
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

# Last: the restore below makes the empty server's database the target's (its identity), as after a lost host.
server b 5433 || { echo "MATRIX restore-empty-server FAIL 0 initdb failed"; failed=1; }
t=$(date +%s.%N); out="$(bs 5433 restore latest --into shop --with-roles --yes)"; s=$?
n="$(PGPASSWORD=owner-pw "$bin/psql" -X -At -h 127.0.0.1 -p 5433 -U app_owner -d shop -c 'SELECT count(*) FROM orders' 2>&1)"
owner="$(sql 5433 shop -c "SELECT tableowner FROM pg_tables WHERE tablename = 'items'" 2>&1)"
[ "$s" = 0 ] && [ "$n" = 2000 ] && [ "$owner" = app_owner ] || s=1
row restore-empty-server-with-roles "$t" "$s" "app_owner logs in with its old password, orders: $n, owner: $owner; $(echo "$out" | grep '^roles:' | cut -c1-80)"


exit "$failed"
