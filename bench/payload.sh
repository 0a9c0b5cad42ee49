#!/usr/bin/env bash
# Payload generation benchmark (issue: metric dictionary and payload engine).
#   bench/payload.sh [SCALE]      default scale 100, about 10 million rows
# Seeds bench/.data/scale-SCALE once (kept for later runs), then prints, from one process:
# the lower bound (COUNT(*) per table the dictionary reads), our generation, the naive
# one-query-per-metric evaluation, their ratios, and the peak memory of `service-ping payload`.
set -euo pipefail
cd "$(dirname "$0")/.."
scale=${1:-100}
[[ "$scale" =~ ^[0-9]+$ ]] || { echo "usage: bench/payload.sh [SCALE]" >&2; exit 2; }
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
# As the Makefile: cargo-leptos's output name for every cargo command (see the comment there).
export LEPTOS_OUTPUT_NAME=service-ping
scripts/install-tools.sh
cargo leptos build --release
bin=$CARGO_TARGET_DIR/release/service-ping
data=bench/.data/scale-$scale

if [ ! -f "$data/seeded" ]; then
  rm -rf "$data"
  echo "==> seeding scale $scale into $data"
  "$bin" --data-dir "$data" seed --scale "$scale"
  touch "$data/seeded"
fi

echo "==> service-ping payload (its own process, for peak memory)"
RUST_LOG=warn "$bin" --data-dir "$data" payload --out /dev/null 2>&1 | tail -n 1

echo "==> side by side in one process"
cargo bench --features ssr --bench payload_generation -- "$data"
