#!/usr/bin/env bash
# Every test: formatting, clippy, unit and integration tests against the local stack
# (MariaDB/MySQL and moto), contract tests of the HTTP APIs, and cfn-lint on the SAM
# template. Starts what is missing and stops what it started, whatever the outcome.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/stack.sh up
trap 'scripts/stack.sh down' EXIT
eval "$(scripts/stack.sh env)"

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy -D warnings"
cargo clippy --workspace --all-targets --quiet -- -D warnings
echo "== cargo test (unit + integration)"
cargo test --workspace --quiet
echo "== contract tests of the HTTP APIs (served document valid, schemathesis through cargo lambda watch)"
scripts/contract-test.sh
echo "== release build of every deployed function (the deploy's profile, host target)"
scripts/build-release.sh
echo "== cfn-lint, sam validate --lint and the connection budget of infra/template.yaml"
scripts/lint-infra.sh
echo "== stack.sh selftest (a MariaDB it starts under skip-name-resolve accepts the URL's user)"
scripts/stack.sh selftest
echo "== all tests passed"
