#!/usr/bin/env bash
# The local stack: MariaDB/MySQL and PostgreSQL (each used when it answers, installed and
# started when not; PostgreSQL is the data-sync platform's second source and target), a
# moto server for S3 and SQS, and the project virtualenv (moto, cargo-lambda).
#
#   scripts/stack.sh up      start what is missing (idempotent)
#   scripts/stack.sh down    stop what `up` started (idempotent)
#   scripts/stack.sh env     print the environment the functions need, as shell exports
#   scripts/stack.sh redis   start Redis when none answers (only the ad benchmark's
#                            baseline uses it: the seed's INCR per hit)
#   scripts/stack.sh selftest   start a throw-away MariaDB as `up` would (free port,
#                               skip-name-resolve), check the URL's user can log in, stop it
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

# Extra mariadbd options for a server this script starts (set by `selftest` only).
MARIADBD_EXTRA=()

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

# A string as a single-quoted SQL literal.
sql_string() { local s=${1//\\/\\\\}; s=${s//\'/\\\'}; printf "'%s'" "$s"; }

# Lets the URL's user log in over TCP from 127.0.0.1, with the URL's password, on the
# server listening on socket $1 (reached as root through the socket, as installed).
allow_url_user() {
  local user pass sql
  user=$(sql_string "$DB_USER"); pass=$(sql_string "$DB_PASS")
  # With skip-name-resolve (the CI image's my.cnf sets it) a TCP login from 127.0.0.1
  # matches only accounts for that address (or '%'), never 'localhost': hence an account
  # for 127.0.0.1. 'localhost' is for the socket and, without skip-name-resolve, for TCP.
  sql="CREATE USER IF NOT EXISTS $user@'127.0.0.1' IDENTIFIED BY $pass;
ALTER USER $user@'127.0.0.1' IDENTIFIED BY $pass;
GRANT ALL PRIVILEGES ON *.* TO $user@'127.0.0.1' WITH GRANT OPTION;"
  if [ "$DB_USER" = root ]; then
    # root@localhost is socket-only as installed: the password as well (LOCAL-STACK notes).
    sql+="
ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD($pass) OR unix_socket;"
  else
    sql+="
CREATE USER IF NOT EXISTS $user@'localhost' IDENTIFIED BY $pass;
ALTER USER $user@'localhost' IDENTIFIED BY $pass;
GRANT ALL PRIVILEGES ON *.* TO $user@'localhost' WITH GRANT OPTION;"
  fi
  # On stdin, so the password is not in the process list.
  mariadb --socket="$1" -uroot <<<"$sql"
}

db_up() {
  command -v mariadb >/dev/null || apt_install mariadb-client
  if db_answers; then
    log "database answers at $DB_HOST:$DB_PORT"
    return
  fi
  log "no database at $DB_HOST:$DB_PORT; starting MariaDB"
  command -v mariadbd >/dev/null || apt_install mariadb-server
  # The default port uses Debian's data directory (a fresh machine's); any other port gets
  # one of its own under .stack/, never the files of a server that may be running. Socket
  # and pid file are per port as well: the site's my.cnf names the default server's, and a
  # second server must not take them over (nor our client reach the other server).
  local datadir=/var/lib/mysql
  [ "$DB_PORT" = 3306 ] || datadir=$STACK/mariadb-$DB_PORT
  local socket=/run/mysqld/stack-$DB_PORT.sock
  # mariadbd refuses to run as root and needs its socket directory (LOCAL-STACK notes).
  install -d -o mysql -g mysql /run/mysqld "$STACK/mariadb-log" "$datadir"
  chown mysql:mysql "$STACK/mariadb-log"
  [ -d "$datadir/mysql" ] || mariadb-install-db --user=mysql --datadir="$datadir" >/dev/null
  mariadbd --user=mysql --datadir="$datadir" --socket="$socket" --bind-address=127.0.0.1 \
    --port="$DB_PORT" --log-error="$STACK/mariadb-log/error-$DB_PORT.log" \
    --pid-file="/run/mysqld/stack-$DB_PORT.pid" ${MARIADBD_EXTRA[@]+"${MARIADBD_EXTRA[@]}"} >/dev/null 2>&1 &
  echo $! > "$STACK/mariadb-$DB_PORT.pid"
  for _ in $(seq 1 60); do
    mariadb --socket="$socket" -uroot -e 'SELECT 1' >/dev/null 2>&1 && break
    sleep 0.5
  done
  allow_url_user "$socket" || true
  db_answers || { log "MariaDB did not come up; see $STACK/mariadb-log/error-$DB_PORT.log"; exit 1; }
  log "MariaDB started on port $DB_PORT (pid $(cat "$STACK/mariadb-$DB_PORT.pid"), data in $datadir)"
}

# Starts a MariaDB as `up` does when none answers, on a free port, with an empty data
# directory and --skip-name-resolve (as the CI image's my.cnf has it), for a user that is
# not root and a password with quotes; logs in over TCP from 127.0.0.1 as that user;
# then stops that server and removes its files. Touches nothing else.
selftest() {
  DB_HOST=127.0.0.1
  DB_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  DB_USER=stack_selftest
  DB_PASS="it's a \\ test"
  MARIADBD_EXTRA=(--skip-name-resolve)
  trap 'stop_pidfile "$STACK/mariadb-$DB_PORT.pid"; rm -rf "$STACK/mariadb-$DB_PORT" "$STACK/mariadb-log/error-$DB_PORT.log"' EXIT
  db_up
  db_answers || { log "selftest: no TCP login as $DB_USER on port $DB_PORT"; exit 1; }
  log "selftest passed: a fresh MariaDB with skip-name-resolve on port $DB_PORT accepts the URL's user from 127.0.0.1"
}

PG_PORT=${POSTGRES_PORT:-5432}
pg_answers() { command -v pg_isready >/dev/null && pg_isready -q -h 127.0.0.1 -p "$PG_PORT" -U postgres 2>/dev/null \
  && psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -Atqc 'SELECT 1' >/dev/null 2>&1; }

# A PostgreSQL with trust authentication on loopback for user postgres, as the machines
# this project runs on have it; started from Debian's packages in .stack/ when none answers.
pg_up() {
  command -v psql >/dev/null || apt_install postgresql-client
  if pg_answers; then
    log "postgresql answers on port $PG_PORT"
    return
  fi
  log "no PostgreSQL on port $PG_PORT; starting one"
  local bin
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  if [ -z "$bin" ]; then apt_install postgresql; bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1); fi
  local data=$STACK/postgres-$PG_PORT
  install -d -o postgres -g postgres "$data"
  [ -f "$data/PG_VERSION" ] || runuser -u postgres -- "$bin/initdb" -D "$data" -U postgres \
    --auth=trust --encoding=UTF8 >/dev/null
  runuser -u postgres -- "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w \
    -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -k /tmp" start >/dev/null
  echo "$data" > "$STACK/postgres.started"
  pg_answers || { log "PostgreSQL did not come up; see $data/server.log"; exit 1; }
  log "PostgreSQL started on port $PG_PORT (data in $data)"
}

pg_down() {
  [ -f "$STACK/postgres.started" ] || return 0
  local bin data
  data=$(cat "$STACK/postgres.started")
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  runuser -u postgres -- "$bin/pg_ctl" -D "$data" -m fast stop >/dev/null 2>&1 || true
  rm -f "$STACK/postgres.started"
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

redis_answers() { (exec 3<>/dev/tcp/127.0.0.1/6379 && printf 'PING\r\n' >&3 && read -r -t 2 reply <&3 && [[ $reply == +PONG* ]]) 2>/dev/null; }

redis_up() {
  if redis_answers; then
    log "redis answers on port 6379"
    return
  fi
  command -v redis-server >/dev/null || apt_install redis-server
  redis-server --port 6379 --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
    --pidfile "$STACK/redis.pid" --logfile "$STACK/redis.log"
  for _ in $(seq 1 40); do redis_answers && break; sleep 0.25; done
  redis_answers || { log "redis did not come up; see $STACK/redis.log"; exit 1; }
  log "redis started on port 6379"
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
export POSTGRES_URL='postgres://postgres@127.0.0.1:$PG_PORT/postgres'
export AWS_ENDPOINT_URL='http://127.0.0.1:$MOTO_PORT'
export AWS_ACCESS_KEY_ID='${AWS_ACCESS_KEY_ID:-test}'
export AWS_SECRET_ACCESS_KEY='${AWS_SECRET_ACCESS_KEY:-test}'
export AWS_REGION='${AWS_REGION:-us-east-1}'
export AWS_DEFAULT_REGION='${AWS_REGION:-us-east-1}'
export PATH='$ROOT/.venv/bin':"\$PATH"
ENV
}

case "${1:-}" in
  up) venv_up; db_up; pg_up; moto_up ;;
  down)
    pg_down
    stop_pidfile "$STACK/moto-$MOTO_PORT.pid"
    stop_pidfile "$STACK/mariadb-$DB_PORT.pid"
    stop_pidfile "$STACK/mariadb.pid" # written by earlier versions of this script
    stop_pidfile "$STACK/redis.pid"
    log "stopped what this script started" ;;
  env) print_env ;;
  selftest) selftest ;;
  redis) redis_up ;;
  *) echo "usage: $0 up|down|env|redis|selftest" >&2; exit 2 ;;
esac
