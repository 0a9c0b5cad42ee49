#!/usr/bin/env bash
# Payload generation benchmark (issue: metric dictionary and payload engine).
#   bench/payload.sh [SCALE]      default scale 100, about 10 million rows
# Seeds bench/.data/scale-SCALE once (kept for later runs), then prints, from one process:
# the lower bound (COUNT(*) per table the dictionary reads), our generation, the naive
# one-query-per-metric evaluation, their ratios, and the peak memory of `service-ping payload`.
set -euo pipefail
cd "$(dirname "$0")/.."
data=$(bench/seed.sh "${1:-100}" | tail -n 1)
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
export LEPTOS_OUTPUT_NAME=service-ping
bin=$CARGO_TARGET_DIR/release/service-ping

echo "==> service-ping payload (its own process, for peak memory)"
RUST_LOG=warn "$bin" --data-dir "$data" payload --out /dev/null 2>&1 | tail -n 1

echo "==> side by side in one process"
cargo bench --features ssr --bench payload_generation -- "$data"
