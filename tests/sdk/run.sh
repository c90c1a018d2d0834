#!/usr/bin/env bash
# The @livepeer/ai SDK conformance test: starts one orchestrator (plain text, on
# loopback, with a client key) and one worker serving llm, text-to-image and
# text-to-speech with the test model test/echo, waits for the worker to register,
# then runs sdk_test.mjs against the orchestrator and exits with its status.
# Usage: tests/sdk/run.sh [BIN_DIR]   (BIN_DIR: default build/bin of the repository)
# The SDK is installed by scripts/setup.sh (npm ci, from package-lock.json).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=$(cd "${1:-$root/build/bin}" 2>/dev/null && pwd) || { echo "run.sh: no folder ${1:-$root/build/bin}" >&2; exit 1; }
for b in aipool-orchestrator aipool-worker; do
  [ -x "$bin/$b" ] || { echo "run.sh: $bin/$b is missing (build the project first)" >&2; exit 1; }
done
command -v node >/dev/null || { echo "run.sh: node is missing (scripts/setup.sh installs it)" >&2; exit 1; }
if [ ! -d "$here/node_modules/@livepeer/ai" ]; then
  echo "run.sh: the SDK is not installed in tests/sdk/node_modules (scripts/setup.sh runs npm ci there)" >&2
  exit 1
fi

run=$(mktemp -d)
pids=()
# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
  local p
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$run"
}
trap cleanup EXIT
# show LOG...: the tail of the processes' logs, for a failure.
show() {
  local f
  for f in "$@"; do echo "--- $(basename "$f")"; tail -n 30 "$f"; done
}

head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$run/secret"
key=sdk-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf '%s sdk-test\n' "$key" >"$run/api-keys"
chmod 600 "$run/secret" "$run/api-keys"

# Port 0: the orchestrator picks free ports and names them in its ready line.
"$bin/aipool-orchestrator" -orchSecret "$run/secret" -insecure -dataDir "$run/data" \
  -serviceAddr 127.0.0.1:0 -httpAddr 127.0.0.1:0 -apiKeys "$run/api-keys" \
  >"$run/orchestrator.log" 2>&1 &
pids+=("$!")
grpc="" http=""
for _ in $(seq 1 200); do
  read -r grpc http < <(sed -n 's/.*aipool-orchestrator ready grpc=\([0-9]*\) http=\([0-9]*\).*/\1 \2/p' \
    "$run/orchestrator.log") || true
  [ -n "$http" ] && break
  kill -0 "${pids[0]}" 2>/dev/null || break
  sleep 0.1
done
[ -n "$http" ] || { echo "run.sh: the orchestrator did not start"; show "$run/orchestrator.log"; exit 1; }
url="http://127.0.0.1:$http"

"$bin/aipool-worker" -orchAddr "127.0.0.1:$grpc" -orchSecret "$run/secret" -insecure \
  -aiModels llm:test/echo,text-to-image:test/echo,text-to-speech:test/echo \
  >"$run/worker.log" 2>&1 &
pids+=("$!")
# /workers answers loopback clients without the admin key; one worker: one entry.
live=0
for _ in $(seq 1 300); do
  live=$(node -e 'fetch(process.argv[1]).then(r => r.json()).then(j => console.log(j.workers.length)).catch(() => console.log(0))' \
    "$url/workers")
  [ "$live" = 1 ] && break
  kill -0 "${pids[1]}" 2>/dev/null || break
  sleep 0.1
done
[ "$live" = 1 ] || { echo "run.sh: the worker did not register"; show "$run/orchestrator.log" "$run/worker.log"; exit 1; }

echo "run.sh: orchestrator on $url, one worker; @livepeer/ai $(node -p 'require(process.argv[1]).version' \
  "$here/node_modules/@livepeer/ai/package.json")"
status=0
(cd "$here" && AIPOOL_SDK_API_KEY="$key" node sdk_test.mjs "$url") || status=$?
[ "$status" = 0 ] || show "$run/orchestrator.log" "$run/worker.log"
exit "$status"
