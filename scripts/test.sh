#!/usr/bin/env bash
# Every test: formatting, clippy, unit and integration tests against the local stack
# (MariaDB/MySQL and moto), and cfn-lint on the SAM template. Starts what is missing and
# stops what it started, whatever the outcome.
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
echo "== cfn-lint infra/template.yaml"
scripts/lint-infra.sh
echo "== all tests passed"
