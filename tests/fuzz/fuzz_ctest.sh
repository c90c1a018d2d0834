#!/usr/bin/env bash
# fuzz_ctest.sh BINARY SECONDS WORKDIR CORPUS REGRESSIONS
#
# The fuzz.<name> ctest of the AIPOOL_FUZZ build: runs the libFuzzer BINARY for
# SECONDS on a fresh copy of its seed CORPUS (new entries go to the copy, never
# into the source tree), with the kept REGRESSIONS inputs (when the folder exists)
# read as well. Crash files land in WORKDIR. Exit: libFuzzer's, 0 when nothing was
# found.
set -euo pipefail

if [ "$#" -ne 5 ]; then
  echo "usage: $0 BINARY SECONDS WORKDIR CORPUS REGRESSIONS" >&2
  exit 2
fi
binary=$1 seconds=$2 work=$3 corpus=$4 regressions=$5

rm -rf "$work"
mkdir -p "$work/corpus" "$work/crashes"
cp -r "$corpus"/. "$work/corpus/"
dirs=("$work/corpus")
if [ -d "$regressions" ]; then dirs+=("$regressions"); fi

exec "$binary" -max_total_time="$seconds" -timeout=25 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$work/crashes/" "${dirs[@]}"
