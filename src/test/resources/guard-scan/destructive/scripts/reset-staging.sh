#!/usr/bin/env bash
set -euo pipefail
echo "resetting staging"
source .env.staging
psql "$DATABASE_URL" -v ON_ERROR_STOP=1 \
  -c "TRUNCATE orders, order_items"
