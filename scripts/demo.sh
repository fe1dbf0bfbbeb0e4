#!/usr/bin/env bash
# The demo: the import end to end through cargo-lambda's local runtime.
#   1. start the local stack (MariaDB/MySQL, moto) and create the bucket;
#   2. generate a realistic day of xAPI logs as a zip and upload it to uploads/;
#   3. `cargo lambda watch`, then `cargo lambda invoke` migrate and import (an S3 event);
#   4. print what landed: rows per table, the ledger row, where the object went;
#   5. invoke again with the same event: nothing is added;
#   6. `cargo lambda invoke course-stats` for the month, and print the stats;
#   7. import a day of five months ago, then `cargo lambda invoke cleanup`: a dry run,
#      the run (the old day goes, yesterday stays) and a repeat that finds nothing;
#   8. CCTV counts (cctv-api over cargo lambda watch's HTTP endpoint, with curl): a token,
#      a week of 5-minute counts of 3 cameras, a 401 and a 400, `cargo lambda invoke
#      cctv-rollups` (twice: the catch-up is idempotent), spikes flagged as outliers against
#      the new stats, and a re-post of the spikes that changes nothing.
#   9. Ad counters (ad-api over the same endpoint): an admin token, a group, an image and two
#      styles, the live ads, a few thousand shows and clicks, ad-counter-worker invoked on
#      what the queue holds (and again on one batch: nothing counts twice), ad-archive,
#      and the hour table and the day's CTR and unique visitors.
#  10. Data sync (datasource-api over the same endpoint, sync-worker invoked on its queue): a
#      MariaDB table of 20,000 orders and an empty PostgreSQL one, both saved as datasources
#      (passwords masked), ping, tables and columns, a job config from the builder, exec
#      (202), the worker on the queued run (and again: the redelivery copies nothing), the
#      DataX summary, the run list, and the rows compared on both sides.
#  11. Keyword batches (keyword-batch and keyword-worker invoked through cargo lambda watch):
#      three days of generated chats, `check` (nothing processed), `complete` (every
#      unique question sent once), keyword-worker with the built-in classifier on what the
#      queue holds (and again: nothing twice), `check` at 100 %, the top keywords per category.
# Everything it starts is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DEMO=$ROOT/.stack/demo
mkdir -p "$DEMO"
STATEMENTS=${DEMO_STATEMENTS:-20000}
BUCKET=${DEMO_BUCKET:-learning-logs}
# The demo's own database, created afresh on every run so each run shows a first import.
export DATABASE_URL=mysql://root@127.0.0.1:3306/learning_demo
# The cameras' zone (cctv-api and cctv-rollups read it; its default too).
export CCTV_TIME_ZONE=${CCTV_TIME_ZONE:-Asia/Seoul}

scripts/stack.sh up
# jq checks the answers below (Debian's package when missing).
if ! command -v jq >/dev/null; then
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq jq >/dev/null
fi
WATCH_PID=
cleanup() {
  if [ -n "$WATCH_PID" ]; then kill -- -"$WATCH_PID" 2>/dev/null || kill "$WATCH_PID" 2>/dev/null || true; fi
  scripts/stack.sh down
}
trap cleanup EXIT
eval "$(scripts/stack.sh env)"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
sql() { mariadb --protocol=TCP -h 127.0.0.1 -u root --default-character-set=utf8mb4 --table -e "$1" learning_demo; }

mariadb --protocol=TCP -h 127.0.0.1 -u root --default-character-set=utf8mb4 -e 'DROP DATABASE IF EXISTS learning_demo;
  CREATE DATABASE learning_demo CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci'

say "building the functions and the generator"
cargo build --quiet -p import -p migrate -p course-stats -p cleanup -p cctv-api -p cctv-rollups -p ad-api -p ad-counter-worker -p ad-archive -p datasource-api -p sync-worker -p keyword-batch -p keyword-worker -p platform-tools -p xtask

