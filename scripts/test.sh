#!/usr/bin/env bash
# Installs dependencies, builds (Release, build/) and runs every ctest.
# Extra arguments go to ctest, e.g. ./scripts/test.sh -R core
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

build_project
ctest --test-dir build --output-on-failure -j"$(nproc)" --timeout 600 "$@"
