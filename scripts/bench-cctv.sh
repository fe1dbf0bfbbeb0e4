#!/usr/bin/env bash
# The CCTV benchmark: counts ingested per second by cctv-api next to the original's one
# INSERT per count with its trigger, and one catch-up of cctv-rollups over a year of counts
# next to the original's day/week/month/year events on the same rows.
#   BENCH_CCTV_COUNTS=200000 scripts/bench-cctv.sh
# BENCH_CCTV_BASELINE_COUNTS=N (read by xtask) times the original's per-row INSERTs on the
# first N counts only.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/bench-server.sh
cargo build --release --quiet --workspace --bin xtask
target/release/xtask bench-cctv --counts "${BENCH_CCTV_COUNTS:-200000}"
