#!/usr/bin/env bash
# What cohorts cost: ingest with collector.cohorts on against off (alternating rounds, one run,
# over a seeded fleet of 1 000), then a cohort refresh over 100 000 stored pings (bench/leaders.sh),
# each on SQLite and on a throwaway PostgreSQL server.
#   bench/cohorts.sh    (INGEST_REQUESTS, INGEST_ROUNDS, COHORT_FLEET, LEADER_INSTANCES: see the benches)
set -euo pipefail
cd "$(dirname "$0")/.."
export LEPTOS_OUTPUT_NAME=service-ping
cargo bench -p service-ping-collector --bench cohort_ingest --bench leaders --no-run
scripts/postgres-server.sh run cargo bench -p service-ping-collector --bench cohort_ingest
exec scripts/postgres-server.sh run cargo bench -p service-ping-collector --bench leaders
