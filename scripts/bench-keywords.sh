#!/usr/bin/env bash
# The keyword batch benchmark (xtask/src/bench_keywords.rs):
#  1. on 1,000,000 generated chats over 7 days, the function's unique-question and
#     missing-question queries next to the original's two queries on the same data, with
#     agreement checks (the original's missing query is stopped after 300 s and both run
#     again on a 50,000-chat copy when it is);
#  2. `complete` end to end on 3,000 questions against the fake HCX at 600 requests a
#     minute with every 10th answer a 429: questions/s, nothing in the DLQ, no duplicates;
#  3. sending one date with 1 and 10 questions per message (modelled SQS and moto).
#   BENCH_KEYWORDS_CHATS=1000000 BENCH_KEYWORDS_QUESTIONS=3000 scripts/bench-keywords.sh
# Also read by xtask: BENCH_KEYWORDS_ORIGINAL_CAP_SECS, BENCH_KEYWORDS_SAMPLE_CHATS,
# BENCH_KEYWORDS_MOTO_QUESTIONS, BENCH_KEYWORDS_SKIP_SEND=true.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/bench-server.sh
cargo build --release --quiet --workspace --bin xtask
"${CARGO_TARGET_DIR:-target}"/release/xtask bench-keywords
