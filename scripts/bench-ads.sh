#!/usr/bin/env bash
# The ad-counter benchmark: events folded per second by ad-counter-worker (one worker, then
# four at once) with an exactness check, next to one upsert per event and the seed's Redis
# INCR per event, measured in the same run; the HLL error; the public hit handler's time.
#   BENCH_ADS_EVENTS=1000000 scripts/bench-ads.sh
# BENCH_ADS_NAIVE_EVENTS / BENCH_ADS_REDIS_EVENTS (read by xtask) size the baselines.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/bench-server.sh
scripts/stack.sh redis
cargo build --release --quiet --workspace --bin xtask
target/release/xtask bench-ads
