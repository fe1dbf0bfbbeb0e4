#!/usr/bin/env bash
# The cleanup benchmark: rows deleted per second, three months out of six, by the cleanup
# function's chunks and by one DELETE per table, each with an import-like writer alongside
# whose longest transaction is printed.
#   BENCH_EVENTS=2000000 scripts/bench-cleanup.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/bench-server.sh
cargo build --release --quiet --workspace --bin xtask
target/release/xtask bench-cleanup --events "${BENCH_EVENTS:-2000000}" --chunk-rows "${BENCH_CHUNK_ROWS:-2000}"
