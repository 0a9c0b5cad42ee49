#!/usr/bin/env bash
# DevOps Score leaders and cohort refreshes over 100 000 stored pings (12 500 instances x 8 weeks), on SQLite and on
# a throwaway PostgreSQL server: prints the seeding time and the leader computation time of three
# runs per backend (and of a whole cohort refresh), and whether both backends agree.
set -euo pipefail
cd "$(dirname "$0")/.."
export LEPTOS_OUTPUT_NAME=service-ping
cargo bench -p service-ping-collector --bench leaders --no-run
exec scripts/postgres-server.sh run cargo bench -p service-ping-collector --bench leaders
