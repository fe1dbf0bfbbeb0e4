#!/usr/bin/env bash
# The sync benchmark: a generated 10-column table (2,000,000 rows) copied MySQL→MySQL and
# MySQL→PostgreSQL by the sync engine (as sync-worker runs a job), next to mysqldump | mysql,
# SELECT … INTO OUTFILE + LOAD DATA INFILE and psql \copy on the same table in the same run;
# every copy is checked against the source before its figure counts.
#   BENCH_SYNC_ROWS=2000000 BENCH_SYNC_CHANNEL=1 BENCH_SYNC_BATCH=1024 scripts/bench-sync.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/bench-server.sh
cargo build --release --quiet --workspace --bin xtask
target/release/xtask bench-sync
