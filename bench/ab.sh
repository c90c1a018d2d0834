#!/usr/bin/env bash
# Compares two builds on the same small-job load, alternating them so that the other
# tenants' load falls on both alike (bench/README.md): each round starts one
# orchestrator and 8 test/echo workers from folder A, runs aipool-load at 16 clients
# and at 1 client (each phase with its /healthz baseline), stops them, then does the
# same with folder B. One line per build per round:
#   LABEL 16c healthz_rps healthz_p50_us jobs_per_s job_p50_us | 1c ... (same four)
# Usage: bench/ab.sh BIN_A BIN_B [rounds, default 5] [seconds per phase, default 3]
# e.g. a build of an earlier commit in another folder against build/bin. The load tool
# is this tree's (build/bin/aipool-load), so both builds see the same client.
# AB_FLAGS_A / AB_FLAGS_B: extra orchestrator flags for A / B (e.g. the same build
# twice with AB_FLAGS_B="-httpThreads 1").
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$#" -ge 2 ] || { echo "usage: $0 BIN_A BIN_B [rounds] [seconds]" >&2; exit 2; }
bin_a=$1 bin_b=$2 rounds=${3:-5} seconds=${4:-3}
load=build/bin/aipool-load
for b in "$bin_a/aipool-orchestrator" "$bin_a/aipool-worker" "$bin_b/aipool-orchestrator" "$bin_b/aipool-worker" "$load"; do
  [ -x "$b" ] || { echo "missing $b" >&2; exit 1; }
done
log=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$log"; }
trap cleanup EXIT

# figures OUTPUT: "req/s p50" of the /healthz line, then of the job line.
figures() { grep -E "^(GET|POST) " | sed -E 's/.* ([0-9]+) req\/s +p50 +([0-9.]+) us.*/\1 \2/' | tr '\n' ' '; }

# run_build LABEL BIN: one round with the binaries of BIN.
run_build() {
  local label=$1 bin=$2 mode=() extra=() grpc http n=0
  read -r -a extra <<<"$3"
  # Builds from before TLS (spec/security.md) speak plain text without being asked.
  if "$bin/aipool-orchestrator" --helpfull 2>&1 | grep -q -- "-insecure"; then mode=(-insecure); fi
  "$bin/aipool-orchestrator" -orchSecret ab-secret "${mode[@]}" -serviceAddr 127.0.0.1:0 -httpAddr 127.0.0.1:0 \
    -v 2 -queueLength 4096 "${extra[@]}" >"$log/orch.out" 2>&1 &
  pids=("$!")
  for _ in $(seq 1 100); do grep -q "ready" "$log/orch.out" && break; sleep 0.1; done
  read -r grpc http < <(sed -n 's/.*ready grpc=\([0-9]*\) http=\([0-9]*\).*/\1 \2/p' "$log/orch.out")
  for i in $(seq 1 8); do
    "$bin/aipool-worker" -orchAddr "127.0.0.1:$grpc" -orchSecret ab-secret "${mode[@]}" -v 2 \
      -aiModels "text-to-image:test/echo:true:64" >"$log/worker$i.out" 2>&1 &
    pids+=("$!")
  done
  for _ in $(seq 1 200); do
    n=$(curl -s "http://127.0.0.1:$http/workers" | grep -o '"id":' | wc -l || true)
    [ "$n" -ge 8 ] && break
    sleep 0.1
  done
  local many one
  many=$("$load" -port "$http" -clients 16 -seconds "$seconds" | figures)
  one=$("$load" -port "$http" -clients 1 -seconds "$seconds" | figures)
  echo "$label 16c $many| 1c $one"
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  pids=()
}

echo "columns: 16c healthz_rps healthz_p50_us jobs_per_s job_p50_us | 1c (the same)"
for _ in $(seq 1 "$rounds"); do
  run_build A "$bin_a" "${AB_FLAGS_A:-}"
  run_build B "$bin_b" "${AB_FLAGS_B:-}"
done
