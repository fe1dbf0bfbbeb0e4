#!/usr/bin/env bash
# The keyword batch benchmark: on 1,000,000 generated chats over 7 days, the function's
# unique-question and missing-question queries next to the original's two queries on the
# same data (with agreement checks), sending one date to moto with 1 and 10 questions per
# message, then `complete` end to end on 3,000 questions against the fake HCX at 600
# requests a minute with every 10th answer a 429 (nothing in the DLQ, no duplicates).
#   BENCH_KEYWORDS_CHATS=1000000 BENCH_KEYWORDS_QUESTIONS=3000 scripts/bench-keywords.sh
# BENCH_KEYWORDS_SKIP_SEND=true leaves the sending comparison out.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/bench-server.sh
cargo build --release --quiet --workspace --bin xtask
"${CARGO_TARGET_DIR:-target}"/release/xtask bench-keywords
