#!/usr/bin/env bash
# The course-stats benchmark (issue: one month at least 10x faster than the original SQL).
#   BENCH_EVENTS=10000000 scripts/bench-course-stats.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/bench-server.sh
cargo build --release --quiet --workspace --bin xtask
target/release/xtask bench-course-stats --events "${BENCH_EVENTS:-10000000}"
