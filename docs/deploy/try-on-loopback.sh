#!/usr/bin/env bash
# Runs two OpenUCWA nodes on one PostgreSQL database behind HAProxy or nginx on loopback, with
# the configurations beside this script, and walks a client through the balancer:
#   - signs in (demo user), creates an application, takes the first event batch;
#   - parks a `GET events` through the balancer, then makes a change through it; with
#     least-connections balancing the change lands on the other node, whose commit wakes the
#     parked request across nodes;
#   - sends SIGTERM to node 1; the next requests are served by node 2.
#
# Usage: DATABASE_URL=postgres://user:pass@host:port/emptydb docs/deploy/try-on-loopback.sh haproxy|nginx [ucwa-server]
# Needs curl, python3, and haproxy or nginx; ports 8080-8082 of 127.0.0.1 must be free.
set -euo pipefail
proxy="${1:?haproxy or nginx}"
bin="${2:-target/release/ucwa-server}"
: "${DATABASE_URL:?an empty PostgreSQL database}"
here="$(cd "$(dirname "$0")" && pwd)"
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

"$bin" --database-url "$DATABASE_URL" --listen 127.0.0.1:8081 --demo --events-min-timeout-secs 5 \
  --events-min-hold-secs 1 >/tmp/ucwa-node1.log 2>&1 &
pids+=($!)
node1=$!
sleep 2 # the first node creates the tables and the demo users
"$bin" --database-url "$DATABASE_URL" --listen 127.0.0.1:8082 --events-min-timeout-secs 5 \
  --events-min-hold-secs 1 >/tmp/ucwa-node2.log 2>&1 &
pids+=($!)
case "$proxy" in
  haproxy) haproxy -f "$here/haproxy.cfg" >/tmp/ucwa-proxy.log 2>&1 & ;;
  nginx)
    mkdir -p /tmp/ucwa-nginx
    nginx -c "$here/nginx.conf" -p /tmp/ucwa-nginx/ -g 'daemon off;' >/tmp/ucwa-proxy.log 2>&1 &
    ;;
  *) echo "haproxy or nginx" >&2; exit 2 ;;
esac
pids+=($!)
sleep 3

b=http://127.0.0.1:8080
json() { python3 -c "import sys, json; print(json.load(sys.stdin)$1)"; }
echo "health: $(curl -s $b/healthz)"
token=$(curl -s -d 'grant_type=password&username=alice@example.com&password=alice-demo-password' \
  $b/WebTicket/oauthtoken | json '["access_token"]')
app=$(curl -s -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  -d '{"UserAgent":"curl","EndpointId":"laptop","Culture":"en-US"}' $b/ucwa/oauth/v1/applications)
self=$(echo "$app" | json '["_links"]["self"]["href"]')
curl -s -o /dev/null -w 'first batch: %{http_code}\n' -H "Authorization: Bearer $token" "$b$self/events?ack=1&timeout=5"

start=$(date +%s%N)
curl -s -H "Authorization: Bearer $token" "$b$self/events?ack=2&timeout=60&medium=1" >/tmp/ucwa-parked.json &
parked=$!
sleep 1
curl -s -o /dev/null -w 'makeMeAvailable: %{http_code}\n' -X POST -H "Authorization: Bearer $token" \
  "$b$self/me/makeMeAvailable"
wait $parked
echo "parked request answered after $(( ($(date +%s%N) - start) / 1000000 )) ms (medium events are held 1 s) with:"
json '["sender"]' </tmp/ucwa-parked.json | head -c 300; echo

kill -TERM "$node1"
sleep 3
curl -s -o /dev/null -w 'after SIGTERM of node 1, GET application: %{http_code}\n' \
  -H "Authorization: Bearer $token" "$b$self"
