#!/usr/bin/env bash
# Installs dependencies, builds (Release, build/) and runs every ctest; then builds
# the fuzz build (build-fuzz/, clang-14 with libFuzzer, ASan and UBSan) and runs its
# ctests, each fuzz target for a few seconds on its corpus (tests/fuzz/README.md).
# Extra arguments go to both ctest runs, e.g. ./scripts/test.sh -R core
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

build_project
ctest --test-dir build --output-on-failure -j"$(nproc)" --timeout 600 "$@"
build_fuzz
ctest --test-dir "$AIPOOL_FUZZ_BUILD" --output-on-failure -j"$(nproc)" --timeout 600 "$@"
