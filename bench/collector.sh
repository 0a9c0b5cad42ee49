#!/usr/bin/env bash
# Collector ingest benchmark: the real collector against a bare axum handler that only parses the
# same ~59 KB JSON, side by side over loopback, on SQLite and on a throwaway PostgreSQL server,
# with 8 and 64 concurrent senders. Prints pings per second, the ratio, and lost/duplicated pings.
#   bench/collector.sh    (INGEST_REQUESTS, INGEST_CONCURRENCY, INGEST_ROUNDS, INGEST_POOL: see the bench)
set -euo pipefail
cd "$(dirname "$0")/.."
export LEPTOS_OUTPUT_NAME=service-ping
cargo bench -p service-ping-collector --bench collector_ingest --no-run
exec scripts/postgres-server.sh run cargo bench -p service-ping-collector --bench collector_ingest
