#!/usr/bin/env bash
# Starts one orchestrator and 8 workers (test/echo) on loopback, runs aipool-load
# against them (small jobs, large outputs, idle workers), then stops everything.
# Usage: bench/load.sh [seconds per phase, default 5] [clients, default 16]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-5}
clients=${2:-16}
source bench/pool_lib.sh
require_bins aipool-orchestrator aipool-worker aipool-load
start_orchestrator orch -queueLength 4096
start_workers 8 "text-to-image:test/echo:true:64" 2
echo "== small jobs, $clients clients"
"$bin/aipool-load" -port "$http" -clients "$clients" -seconds "$seconds"
echo "== small jobs, 1 client"
"$bin/aipool-load" -port "$http" -clients 1 -seconds "$seconds"
echo "== 4 MiB outputs, 1 client"
"$bin/aipool-load" -port "$http" -clients 1 -seconds "$seconds" -outputBytes 4194304
echo "== 1000 idle workers"
# On a fresh orchestrator: what the earlier phases left in its heap would otherwise
# hide part of the growth (or add to it).
start_orchestrator idle
"$bin/aipool-load" -grpcPort "$grpc" -port "$http" -idleWorkers 1000 -orchPid "$orch" -secret "$AIPOOL_ORCH_SECRET"
