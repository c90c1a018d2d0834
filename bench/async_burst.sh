#!/usr/bin/env bash
# Asynchronous jobs at scale (spec/async.md ASYNC-4, bench/README.md): COUNT jobs
# submitted at once with Prefer: respond-async to an orchestrator with 2 test workers
# (test/sleep, 8 slots each). 16 blocking jobs of BLOCK_MS hold every slot first, so
# the COUNT jobs all wait in the orchestrator's async queue while they are submitted:
# the RSS growth over COUNT is the bytes per queued job. Then every job completes.
# Usage: bench/async_burst.sh [count, default 100000] [block ms, default 60000] [client threads, default 4]
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-100000}
block_ms=${2:-60000}
threads=${3:-4}
source bench/pool_lib.sh
require_bins aipool-orchestrator aipool-worker
start_orchestrator orch -asyncQueueLimit $((count + 100))
start_workers 2 "text-to-image:test/sleep:true:8" 2
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$orch/status"; }
before=$(rss_kib)
coproc DRIVER { python3 bench/async_burst.py "$http" "$count" "$threads" 16 "$block_ms" 2>&1; }
while read -r line <&"${DRIVER[0]}"; do
  [ "$line" = READY ] && break
  echo "$line"
done
after=$(rss_kib)
awk -v b="$before" -v a="$after" -v n="$count" \
  'BEGIN {printf "orchestrator RSS %d KiB before, %d KiB with the jobs queued: %.0f bytes per queued job\n", b, a, (a - b) * 1024 / n}'
echo >&"${DRIVER[1]}"
cat <&"${DRIVER[0]}"
echo "orchestrator RSS at the end: $(rss_kib) KiB (finished results kept for -resultTTL)"
