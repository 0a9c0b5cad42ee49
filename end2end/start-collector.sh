#!/usr/bin/env bash
# Starts a collector for the Playwright suite on port 3101 with a fresh data directory (and a
# fresh PostgreSQL database when the suite runs under a test server). `exec`
# keeps the pid the one Playwright started, so Playwright stops exactly this process.
set -euo pipefail
cd "$(dirname "$0")/.."
data=end2end/.collector
bin=${SERVICE_PING_BIN:-target/release/service-ping}
rm -rf "$data"
# Under `scripts/postgres-server.sh run` (make e2e), on a fresh PostgreSQL database.
if [ -n "${SERVICE_PING_TEST_POSTGRES_URL:-}" ]; then
  psql -q "$SERVICE_PING_TEST_POSTGRES_URL" -c "DROP DATABASE IF EXISTS e2e_collector" -c "CREATE DATABASE e2e_collector"
  export SERVICE_PING__DATABASE__URL="${SERVICE_PING_TEST_POSTGRES_URL%/*}/e2e_collector"
fi
# A demo fleet, so the instance's DevOps Score is compared with organizations of its size.
"$bin" --data-dir "$data" collector seed-fleet --instances 200 > /dev/null
exec "$bin" --data-dir "$data" --listen 127.0.0.1:3101 collector
