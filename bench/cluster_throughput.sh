#!/usr/bin/env bash
# Throughput of the HAProxy cluster (spec/cluster.md) against a single orchestrator
# behind the same HAProxy, in turns in the same run, so that the machine's other load
# falls on both alike. Each side: scripts/cluster.sh N with 4 workers serving
# test/echo (capacity 64 each: the workers are not the bottleneck), then aipool-load
# with CLIENTS clients for SECONDS against HAProxy's port.
# Usage: bench/cluster_throughput.sh [rounds, default 3] [seconds, default 5] [clients, default 32]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3} seconds=${2:-5} clients=${3:-32}
bin=${AIPOOL_BIN:-build/bin}
[ -x "$bin/aipool-load" ] || { echo "missing $bin/aipool-load: build first" >&2; exit 1; }
work=$(mktemp -d)
cluster_pid=""
stop_cluster() {
  if [ -n "$cluster_pid" ]; then kill -TERM "$cluster_pid" 2>/dev/null || true; wait "$cluster_pid" 2>/dev/null || true; fi
  cluster_pid=""
}
trap 'stop_cluster; rm -rf "$work"' EXIT

# run_side N: prints jobs/s of one load run against a cluster of N orchestrators.
run_side() {
  local n=$1 port base
  # Below the ephemeral range (32768-60999), which outgoing connections take from.
  port=$((20000 + RANDOM % 4000)) base=$((24000 + (RANDOM % 4000) * 2))
  rm -rf "$work/c"
  ./scripts/cluster.sh "$n" --workers 4 --insecure --models "text-to-image:test/echo:true:64" \
    --port "$port" --base-port "$base" --dir "$work/c" --orch-flag -queueLength=4096 --orch-flag -v=2 \
    >"$work/cluster.out" 2>&1 &
  cluster_pid=$!
  for _ in $(seq 1 300); do grep -q "cluster ready" "$work/cluster.out" && break; sleep 0.1; done
  grep -q "cluster ready" "$work/cluster.out" || { cat "$work/cluster.out" >&2; exit 1; }
  "$bin/aipool-load" -port "$port" -clients "$clients" -seconds "$seconds" >"$work/load.out" 2>&1 || {
    cat "$work/load.out" >&2; exit 1; }
  stop_cluster
  grep -o '[0-9.]* jobs/s' "$work/load.out" | head -1 | cut -d' ' -f1
}

one=() three=()
for r in $(seq 1 "$rounds"); do
  one+=("$(run_side 1)")
  three+=("$(run_side 3)")
  echo "round $r: 1 orchestrator ${one[-1]} jobs/s, 3 orchestrators ${three[-1]} jobs/s"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
m1=$(median "${one[@]}") m3=$(median "${three[@]}")
awk -v a="$m3" -v b="$m1" -v c="$(nproc)" 'BEGIN {printf "median: 1 orchestrator %.0f jobs/s, 3 orchestrators %.0f jobs/s, ratio %.2f (%d cores)\n", b, a, a/b, c}'
