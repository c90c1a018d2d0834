#!/usr/bin/env bash
# Time to first streamed token (spec/llm.md LLM-3): an OpenAI-compatible stand-in
# server (bench/sse_stand_in.py) asked directly, against the same server through one
# orchestrator and one worker fronting it (spec/runners.md RUN-6), in turns, so that
# both sides see the same machine load. The time is curl's time to the answer's first
# byte: both answers send their head with their first chunk. Each curl sends two
# requests over one connection: the first pays for a new connection (and the stand-in
# server's thread per connection), the second is the kept-alive figure, the server's
# own best, against which the goal is judged.
# Usage: bench/ttft.sh [request pairs per side, default 200]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-200}
source bench/pool_lib.sh
require_bins aipool-orchestrator aipool-worker
/usr/bin/python3 bench/sse_stand_in.py "$log/port" 3 20 &
pids+=("$!")
for _ in $(seq 1 100); do [ -s "$log/port" ] && break; sleep 0.05; done
server=$(cat "$log/port")
printf '[{"pipeline":"llm","model_id":"bench/llm","url":"http://127.0.0.1:%s","runner":"openai","capacity":4}]\n' \
  "$server" >"$log/models.json"
start_orchestrator orch
start_workers 1 "$log/models.json" 2
body='{"model":"bench/llm","messages":[{"role":"user","content":"hi"}],"stream":true}'
first_byte() {  # URL: seconds to the first byte of two answers, on one connection
  curl -s -o /dev/null -o /dev/null -w '%{time_starttransfer}\n' -H 'Content-Type: application/json' -d "$body" "$1" "$1"
}
for _ in $(seq 1 20); do first_byte "http://127.0.0.1:$http/llm" >/dev/null; done  # warm up
: >"$log/direct" && : >"$log/pool" && : >"$log/direct-kept" && : >"$log/pool-kept"
for _ in $(seq 1 "$n"); do
  first_byte "http://127.0.0.1:$server/v1/chat/completions" | { read -r a; read -r b; echo "$a" >>"$log/direct"; echo "$b" >>"$log/direct-kept"; }
  first_byte "http://127.0.0.1:$http/llm" | { read -r a; read -r b; echo "$a" >>"$log/pool"; echo "$b" >>"$log/pool-kept"; }
done
quantile() { sort -g "$1" | awk -v q="$2" '{a[NR]=$1} END {i=int(q*NR+0.5); if (i<1) i=1; printf "%.3f", a[i]*1000}'; }
report() {  # LABEL DIRECT POOL
  local d50 d90 p50 p90
  d50=$(quantile "$2" 0.5) d90=$(quantile "$2" 0.9) p50=$(quantile "$3" 0.5) p90=$(quantile "$3" 0.9)
  echo "$1: direct p50 $d50 p90 $d90; through the pool p50 $p50 p90 $p90"
  awk -v a="$p50" -v b="$d50" -v c="$p90" -v d="$d90" \
    'BEGIN {printf "  added by orchestrator + worker: p50 %.3f ms (ratio %.2f), p90 %.3f ms\n", a-b, a/b, c-d}'
}
echo "time to first token, ms, $n requests of each kind per side"
report "new client connection" "$log/direct" "$log/pool"
report "kept-alive client connection (the goal's measure)" "$log/direct-kept" "$log/pool-kept"
