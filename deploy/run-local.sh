#!/usr/bin/env bash
# A three-router cluster on loopback, as an ops team would run one: routers router-1..3
# (all three vote in the control plane; membership by gossip, the `fast` preset), two
# gateways (each seeded with one router; they learn the others from the partition table)
# and nginx in front of both gateways on one address (Debian's package, installed when
# missing). Data lives under a temporary directory unless SWITCHBOARD_RUN_DIR names one.
# Prints the URLs, then runs until Ctrl-C or SIGTERM, and stops everything.
#
#   deploy/run-local.sh                      # debug build
#   SWITCHBOARD_BIN=.build/release/routerd SWITCHBOARD_LOAD_OPERATORS=100 deploy/run-local.sh
#
# SWITCHBOARD_LOAD_OPERATORS=N adds operators load-0 … load-(N-1) (every department, level
# 5, 10 chats each) for `loadgen chat --target … --token-secret …`. SWITCHBOARD_ROUTERS=1
# (or 5) runs that many routers instead of three (to compare on one machine).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${SWITCHBOARD_BIN:-.build/debug/routerd}
[ -x "$bin" ] || swift build
if ! command -v nginx >/dev/null 2>&1; then
    echo "installing nginx (Debian's package)"
    SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
    $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nginx-light >/dev/null
fi
run=${SWITCHBOARD_RUN_DIR:-$(mktemp -d)}
mkdir -p "$run"

# The routers' configuration: the example's, with load operators if asked for.
python3 - "$run/router.json" "${SWITCHBOARD_LOAD_OPERATORS:-0}" <<'EOF'
import json, sys
config = json.load(open("deploy/router.example.json"))
for site in config["sites"]:
    site["operators"] += [{"id": f"load-{i}", "name": f"Load {i}", "maxChats": 10,
                           "skills": {department: 5 for department in site["departments"]}} for i in range(int(sys.argv[2]))]
json.dump(config, open(sys.argv[1], "w"), indent=2)
EOF

pids=()
stop() {
    [ ${#pids[@]} -gt 0 ] && kill -TERM "${pids[@]}" 2>/dev/null
    [ -f "$run/nginx.pid" ] && kill -QUIT "$(cat "$run/nginx.pid")" 2>/dev/null
    wait 2>/dev/null
}
trap stop EXIT
trap 'exit 0' INT TERM

routers=${SWITCHBOARD_ROUTERS:-3}
case "$routers" in 1|3|5) ;; *) echo "SWITCHBOARD_ROUTERS must be 1, 3 or 5 (they all vote)" >&2; exit 2 ;; esac
seeds=$(seq -s, -f "127.0.0.1:75%02g" 1 "$routers" | sed 's/:7500/:750/g')
voters=$(seq -s, -f "router-%g" 1 "$routers")
for n in $(seq 1 "$routers"); do
    SWITCHBOARD_NODE_ID=router-$n SWITCHBOARD_DATA="$run/router-$n" "$bin" router --config "$run/router.json" \
        --listen 127.0.0.1:740$n --http 127.0.0.1:940$n --gossip 127.0.0.1:750$n --seeds "$seeds" --gossipPreset fast \
        --voters "$voters" >"$run/router-$n.log" 2>&1 &
    pids+=($!)
done
for n in 1 2; do
    # Each gateway is seeded with one router; the table tells it the others.
    SWITCHBOARD_NODE_ID=gateway-$n "$bin" gateway --config deploy/gateway.example.json --listen 127.0.0.1:808$n \
        --router 127.0.0.1:740$(( (n - 1) % routers + 1 )) >"$run/gateway-$n.log" 2>&1 &
    pids+=($!)
done

# nginx as in deploy/nginx.conf, in a configuration of its own (no root, no system files).
mkdir -p "$run/nginx"
cat >"$run/nginx/nginx.conf" <<EOF
worker_processes 1;
pid $run/nginx.pid;
error_log $run/nginx/error.log;
events { worker_connections 16384; }
http {
    access_log off;
    client_body_temp_path $run/nginx;
    proxy_temp_path $run/nginx;
    include $PWD/deploy/nginx.conf;
}
EOF
nginx -c "$run/nginx/nginx.conf" -p "$run/nginx"

# Ready once each gateway holds the whole table (every partition placed) and links all routers.
for _ in $(seq 1 300); do
    ready=0
    for n in 1 2; do
        metrics=$(curl -s "http://127.0.0.1:808$n/metrics" || true)
        if grep -q '^switchboard_gateway_table_partitions_placed 64$' <<<"$metrics" && grep -q "^switchboard_gateway_routers_linked $routers\$" <<<"$metrics"; then
            ready=$((ready + 1))
        fi
    done
    [ "$ready" = 2 ] && break
    sleep 0.1
done
[ "$ready" = 2 ] || { echo "the cluster did not come up; logs in $run" >&2; exit 1; }

cat <<EOF
Switchboard cluster on loopback: routers router-1..$routers, two gateways, nginx.
  Through nginx (both gateways):  http://127.0.0.1:8080/        (shop: /shop/, console: /console.html, admin: /admin.html)
  Gateways:                       http://127.0.0.1:8081  http://127.0.0.1:8082
  Routers' metrics:               http://127.0.0.1:9401/metrics … :940$routers
  Logs and data:                  $run
Stop with Ctrl-C.
EOF
wait
