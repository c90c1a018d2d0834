#!/usr/bin/env bash
# Installs every Debian package that aipool's build, tests and benchmarks need.
# Idempotent: does nothing when everything is already installed.
set -euo pipefail

packages=(
  build-essential cmake pkg-config ca-certificates curl jq python3
  protobuf-compiler libprotobuf-dev libgrpc++-dev protobuf-compiler-grpc
  libpoco-dev libboost1.81-dev libssl-dev  # TLS (OpenSSL), client-key digests
  libgtest-dev libgmock-dev libbenchmark-dev librapidcheck-dev
  libspdlog-dev libfmt-dev libgflags-dev
  libtorch-dev libspng-dev libturbojpeg0-dev libfreetype-dev fonts-dejavu-core
  libtesseract-dev tesseract-ocr-eng libleptonica-dev libpocketsphinx-dev pocketsphinx-en-us libsndfile1-dev libsamplerate0-dev libogg-dev libvorbis-dev espeak-ng
  libespeak-ng-dev  # builtin/espeak (text-to-speech): headers; the library is loaded at run time
  clang-14 libfuzzer-14-dev libclang-rt-14-dev  # the fuzz build (tests/fuzz)
  prometheus-cpp-dev prometheus  # /metrics (its registry and text format) and promtool in a test
  chromium chromium-driver python3-selenium  # the dashboard in a real browser (tests/browser)
  haproxy  # scripts/cluster.sh: several orchestrators behind one load balancer
)

# The @livepeer/ai SDK test (tests/sdk) needs node and npm: Debian's, unless this
# machine already has a node with its npm.
if ! command -v npm >/dev/null 2>&1; then packages+=(nodejs npm); fi

# The SDK's npm packages, pinned by tests/sdk/package-lock.json, from npm's registry.
npm_packages() {
  local sdk
  sdk="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests/sdk"
  if [ ! -d "$sdk/node_modules/@livepeer/ai" ]; then
    echo "setup: npm ci in tests/sdk"
    (cd "$sdk" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  fi
}

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages present"
  npm_packages
  exit 0
fi

echo "setup: installing ${missing[*]}"
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
npm_packages
echo "setup: done"
