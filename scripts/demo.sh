#!/usr/bin/env bash
# The demonstration: installs what is missing, builds, starts one orchestrator and
# two workers on loopback with the built-in and Debian models (no GPU, no download),
# everything over TLS (the orchestrator's self-signed certificate, pinned by the
# workers by its fingerprint and trusted by curl), then, with curl against the public
# AI API:
#   1. renders a prompt with text-to-image        (builtin/text-render)
#   2. upscales that image x2                     (builtin/bicubic)
#   3. turns it to grayscale with image-to-image  (builtin/grayscale)
#   4. reads its text back with image-to-text     (tesseract/eng)
#   5. transcribes a sentence spoken by espeak-ng (pocketsphinx/en-us)
#   6. speaks a sentence with text-to-speech      (builtin/espeak) and transcribes
#      that speech back with audio-to-text        (pocketsphinx/en-us)
# Each step is sent twice, so the table shows round robin across the two workers.
# Every output goes to demo-out/; a table says which worker served what, how long it
# took and what was recognised, and the orchestrator's job counters (/metrics) close
# it. Everything it starts is stopped when it ends; with --keep it stays up, for a
# person to look at /workers and /metrics, until Ctrl-C.
# AIPOOL_DEMO_SKIP_BUILD=1 skips the setup and build (for a tree built already).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
keep=""
for arg in "$@"; do
  case $arg in
    --keep) keep=1 ;;
    *) echo "usage: $0 [--keep]" >&2; exit 2 ;;
  esac
done

[ -n "${AIPOOL_DEMO_SKIP_BUILD:-}" ] || build_project
bin=build/bin
out=demo-out
rm -rf "$out"
mkdir -p "$out"
run=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$run"
}
trap cleanup EXIT

secret=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf '%s\n' "$secret" >"$run/secret"
chmod 600 "$run/secret"

"$bin/aipool-orchestrator" -orchSecret "$run/secret" -dataDir "$run/data" -serviceAddr 127.0.0.1:0 \
  -httpAddr 127.0.0.1:0 >"$out/orchestrator.log" 2>&1 &
pids+=("$!")
for _ in $(seq 1 100); do grep -q "aipool-orchestrator ready" "$out/orchestrator.log" && break; sleep 0.1; done
read -r grpc http < <(sed -n 's/.*ready grpc=\([0-9]*\) http=\([0-9]*\).*/\1 \2/p' "$out/orchestrator.log")
[ -n "${http:-}" ] || { echo "demo: the orchestrator did not start:"; cat "$out/orchestrator.log"; exit 1; }
api="https://127.0.0.1:$http"
fingerprint=$(grep -o 'TLS certificate sha256:[0-9a-f]*' "$out/orchestrator.log" | head -1 | cut -d' ' -f3)
tls=(--cacert "$run/data/tls-cert.pem")  # curl trusts the orchestrator's own certificate

cat >"$run/models.json" <<'JSON'
[
  {"pipeline": "text-to-image",  "model_id": "builtin/text-render", "capacity": 2},
  {"pipeline": "upscale",        "model_id": "builtin/bicubic",     "capacity": 2},
  {"pipeline": "image-to-image", "model_id": "builtin/grayscale",   "capacity": 2},
  {"pipeline": "image-to-text",  "model_id": "tesseract/eng",       "capacity": 1},
  {"pipeline": "audio-to-text",  "model_id": "pocketsphinx/en-us",  "capacity": 1},
  {"pipeline": "text-to-speech", "model_id": "builtin/espeak",      "capacity": 1}
]
JSON
for w in 1 2; do
  OMP_THREAD_LIMIT=1 "$bin/aipool-worker" -orchAddr "127.0.0.1:$grpc" -orchSecret "$run/secret" \
    -orchCertFingerprint "$fingerprint" -aiModels "$run/models.json" >"$out/worker$w.log" 2>&1 &
  pids+=("$!")
done
for _ in $(seq 1 300); do
  live=$(curl -s "${tls[@]}" "$api/workers" | jq '.workers | length' 2>/dev/null || echo 0)
  [ "$live" = 2 ] && break
  sleep 0.1
done
[ "${live:-0}" = 2 ] || { echo "demo: the workers did not register:"; tail -5 "$out"/worker*.log; exit 1; }
echo "demo: orchestrator on $api (TLS, certificate $fingerprint) with 2 workers (see $out/*.log)"
echo "demo: while it runs: $api/dashboard in a browser (trust the certificate $run/data/tls-cert.pem), or"
echo "      curl --cacert $run/data/tls-cert.pem $api/workers (or /metrics)"
# The workers' ids, in the order they joined, are shown as w1 and w2.
mapfile -t worker_ids < <(sed -n 's/.*worker \([0-9]*\) joined.*/\1/p' "$out/orchestrator.log")
worker_name() {
  local i
  for i in "${!worker_ids[@]}"; do [ "${worker_ids[$i]}" = "$1" ] && { echo "w$((i + 1))"; return; }; done
  echo "$1"
}

