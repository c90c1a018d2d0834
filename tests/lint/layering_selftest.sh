#!/usr/bin/env bash
# layering_selftest.sh SCRIPT
# Runs layering.sh against throwaway trees: each include that points up or sideways
# must make it fail naming file:line; includes that point down must pass.
set -euo pipefail

source "$(dirname "$0")/selftest_lib.sh" "$@"

# expect LAYER INCLUDE WANT_RC: a tree whose src/LAYER/f.h has INCLUDE on line 2.
case_no=0
expect() {
  local layer=$1 include=$2 want=$3
  case_no=$((case_no + 1))
  local root="$work/case$case_no"
  mkdir -p "$root/src/$layer"
  printf '// header comment\n#include "%s"\n' "$include" >"$root/src/$layer/f.h"
  local out rc=0
  out=$(bash "$script" "$root" 2>&1) || rc=$?
  if [ "$rc" -ne "$want" ]; then
    fail "exit $rc, want $want for src/$layer including $include"$'\n'"$out"
  elif [ "$want" -eq 1 ] && ! grep -q "src/$layer/f.h:2:" <<<"$out"; then
    fail "no file:line in output for src/$layer including $include"$'\n'"$out"
  fi
}

# Up or sideways: each must fail.
expect seams core/broker.h 1
expect seams codec/text.h 1
expect core codec/text.h 1
expect core net/strand.h 1
expect codec media/image_codec.h 1
expect codec net/result_poster.h 1
expect codec io/http_body.h 1
expect io codec/base64.h 1
expect io net/result_poster.h 1
expect media codec/base64.h 1
expect exec net/worker_node.h 1
expect exec aipool.pb.h 1
expect net exec/engines.h 1
expect net bin/options.h 1
expect core aipool.grpc.pb.h 1
# Down or beside: each must pass.
expect seams seams/types.h 0
expect seams types.h 0
expect core seams/clock.h 0
expect codec core/check.h 0
expect media seams/types.h 0
expect exec codec/json_text.h 0
expect exec media/image_codec.h 0
expect exec io/http_body.h 0
expect net io/http_body.h 0
expect io http_body.h 0
expect net aipool.grpc.pb.h 0
expect net codec/result_codec.h 0
expect bin exec/engines.h 0
expect bin net/orchestrator_node.h 0

# An unknown folder under src/ is an error, not a free pass.
mkdir -p "$work/unknown/src/extra"
echo '#include "net/x.h"' >"$work/unknown/src/extra/f.h"
rc=0
bash "$script" "$work/unknown" >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 1 ] || fail "exit $rc for an unknown folder, want 1"

# Usage: no src/ is a usage error.
rc=0
bash "$script" "$work/nowhere" >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 2 ] || fail "exit $rc for a missing tree, want 2"

finish layering_selftest "$case_no cases passed"
