#!/usr/bin/env bash
# Fails when the browser bundle's brotli size passes its budget, so a change that makes every
# first visit heavier is seen when it is made. Reads the copy `make site` precompressed.
#   scripts/check-bundle-size.sh SITE_ROOT BUDGET_KB
set -euo pipefail
site=$1 budget_kb=$2
wasm=$site/pkg/service-ping.wasm
[ -f "$wasm.br" ] || { echo "error: $wasm.br is missing: build the site with --precompress (make site)" >&2; exit 1; }
raw_kb=$(( $(stat -c %s "$wasm") / 1024 ))
brotli_kb=$(( $(stat -c %s "$wasm.br") / 1024 ))
echo "browser bundle: ${raw_kb} KB, ${brotli_kb} KB brotli (budget ${budget_kb} KB brotli)"
if [ "$brotli_kb" -gt "$budget_kb" ]; then
  echo "error: the bundle is over its budget by $(( brotli_kb - budget_kb )) KB brotli" >&2
  exit 1
fi
