#!/usr/bin/env bash
# DevOps Score leaders over 100 000 stored pings (12 500 instances x 8 weeks): prints the seeding
# time and the leader computation time of three runs.
set -euo pipefail
cd "$(dirname "$0")/.."
export LEPTOS_OUTPUT_NAME=service-ping
exec cargo bench -p service-ping-collector --bench leaders
