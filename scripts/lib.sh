# Shared by scripts/test.sh and scripts/demo.sh; source it, do not run it.
# Sets AIPOOL_ROOT (the repository root) and AIPOOL_BUILD (its build/ folder).

AIPOOL_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
AIPOOL_BUILD="$AIPOOL_ROOT/build"

# build_project [FOLDER [TARGET [CMAKE_ARG...]]]: installs the Debian packages
# (scripts/setup.sh), configures a Release build in FOLDER (default build/) with the
# given extra cmake arguments and builds TARGET (default all: everything); binaries
# land in FOLDER/bin.
build_project() {
  local folder=${1:-build} target=${2:-all}
  shift $(($# < 2 ? $# : 2))
  cd "$AIPOOL_ROOT"
  ./scripts/setup.sh
  cmake -S . -B "$folder" -DCMAKE_BUILD_TYPE=Release "$@"
  cmake --build "$folder" -j"$(nproc)" --target "$target"
}

# The fuzz build (tests/fuzz/README.md): clang-14 with libFuzzer, ASan and UBSan in
# build-fuzz/, only the fuzz targets and what they link. AIPOOL_FUZZ_BUILD names it.
AIPOOL_FUZZ_BUILD="$AIPOOL_ROOT/build-fuzz"

# build_fuzz: configures (once) and builds the fuzz build; scripts/setup.sh must
# have run (clang-14, libfuzzer-14-dev).
build_fuzz() {
  cd "$AIPOOL_ROOT"
  if [ ! -f "$AIPOOL_FUZZ_BUILD/CMakeCache.txt" ]; then
    CC=clang-14 CXX=clang++-14 cmake -S . -B "$AIPOOL_FUZZ_BUILD" -DAIPOOL_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo
  fi
  cmake --build "$AIPOOL_FUZZ_BUILD" -j"$(nproc)"
}