# ad-api sends its hits to a queue on moto; its visitor salt is made for the run (watch
# hands this environment to the functions it starts).
AD_COUNTER_QUEUE_URL=$(.venv/bin/python scripts/lib/ads-demo.py queue "demo-ad-hits-$$")
AD_VISITOR_SALT=$(python3 -c 'import secrets; print(secrets.token_hex(24))')
export AD_COUNTER_QUEUE_URL AD_VISITOR_SALT
# datasource-api and sync-worker: their queue and bucket on moto, a password key made for the
# run, datasources on this machine only.
SYNC_QUEUE_URL=$(.venv/bin/python scripts/lib/ads-demo.py queue "demo-sync-runs-$$")
SYNC_BUCKET=demo-sync-$$
.venv/bin/python -c "import boto3, os; boto3.client('s3', endpoint_url=os.environ['AWS_ENDPOINT_URL'], region_name=os.environ['AWS_REGION']).create_bucket(Bucket='$SYNC_BUCKET')"
SYNC_ENCRYPTION_KEY=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
SYNC_ALLOWED_HOSTS=127.0.0.0/8
export SYNC_QUEUE_URL SYNC_BUCKET SYNC_ENCRYPTION_KEY SYNC_ALLOWED_HOSTS
# keyword-batch's work queue on moto; no HCX key, so keyword-worker's built-in classifier
# answers (KEYWORD_HCX_API_KEY unset on purpose).
KEYWORD_QUEUE_URL=$(.venv/bin/python scripts/lib/ads-demo.py queue "demo-keywords-$$")
export KEYWORD_QUEUE_URL KEYWORD_TIME_ZONE=Asia/Seoul
unset KEYWORD_HCX_API_KEY KEYWORD_HCX_API_KEY_SECRET_ARN

LOG_DATE=$(TZ=Asia/Taipei date -d yesterday +%F)
ZIP=$DEMO/$LOG_DATE.zip
say "generating $STATEMENTS xAPI statements for $LOG_DATE"
target/debug/xtask gen-xapi --out "$ZIP" --statements "$STATEMENTS" --date "$LOG_DATE" --seed 7 --entries 4 --format mixed

# upload ZIP KEY EVENT_FILE: puts the zip on moto and writes the S3 event for it.
upload() {
.venv/bin/python - "$BUCKET" "$2" "$1" "$3" <<'PY'
import json, os, sys, urllib.parse
import boto3
bucket, key, path, event_path = sys.argv[1:5]
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name=os.environ["AWS_REGION"])
if bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
    s3.create_bucket(Bucket=bucket)
with open(path, "rb") as f:
    etag = s3.put_object(Bucket=bucket, Key=key, Body=f)["ETag"].strip('"')
event = json.load(open("events/import/s3-put.json"))
obj = event["Records"][0]["s3"]
obj["bucket"]["name"] = bucket
obj["bucket"]["arn"] = f"arn:aws:s3:::{bucket}"
obj["object"].update(key=urllib.parse.quote_plus(key, safe="/"), eTag=etag, size=os.path.getsize(path))
json.dump(event, open(event_path, "w"), indent=2)
print(f"uploaded {os.path.getsize(path)} bytes, ETag {etag}; event in {event_path}")
PY
}

say "uploading to s3://$BUCKET/uploads/comLog/$LOG_DATE.zip (moto)"
upload "$ZIP" "uploads/comLog/$LOG_DATE.zip" "$DEMO/event.json"

say "cargo lambda watch (local Lambda runtime on 127.0.0.1:9000)"
setsid cargo lambda watch --invoke-address 127.0.0.1 --invoke-port 9000 >"$DEMO/watch.log" 2>&1 &
WATCH_PID=$!
for _ in $(seq 1 120); do
  curl -s -o /dev/null "http://127.0.0.1:9000/" && break
  sleep 0.5
done

invoke() {
  cargo lambda invoke --invoke-address 127.0.0.1 --invoke-port 9000 "$@"
}
# invoke_expect JQ_CONDITION FUNCTION ARGS...: invokes and prints the answer; fails unless
# the answer satisfies the jq condition (so a demo that goes wrong does not pass).
invoke_expect() {
  local condition=$1 out; shift
  out=$(invoke "$@")
  printf '%s\n' "$out"
  jq -e "$condition" >/dev/null <<<"$out" || { echo "expected the answer to satisfy: $condition" >&2; return 1; }
}

say "cargo lambda invoke migrate"
invoke migrate --data-file events/migrate/deploy.json
echo
say "cargo lambda invoke import --data-file $DEMO/event.json"
invoke_expect '.[0].status == "completed" and .[0].inserted > 0' import --data-file "$DEMO/event.json"
echo

say "rows per table"
sql "SELECT 'client_event' AS table_name, COUNT(*) AS row_count FROM client_event
     UNION ALL SELECT 'actor', COUNT(*) FROM actor UNION ALL SELECT 'action', COUNT(*) FROM action
     UNION ALL SELECT 'result', COUNT(*) FROM result UNION ALL SELECT 'event_info', COUNT(*) FROM event_info
     UNION ALL SELECT 'video_info', COUNT(*) FROM video_info UNION ALL SELECT 'cookie', COUNT(*) FROM cookie
     UNION ALL SELECT 'tanet_info', COUNT(*) FROM tanet_info UNION ALL SELECT 'sentences', COUNT(*) FROM sentences"
