#!/bin/sh
# initdb on first start (an empty volume), then run the server as postgres, as PID 1, with the command's settings.
set -eu
mkdir -p "$PGDATA" /var/run/postgresql
chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  pw="$(cat "${POSTGRES_PASSWORD_FILE}")"
  printf '%s\n' "$pw" > /tmp/pwfile && chown postgres /tmp/pwfile
  setpriv --reuid=postgres --regid=postgres --init-groups initdb -D "$PGDATA" -U "${POSTGRES_USER:-postgres}" \
    --pwfile=/tmp/pwfile --auth-local=trust --auth-host=scram-sha-256 >/dev/null
  rm -f /tmp/pwfile
  echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
  setpriv --reuid=postgres --regid=postgres --init-groups pg_ctl -D "$PGDATA" -w -o "-c listen_addresses=''" start >/dev/null
  setpriv --reuid=postgres --regid=postgres --init-groups createdb -U "${POSTGRES_USER:-postgres}" "${POSTGRES_DB:-postgres}" || true
  setpriv --reuid=postgres --regid=postgres --init-groups pg_ctl -D "$PGDATA" -w stop >/dev/null
fi
# As the official image: a command of "postgres -c ..." passes its settings on (hba_file, max_slot_wal_keep_size).
if [ "${1:-}" = postgres ]; then shift; fi
exec setpriv --reuid=postgres --regid=postgres --init-groups postgres -D "$PGDATA" -c listen_addresses='*' "$@"
