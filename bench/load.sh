#!/usr/bin/env bash
# Starts one orchestrator and 8 workers (test/echo) on loopback, runs aipool-load
# against them (small jobs, large outputs, idle workers), then stops everything.
# Usage: bench/load.sh [seconds per phase, default 5] [clients, default 16]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${AIPOOL_BIN:-build/bin}
seconds=${1:-5}
clients=${2:-16}
for b in aipool-orchestrator aipool-worker aipool-load; do
  [ -x "$bin/$b" ] || { echo "missing $bin/$b: run ./scripts/test.sh (or cmake --build build) first" >&2; exit 1; }
done
log=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$log"; }
trap cleanup EXIT

"$bin/aipool-orchestrator" -orchSecret s3cret -serviceAddr 127.0.0.1:0 -httpAddr 127.0.0.1:0 -v 2 \
  -queueLength 4096 >"$log/orch.out" 2>&1 &
orch=$!
pids+=("$orch")
for _ in $(seq 1 100); do grep -q "ready" "$log/orch.out" && break; sleep 0.1; done
read -r grpc http < <(sed -n 's/.*ready grpc=\([0-9]*\) http=\([0-9]*\).*/\1 \2/p' "$log/orch.out")
echo "orchestrator: grpc $grpc, http $http"
for i in $(seq 1 8); do
  "$bin/aipool-worker" -orchAddr "127.0.0.1:$grpc" -orchSecret s3cret -v 2 \
    -aiModels "text-to-image:test/echo:true:64" >"$log/worker$i.out" 2>&1 &
  pids+=("$!")
done
for _ in $(seq 1 100); do
  n=$(curl -s "http://127.0.0.1:$http/workers" | grep -o '"id":' | wc -l || true)
  [ "$n" -ge 8 ] && break
  sleep 0.1
done
echo "workers live: $n"
echo "== small jobs, $clients clients"
"$bin/aipool-load" -port "$http" -clients "$clients" -seconds "$seconds"
echo "== small jobs, 1 client"
"$bin/aipool-load" -port "$http" -clients 1 -seconds "$seconds"
echo "== 4 MiB outputs, 1 client"
"$bin/aipool-load" -port "$http" -clients 1 -seconds "$seconds" -outputBytes 4194304
echo "== 1000 idle workers"
# On a fresh orchestrator: what the earlier phases left in its heap would otherwise
# hide part of the growth (or add to it).
"$bin/aipool-orchestrator" -orchSecret s3cret -serviceAddr 127.0.0.1:0 -httpAddr 127.0.0.1:0 -v 2 \
  >"$log/idle.out" 2>&1 &
idle=$!
pids+=("$idle")
for _ in $(seq 1 100); do grep -q "ready" "$log/idle.out" && break; sleep 0.1; done
read -r idle_grpc idle_http < <(sed -n 's/.*ready grpc=\([0-9]*\) http=\([0-9]*\).*/\1 \2/p' "$log/idle.out")
"$bin/aipool-load" -grpcPort "$idle_grpc" -port "$idle_http" -idleWorkers 1000 -orchPid "$idle"
