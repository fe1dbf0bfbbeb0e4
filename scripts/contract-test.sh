#!/usr/bin/env bash
# Contract tests of the HTTP APIs, served as in production by the local Lambda runtime
# (`cargo lambda watch`: API Gateway v2 events into each function's router). The functions
# are the deploy's release binaries, run against watch's runtime API (`--only-lambda-apis`):
# built with `--workspace`, as scripts/build-release.sh and `cargo test --release` build,
# they share every compiled dependency with those steps (a per-package build, which is what
# watch itself would run, resolves other features and rebuilds half the dependencies).
#   1. the served OpenAPI document is valid (openapi-spec-validator);
#   2. schemathesis generates requests from it (fixed seed, capped examples, a wall-time
#      bound) with a valid token and checks every answer: no server error, the status
#      documented, the body conforming to the documented schema.
# Each API in APIS below is tested the same way; a new API adds one line (its name and the
# scopes of the token the fuzzer uses). It starts what it needs (the local stack when no
# database answers, its own virtualenv, `cargo lambda watch` on its own port, its own
# database) and stops only that.
#
#   scripts/contract-test.sh                    every API
#   CONTRACT_APIS=cctv-api scripts/contract-test.sh
#
# Settings: CONTRACT_APIS (names, default all), CONTRACT_PORT (9010), CONTRACT_SEED,
# CONTRACT_MAX_EXAMPLES (per operation and phase, 100), CONTRACT_MAX_TIME_SECS (the wall-time
# bound of one API's fuzzing, 170: a run that needs longer fails). The work is fixed by the
# seed and the example cap, not by the clock. Reports (JUnit) and logs go to
# .stack/contract/.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=$ROOT/.stack/contract
mkdir -p "$WORK"

# API name -> the scopes of the fuzzer's token (every scope the API checks).
declare -A APIS=(
  [cctv-api]="cctv:write cctv:read"
  [ad-api]="ads:admin"
  [datasource-api]="sync:admin"
)
SELECTED=${CONTRACT_APIS:-${!APIS[*]}}
PORT=${CONTRACT_PORT:-9010}
SEED=${CONTRACT_SEED:-20261124}
EXAMPLES=${CONTRACT_MAX_EXAMPLES:-100}
MAX_TIME=${CONTRACT_MAX_TIME_SECS:-170}
VENV=$ROOT/.stack/contract-venv

log() { printf '[contract] %s\n' "$*" >&2; }

STARTED_STACK=0
WATCH_PID=
FUNCTION_PIDS=()
DB_NAME=contract_apis
cleanup() {
  local status=$?
  for pid in "${FUNCTION_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  if [ -n "$WATCH_PID" ]; then
    # setsid made the watcher a process-group leader: end it and the functions it runs.
    kill -- -"$WATCH_PID" 2>/dev/null || true
    wait "$WATCH_PID" 2>/dev/null || true
  fi
  if [ "$status" -eq 0 ] && command -v mariadb >/dev/null; then
    db_sql "DROP DATABASE IF EXISTS $DB_NAME" || true
  fi
  if [ "$STARTED_STACK" = 1 ]; then scripts/stack.sh down; fi
  exit "$status"
}
trap cleanup EXIT

# The stack: only when no database answers (then this script owns it and stops it).
SERVER_URL=${DATABASE_URL:-mysql://root@127.0.0.1:3306/platform}
db_part() {
  local url=$SERVER_URL hostport userpass
  hostport=${url#*@}; hostport=${hostport%%/*}
  userpass=${url#mysql://}; userpass=${userpass%%@*}
  case $1 in
    host) echo "${hostport%%:*}" ;;
    port) [[ $hostport == *:* ]] && echo "${hostport##*:}" || echo 3306 ;;
    user) echo "${userpass%%:*}" ;;
    pass) [[ $userpass == *:* ]] && echo "${userpass#*:}" || echo "" ;;
  esac
}
db_sql() {
  MYSQL_PWD=$(db_part pass) mariadb --protocol=TCP -h "$(db_part host)" -P "$(db_part port)" \
    -u "$(db_part user)" -e "$1"
}
# moto too: ad-api sends its hits to an SQS queue.
if ! command -v mariadb >/dev/null || ! db_sql 'SELECT 1' >/dev/null 2>&1 \
  || [ ! -x .venv/bin/cargo-lambda ] \
  || ! curl -fsS -o /dev/null "http://127.0.0.1:${MOTO_PORT:-4566}/moto-api/" 2>/dev/null; then
  scripts/stack.sh up
  STARTED_STACK=1
