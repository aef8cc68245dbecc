#!/usr/bin/env bash
# Runs two OpenUCWA nodes on one PostgreSQL database behind HAProxy or nginx on loopback, with
# the configurations beside this script, and walks a client through the balancer:
#   - signs in (demo user), creates an application, takes the first event batch;
#   - parks a `GET events` through the balancer, then makes a change through it; with
#     least-connections balancing the change lands on the other node, whose commit wakes the
#     parked request across nodes;
#   - sends SIGTERM to node 1; the next requests are served by node 2;
#   - failover: starts node 1 again, then, while a client GETs its application every 20 ms
#     and keeps a `GET events` parked, kills node 2 with SIGKILL; prints how many requests
#     failed, the slowest answer, and whether the event request re-sent with the same `ack`
#     returned the batch it was owed.
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
# Its first 300 characters. (Not `json ... | head -c 300`: head closes the pipe early, and
# under `pipefail` the writer's broken pipe ends the script.)
json '["sender"]' </tmp/ucwa-parked.json >/tmp/ucwa-parked-sender.txt
cut -c1-300 </tmp/ucwa-parked-sender.txt

kill -TERM "$node1"
sleep 3
curl -s -o /dev/null -w 'after SIGTERM of node 1, GET application: %{http_code}\n' \
  -H "Authorization: Bearer $token" "$b$self"

"$bin" --database-url "$DATABASE_URL" --listen 127.0.0.1:8081 --events-min-timeout-secs 5 \
  --events-min-hold-secs 1 >/tmp/ucwa-node1b.log 2>&1 &
pids+=($!)
sleep 5 # HAProxy's checks see node 1 up again (rise 2, every 2 s)
node2=$(pgrep -f -- "--listen 127.0.0.1:8082" | head -n 1)
B="$b" TOKEN="$token" SELF="$self" NODE2="$node2" python3 - <<'PY'
import json, os, signal, threading, time, urllib.error, urllib.request
b, token, app, node2 = os.environ["B"], os.environ["TOKEN"], os.environ["SELF"], int(os.environ["NODE2"])
def get(path, timeout=10, base=b):
    req = urllib.request.Request(base + path, headers={"Authorization": "Bearer " + token})
    start = time.monotonic()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read(), time.monotonic() - start
    except urllib.error.HTTPError as e:
        return e.code, e.read(), time.monotonic() - start
    except Exception as e:
        return repr(e), b"", time.monotonic() - start
# Acknowledge the batches the first part took.
get(app + "/events?ack=3&timeout=5&medium=1")
results, stop = [], threading.Event()
def poll():
    while not stop.is_set():
        status, _, took = get(app)
        results.append((time.monotonic(), status, took))
        time.sleep(0.02)
threading.Thread(target=poll, daemon=True).start()
parked = {}
def park():
    # Parked on node 2 itself, so it is the one cut off.
    parked["first"] = get(app + "/events?ack=4&timeout=30&low=1&medium=1", base="http://127.0.0.1:8082")
t = threading.Thread(target=park); t.start()
time.sleep(2)
killed = time.monotonic()
os.kill(node2, signal.SIGKILL)
t.join()
again = get(app + "/events?ack=4&timeout=5&low=1&medium=1")
time.sleep(6)
stop.set(); time.sleep(0.1)
after = [r for r in results if r[0] >= killed]
failed = [r for r in after if r[1] != 200]
print(f"failover: {len(after)} GETs in the {after[-1][0] - killed:.1f} s after SIGKILL of node 2: "
      f"{len(failed)} failed ({sorted(set(str(r[1]) for r in failed))}), "
      f"slowest {max(r[2] for r in after) * 1000:.0f} ms, before it {max(r[2] for r in results if r[0] < killed) * 1000:.0f} ms")
first, second = parked["first"], again
print(f"GET events parked on node 2 when it died: {first[0]} after {first[2]:.1f} s; "
      f"the same ack again through the balancer: {second[0]} after {second[2]:.1f} s, {len(second[1])} bytes")
PY
