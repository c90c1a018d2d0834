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

# cpu_ticks PID...: the CPU time (user + system, clock ticks) the processes have used.
cpu_ticks() { local t=0 p; for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo "$t"; }
workers=$(pgrep -d ' ' -f "aipool-worker -orchAddr 127.0.0.1:$grpc")

echo "== $waiting clients waiting at once on 5 s jobs; meanwhile 2 clients run small test/echo jobs"
flood_start=$(date +%s%N)
"$bin/aipool-flood" -port "$http" -waiting "$waiting" -sleepMs 5000 -orchPid "$orch" >"$log/waiting.txt" 2>&1 &
waiter=$!
pids+=("$waiter")
sleep 1
"$bin/aipool-load" -port "$http" -clients 2 -seconds 1.5 | sed 's/^/  during the wait: /'
# The CPU that the jobs' ends cost (result posts, answers), from 0.5 s before they end
# until the last answer: on a box whose cores the whole pool shares, that CPU time over
# the cores is a floor for the last answer's lateness.
sleep "$(awk -v s="$flood_start" -v n="$(date +%s%N)" 'BEGIN {d = 4.5 - (n - s) / 1e9; print (d > 0 ? d : 0)}')"
# shellcheck disable=SC2086
orch_before=$(cpu_ticks "$orch") workers_before=$(cpu_ticks $workers)
wait "$waiter" || true
# shellcheck disable=SC2086
orch_after=$(cpu_ticks "$orch") workers_after=$(cpu_ticks $workers)
cat "$log/waiting.txt"
awk -v o=$((orch_after - orch_before)) -v w=$((workers_after - workers_before)) -v hz="$(getconf CLK_TCK)" \
  -v cores="$(nproc)" 'BEGIN {printf "CPU from 0.5 s before the jobs end to the last answer: orchestrator %.2f s, workers %.2f s; over %d cores: %.2f s at the least\n", o/hz, w/hz, cores, (o+w)/hz/cores}'
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
