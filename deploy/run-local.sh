#!/usr/bin/env bash
# Starts one router and two gateways on loopback from the example configurations (with
# their data under a temporary directory), prints the addresses, and stops them all on
# Ctrl-C. Put deploy/nginx.conf in front for one address with both gateways behind it.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.build/debug/routerd
[ -x "$bin" ] || swift build
data=$(mktemp -d)
export SWITCHBOARD_DATA="$data/router-1"
"$bin" router --config deploy/router.example.json &
pids=($!)
sleep 1
"$bin" gateway --config deploy/gateway.example.json --listen 127.0.0.1:8081 &
pids+=($!)
SWITCHBOARD_NODE_ID=gateway-2 "$bin" gateway --config deploy/gateway.example.json --listen 127.0.0.1:8082 &
pids+=($!)
trap 'kill -TERM "${pids[@]}" 2>/dev/null; wait' INT TERM
echo "router: wire 127.0.0.1:7400, metrics http://127.0.0.1:9400/metrics; gateways: http://127.0.0.1:8081 and :8082; data in $data"
wait
