#!/usr/bin/env bash
# Starts the release server for the Playwright suite with a fresh data directory (and on a fresh
# PostgreSQL database when the suite runs under a test server, as `make e2e` does), the demo
# platform seeded at scale 1, and a regular (non-admin) account besides the generated `root`.
# It sends to the collector start-collector.sh runs, and "Include optional data" is locked by
# the environment so the tests can see a locked control. It is a Geo primary with two secondaries
# (geo.spec.ts signs statuses for them with the same secret). `exec` keeps the server's pid the one
# Playwright started, so Playwright stops exactly this process.
set -euo pipefail
cd "$(dirname "$0")/.."
data=end2end/.data
bin=${SERVICE_PING_BIN:-target/release/service-ping}
rm -rf "$data"
if [ -n "${SERVICE_PING_TEST_POSTGRES_URL:-}" ]; then
  psql -q "$SERVICE_PING_TEST_POSTGRES_URL" -c "DROP DATABASE IF EXISTS e2e_instance" -c "CREATE DATABASE e2e_instance"
  export SERVICE_PING__DATABASE__URL="${SERVICE_PING_TEST_POSTGRES_URL%/*}/e2e_instance"
fi
"$bin" --data-dir "$data" admin create --username regular --email regular@example.com \
  --name "Regular Person" --regular --password-stdin <<< "regular-user-password"
"$bin" --data-dir "$data" seed --scale 1
# A vendor key and a Premium license signed with it, for the license tests (the vendor's own
# directory, on SQLite: the instance's database URL is not the vendor's).
vendor=end2end/.vendor
rm -rf "$vendor" && mkdir -p "$vendor"
public_key=$(env -u SERVICE_PING__DATABASE__URL "$bin" --data-dir "$vendor" collector license keygen --key "$vendor/signing.key" 2>/dev/null)
env -u SERVICE_PING__DATABASE__URL "$bin" --data-dir "$vendor" collector license issue --key "$vendor/signing.key" --plan premium --seats 500 \
  --licensee-name "Test Customer" --licensee-email customer@example.com --licensee-company "Example Corp" \
  --expires "$(date -u -d '+1 year' +%F)" --out "$vendor/premium.license"
export SERVICE_PING__LICENSING__PUBLIC_KEY="$public_key"
export SERVICE_PING__COLLECTOR__URL=http://127.0.0.1:3101
export SERVICE_PING__SERVICE_PING__INCLUDE_OPTIONAL_DATA=true
mkdir -p "$data"
cat > "$data/geo.toml" <<'TOML'
[geo]
role = "primary"
secret = "playwright-geo-secret-of-at-least-32-characters"
sites = [
  { name = "site-b", url = "http://site-b.example" },
  { name = "site-c", url = "http://site-c.example" },
]
TOML
exec "$bin" --config "$data/geo.toml" --data-dir "$data" --listen 127.0.0.1:3100 serve
