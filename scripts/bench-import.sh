#!/usr/bin/env bash
# The import benchmark (issue: at least half of LOAD DATA's rows/s, peak RSS < 128 MB).
#   BENCH_STATEMENTS=1000000 scripts/bench-import.sh
# Builds release binaries, starts the local stack if needed, and prints the figures next
# to the LOAD DATA baseline measured in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/stack.sh up
eval "$(scripts/stack.sh env)"
# A stock local MariaDB has a 128 MB buffer pool and a 96 MB redo log, far below any RDS
# instance (RDS sizes the pool at 3/4 of memory); with them both the import and LOAD DATA
# measure the disk, not the code. Size them like a small RDS instance for the run, for both
# sides alike, and put the old values back afterwards (both are dynamic in MariaDB 10.11).
mysql_admin() { mariadb --protocol=TCP -h 127.0.0.1 -u root -N -e "$1"; }
OLD_POOL=$(mysql_admin 'SELECT @@innodb_buffer_pool_size')
OLD_LOG=$(mysql_admin 'SELECT @@innodb_log_file_size')
restore() {
  mysql_admin "SET GLOBAL innodb_buffer_pool_size = $OLD_POOL; SET GLOBAL innodb_log_file_size = $OLD_LOG" || true
  scripts/stack.sh down
}
trap restore EXIT
mysql_admin "SET GLOBAL innodb_buffer_pool_size = ${BENCH_BUFFER_POOL_BYTES:-2147483648}; SET GLOBAL innodb_log_file_size = ${BENCH_REDO_LOG_BYTES:-1073741824}"
echo "server for the run: buffer pool $(mysql_admin 'SELECT @@innodb_buffer_pool_size') bytes, redo log $(mysql_admin 'SELECT @@innodb_log_file_size') bytes"
cargo build --release --quiet -p import --bin import-local
cargo build --release --quiet -p xtask
target/release/xtask bench-import --statements "${BENCH_STATEMENTS:-1000000}"
