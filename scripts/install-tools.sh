#!/usr/bin/env bash
# Installs what building and testing Service Ping needs, skipping whatever is already there at
# the right version. Works on a machine that has only rustup's toolchain, Node and apt.
#   scripts/install-tools.sh            build tools (wasm target, cargo-leptos, wasm-bindgen, wasm-opt)
#   scripts/install-tools.sh --package  also cargo-deb and what checking the package needs
#   scripts/install-tools.sh --test     all of that, and Chromium, PostgreSQL, Prometheus and the
#                                       Playwright packages
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_LEPTOS_VERSION=0.3.11
CARGO_DEB_VERSION=3.8.0
WASM_OPT_VERSION=0.116.1
# The wasm-bindgen CLI must match the library version the lockfile resolved.
WASM_BINDGEN_VERSION=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
have_version() { command -v "$1" >/dev/null 2>&1 && "$1" --version 2>/dev/null | grep -q "$2"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

cargo_bin="${CARGO_HOME:-$HOME/.cargo}/bin"
export PATH="$cargo_bin:$PATH"

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi
for component in rustfmt clippy; do
  if ! rustup component list --installed | grep -q "^$component"; then
    say "adding $component"
    rustup component add "$component"
  fi
done

if ! have_version cargo-leptos "$CARGO_LEPTOS_VERSION"; then
  say "installing cargo-leptos $CARGO_LEPTOS_VERSION (about 14 minutes on 2 cores)"
  # Its lockfile needs a newer Rust than stable 1.95; the preinstalled nightly builds it.
  if cargo +nightly --version >/dev/null 2>&1; then
    cargo +nightly install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked --features no_downloads
  else
    CARGO_RESOLVER_INCOMPATIBLE_RUST_VERSIONS=fallback \
      cargo install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --features no_downloads
  fi
fi

if ! have_version wasm-bindgen "$WASM_BINDGEN_VERSION"; then
  say "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION"
  # Not --locked: its lockfile names a crate version the registry no longer serves.
  CARGO_RESOLVER_INCOMPATIBLE_RUST_VERSIONS=fallback \
    cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
fi

# Debian's binaryen (108) produces wasm that fails to hydrate; binaryen 116 from crates.io works.
if ! have_version wasm-opt "version 116"; then
  say "installing wasm-opt $WASM_OPT_VERSION (builds binaryen from source, about 8 minutes)"
  cargo install wasm-opt --version "$WASM_OPT_VERSION" --locked --force
fi
if [ "$(command -v wasm-opt)" != "$cargo_bin/wasm-opt" ]; then
  echo "error: $(command -v wasm-opt) comes before $cargo_bin/wasm-opt on PATH; it breaks hydration" >&2
  exit 1
fi

if [ "${1:-}" = "--test" ] || [ "${1:-}" = "--package" ]; then
  if ! have_version cargo-deb "$CARGO_DEB_VERSION"; then
    say "installing cargo-deb $CARGO_DEB_VERSION (about a minute)"
    cargo install cargo-deb --version "$CARGO_DEB_VERSION" --locked --force
  fi
  # scripts/test-package.sh: dpkg-deb, systemd-analyze, curl, python3.
  missing=()
  for tool in dpkg-deb:dpkg systemd-analyze:systemd curl:curl python3:python3; do
    command -v "${tool%%:*}" >/dev/null 2>&1 || missing+=("${tool##*:}")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]} from Debian"
    as_root apt-get update -q
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -q "${missing[@]}"
  fi
fi

if [ "${1:-}" = "--test" ]; then
  if ! command -v chromium >/dev/null 2>&1; then
    say "installing Chromium from Debian"
    as_root apt-get update -q
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -q chromium
  fi
  if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    say "installing PostgreSQL from Debian (the tests start their own throwaway servers)"
    # No cluster of the package's own: nothing listens until a test starts a server.
    as_root mkdir -p /etc/postgresql-common/createcluster.d
    echo "create_main_cluster = false" | as_root tee /etc/postgresql-common/createcluster.d/service-ping-tests.conf >/dev/null
    as_root apt-get update -q
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -q postgresql postgresql-client
  fi
  if ! command -v prometheus >/dev/null 2>&1; then
    say "installing Prometheus from Debian (the tests start their own, scraping the servers under test)"
    # Without systemd (a container, CI) the package's own service never starts; with it, it is
    # stopped and kept from starting: the tests run theirs on free ports.
    as_root apt-get update -q
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -q --no-install-recommends prometheus
    if command -v systemctl >/dev/null 2>&1 && systemctl is-system-running >/dev/null 2>&1; then
      as_root systemctl disable --now prometheus >/dev/null 2>&1 || true
    fi
  fi
  if [ ! -d end2end/node_modules/@playwright/test ] || ! cmp -s end2end/package-lock.json end2end/node_modules/.package-lock-copy.json; then
    say "installing the Playwright packages"
    (cd end2end && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund && cp package-lock.json node_modules/.package-lock-copy.json)
  fi
fi
say "tools ready"
