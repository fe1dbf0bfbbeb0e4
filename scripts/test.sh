#!/usr/bin/env bash
# Every test: formatting, clippy, unit and integration tests against the local stack
# (MariaDB/MySQL and moto), contract tests of the HTTP APIs, and cfn-lint on the SAM
# template. Starts what is missing and stops what it started, whatever the outcome.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/stack.sh up
trap 'scripts/stack.sh down' EXIT
eval "$(scripts/stack.sh env)"
# Each step's heading carries the minutes:seconds since the start, so a slow step shows.
step() { printf '== [%d:%02d] %s\n' $((SECONDS / 60)) $((SECONDS % 60)) "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check
step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --quiet -- -D warnings
# The release profile throughout (see Cargo.toml): the deploy build first, so that a
# function that cannot be built for deployment fails early, then the tests and the
# contract tests on the same compiled dependencies.
step "release build of every deployed function (the deploy's profile, host target)"
scripts/build-release.sh
# Unit tests of every library and every integration-test target. The binaries' own test
# harnesses (thin main.rs files without tests) and the doctests (`no_run` usage examples,
# compiled but never run) are left out: each is one more release build and link, minutes
# in all on a 2-core machine.
step "cargo test --release (unit + integration)"
cargo test --workspace --release --quiet --lib --test '*'
step "contract tests of the HTTP APIs (served document valid, schemathesis through cargo lambda watch)"
scripts/contract-test.sh
step "cfn-lint, sam validate --lint and the connection budget of infra/template.yaml"
scripts/lint-infra.sh
step "stack.sh selftest (a MariaDB it starts under skip-name-resolve accepts the URL's user)"
scripts/stack.sh selftest
step "all tests passed"