rows=()
# call NAME PIPELINE MODEL OUTPUT CURL-ARGS...: posts twice (round robin gives each
# worker one), saves the JSON of each (NAME.json, NAME-2.json), records two table rows.
call() {
  local name=$1 pipeline=$2 model=$3 output=$4
  shift 4
  local round file code status seconds worker jobs
  for round in 1 2; do
    file=$name.json
    [ "$round" = 1 ] || file=$name-2.json
    jobs=$(grep -c "outcome=ok attempts" "$out/orchestrator.log" || true)
    code=$(curl -s "${tls[@]}" -o "$out/$file" -w '%{http_code} %{time_total}' -X POST "$api/$pipeline" "$@")
    status=${code% *} seconds=${code#* }
    if [ "$status" != 200 ]; then
      echo "demo: $pipeline failed with HTTP $status: $(cat "$out/$file")"
      exit 1
    fi
    # The job's line is written just after its answer: wait for it.
    for _ in $(seq 1 50); do
      [ "$(grep -c "outcome=ok attempts" "$out/orchestrator.log" || true)" -gt "$jobs" ] && break
      sleep 0.02
    done
    worker=$(grep "outcome=ok attempts" "$out/orchestrator.log" | tail -1 | sed -n 's/.* worker=\([0-9]*\) .*/\1/p')
    local shown=$output
    [ "$round" = 1 ] || shown=$file
    rows+=("$pipeline|$model|$(worker_name "$worker")|$(awk "BEGIN{printf \"%.0f ms\", $seconds*1000}")|$shown")
  done
}
# image NAME: writes the first image of NAME.json to NAME.png
image() { jq -r '.images[0].url' "$out/$1.json" | sed 's/^data:[^,]*,//' | base64 -d >"$out/$1.png"; }

prompt="HELLO FROM AIPOOL"
call text-to-image text-to-image builtin/text-render text-to-image.png \
  -H "Content-Type: application/json" \
  -d "{\"model_id\":\"builtin/text-render\",\"prompt\":\"$prompt\",\"width\":640,\"height\":160,\"seed\":7}"
image text-to-image
call upscale upscale builtin/bicubic upscale.png \
  -F model_id=builtin/bicubic -F scale=2 -F "image=@$out/text-to-image.png;type=image/png"
image upscale
call image-to-image image-to-image builtin/grayscale image-to-image.png \
  -F model_id=builtin/grayscale -F prompt=grayscale -F strength=1 -F "image=@$out/upscale.png;type=image/png"
image image-to-image
call image-to-text image-to-text tesseract/eng image-to-text.json \
  -F model_id=tesseract/eng -F "image=@$out/image-to-image.png;type=image/png"
read_text=$(jq -r '.text' "$out/image-to-text.json")
sentence="hello world. the weather is nice today."
espeak-ng -v en-us+klatt2 -s 150 -w "$out/sentence.wav" "$sentence"
call audio-to-text audio-to-text pocketsphinx/en-us audio-to-text.json \
  -F model_id=pocketsphinx/en-us -F return_timestamps=word -F "audio=@$out/sentence.wav;type=audio/wav"
heard=$(jq -r '.text' "$out/audio-to-text.json")
# Text to speech and back: the Klatt voice is the one PocketSphinx hears best.
spoken="the quick brown fox jumps over the lazy dog."
call text-to-speech text-to-speech builtin/espeak text-to-speech.wav \
  -H "Content-Type: application/json" \
  -d "{\"model_id\":\"builtin/espeak\",\"text\":\"$spoken\",\"description\":\"A male speaker, 150 words per minute, variant: klatt2.\"}"
jq -r '.audio.url' "$out/text-to-speech.json" | sed 's/^data:[^,]*,//' | base64 -d >"$out/text-to-speech.wav"
call speech-to-text audio-to-text pocketsphinx/en-us speech-to-text.json \
  -F model_id=pocketsphinx/en-us -F "audio=@$out/text-to-speech.wav;type=audio/wav"
round_trip=$(jq -r '.text' "$out/speech-to-text.json")

echo
printf '%-15s %-20s %-7s %-9s %s\n' pipeline model worker latency "output (in $out/)"
for row in "${rows[@]}"; do
  IFS='|' read -r p m w l o <<<"$row"
  printf '%-15s %-20s %-7s %-9s %s\n' "$p" "$m" "$w" "$l" "$o"
done
echo
echo "text-to-image prompt : $prompt"
echo "image-to-text read   : $read_text"
echo "espeak-ng said       : $sentence"
echo "audio-to-text heard  : $heard"
echo "text-to-speech said  : $spoken"
echo "audio-to-text heard  : $round_trip"
echo
echo "jobs by outcome, from $api/metrics:"
curl -s "${tls[@]}" "$api/metrics" | grep '^aipool_jobs_total' | sed 's/^/  /'
echo
if [ -n "$keep" ]; then
  echo "demo: still running (--keep): $api/dashboard, $api/workers and $api/metrics"
  echo "      (the certificate to trust: $run/data/tls-cert.pem)"
  echo "demo: Ctrl-C stops the orchestrator and the workers"
  trap 'exit 0' INT TERM
  while sleep 1; do :; done
fi
echo "demo: done; stopping the orchestrator and workers"
