#!/usr/bin/env bash
# banned_apis.sh [--fork] ROOT [DIR...]
#
# DET-1: src/core and src/seams do no I/O, read no clock, start no thread and
# draw no randomness of their own, and include no gRPC, Poco or torch header.
# This script fails (exit 1) and prints FILE:LINE:MATCH for every use of an API
# that would break that. Everything of that kind goes through src/seams
# interfaces, implemented outside src/core (src/net, sim/, tests).
#
# DIRs (absolute, or relative to ROOT) default to ROOT/src/core and ROOT/src/seams;
# a default directory that does not exist is skipped, an explicit one is an error.
# C/C++ sources only (.h .hh .hpp .hxx .inl .ipp .tcc .c .cc .cpp .cxx). Comments
# are ignored, so a header may say "never calls std::thread" in prose; string
# literals are not, so a banned name inside a string still fails.
#
# Allowed on purpose: #include <chrono> and std::chrono types/durations (only
# the clock reads are banned), snprintf/fputs (no stdout; check.cc aborts with
# a message on stderr), member functions named rand() called as x.rand()/x->rand().
# --fork checks another rule instead, across src, sim, tests and bench: no fork()
# or vfork(). A child forked from a threaded process (every test binary, every
# server) may call only async-signal-safe functions until it execs; malloc is not
# one, and the sanitizer runtimes' allocators deadlock there (a child that never
# printed a line hung an end-to-end test). Programs are started with posix_spawn.
# Exit: 0 clean, 1 banned use found, 2 usage error.
set -euo pipefail

mode=det
if [ "${1:-}" = "--fork" ]; then
  mode=fork
  shift
fi
if [ "$#" -lt 1 ]; then
  echo "usage: $0 [--fork] ROOT [DIR...]" >&2
  exit 2
fi
root=$1
shift

# One ERE per banned API. W = "not an identifier character".
W='[^A-Za-z0-9_]'
patterns=(
  'system_clock::now'
  'steady_clock::now'
  'high_resolution_clock'
  'sleep_for'
  'sleep_until'
  "std::thread(${W}|\$)"
  'std::jthread'
  "std::async(${W}|\$)"
  "std::rand(${W}|\$)"
  "(^|[^A-Za-z0-9_.>])rand[[:space:]]*\\("     # bare rand( or ::rand(, not x.rand( / x->rand(
  "(^|${W})srand(${W}|\$)"
  'random_device'
  'mt19937'                                   # std::mt19937, std::mt19937_64
  'default_random_engine'
  'std::(ranges::)?(random_)?shuffle'
  "(^|${W})fopen(${W}|\$)"
  'std::(i|o)?fstream'
  'std::cout'
  "(^|${W})printf[[:space:]]*\\("              # printf( and std::printf(; not snprintf/fprintf
  '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"](grpc|Poco|torch|ATen|c10/)'
  '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"](iostream|fstream|thread|random)[>"]'
)
default_dirs=(src/core src/seams)
rule="see CONTRIBUTING.md (DET-1)"
if [ "$mode" = fork ]; then
  patterns=("(^|[^A-Za-z0-9_.>])v?fork[[:space:]]*\\(")
  default_dirs=(src sim tests bench)
  rule="start programs with posix_spawn, not fork"
fi
grep_args=()
for p in "${patterns[@]}"; do grep_args+=(-e "$p"); done

# Replaces comments (// and /* */, across lines) by spaces, keeping line numbers.
strip_comments() {
  awk '
  {
    line = $0; out = ""; i = 1; n = length(line); in_str = 0
    while (i <= n) {
      c = substr(line, i, 1); c2 = substr(line, i, 2)
      if (in_block) {
        if (c2 == "*/") { in_block = 0; i += 2 } else { i++ }
        continue
      }
      if (in_str) {
        out = out c
        if (c == "\\") { out = out substr(line, i + 1, 1); i += 2; continue }
        if (c == quote) in_str = 0
        i++
        continue
      }
      if (c2 == "/*") { in_block = 1; out = out " "; i += 2; continue }
      if (c2 == "//") break
      if (c == "\"" || c == "\047") { in_str = 1; quote = c }
      out = out c
      i++
    }
    print out
  }' "$1"
}

dirs=()
if [ "$#" -eq 0 ]; then
  for d in "${default_dirs[@]}"; do
    if [ -d "$root/$d" ]; then
      dirs+=("$root/$d")
    else
      echo "banned_apis: $root/$d does not exist, skipped"
    fi
  done
else
  for d in "$@"; do
    case "$d" in /*) ;; *) d="$root/$d" ;; esac
    if [ ! -d "$d" ]; then
      echo "banned_apis: no such directory: $d" >&2
      exit 2
    fi
    dirs+=("$d")
  done
fi

files=()
if [ "${#dirs[@]}" -gt 0 ]; then
  while IFS= read -r -d '' f; do files+=("$f"); done < <(
    find "${dirs[@]}" -type f \( -name '*.h' -o -name '*.hh' -o -name '*.hpp' -o -name '*.hxx' \
      -o -name '*.inl' -o -name '*.ipp' -o -name '*.tcc' -o -name '*.c' -o -name '*.cc' \
      -o -name '*.cpp' -o -name '*.cxx' \) -print0 | sort -z)
fi

tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
violations=0
for f in "${files[@]}"; do
  strip_comments "$f" >"$tmp"
  while IFS= read -r hit; do
    lineno=${hit%%:*}
    match=${hit#*:}
    match="${match#"${match%%[![:space:]]*}"}"   # trim leading blanks
    echo "${f#"$root"/}:$lineno:$match"
    violations=$((violations + 1))
  done < <(grep -nEo "${grep_args[@]}" "$tmp" || true)
done

if [ "$violations" -gt 0 ]; then
  echo "banned_apis: $violations banned use(s) in ${#files[@]} file(s); $rule"
  exit 1
fi
echo "banned_apis: ${#files[@]} file(s) clean"
