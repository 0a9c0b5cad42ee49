#!/usr/bin/env bash
# The dashboard over a slow link and under concurrent clients (bench/delivery.mjs): builds the
# release binary and the precompressed site, then prints the bundle's sizes, the overview's time
# until hydrated on a first and a repeat visit at 1.6 Mbit/s and 150 ms, the bytes received each
# time, and the median and p99 server time of /admin and /admin/usage_trends with 8 clients.
#   bench/delivery.sh     (DELIVERY_REQUESTS per page, default 2000)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
export LEPTOS_OUTPUT_NAME=service-ping
target=${CARGO_TARGET_DIR:-target}
# The binary the tests build (the same dependency features: no second compile of the tree).
cargo test --release --features ssr --no-run
cargo leptos build --release --frontend-only --precompress
(cd end2end && npm ci --silent --no-audit --no-fund >/dev/null)
exec node bench/delivery.mjs "$target/release/service-ping" target/site
