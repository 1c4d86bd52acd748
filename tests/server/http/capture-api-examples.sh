#!/bin/sh
# Runs every endpoint of docs/api.md against a real taskengine-server (SQLite, the workflows of
# tests/fixtures/http/workflows) and prints each curl command with the status and body it got,
# as Markdown. The examples in docs/api.md are pasted from this output.
#   tests/server/http/capture-api-examples.sh [build/bin/taskengine-server] > /tmp/examples.md
set -eu
here=$(cd "$(dirname "$0")/../../.." && pwd)
server=${1:-$here/build/bin/taskengine-server}
dir=$(mktemp -d /tmp/te-api-examples-XXXXXX)
port=$("$here/scripts/free-port")
cat > "$dir/server.yaml" <<YAML
http: {host: 127.0.0.1, port: $port}
database: "sqlite3://db=$dir/te.db"
dispatch: {bind: "tcp://127.0.0.1:*"}
workflows: $here/tests/fixtures/http/workflows
clients:
  - name: demo-client
    api_key: "demo-key"
settings: {max_jobs: 2, priority_slots: 0}
log_level: warning
log_file: $dir/server.log
YAML
"$server" --config "$dir/server.yaml" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 50); do curl -s "http://127.0.0.1:$port/" >/dev/null && break; sleep 0.1; done

base="http://127.0.0.1:$port"
auth='-H "client: demo-client" -H "api-key: demo-key"'

# show 'curl arguments...': prints the command (host shortened) and the pretty JSON answer.
show() {
    printf '```sh\n$ curl %s\n```\n' "$(echo "$1" | sed "s#$base#http://localhost:8080#")"
    out=$(eval "curl -s -w '\n%{http_code}' $1")
    code=$(echo "$out" | tail -n 1)
    body=$(echo "$out" | sed '$d')
    printf 'HTTP %s\n```json\n%s\n```\n\n' "$code" "$(echo "$body" | python3 -m json.tool 2>/dev/null || echo "$body")"
}

show "$base/"
show "$auth $base/health"
show "-X POST -H 'Content-Type: application/json' -H 'API-KEY: demo-key' -d '{\"client\": \"demo-client\", \"job\": {\"workflow\": \"vodcapture\"}, \"parameters\": {\"content_id\": \"a40fdaff\"}}' $base/job"
show "-X POST $auth -H 'Content-Type: application/json' -d '{\"job\": {\"workflow\": \"ping\", \"priority\": 6}}' $base/job"
show "-X POST $auth -H 'Content-Type: application/json' -d '{\"job\": {\"workflow\": \"ping\", \"priority\": 6}}' $base/job"
show "-X POST $auth -H 'Content-Type: application/json' -d '{\"job\": {\"workflow\": \"ping\", \"run_at\": \"2030-06-19T17:00:30.000\"}}' $base/job"
show "$auth $base/dashboard"
show "$auth '$base/jobs?limit=2&state=1&client=demo-client'"
show "$auth $base/jobs/3"
show "-X PUT $auth -H 'Content-Type: application/json' -d '{\"client\": \"demo-client\", \"priority\": \"2\", \"run_at\": \"2030-09-09T14:30:00.000\"}' $base/jobs/4"
show "-X POST $auth $base/jobs/1/rerun"
show "$auth $base/jobs/5/tasks"
show "$auth -H 'Accept: application/json' $base/logs/1"
show "$auth $base/schedules"
show "-X PUT $auth -H 'Content-Type: application/json' -d '{\"schedule\": \"queue_scheduled_jobs\", \"active\": false}' $base/scheduler"
show "-X PUT $auth -H 'Content-Type: application/json' -d '{\"schedule\": \"queue_scheduled_jobs\", \"active\": true}' $base/scheduler"
show "-X POST $auth -H 'Content-Type: application/json' -d '{\"name\": \"max_jobs\", \"setting\": \"4\"}' $base/settings"
echo '### Errors'
show "-X POST $auth -H 'Content-Type: application/json' -d '{\"job\": {\"workflow\": \"vodcapture\"}, \"parameters\": {}}' $base/job"
show "-X POST $auth -H 'Content-Type: application/json' -d '{\"job\": {\"workflow\": \"nope\"}}' $base/job"
show "-X POST $auth -H 'Content-Type: application/json' -d '{\"job\": ' $base/job"
show "-X PUT $auth -H 'Content-Type: application/json' -d '{\"queue_state\": \"done\"}' $base/jobs/3"
show "$auth '$base/jobs?order_by=password'"
show "-H 'client: demo-client' -H 'api-key: wrong' $base/jobs"
show "$auth $base/jobs/999"
show "$auth $base/nope"
printf '```sh\n$ curl -i -X DELETE -H "client: demo-client" -H "api-key: demo-key" http://localhost:8080/jobs/3\n```\n```http\n'
curl -s -i -X DELETE -H "client: demo-client" -H "api-key: demo-key" "$base/jobs/3" | tr -d '\r'
printf '\n```\n'

