#!/usr/bin/env bash
# Shared by the benchmarks: builds the release and seeds bench/.data/scale-SCALE once (kept for
# later runs). Prints the data directory on its last line.
set -euo pipefail
cd "$(dirname "$0")/.."
scale=${1:-100}
[[ "$scale" =~ ^[0-9]+$ ]] || { echo "usage: bench/seed.sh [SCALE]" >&2; exit 2; }
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
# As the Makefile: cargo-leptos's output name for every cargo command (see the comment there).
export LEPTOS_OUTPUT_NAME=service-ping
scripts/install-tools.sh >&2
cargo leptos build --release >&2
bin=$CARGO_TARGET_DIR/release/service-ping
data=bench/.data/scale-$scale
if [ ! -f "$data/seeded" ]; then
  rm -rf "$data"
  echo "==> seeding scale $scale into $data" >&2
  "$bin" --data-dir "$data" seed --scale "$scale" >&2
  touch "$data/seeded"
fi
echo "$data"
