#!/usr/bin/env bash
# Load over loopback against the release binary: 200 concurrent senders for 60 s at the
# collector, then 50 concurrent sign-in attempts against one account. Prints errors, pings lost,
# guesses admitted and each server's peak RSS.
#   bench/load.sh [SECONDS] [SENDERS]
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
export LEPTOS_OUTPUT_NAME=service-ping
exec cargo bench --features ssr --bench load -- "${1:-60}" "${2:-200}"
