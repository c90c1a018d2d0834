#!/usr/bin/env bash
# fuzz.sh TARGET SECONDS [LIBFUZZER_FLAG...]
#
# Fuzzes one target of tests/fuzz (e.g. `./scripts/fuzz.sh multipart 600`) for
# SECONDS with libFuzzer, ASan and UBSan: builds the fuzz build (build-fuzz/, clang-14)
# if needed, starts from the target's seed corpus and kept regressions, and writes
# new corpus entries to a scratch folder, never into the source tree. Crash, leak
# and timeout inputs land in the crash folder it prints; a finding is kept by
# copying its file to tests/fuzz/regressions/TARGET/ once it is fixed. Extra
# arguments go to libFuzzer (e.g. -jobs=2 -workers=2). AIPOOL_FUZZ_WORK names the
# scratch root (default build-fuzz/fuzz-work).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

if [ "$#" -lt 2 ]; then
  echo "usage: $0 TARGET SECONDS [LIBFUZZER_FLAG...]" >&2
  echo "targets: $(cd tests/fuzz && ls ./*_fuzz.cc | sed 's|./||; s|_fuzz.cc||' | tr '\n' ' ')" >&2
  exit 2
fi
target=$1 seconds=$2
shift 2
if [ ! -f "tests/fuzz/${target}_fuzz.cc" ]; then
  echo "fuzz.sh: no target $target (tests/fuzz/${target}_fuzz.cc)" >&2
  exit 2
fi

build_fuzz >/dev/null
work=${AIPOOL_FUZZ_WORK:-$AIPOOL_FUZZ_BUILD/fuzz-work}/$target
mkdir -p "$work/corpus" "$work/crashes"
dirs=("$work/corpus" "tests/fuzz/corpus/$target")
if [ -d "tests/fuzz/regressions/$target" ]; then dirs+=("tests/fuzz/regressions/$target"); fi

echo "fuzz.sh: $target for ${seconds}s; new corpus entries: $work/corpus; crashes: $work/crashes"
"$AIPOOL_FUZZ_BUILD/bin/${target}_fuzz" -max_total_time="$seconds" -timeout=25 -rss_limit_mb=2048 \
  -print_final_stats=1 -artifact_prefix="$work/crashes/" "$@" "${dirs[@]}"