say "the ledger row"
sql "SELECT id, object_key, status, attempts, deliveries, entries, statements_read, inserted, already_present, rejected,
            rows_written, duration_ms, moved_to FROM import_file ORDER BY id DESC LIMIT 3"
say "objects in s3://$BUCKET"
.venv/bin/python - "$BUCKET" <<'PY'
import os, sys, boto3
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name=os.environ["AWS_REGION"])
for o in s3.list_objects_v2(Bucket=sys.argv[1]).get("Contents", []):
    print(f"  {o['Key']}  ({o['Size']} bytes)")
PY

say "the same event again (a redelivery): nothing is added"
invoke_expect '.[0].status == "already_imported"' import --data-file "$DEMO/event.json"
echo
sql "SELECT COUNT(*) AS client_event_rows FROM client_event"
MONTH=${LOG_DATE:0:7}
say "cargo lambda invoke course-stats for $MONTH (the scheduled run computes the previous month)"
invoke_expect '.complete == true' course-stats --data-ascii "{\"from\": \"$MONTH\", \"to\": \"$MONTH\"}"
echo
sql "SELECT ai_course_name, student_level, month, user_count FROM ai_course_monthly_users
     ORDER BY ai_course_name, FIELD(student_level, '國小', '國中', '普高', '技高', '大專')"

OLD_DATE=$(TZ=Asia/Taipei date -d "-5 months" +%F)
say "a day of five months ago ($OLD_DATE), for the retention cleanup"
target/debug/xtask gen-xapi --out "$DEMO/$OLD_DATE.zip" --statements 3000 --date "$OLD_DATE" --seed 8 --entries 2
upload "$DEMO/$OLD_DATE.zip" "uploads/comLog/$OLD_DATE.zip" "$DEMO/old-event.json"
invoke import --data-file "$DEMO/old-event.json" >/dev/null
sql "SELECT log_date, COUNT(*) AS events FROM client_event GROUP BY log_date"
say "cargo lambda invoke cleanup --data-file events/cleanup/dry-run.json (counts only)"
invoke cleanup --data-file events/cleanup/dry-run.json
say "cargo lambda invoke cleanup --data-file events/cleanup/scheduled.json (the monthly run)"
invoke_expect '.complete == true and .deleted.client_event == 3000' cleanup --data-file events/cleanup/scheduled.json
echo
sql "SELECT log_date, COUNT(*) AS events FROM client_event GROUP BY log_date"
sql "SELECT object_key, status, log_date, purged_at FROM import_file ORDER BY id"
say "the cleanup again (a second delivery): nothing more is deleted"
invoke_expect '.complete == true and .deleted.client_event == 0' cleanup --data-file events/cleanup/scheduled.json
echo

# --- CCTV counts (issue 4): cctv-api through cargo lambda watch's HTTP endpoint, cctv-rollups
CCTV=$DEMO/cctv
rm -rf "$CCTV"; mkdir -p "$CCTV"
API=http://127.0.0.1:9000/lambda-url/cctv-api
counts() { python3 scripts/lib/cctv-demo-counts.py "$@"; }
# api METHOD PATH [curl options]: a request with the bearer token. The token reaches curl as
# a config line on its standard input: never on a command line, in a file or in the output.
api() {
  local method=$1 path=$2; shift 2
  printf 'header = "Authorization: Bearer %s"\n' "$CCTV_TOKEN" |
    curl -sS -K - -X "$method" "$API$path" "$@"
}
# ok METHOD PATH [curl options]: a request that must succeed (2xx); prints the answer.
ok() {
  local out
  if ! out=$(api "$@" --fail-with-body); then printf '%s\n' "$out" >&2; return 1; fi
  printf '%s\n' "$out"
}
# expect STATUS COMMAND...: runs a curl COMMAND (api, or curl itself for no token) and prints
# the HTTP status and the envelope; fails unless the status is STATUS.
expect() {
  local want=$1 code; shift
  code=$("$@" -o "$CCTV/answer.json" -w '%{http_code}')
  printf 'HTTP %s %s\n' "$code" "$(cat "$CCTV/answer.json")"
  [ "$code" = "$want" ] || { echo "expected HTTP $want" >&2; return 1; }
}
JSON=(-H 'content-type: application/json')
TODAY=$(TZ=$CCTV_TIME_ZONE date +%F)
FIRST=$(date -d "$TODAY -7 days" +%F)
LAST=$(date -d "$TODAY -1 day" +%F)

