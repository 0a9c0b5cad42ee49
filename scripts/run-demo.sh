#!/usr/bin/env bash
# `make run`: a local collector and the instance, wired together, so every page (and Send now)
# works offline. Usage: run-demo.sh BIN DATA_DIR LISTEN COLLECTOR_LISTEN
# The collector keeps its own database (collector.sqlite3) in the same data directory. It is
# stopped by the pid started here when the instance stops.
set -euo pipefail
bin=$1 data=$2 listen=$3 collector_listen=$4
# An optional configuration file for the dashboard (`make run-primary` passes the Geo primary's).
config=(${5:+--config "$5"})
"$bin" --data-dir "$data" migrate
"$bin" --data-dir "$data" seed --scale 1 --if-empty
"$bin" --data-dir "$data" collector seed-fleet --instances 200 --if-empty
# The demo vendor: a signing key, and a Premium license to upload on the License page.
if [ ! -f "$data/vendor-signing.key" ]; then
  "$bin" --data-dir "$data" collector license keygen --key "$data/vendor-signing.key" > "$data/vendor-public.key"
  "$bin" --data-dir "$data" collector license issue --key "$data/vendor-signing.key" --plan premium \
    --seats 500 --licensee-name "Demo Customer" --licensee-email demo@example.com \
    --licensee-company "Demo Corp" --expires "$(date -u -d '+1 year' +%F)" --out "$data/demo-premium.license"
fi
export SERVICE_PING__LICENSING__PUBLIC_KEY="${SERVICE_PING__LICENSING__PUBLIC_KEY:-$(cat "$data/vendor-public.key")}"
"$bin" --data-dir "$data" --listen "$collector_listen" collector &
collector_pid=$!
trap 'kill "$collector_pid" 2>/dev/null || true; wait "$collector_pid" 2>/dev/null || true' EXIT
export SERVICE_PING__COLLECTOR__URL="${SERVICE_PING__COLLECTOR__URL:-http://$collector_listen}"
echo "Dashboard: http://$listen/admin  (user root, password in $data/initial_root_password on first start)"
echo "Collector: http://$collector_listen/  (receives this instance's pings; upload page at /usage_data/new)"
echo "License:   $data/demo-premium.license  (paste it on the License page for EEP)"
"$bin" "${config[@]}" --data-dir "$data" --listen "$listen" serve
