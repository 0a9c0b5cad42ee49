# Service Ping: the two commands are `make run` and `make test`. Everything they need is
# installed on first use by scripts/install-tools.sh and skipped when already present.
SHELL := /bin/bash
CARGO_HOME ?= $(HOME)/.cargo
export PATH := $(CARGO_HOME)/bin:$(PATH)
# Build output; CI points this at a persistent directory so warm runs are incremental.
export CARGO_TARGET_DIR ?= $(CURDIR)/target
# cargo-leptos builds with LEPTOS_OUTPUT_NAME set, and Leptos names the wasm file it links
# differently without it; setting it for every cargo command keeps `cargo test` from rebuilding
# the release binary into one that asks for a wasm file that does not exist.
export LEPTOS_OUTPUT_NAME := service-ping
BIN := $(CARGO_TARGET_DIR)/release/service-ping
DATA_DIR ?= data
LISTEN ?= 127.0.0.1:3000
COLLECTOR_LISTEN ?= 127.0.0.1:3002

.PHONY: run run-primary run-secondary test tools test-tools build site fmt-check clippy unit-test package package-test e2e clean-data upgrade-fixture

## Build the release and run the dashboard on http://$(LISTEN) with its data in ./$(DATA_DIR),
## and a local collector on http://$(COLLECTOR_LISTEN) that the instance sends to.
run: tools build
	scripts/run-demo.sh $(BIN) $(DATA_DIR) $(LISTEN) $(COLLECTOR_LISTEN)

## Geo: `make run-primary` is `make run` as a Geo primary site listing one secondary
## (config/geo-primary.example.toml); `make run-secondary`, in another terminal, starts that
## secondary on http://127.0.0.1:3001 with its own data in ./data/secondary. It reports to the
## primary every minute; with a Prometheus at `[prometheus] url` it also reports its Git traffic.
run-primary: tools build
	scripts/run-demo.sh $(BIN) $(DATA_DIR) $(LISTEN) $(COLLECTOR_LISTEN) config/geo-primary.example.toml

run-secondary: tools build
	$(BIN) --config config/geo-secondary.example.toml seed --scale 1 --if-empty
	$(BIN) --config config/geo-secondary.example.toml serve

## Everything CI checks, from a machine that has only rustup, Node and apt.
# The browser tests run the server binary that `unit-test` built: Cargo builds a package's binary
# for its integration tests, with the same dependency features as the tests, so the server's
# dependency tree is compiled once (a plain release build, without the tests' features, would
# compile most of it a second time). `site` adds the browser bundle and the stylesheet.
test: test-tools fmt-check clippy unit-test site package-test e2e

tools:
	scripts/install-tools.sh

test-tools:
	scripts/install-tools.sh --test

# --precompress writes a brotli and a gzip copy beside each file of the site, which the server
# sends to browsers that accept them (src/server/assets.rs): no compression per request.
build:
	cargo leptos build --release --precompress

# The browser bundle's budget, brotli: set from the size reached, lowered as it shrinks.
BUNDLE_BUDGET_KB ?= 413

site:
	cargo leptos build --release --frontend-only --precompress
	scripts/check-bundle-size.sh target/site $(BUNDLE_BUDGET_KB)

fmt-check:
	cargo fmt --all -- --check

# Every crate of the workspace on the server, and the browser bundle (the dashboard's `hydrate`
# build and its wasm entry crate, which only builds for wasm32).
clippy:
	cargo clippy --workspace --exclude service-ping-hydrate --all-targets --features service-ping/ssr -- -D warnings
	cargo clippy -p service-ping -p service-ping-hydrate --lib --features service-ping/hydrate --target wasm32-unknown-unknown -- -D warnings

# Release profile, so the test build reuses the dependencies `build` just compiled. The suites
# that touch a database run on SQLite and on a throwaway PostgreSQL server the script starts:
# the engine's and the collector's run each test on both; the dashboard's (its unit tests and
# tests/dashboard) run a second time with SERVICE_PING_TEST_BACKEND=postgres, but for the one
# test of SQLite's busy timeout, which has no PostgreSQL counterpart, and the parity tests, which
# make a database of each backend themselves. Both passes build with the same flags, so the
# second reuses the first's binaries.
unit-test:
	scripts/postgres-server.sh run sh -c '\
	  cargo test --release --workspace --exclude service-ping-hydrate --features service-ping/ssr && \
	  SERVICE_PING_TEST_BACKEND=postgres cargo test --release --workspace --exclude service-ping-hydrate --features service-ping/ssr \
	    --lib --test dashboard -- \
	    --skip the_database_locked_longer_than_the_busy_timeout --skip parity::'

## The Debian package, in target/debian/, checked as package-test checks it.
package: build
	scripts/install-tools.sh --package
	scripts/test-package.sh

# The package built from the binary and site just tested, unpacked into a throwaway root, its
# files, modes, units and installed binary checked (scripts/test-package.sh).
package-test:
	scripts/test-package.sh

# The browser suite's collector runs on PostgreSQL (start-collector.sh).
e2e:
	cd end2end && SERVICE_PING_BIN=$(BIN) ../scripts/postgres-server.sh run npx playwright test

## At a release tag: write that release's upgrade fixture on both backends
## (tests/fixtures/upgrade/vX.Y.Z/), to commit; every later release's tests upgrade from it.
upgrade-fixture:
	scripts/postgres-server.sh run sh -c '\
	  cargo test --release --features ssr --test dashboard -- upgrade::write_upgrade_fixture --ignored && \
	  SERVICE_PING_TEST_BACKEND=postgres cargo test --release --features ssr --test dashboard -- upgrade::write_upgrade_fixture --ignored'

clean-data:
	rm -rf $(DATA_DIR)