say "cctv: api-token mint --name demo --scope cctv:write --scope cctv:read --expires-in 1d"
CCTV_TOKEN=$(cargo run -q -p platform-tools --bin api-token -- mint --name demo --scope cctv:write --scope cctv:read --expires-in 1d --quiet)
[[ $CCTV_TOKEN == dp_* ]] || { echo "api-token mint printed no token" >&2; exit 1; }
echo "token minted (not shown)"

say "cctv: POST $API/cctv/counts: a week of 5-minute counts ($FIRST to $LAST, $CCTV_TIME_ZONE)"
mapfile -t BATCHES < <(counts week --today "$TODAY" --tz "$CCTV_TIME_ZONE" --out-dir "$CCTV")
for batch in "${BATCHES[@]}"; do
  ok POST /cctv/counts "${JSON[@]}" --data-binary @"$batch" >"${batch%.json}.answer"
done
counts posted "$CCTV"/week-*.answer

say "cctv: no token answers 401; a negative count answers 400 naming the field"
ONE='{"camera_id": "cam-01", "start": "'$TODAY'T00:00:00+09:00", "end": "'$TODAY'T00:05:00+09:00", "people": 1, "vehicles": 0}'
BAD='{"camera_id": "cam-02", "start": "'$TODAY'T00:00:00+09:00", "end": "'$TODAY'T00:05:00+09:00", "people": -3, "vehicles": 0}'
expect 401 curl -sS -X POST "$API/cctv/counts" "${JSON[@]}" --data-binary "{\"counts\": [$ONE]}"
expect 400 api POST /cctv/counts "${JSON[@]}" --data-binary "{\"counts\": [$ONE, $BAD]}"

say "cctv: cargo lambda invoke cctv-rollups --data-file events/cctv-rollups/scheduled.json (catch-up through yesterday)"
invoke_expect '.complete == true and .days > 0' cctv-rollups --data-file events/cctv-rollups/scheduled.json
say "cctv: cctv-rollups again: nothing new to compute"
invoke_expect '.complete == true and .days == 0' cctv-rollups --data-file events/cctv-rollups/scheduled.json

say "cctv: POST spikes for today ($TODAY): flagged as outliers against the new stats"
counts spike --today "$TODAY" --tz "$CCTV_TIME_ZONE" >"$CCTV/spike.json"
ok POST /cctv/counts "${JSON[@]}" --data-binary @"$CCTV/spike.json" | counts post
say "cctv: GET /cctv/cameras/cam-01/stats?kind=day&from=$FIRST&to=$LAST"
ok GET "/cctv/cameras/cam-01/stats?kind=day&from=$FIRST&to=$LAST" | counts stats
say "cctv: GET /cctv/cameras/{cam-01,cam-02,cam-03}/outliers?from=$TODAY&to=$TODAY"
for camera in cam-01 cam-02 cam-03; do
  ok GET "/cctv/cameras/$camera/outliers?from=$TODAY&to=$TODAY"
done | counts outliers

say "cctv: the same spikes again: unchanged, no duplicate"
ok POST /cctv/counts "${JSON[@]}" --data-binary @"$CCTV/spike.json" | counts post
printf 'GET /cctv/counts?from=%s&to=%s: ' "$TODAY" "$TODAY"
ok GET "/cctv/counts?from=$TODAY&to=$TODAY" | counts page
unset CCTV_TOKEN

# --- Ad counters (issue 11): ad-api, ad-counter-worker, ad-archive
ADS=$DEMO/ads
rm -rf "$ADS"; mkdir -p "$ADS"
API=http://127.0.0.1:9000/lambda-url/ad-api
ads() { .venv/bin/python scripts/lib/ads-demo.py "$@"; }
say "ads: api-token mint --name demo-ads --scope ads:admin --expires-in 1d"
CCTV_TOKEN=$(cargo run -q -p platform-tools --bin api-token -- mint --name demo-ads --scope ads:admin --expires-in 1d --quiet)
[[ $CCTV_TOKEN == dp_* ]] || { echo "api-token mint printed no token" >&2; exit 1; }
say "ads: POST /v1/advert/group (a form, as the seed's admin page), an image and two styles (JSON)"
GROUP=$(ok POST /v1/advert/group --data 'group=spring-sale&note=April banners' | tee /dev/stderr | jq -e .data.id)
IMAGE=$(ok POST /v1/advert/image "${JSON[@]}" --data "{\"image_name\": \"spring\", \"image_url\": \"https://cdn.example.com/spring.png\", \"group_id\": $GROUP}" | jq -e .data.id)
for link in spring mobile; do
  ok POST /v1/advert/style "${JSON[@]}" --data "{\"system\": \"shop\", \"image_id\": $IMAGE, \"link_url\": \"https://shop.example.com/$link\", \"weight\": 5}" >/dev/null
