# Shared by bench/load.sh and bench/concurrency.sh (sourced, not run): a pool of
# one orchestrator and test workers on loopback, stopped when the script exits.
# Sets: bin, log (a temporary folder), pids; the functions set orch, grpc, http.

bin=${AIPOOL_BIN:-build/bin}
log=$(mktemp -d)
pids=()
export AIPOOL_ORCH_SECRET=bench-secret  # read by both programs (-orchSecret left empty)
pool_cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$log"; }
trap pool_cleanup EXIT

# require_bins NAME...: stops the script when a binary is not built.
require_bins() {
  for b in "$@"; do
    [ -x "$bin/$b" ] || { echo "missing $bin/$b: run ./scripts/test.sh (or cmake --build build) first" >&2; exit 1; }
  done
}

# start_orchestrator NAME [FLAG...]: starts one on ephemeral ports, logging to
# $log/NAME.out; sets orch (its pid), grpc and http once it is ready.
start_orchestrator() {
  local name=$1
  shift
  "$bin/aipool-orchestrator" -orchSecret "" -insecure -serviceAddr 127.0.0.1:0 -httpAddr 127.0.0.1:0 -v 2 "$@" \
    >"$log/$name.out" 2>&1 &
  orch=$!
  pids+=("$orch")
  for _ in $(seq 1 100); do grep -q "ready" "$log/$name.out" && break; sleep 0.1; done
  read -r grpc http < <(sed -n 's/.*ready grpc=\([0-9]*\) http=\([0-9]*\).*/\1 \2/p' "$log/$name.out")
}

# start_workers COUNT MODELS VERBOSITY: COUNT workers of $grpc serving MODELS
# (inline -aiModels), logging to $log/workerN.out; returns once all are live.
start_workers() {
  local count=$1 models=$2 verbosity=$3 n=0
  for i in $(seq 1 "$count"); do
    "$bin/aipool-worker" -orchAddr "127.0.0.1:$grpc" -orchSecret "" -insecure -v "$verbosity" \
      -aiModels "$models" >"$log/worker$i.out" 2>&1 &
    pids+=("$!")
  done
  for _ in $(seq 1 200); do
    n=$(curl -s "http://127.0.0.1:$http/workers" | grep -o '"id":' | wc -l || true)
    [ "$n" -ge "$count" ] && break
    sleep 0.1
  done
  echo "orchestrator: grpc $grpc, http $http; workers live: $n"
}
