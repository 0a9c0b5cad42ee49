#!/usr/bin/env bash
# Collector ingest benchmark: the real collector against a bare axum handler that only parses the
# same ~50 KB JSON, side by side over loopback. Prints pings per second and the ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
export LEPTOS_OUTPUT_NAME=service-ping
exec cargo bench -p service-ping-collector --bench collector_ingest
