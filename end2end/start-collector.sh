#!/usr/bin/env bash
# Starts a collector for the Playwright suite on port 3101 with a fresh data directory. `exec`
# keeps the pid the one Playwright started, so Playwright stops exactly this process.
set -euo pipefail
cd "$(dirname "$0")/.."
data=end2end/.collector
bin=${SERVICE_PING_BIN:-target/release/service-ping}
rm -rf "$data"
exec "$bin" --data-dir "$data" --listen 127.0.0.1:3101 collector