done
expect 409 api POST /v1/advert/group --data 'group=spring-sale'
say "ads: GET /v1/oper/ad_style?system=shop (public)"
curl -sS -D "$ADS/headers" "$API/v1/oper/ad_style?system=shop" | tee "$ADS/styles.json" | jq -c '.data[] | {style_id, link_url, show_code, click_code}'
grep -i '^cache-control' "$ADS/headers"
jq -e '.data | length == 2' "$ADS/styles.json" >/dev/null
say "ads: 2,000 shows and 100 clicks of two ads by 300 visitors (curl, 8 in parallel)"
for i in 0 1; do
  ads hits "$ADS/hits-$i.curl" "$(jq -r ".data[$i].show_code" "$ADS/styles.json")" "$(jq -r ".data[$i].click_code" "$ADS/styles.json")" 1000
  curl -sS --no-progress-meter --fail --parallel --parallel-max 8 -K "$ADS/hits-$i.curl"
done
expect 404 curl -sS "$API/v1/oper/show?code=no-such-code"
say "ads: cargo lambda invoke ad-counter-worker on what the queue holds"
mapfile -t AD_BATCHES < <(ads drain "$AD_COUNTER_QUEUE_URL" "$ADS")
for batch in "${AD_BATCHES[@]}"; do invoke ad-counter-worker --data-file "$batch"; echo; done | ads failures
say "ads: the first batch again (a redelivery): nothing counts twice"
invoke ad-counter-worker --data-file "${AD_BATCHES[0]}" | ads failures
say "ads: cargo lambda invoke ad-archive (catch-up through yesterday; today stays live)"
invoke_expect '.complete == true' ad-archive --data-file events/ad-archive/scheduled.json
AD_TODAY=$(TZ=Asia/Shanghai date +%F)
say "ads: GET /v1/advert/hour?date=$AD_TODAY"
ok GET "/v1/advert/hour?date=$AD_TODAY" | ads hours
say "ads: GET /v1/advert/day?from=$AD_TODAY&to=$AD_TODAY (live from the hourly counts)"
ok GET "/v1/advert/day?from=$AD_TODAY&to=$AD_TODAY" | tee "$ADS/day.json" | ads day
jq -e '[.data[].shows] | add == 2000' "$ADS/day.json" >/dev/null || { echo "expected 2000 shows" >&2; exit 1; }
jq -e '[.data[].clicks] | add == 100' "$ADS/day.json" >/dev/null || { echo "expected 100 clicks" >&2; exit 1; }
unset CCTV_TOKEN

