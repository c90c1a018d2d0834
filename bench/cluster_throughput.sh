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

# busy_ticks / all_ticks: the machine's CPU ticks from /proc/stat (all but idle and iowait).
busy_ticks() { awk '/^cpu / {print $2+$3+$4+$7+$8+$9}' /proc/stat; }
all_ticks() { awk '/^cpu / {print $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat; }
# proc_ticks PID...: user+system ticks of those processes.
proc_ticks() { local t=0 p; for p in "$@"; do t=$((t + $(awk '{print $14+$15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done; echo "$t"; }

# run_side N: prints "jobs/s machine-busy-% orchestrators-share-%" of one load run
# against a cluster of N orchestrators.
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
  # shellcheck disable=SC1091
  source "$work/c/cluster.env"
  local b0 a0 o0 b1 a1 o1
  b0=$(busy_ticks) a0=$(all_ticks) o0=$(proc_ticks $CLUSTER_ORCH_PIDS)
  "$bin/aipool-load" -port "$port" -clients "$clients" -seconds "$seconds" >"$work/load.out" 2>&1 || {
    cat "$work/load.out" >&2; exit 1; }
  b1=$(busy_ticks) a1=$(all_ticks) o1=$(proc_ticks $CLUSTER_ORCH_PIDS)
  stop_cluster
  awk -v j="$(grep -o '[0-9.]* jobs/s' "$work/load.out" | head -1 | cut -d' ' -f1)" \
    -v busy=$((b1 - b0)) -v all=$((a1 - a0)) -v orch=$((o1 - o0)) \
    'BEGIN {printf "%s %.0f %.0f\n", j, 100 * busy / all, 100 * orch / (busy + 0.001)}' 
}

one=() three=()
for r in $(seq 1 "$rounds"); do
  read -r j1 busy1 share1 < <(run_side 1)
  read -r j3 busy3 share3 < <(run_side 3)
  one+=("$j1") three+=("$j3")
  echo "round $r: 1 orchestrator $j1 jobs/s (machine CPU busy $busy1 %, orchestrator $share1 % of it);" \
    "3 orchestrators $j3 jobs/s (busy $busy3 %, orchestrators $share3 %)"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
m1=$(median "${one[@]}") m3=$(median "${three[@]}")
awk -v a="$m3" -v b="$m1" -v c="$(nproc)" 'BEGIN {printf "median: 1 orchestrator %.0f jobs/s, 3 orchestrators %.0f jobs/s, ratio %.2f (%d cores)\n", b, a, a/b, c}'
