#!/usr/bin/env bash
# Payload generation benchmark (issue: metric dictionary and payload engine).
#   bench/payload.sh [SCALE]      default scale 100, about 10 million rows
# Seeds bench/.data/scale-SCALE once (kept for later runs) and works on a copy of it, since the
# benchmark writes days of activity. Prints the peak memory of a cold `service-ping payload`,
# then, from one process: the lower bound (COUNT(*) per table the dictionary reads), ours cold,
# ours folding a day of writes, ours with current rollups, fused scans, the naive
# one-query-per-metric evaluation, and their ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
data=$(bench/seed.sh "${1:-100}" | tail -n 1)
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
export LEPTOS_OUTPUT_NAME=service-ping
bin=$CARGO_TARGET_DIR/release/service-ping

copy=$(mktemp -d "${TMPDIR:-/tmp}/service-ping-bench.XXXXXX")
trap 'rm -rf "$copy"' EXIT
cp -r "$data/." "$copy/"

# The seeded database has no rollups (benchmarks only ever write to copies): this run is cold.
echo "==> service-ping payload (its own process, for peak memory; builds the rollups)"
RUST_LOG=warn "$bin" --data-dir "$copy" payload --out /dev/null 2>&1 | tail -n 1

echo "==> side by side in one process"
cargo bench --features ssr --bench payload_generation -- "$copy"
