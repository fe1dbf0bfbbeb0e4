#!/usr/bin/env bash
# The import benchmark (issue: at least half of LOAD DATA's rows/s, peak RSS < 128 MB).
#   BENCH_STATEMENTS=1000000 scripts/bench-import.sh
# Builds release binaries, starts the local stack if needed, and prints the figures next
# to the LOAD DATA baseline measured in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/bench-server.sh
cargo build --release --quiet --workspace --bin import-local --bin xtask
target/release/xtask bench-import --statements "${BENCH_STATEMENTS:-1000000}"