fi
eval "$(scripts/stack.sh env)"
SERVER_URL=$DATABASE_URL
# The contract database: the server of DATABASE_URL, a database of our own.
export DATABASE_URL=${SERVER_URL%/*}/$DB_NAME

# The fuzzer and the validator, in a virtualenv of their own (they pin jsonschema and
# hypothesis versions that moto and cfn-lint in .venv need not share).
if [ ! -x "$VENV/bin/st" ] || [ ! -x "$VENV/bin/openapi-spec-validator" ]; then
  log "installing schemathesis and openapi-spec-validator into $VENV (PyPI)"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check \
    'schemathesis>=4.3,<5' 'openapi-spec-validator>=0.7,<1'
fi

db_sql "DROP DATABASE IF EXISTS $DB_NAME; CREATE DATABASE $DB_NAME CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"

bins=(--bin migrate --bin api-token)
for api in $SELECTED; do bins+=(--bin "$api"); done
log "cargo build --release --workspace ${bins[*]}"
cargo build --release --quiet --workspace "${bins[@]}"
BIN=$ROOT/target/release

log "cargo lambda watch --only-lambda-apis on 127.0.0.1:$PORT, the release functions beside it"
RUST_LOG=${RUST_LOG:-warn} setsid cargo lambda watch --only-lambda-apis \
  --invoke-address 127.0.0.1 --invoke-port "$PORT" >"$WORK/watch.log" 2>&1 </dev/null &
WATCH_PID=$!
# Listening is enough (with --only-lambda-apis a request to "/" waits for a function).
for _ in $(seq 1 240); do
  (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
  kill -0 "$WATCH_PID" 2>/dev/null || { log "cargo lambda watch stopped; see $WORK/watch.log"; exit 1; }
  sleep 0.5
done
# Each function polls the runtime API under its own name, as watch would start it.
# ad-api's hits go to a queue of its own on moto; its visitor salt is made for the run.
AD_COUNTER_QUEUE_URL=$("$ROOT/.venv/bin/python" - <<PY
import boto3
sqs = boto3.client("sqs", endpoint_url="$AWS_ENDPOINT_URL", region_name="us-east-1",
                   aws_access_key_id="test", aws_secret_access_key="test")
print(sqs.create_queue(QueueName="contract-ad-hits-$$")["QueueUrl"])
PY
)
AD_VISITOR_SALT=$(python3 -c 'import secrets; print(secrets.token_hex(24))')
export AD_COUNTER_QUEUE_URL AD_VISITOR_SALT
# datasource-api: its queue and bucket on moto, a throw-away password key, loopback only,
# and a short connect time-out so the fuzzer's hosts answer fast.
read -r SYNC_QUEUE_URL SYNC_BUCKET < <("$ROOT/.venv/bin/python" - <<PY
import boto3
kw = dict(endpoint_url="$AWS_ENDPOINT_URL", region_name="us-east-1",
          aws_access_key_id="test", aws_secret_access_key="test")
queue = boto3.client("sqs", **kw).create_queue(QueueName="contract-sync-$$")["QueueUrl"]
bucket = "contract-sync-$$"
boto3.client("s3", **kw).create_bucket(Bucket=bucket)
print(queue, bucket)
PY
)
SYNC_ENCRYPTION_KEY=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
SYNC_ALLOWED_HOSTS=127.0.0.0/8
SYNC_CONNECT_TIMEOUT_MS=500
export SYNC_QUEUE_URL SYNC_BUCKET SYNC_ENCRYPTION_KEY SYNC_ALLOWED_HOSTS SYNC_CONNECT_TIMEOUT_MS
: >"$WORK/functions.log"
for function in migrate $SELECTED; do
  # Token look-ups are not cached here: every request checks the database, as after a TTL.
  AWS_LAMBDA_FUNCTION_NAME=$function AWS_LAMBDA_FUNCTION_VERSION=1 \
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE=512 AWS_LAMBDA_RUNTIME_API=http://127.0.0.1:$PORT/.rt/$function \
    API_TOKEN_CACHE_SECS=0 RUST_LOG=${RUST_LOG:-warn} \
    "$BIN/$function" >>"$WORK/functions.log" 2>&1 </dev/null &
  FUNCTION_PIDS+=($!)
done

log "migrating $DB_NAME (cargo lambda invoke migrate)"
cargo lambda invoke migrate --invoke-address 127.0.0.1 --invoke-port "$PORT" \
  --data-file events/migrate/deploy.json >"$WORK/migrate.json"

failed=()
for api in $SELECTED; do
  scopes=${APIS[$api]:-}
  if [ -z "$scopes" ]; then log "unknown API $api (known: ${!APIS[*]})"; exit 2; fi
  base=http://127.0.0.1:$PORT/lambda-url/$api
  out=$WORK/$api
  rm -rf "$out"; mkdir -p "$out"
  started=$SECONDS

  # A token with every scope of the API, valid for an hour, held in a variable only: never
  # printed, never on a command line (schemathesis reads it from its environment).
  scope_args=()
  for scope in $scopes; do scope_args+=(--scope "$scope"); done
  token=$("$BIN/api-token" mint --name "contract-$api-$$" \
    "${scope_args[@]}" --expires-in 1h --quiet)
  [[ $token == dp_* ]] || { log "$api: api-token minted no token"; exit 1; }

  log "$api: GET $base/openapi.json"
  curl -fsS --retry 3 --retry-all-errors --max-time 900 "$base/openapi.json" -o "$out/openapi.json"
  log "$api: validating the served document"
  "$VENV/bin/openapi-spec-validator" "$out/openapi.json"

  # `${CONTRACT_TOKEN}` is resolved by schemathesis from its environment.
  cat >"$out/schemathesis.toml" <<'TOML'
headers = { Authorization = "Bearer ${CONTRACT_TOKEN}" }
TOML
  log "$api: schemathesis (seed $SEED, at most $EXAMPLES examples per operation, within ${MAX_TIME}s)"
  # The hooks leave out bodies that are not UTF-8, which the local runtime (not the
  # function) answers with 500: see scripts/lib/contract_hooks.py.
  # Run from the report directory: schemathesis keeps its crash cache in the working one.
  if (cd "$out" && CONTRACT_TOKEN=$token SCHEMATHESIS_HOOKS=$ROOT/scripts/lib/contract_hooks.py \
    timeout --signal=INT --kill-after=10 "$MAX_TIME" \
    "$VENV/bin/st" --config-file "$out/schemathesis.toml" run "$out/openapi.json" \
      --url "$base" \
      --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
      --phases examples,coverage,fuzzing \
      --max-examples "$EXAMPLES" --seed "$SEED" --generation-database none \
      --workers 1 --request-timeout 60 \
      --suppress-health-check too_slow,filter_too_much \
      --report junit --report-dir "$out" --no-color); then
    log "$api: contract holds ($((SECONDS - started))s)"
  else
    log "$api: contract broken ($((SECONDS - started))s); reports in $out, function logs in $WORK/functions.log"
    failed+=("$api")
  fi
  unset token
done

if [ "${#failed[@]}" -gt 0 ]; then
  log "failed: ${failed[*]}"
  exit 1
fi
log "every API's contract holds: ${SELECTED}"
