#!/bin/sh
psql "$DATABASE_URL" -Atc "select count(*) from orders where created_at > now() - interval '1 day'"
pg_dump -Fc -f /tmp/app.dump app
