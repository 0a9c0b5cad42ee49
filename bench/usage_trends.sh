#!/usr/bin/env bash
# Usage trends benchmark: the 365-day backfill and the chart data query for a year, on
#   bench/usage_trends.sh [SCALE]      default scale 100, about 10 million rows (seeded once)
set -euo pipefail
cd "$(dirname "$0")/.."
data=$(bench/seed.sh "${1:-100}" | tail -n 1)
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
export LEPTOS_OUTPUT_NAME=service-ping
cargo bench --features ssr --bench usage_trends -- "$data"
