#!/usr/bin/env bash
# The collector at fleet scale (20 000 instances x 52 weekly pings), on SQLite and on a throwaway
# PostgreSQL server: seeding time, then the median time of the / page, the leaders, the latest
# instances and the counts; on PostgreSQL the query plans (no full scan of a big table).
#   bench/fleet.sh     (FLEET_INSTANCES, FLEET_WEEKS, FLEET_RUNS change it)
set -euo pipefail
cd "$(dirname "$0")/.."
export LEPTOS_OUTPUT_NAME=service-ping
cargo bench -p service-ping-collector --bench fleet --no-run
exec scripts/postgres-server.sh run cargo bench -p service-ping-collector --bench fleet
