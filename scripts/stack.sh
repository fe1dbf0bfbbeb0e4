#!/usr/bin/env bash
# The local stack: MariaDB/MySQL (used when it answers, installed and started when not),
# a moto server for S3 and SQS, and the project virtualenv (moto, cargo-lambda).
#
#   scripts/stack.sh up      start what is missing (idempotent)
#   scripts/stack.sh down    stop what `up` started (idempotent)
#   scripts/stack.sh env     print the environment the functions need, as shell exports
#
# State lives in .stack/ (pid files, logs). Nothing here is needed in AWS.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
STACK=$ROOT/.stack
mkdir -p "$STACK"

MOTO_PORT=${MOTO_PORT:-4566}
DB_URL=${DATABASE_URL:-mysql://root@127.0.0.1:3306/platform}
# mysql://user[:password]@host:port/db -> parts, for the mariadb client.
DB_HOSTPORT=${DB_URL#*@}; DB_HOSTPORT=${DB_HOSTPORT%%/*}
DB_HOST=${DB_HOSTPORT%%:*}; DB_PORT=${DB_HOSTPORT##*:}; [ "$DB_PORT" = "$DB_HOST" ] && DB_PORT=3306
DB_USERPASS=${DB_URL#mysql://}; DB_USERPASS=${DB_USERPASS%%@*}
DB_USER=${DB_USERPASS%%:*}
DB_PASS=""; [[ $DB_USERPASS == *:* ]] && DB_PASS=${DB_USERPASS#*:}

log() { printf '[stack] %s\n' "$*" >&2; }

apt_install() {
  log "installing $* from Debian's packages"
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}

db_answers() {
  command -v mariadb >/dev/null || return 1
  MYSQL_PWD=$DB_PASS mariadb --protocol=TCP -h "$DB_HOST" -P "$DB_PORT" -u "$DB_USER" -e 'SELECT 1' >/dev/null 2>&1
}

venv_up() {
  if [ ! -x .venv/bin/moto_server ] || [ ! -x .venv/bin/cargo-lambda ]; then
    python3 -m venv .venv 2>/dev/null || { apt_install python3-venv; python3 -m venv .venv; }
    log "installing moto[server] and cargo-lambda into .venv (PyPI)"
    .venv/bin/pip install -q --disable-pip-version-check 'moto[server]>=5,<6' 'cargo-lambda>=1.8,<2'
  fi
}

db_up() {
  command -v mariadb >/dev/null || apt_install mariadb-client
  if db_answers; then
    log "database answers at $DB_HOST:$DB_PORT"
    return
  fi
  log "no database at $DB_HOST:$DB_PORT; starting MariaDB"
  command -v mariadbd >/dev/null || apt_install mariadb-server
  # mariadbd refuses to run as root and needs its socket directory (LOCAL-STACK notes).
  install -d -o mysql -g mysql /run/mysqld "$STACK/mariadb-log"
  chown mysql:mysql "$STACK/mariadb-log"
  [ -d /var/lib/mysql/mysql ] || mariadb-install-db --user=mysql --datadir=/var/lib/mysql >/dev/null
  mariadbd --user=mysql --datadir=/var/lib/mysql --bind-address=127.0.0.1 --port="$DB_PORT" \
    --log-error="$STACK/mariadb-log/error.log" --pid-file=/run/mysqld/stack.pid >/dev/null 2>&1 &
  echo $! > "$STACK/mariadb.pid"
  for _ in $(seq 1 60); do
    mariadb -uroot -e 'SELECT 1' >/dev/null 2>&1 && break
    sleep 0.5
  done
  # root@localhost is socket-only by default: allow TCP logins with the URL's password.
  mariadb -uroot -e "ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD('$DB_PASS') OR unix_socket" 2>/dev/null || true
  db_answers || { log "MariaDB did not come up; see $STACK/mariadb-log/error.log"; exit 1; }
  log "MariaDB started (pid $(cat "$STACK/mariadb.pid"))"
}

moto_answers() { curl -fsS -o /dev/null "http://127.0.0.1:$MOTO_PORT/moto-api/" 2>/dev/null; }

moto_up() {
  if moto_answers; then
    log "moto answers on port $MOTO_PORT"
    return
  fi
  setsid .venv/bin/moto_server -H 127.0.0.1 -p "$MOTO_PORT" >"$STACK/moto-$MOTO_PORT.log" 2>&1 < /dev/null &
  echo $! > "$STACK/moto-$MOTO_PORT.pid"
  for _ in $(seq 1 60); do moto_answers && break; sleep 0.25; done
  moto_answers || { log "moto did not come up; see $STACK/moto-$MOTO_PORT.log"; exit 1; }
  log "moto started on port $MOTO_PORT (pid $(cat "$STACK/moto-$MOTO_PORT.pid"))"
}

stop_pidfile() {
  local file=$1
  [ -f "$file" ] || return 0
  local pid; pid=$(cat "$file")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$file"
}

print_env() {
  cat <<ENV
export DATABASE_URL='$DB_URL'
export AWS_ENDPOINT_URL='http://127.0.0.1:$MOTO_PORT'
export AWS_ACCESS_KEY_ID='${AWS_ACCESS_KEY_ID:-test}'
export AWS_SECRET_ACCESS_KEY='${AWS_SECRET_ACCESS_KEY:-test}'
export AWS_REGION='${AWS_REGION:-us-east-1}'
export AWS_DEFAULT_REGION='${AWS_REGION:-us-east-1}'
export PATH='$ROOT/.venv/bin':"\$PATH"
ENV
}

case "${1:-}" in
  up) venv_up; db_up; moto_up ;;
  down) stop_pidfile "$STACK/moto-$MOTO_PORT.pid"; stop_pidfile "$STACK/mariadb.pid"; log "stopped what this script started" ;;
  env) print_env ;;
  *) echo "usage: $0 up|down|env" >&2; exit 2 ;;
esac
