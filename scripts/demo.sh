#!/usr/bin/env bash
# The demonstration, as far as it exists today. It installs dependencies and
# builds like scripts/test.sh, then:
#  - if the simulator is built (build/bin/aipool-sim), runs its demo scenario;
#  - otherwise runs the core unit tests (ctest -R core) as the demonstration.
# The full demo (a real orchestrator and workers on this machine) comes later.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

build_project
echo
if [ -x build/bin/aipool-sim ]; then
  echo "demo: running the simulator on sim/scenarios/demo.txt"
  echo "demo: (simulated workers and virtual time; the full demo with a real"
  echo "demo:  orchestrator and workers comes later)"
  build/bin/aipool-sim --scenario sim/scenarios/demo.txt
else
  echo "demo: the simulator (build/bin/aipool-sim) is not built yet, and neither are"
  echo "demo: the orchestrator and worker binaries. As the demonstration, this runs"
  echo "demo: the core's unit tests: ctest --test-dir build -R core"
  if [ "$(ctest --test-dir build -N -R core | grep -c '^ *Test *#')" -eq 0 ]; then
    echo "demo: no core tests are built yet either; nothing to demonstrate."
    exit 0
  fi
  ctest --test-dir build -R core --output-on-failure
fi
