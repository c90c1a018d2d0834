# Shared by scripts/test.sh and scripts/demo.sh; source it, do not run it.
# Sets AIPOOL_ROOT (the repository root) and AIPOOL_BUILD (its build/ folder).

AIPOOL_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
AIPOOL_BUILD="$AIPOOL_ROOT/build"

# build_project: installs the Debian packages (scripts/setup.sh), configures a
# Release build in build/ and builds everything; binaries land in build/bin.
build_project() {
  cd "$AIPOOL_ROOT"
  ./scripts/setup.sh
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
  cmake --build build -j"$(nproc)"
}
