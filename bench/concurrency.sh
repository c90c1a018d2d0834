#!/usr/bin/env bash
# The orchestrator's HTTP server under many clients (spec/http.md, bench/README.md):
#  1. 10,000 clients wait at once on 5-second test/sleep jobs, 10,000 slots across 8
#     workers, on a fresh orchestrator: answers, lateness, RSS growth per client, and
#     the workers' result posts (send to answer, from their logs).
#  2. /healthz and small jobs (4 clients) without, then with, 5,000 idle and 1,000
#     slow-loris connections open: the p99 ratios.
#  3. small jobs at 16 clients and at 1 client against /healthz in the same run.
# Usage: bench/concurrency.sh [waiting clients, default 10000] [seconds per load phase, default 3]
set -euo pipefail
cd "$(dirname "$0")/.."
waiting=${1:-10000}
seconds=${2:-3}
source bench/pool_lib.sh
require_bins aipool-orchestrator aipool-worker aipool-load aipool-flood
ulimit -n "$(ulimit -Hn)"
start_orchestrator orch -queueLength 20000
slots=$(( (waiting + 7) / 8 ))
start_workers 8 "text-to-image:test/sleep:true:$slots,text-to-image:test/echo:true:64" 3
echo "$slots test/sleep slots per worker"

echo "== $waiting clients waiting at once on 5 s jobs; meanwhile 2 clients run small test/echo jobs"
"$bin/aipool-flood" -port "$http" -waiting "$waiting" -sleepMs 5000 -orchPid "$orch" >"$log/waiting.txt" 2>&1 &
waiter=$!
pids+=("$waiter")
sleep 1
"$bin/aipool-load" -port "$http" -clients 2 -seconds 1.5 | sed 's/^/  during the wait: /'
wait "$waiter" || true
cat "$log/waiting.txt"
posts() {
  cat "$log"/worker*.out | sed -n "s/.*model=$1 .*post=200 post_ms=\([0-9.]*\).*/\1/p" | sort -n |
    awk -v what="$2" '{a[NR]=$1} END {if (NR) printf "%s: %d posts, p50 %.1f ms, p99 %.1f ms, max %.1f ms\n", what, NR, a[int(NR*0.5)+1], a[int(NR*0.99)], a[NR]}'
}
posts 'test\/echo' "result posts of small jobs while the clients wait (worker side, send to answer; goal p99 < 50 ms)"
posts 'test\/sleep' "result posts of the 5 s jobs, all finishing together (worker side, send to answer)"

p99() { sed -n "s/^$1 .*p99 *\([0-9.]*\) us.*/\1/p"; }
echo "== /healthz and small jobs, 4 clients, without and with 5,000 idle + 1,000 slow connections"
"$bin/aipool-load" -port "$http" -clients 4 -seconds "$seconds" | tee "$log/quiet.txt"
"$bin/aipool-flood" -port "$http" -idle 5000 -slow 1000 -seconds $(( seconds * 2 + 6 )) >"$log/flood.txt" 2>&1 &
flood=$!
pids+=("$flood")
for _ in $(seq 1 100); do grep -q "connections open" "$log/flood.txt" && break; sleep 0.1; done
cat "$log/flood.txt"
"$bin/aipool-load" -port "$http" -clients 4 -seconds "$seconds" | tee "$log/flooded.txt"
wait "$flood" || true
tail -1 "$log/flood.txt"
for what in "GET" "POST"; do
  q=$(p99 "$what" <"$log/quiet.txt"); f=$(p99 "$what" <"$log/flooded.txt")
  awk -v w="$what" -v q="$q" -v f="$f" 'BEGIN {printf "%s p99 with the flood / without: %.2f (%s us / %s us; goal <= 2)\n", (w=="GET" ? "/healthz" : "small job"), f/q, f, q}'
done

echo "== small jobs, 16 clients"
"$bin/aipool-load" -port "$http" -clients 16 -seconds "$seconds"
echo "== small jobs, 1 client"
"$bin/aipool-load" -port "$http" -clients 1 -seconds "$seconds"