# --- Data sync (issue 12): datasource-api, sync-worker
SYNC=$DEMO/sync
rm -rf "$SYNC"; mkdir -p "$SYNC"
API=http://127.0.0.1:9000/lambda-url/datasource-api
PG_SERVER=${POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
PG_DEMO=${PG_SERVER%/*}/sync_demo
say "sync: a MariaDB table of 20,000 orders (sync_demo_src.orders) and an empty PostgreSQL one (sync_demo)"
mariadb --protocol=TCP -h 127.0.0.1 -u root --default-character-set=utf8mb4 -e "DROP DATABASE IF EXISTS sync_demo_src;
  CREATE DATABASE sync_demo_src CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci; USE sync_demo_src;
  CREATE TABLE orders (id BIGINT PRIMARY KEY, customer VARCHAR(64) NOT NULL, amount DECIMAL(12,2) NOT NULL,
    note TEXT NULL, ordered_at DATETIME(3) NOT NULL, shipped DATE NULL, paid TINYINT NOT NULL);
  CREATE TABLE k (k INT PRIMARY KEY);
  INSERT INTO k WITH RECURSIVE n(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM n WHERE k < 199) SELECT k FROM n;
  INSERT INTO orders SELECT a.k * 100 + b.k + 1, CONCAT('customer-', (a.k * 100 + b.k) % 977),
    ROUND(((a.k * 100 + b.k) * 7919 % 100000) / 100, 2),
    IF(b.k % 9 = 0, NULL, CONCAT('배송 메모 😀 ', a.k * 100 + b.k)),
    TIMESTAMPADD(MICROSECOND, (a.k * 100 + b.k) * 61234567, '2026-01-01 08:00:00'),
    IF(b.k % 4 = 0, NULL, DATE_ADD('2026-01-02', INTERVAL a.k DAY)), b.k % 2
  FROM k a JOIN k b ON b.k < 100; DROP TABLE k"
psql "$PG_SERVER" -qc 'DROP DATABASE IF EXISTS sync_demo WITH (FORCE)' -c 'CREATE DATABASE sync_demo'
psql "$PG_DEMO" -qc 'CREATE TABLE orders (id BIGINT PRIMARY KEY, customer VARCHAR(64) NOT NULL,
  amount NUMERIC(12,2) NOT NULL, note TEXT NULL, ordered_at TIMESTAMP(3) NOT NULL, shipped DATE NULL, paid SMALLINT NOT NULL)'
say "sync: api-token mint --name demo-sync --scope sync:admin --expires-in 1d"
CCTV_TOKEN=$(cargo run -q -p platform-tools --bin api-token -- mint --name demo-sync --scope sync:admin --expires-in 1d --quiet)
[[ $CCTV_TOKEN == dp_* ]] || { echo "api-token mint printed no token" >&2; exit 1; }
say "sync: POST /api/datasource/save: the MariaDB source and the PostgreSQL target"
SRC=$(ok POST /api/datasource/save "${JSON[@]}" --data '{"source_name": "demo-mariadb", "description": "orders (local MariaDB)",
  "project_name": "demo", "db_type": "mysql", "host": "127.0.0.1", "port": 3306, "user": "root", "password": "",
  "database": "sync_demo_src"}' | jq -e .data.id)
DST=$(ok POST /api/datasource/save "${JSON[@]}" --data '{"source_name": "demo-postgresql", "description": "reporting copy",
  "project_name": "demo", "db_type": "postgresql", "host": "127.0.0.1", "port": 5432, "user": "postgres",
  "password": "not-needed-with-trust-auth", "database": "sync_demo"}' | jq -e .data.id)
expect 409 api POST /api/datasource/save "${JSON[@]}" --data '{"source_name": "demo-mariadb", "db_type": "mysql",
  "host": "127.0.0.1", "port": 3306, "user": "root", "password": "", "database": "sync_demo_src"}'
say "sync: GET /api/datasource/list (passwords are never answered)"
ok GET /api/datasource/list | tee "$SYNC/list.json" | jq -c '.data[] | {id, source_name, db_type, host, port, db_name, password}'
if grep -q not-needed-with-trust-auth "$SYNC/list.json"; then echo "a password was answered" >&2; exit 1; fi
say "sync: POST /api/datasource/ping?id= of both; a closed port is 'unreachable'; a host outside the allow-list is 403"
for id in "$SRC" "$DST"; do ok POST "/api/datasource/ping?id=$id" | jq -c .data; done
ok POST /api/datasource/ping "${JSON[@]}" --data '{"host": "127.0.0.1", "port": 1, "user": "root", "password": "", "database": "x", "db_type": "mysql"}' | jq -c .data
expect 403 api POST /api/datasource/ping "${JSON[@]}" --data '{"host": "192.0.2.1", "port": 3306, "user": "root", "password": "", "database": "x", "db_type": "mysql"}'
say "sync: GET /api/datasource/tables?id=$SRC and /api/datasource/columns?id=$SRC&tableName=orders"
ok GET "/api/datasource/tables?id=$SRC" | jq -c .data
ok GET "/api/datasource/columns?id=$SRC&tableName=orders" | jq -c '.data[] | [.name, .type, .nullable, .key]'
say "sync: POST /api/config/save from the builder (orders, splitPk id, channel 2, batchSize 1000)"
CONFIG=$(ok POST /api/config/save "${JSON[@]}" --data "{\"config_name\": \"orders-to-reporting\", \"channel\": 2, \"errorLimit\": 0,
  \"reader\": {\"datasource_id\": $SRC, \"table\": \"orders\", \"splitPk\": \"id\"},
  \"writer\": {\"datasource_id\": $DST, \"table\": \"orders\", \"batchSize\": 1000,
    \"preSql\": [\"DELETE FROM @table\"]}}" | tee "$SYNC/config.json" | jq -e .data.id)
jq '.data | {id, config_name, config_path, content}' "$SYNC/config.json"
say "sync: a job JSON with a parameter DataX does not know is refused, naming its path"
expect 400 api POST /api/config/save "${JSON[@]}" --data "{\"config_name\": \"bad\", \"content\": {\"job\": {\"content\": [{
  \"reader\": {\"name\": \"mysqlreader\", \"parameter\": {\"datasourceId\": $SRC, \"column\": [\"*\"], \"splitpk\": \"id\", \"connection\": [{\"table\": [\"orders\"]}]}},
  \"writer\": {\"name\": \"streamwriter\", \"parameter\": {}}}]}}}"
say "sync: POST /api/config/exec?id=$CONFIG (202: queued for sync-worker)"
RUN=$(ok POST "/api/config/exec?id=$CONFIG" | tee /dev/stderr | jq -e .data.exec_log_id)
say "sync: cargo lambda invoke sync-worker on what the queue holds, round after round until it is empty"
say "      (the run's message plans its ranges and queues the first 2 (channel 2); each finished range queues the next)"
SYNC_ROUND=0
PLAN_BATCH=
while :; do
  mkdir -p "$SYNC/round-$SYNC_ROUND"
  mapfile -t SYNC_BATCHES < <(.venv/bin/python scripts/lib/ads-demo.py drain "$SYNC_QUEUE_URL" "$SYNC/round-$SYNC_ROUND")
  [ "${#SYNC_BATCHES[@]}" -gt 0 ] || break
  PLAN_BATCH=${PLAN_BATCH:-${SYNC_BATCHES[0]}}
  for batch in "${SYNC_BATCHES[@]}"; do invoke sync-worker --data-file "$batch"; echo; done | .venv/bin/python scripts/lib/ads-demo.py failures
  SYNC_ROUND=$((SYNC_ROUND + 1))
  [ "$SYNC_ROUND" -lt 40 ] || { echo "the sync queue never emptied" >&2; exit 1; }
done
say "sync: the run's ranges (exec_range: one row per range, each a message of its own)"
sql "SELECT task_index, status, invocations, written, resume_after FROM exec_range WHERE exec_log_id = $RUN ORDER BY task_index"
say "sync: the run's first message again (a redelivery): the run is already taken, nothing is copied twice"
invoke sync-worker --data-file "$PLAN_BATCH" | .venv/bin/python scripts/lib/ads-demo.py failures
say "sync: GET /api/config/log?id=$RUN: DataX's summary at the end of the run's log"
ok GET "/api/config/log?id=$RUN" | tee "$SYNC/log.json" | jq -r '.data.lines[-12:][]'
jq -e '.data.run.status == "succeeded" and .data.run.records_written == 20000 and .data.run.records_failed == 0' "$SYNC/log.json" >/dev/null \
  || { echo "expected a succeeded run of 20000 records" >&2; exit 1; }
say "sync: GET /api/config/logs?config_id=$CONFIG"
ok GET "/api/config/logs?config_id=$CONFIG" | jq -c '.data.items[] | {id, exec_name, status, records_read, records_written, records_failed, insert_date}'
say "sync: both sides, row for row (count, sums, NULLs)"
mariadb --protocol=TCP -h 127.0.0.1 -u root --default-character-set=utf8mb4 --table -e "SELECT COUNT(*) AS row_count, SUM(amount) AS amount, COUNT(note) AS notes,
  COUNT(shipped) AS shipped, SUM(paid) AS paid, MAX(ordered_at) AS last_order FROM orders" sync_demo_src
psql "$PG_DEMO" -c "SELECT COUNT(*) AS row_count, SUM(amount) AS amount, COUNT(note) AS notes,
  COUNT(shipped) AS shipped, SUM(paid) AS paid, MAX(ordered_at) AS last_order FROM orders"
SAME=$(psql "$PG_DEMO" -tAc "SELECT md5(string_agg(id || '|' || customer || '|' || amount || '|' || coalesce(note, 'NULL') || '|' ||
  to_char(ordered_at, 'YYYY-MM-DD HH24:MI:SS.MS') || '|' || coalesce(shipped::text, 'NULL') || '|' || paid, ',' ORDER BY id)) FROM orders")
SOURCE=$(mariadb --protocol=TCP -h 127.0.0.1 -u root --default-character-set=utf8mb4 -N -e "SET SESSION group_concat_max_len = 1 << 30;
  SELECT MD5(GROUP_CONCAT(CONCAT_WS('|', id, customer, amount, IFNULL(note, 'NULL'), LEFT(DATE_FORMAT(ordered_at, '%Y-%m-%d %H:%i:%s.%f'), 23),
  IFNULL(shipped, 'NULL'), paid) ORDER BY id SEPARATOR ',')) FROM orders" sync_demo_src)
echo "digest of every row: MariaDB $SOURCE, PostgreSQL $SAME"
[ -n "$SOURCE" ] && [ "$SOURCE" = "$SAME" ] || { echo "the copy differs from the source" >&2; exit 1; }
unset CCTV_TOKEN

# --- Keyword batches (issue 13): keyword-batch, keyword-worker (built-in classifier)
KW=$DEMO/keywords
rm -rf "$KW"; mkdir -p "$KW"
KW_TO=$(TZ=Asia/Seoul date -d yesterday +%F)
KW_FROM=$(TZ=Asia/Seoul date -d "-3 days" +%F)
KW_RANGE="\"from\": \"$KW_FROM\", \"to\": \"$KW_TO\""
say "keywords: 3 days of generated chats ($KW_FROM..$KW_TO, Korean and English, repeats and variants)"
target/debug/xtask gen-chats --from "$KW_FROM" --days 3 --per-day 1500 --seed 7
sql "SELECT DATE(created_at) AS day, COUNT(*) AS chats, COUNT(DISTINCT input_text) AS distinct_texts FROM chattings GROUP BY day"
say "keywords: cargo lambda invoke keyword-batch {\"mode\": \"check\", $KW_RANGE}"
invoke_expect '.check.processed == 0 and .check.missing == .check.total_unique' keyword-batch --data-ascii "{\"mode\": \"check\", $KW_RANGE}" \
  | jq -c '.check | {total_unique, processed, missing, rate_percent, blank_chats, dates: [.dates[] | {date, chats, unique, missing}]}'
say "keywords: cargo lambda invoke keyword-batch {\"mode\": \"complete\", $KW_RANGE} (basic, check, missing, final check)"
invoke keyword-batch --data-ascii "{\"mode\": \"complete\", $KW_RANGE}" | tee "$KW/complete.json" \
  | jq -c '{sent: .basic.sent, missing_sent: .missing.sent, verification, final: (.final_check | {total_unique, processed, queued})}'
jq -e '.basic.sent == .check.total_unique and .final_check.queued == .basic.sent' "$KW/complete.json" >/dev/null \
  || { echo "expected every unique question sent once and queued" >&2; exit 1; }
say "keywords: complete again (a second delivery of the schedule): nothing is sent twice"
invoke_expect '.basic.sent == 0 and .missing.sent == 0' keyword-batch --data-ascii "{\"mode\": \"complete\", $KW_RANGE}" | jq -c '{basic_sent: .basic.sent, skipped_queued: .basic.skipped_queued}'
say "keywords: cargo lambda invoke keyword-worker on what the queue holds (built-in classifier)"
mapfile -t KW_BATCHES < <(.venv/bin/python scripts/lib/ads-demo.py drain "$KEYWORD_QUEUE_URL" "$KW")
for batch in "${KW_BATCHES[@]}"; do invoke keyword-worker --data-file "$batch"; echo; done | .venv/bin/python scripts/lib/ads-demo.py failures
say "keywords: the first batch again (a redelivery): no question is classified or stored twice"
invoke keyword-worker --data-file "${KW_BATCHES[0]}" | .venv/bin/python scripts/lib/ads-demo.py failures
say "keywords: check again"
invoke_expect '.check.missing == 0 and .check.rate_percent == 100' keyword-batch --data-ascii "{\"mode\": \"check\", $KW_RANGE}" \
  | jq -c '.check | {total_unique, processed, missing, rate_percent}'
say "keywords: the top keywords per category (chats asking them)"
sql "SELECT category, keyword, chats FROM (
       SELECT k.category, j.keyword, SUM(k.total_count) AS chats,
              ROW_NUMBER() OVER (PARTITION BY k.category ORDER BY SUM(k.total_count) DESC, j.keyword) AS rn
       FROM admin_chat_keywords k,
            JSON_TABLE(k.keywords, '\$[*]' COLUMNS (keyword VARCHAR(100) PATH '\$')) j
       GROUP BY k.category, j.keyword) top
     WHERE rn <= 3 ORDER BY category, chats DESC"
sql "SELECT category, COUNT(*) AS questions, SUM(total_count) AS chats FROM admin_chat_keywords GROUP BY category ORDER BY chats DESC"
say "demo done (function logs: $DEMO/watch.log)"
