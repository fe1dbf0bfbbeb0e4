# Sourced by the benchmark scripts: starts the local stack and sizes the database server
# like a small RDS instance for the run, putting the old values back on exit.
#
# A stock local MariaDB has a 128 MB buffer pool and a 96 MB redo log, far below any RDS
# instance (RDS sizes the pool at 3/4 of memory); with them every side of a benchmark
# measures the disk, not the code. Both settings are dynamic in MariaDB 10.11.
scripts/stack.sh up
eval "$(scripts/stack.sh env)"
mysql_admin() { mariadb --protocol=TCP -h 127.0.0.1 -u root -N -e "$1"; }
OLD_POOL=$(mysql_admin 'SELECT @@innodb_buffer_pool_size')
OLD_LOG=$(mysql_admin 'SELECT @@innodb_log_file_size')
restore_server() {
  mysql_admin "SET GLOBAL innodb_buffer_pool_size = $OLD_POOL; SET GLOBAL innodb_log_file_size = $OLD_LOG" || true
  scripts/stack.sh down
}
trap restore_server EXIT
mysql_admin "SET GLOBAL innodb_buffer_pool_size = ${BENCH_BUFFER_POOL_BYTES:-2147483648}; SET GLOBAL innodb_log_file_size = ${BENCH_REDO_LOG_BYTES:-1073741824}"
echo "server for the run: buffer pool $(mysql_admin 'SELECT @@innodb_buffer_pool_size') bytes, redo log $(mysql_admin 'SELECT @@innodb_log_file_size') bytes"
