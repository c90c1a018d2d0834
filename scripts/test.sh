#!/usr/bin/env bash
# Installs dependencies, builds (Release, build/) and runs every ctest; then builds
# the fuzz build (build-fuzz/, clang-14 with libFuzzer, ASan and UBSan) and runs its
# ctests, each fuzz target for a few seconds on its corpus (tests/fuzz/README.md).
# Extra arguments go to both ctest runs, e.g. ./scripts/test.sh -R core
#
# --sanitize=LIST builds with sanitizers in a folder of its own and runs ctest there
# (CONTRIBUTING.md, "Sanitizers"):
#   --sanitize=address,undefined  ASan+UBSan+LeakSanitizer in build-asan/, every ctest
#   --sanitize=thread             ThreadSanitizer in build-tsan/ (without libtorch): builds
#                                 and runs the ctests labelled tsan (core_*, net_*, e2e_*),
#                                 or builds everything when other ctest arguments choose
# A sanitizer report fails the run, whether it came from a test or from a process it
# started (the e2e tests start that build's own aipool-orchestrator and aipool-worker).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

sanitize=""
ctest_args=()
for arg in "$@"; do
  case $arg in
    --sanitize=*) sanitize=${arg#--sanitize=} ;;
    *) ctest_args+=("$arg") ;;
  esac
done

if [ -z "$sanitize" ]; then
  build_project
  ctest --test-dir build --output-on-failure -j"$(nproc)" --timeout 600 "${ctest_args[@]}"
  build_fuzz
  exec ctest --test-dir "$AIPOOL_FUZZ_BUILD" --output-on-failure -j"$(nproc)" --timeout 600 "${ctest_args[@]}"
fi

supp="$AIPOOL_ROOT/tests/sanitizers"
target=all
case $sanitize in
  address,undefined | undefined,address)
    folder=build-asan
    cmake_args=(-DAIPOOL_SANITIZE=address,undefined)
    ;;
  thread)
    folder=build-tsan
    # libtorch's own thread pool is uninstrumented and reports races TSan cannot see
    # through; the TSan build leaves it out (the worker then lacks the torch engines).
    cmake_args=(-DAIPOOL_SANITIZE=thread -DAIPOOL_WITH_TORCH=OFF)
    if [ "${#ctest_args[@]}" -eq 0 ]; then
      target=aipool_tsan_tests  # the core_*, net_* and e2e_* tests (ctest label tsan)
      ctest_args=(-L tsan)
    fi
    ;;
  *)
    echo "test.sh: --sanitize takes address,undefined or thread, not '$sanitize'" >&2
    exit 2
    ;;
esac

# Every sanitizer writes its reports to files under $reports instead of stderr, so that
# a report from a child process that a test kills, or whose output it never reads,
# still fails the run. The build exports them too: gtest_discover_tests runs each test
# binary while building.
reports="$AIPOOL_ROOT/$folder/sanitizer-reports"
rm -rf "$reports"
mkdir -p "$reports"
export ASAN_OPTIONS="log_path=$reports/report:detect_leaks=1"
export UBSAN_OPTIONS="log_path=$reports/report:print_stacktrace=1:halt_on_error=1"
export TSAN_OPTIONS="log_path=$reports/report:suppressions=$supp/tsan.supp:second_deadlock_stack=1"

build_project "$folder" "$target" "${cmake_args[@]}"
status=0
ctest --test-dir "$folder" --output-on-failure -j"$(nproc)" --timeout 600 "${ctest_args[@]}" || status=$?

mapfile -t found < <(find "$reports" -type f | sort)
if [ "${#found[@]}" -gt 0 ]; then
  for f in "${found[@]}"; do
    echo "==== sanitizer report $f"
    cat "$f"
  done
  echo "test.sh: ${#found[@]} sanitizer report(s) under $reports" >&2
  [ "$status" -ne 0 ] || status=1
fi
exit "$status"
