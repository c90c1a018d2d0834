#!/usr/bin/env bash
# banned_apis_selftest.sh SCRIPT
# Runs banned_apis.sh against throwaway trees: every banned API alone must make it
# fail (exit 1, naming file:line), clean code must pass (exit 0).
set -euo pipefail

source "$(dirname "$0")/selftest_lib.sh" "$@"

# expect CODE-LINE WANT_RC: one file whose line 2 is CODE-LINE, scanned as an explicit dir.
case_no=0
expect() {
  local code=$1 want=$2
  case_no=$((case_no + 1))
  local dir="$work/case$case_no"
  mkdir -p "$dir"
  printf '// header comment\n%s\n' "$code" >"$dir/f.cc"
  local out rc=0
  out=$(bash "$script" "$work" "case$case_no" 2>&1) || rc=$?
  if [ "$rc" -ne "$want" ]; then
    fail "exit $rc, want $want for: $code"$'\n'"$out"
  elif [ "$want" -eq 1 ] && ! grep -q "case$case_no/f.cc:2:" <<<"$out"; then
    fail "no file:line in output for: $code"$'\n'"$out"
  fi
}

# Banned: each must fail.
expect 'auto t = std::chrono::system_clock::now();' 1
expect 'auto t = std::chrono::steady_clock::now();' 1
expect 'using C = std::chrono::high_resolution_clock;' 1
expect 'std::this_thread::sleep_for(d);' 1
expect 'std::this_thread::sleep_until(t);' 1
expect 'std::thread worker(run);' 1
expect 'std::jthread worker(run);' 1
expect 'auto f = std::async(run);' 1
expect 'int r = std::rand();' 1
expect 'int r = rand();' 1
expect 'int r = ::rand ();' 1
expect 'srand(42);' 1
expect 'std::random_device rd;' 1
expect 'std::mt19937 gen(1);' 1
expect 'std::mt19937_64 gen(1);' 1
expect 'std::default_random_engine gen;' 1
expect 'std::shuffle(v.begin(), v.end(), g);' 1
expect 'std::ranges::shuffle(v, g);' 1
expect 'FILE* f = fopen("x", "r");' 1
expect 'std::ifstream in("x");' 1
expect 'std::ofstream out("x");' 1
expect 'std::fstream io("x");' 1
expect 'std::cout << 1;' 1
expect 'printf("%d", 1);' 1
expect 'std::printf("%d", 1);' 1
expect '#include <grpcpp/grpcpp.h>' 1
expect '#include <grpc/grpc.h>' 1
expect '#include <Poco/Net/HTTPServer.h>' 1
expect '#include <torch/torch.h>' 1
expect '#include <ATen/ATen.h>' 1
expect '#include <iostream>' 1
expect '#include <fstream>' 1
expect '#include <thread>' 1
expect '#include <random>' 1
expect '#include "grpcpp/grpcpp.h"' 1
expect 'int x = 1; /* ok */ std::thread t(run);' 1
expect 'const char* s = "// not a comment"; std::thread t(run);' 1

# Allowed: each must pass.
expect '#include <chrono>' 0
expect 'using Micros = std::chrono::microseconds;' 0
expect 'int operand(int x);' 0
expect 'auto v = random.next_u64();' 0
expect 'auto v = rng.rand(); auto w = rng->rand();' 0
expect 'std::snprintf(buf, sizeof buf, "%d", 1);' 0
expect 'std::fputs("invariant broken", stderr);' 0
expect 'int threads = 1; std::string thread_name;' 0
expect '// never calls std::thread or system_clock::now' 0
expect '/* #include <thread> */ int x = 1;' 0
expect 'constexpr int k = 1'"'"'000'"'"'000; // std::cout' 0

# A block comment over several lines hides banned names; code after it does not.
mkdir -p "$work/block"
printf '/*\n * std::thread and sleep_for here are prose\n */\nint x = 1;\n' >"$work/block/a.h"
rc=0; out=$(bash "$script" "$work" block 2>&1) || rc=$?
[ "$rc" -eq 0 ] || fail "multi-line block comment not ignored: $out"
printf '/* prose\n */ std::thread t(run);\n' >"$work/block/b.h"
rc=0; out=$(bash "$script" "$work" block 2>&1) || rc=$?
{ [ "$rc" -eq 1 ] && grep -q 'block/b.h:2:' <<<"$out"; } || fail "code after a block comment missed: $out"

# Only C/C++ sources are scanned.
mkdir -p "$work/docs"
printf 'std::thread\n' >"$work/docs/notes.md"
rc=0; out=$(bash "$script" "$work" docs 2>&1) || rc=$?
[ "$rc" -eq 0 ] || fail "non-source file scanned: $out"

# Default directories: ROOT/src/core and ROOT/src/seams; a missing one is skipped.
mkdir -p "$work/root/src/core"
printf 'int f();\n' >"$work/root/src/core/ok.cc"
rc=0; out=$(bash "$script" "$work/root" 2>&1) || rc=$?
[ "$rc" -eq 0 ] || fail "clean default tree failed: $out"
mkdir -p "$work/root/src/seams"
printf '#pragma once\n#include <random>\n' >"$work/root/src/seams/bad.h"
rc=0; out=$(bash "$script" "$work/root" 2>&1) || rc=$?
{ [ "$rc" -eq 1 ] && grep -q 'src/seams/bad.h:2:' <<<"$out"; } || fail "default scan missed src/seams: $out"

# An explicit directory that does not exist is a usage error.
rc=0; bash "$script" "$work" no-such-dir >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 2 ] || fail "missing explicit dir gave exit $rc, want 2"

# --fork: fork and vfork anywhere under src, sim, tests and bench; the DET-1 set is
# not checked then, and fork( is allowed under DET-1.
mkdir -p "$work/fork/tests/e2e" "$work/fork/src/net"
printf 'void f() {\n  const pid_t pid = fork();\n}\n' >"$work/fork/tests/e2e/child.cc"
rc=0; out=$(bash "$script" --fork "$work/fork" 2>&1) || rc=$?
{ [ "$rc" -eq 1 ] && grep -q 'tests/e2e/child.cc:2:' <<<"$out" && grep -q posix_spawn <<<"$out"; } ||
  fail "--fork missed fork(): $out"
printf 'void f() {\n  std::thread t(run); if (vfork () == 0) {}\n}\n' >"$work/fork/tests/e2e/child.cc"
rc=0; out=$(bash "$script" --fork "$work/fork" 2>&1) || rc=$?
{ [ "$rc" -eq 1 ] && ! grep -q 'std::thread' <<<"$out"; } || fail "--fork missed vfork or checked DET-1: $out"
printf '// never fork() here\nint forks = pool.fork(); posix_spawn(&pid, p, &a, nullptr, argv, env);\n' \
  >"$work/fork/tests/e2e/child.cc"
printf 'int x = fork();\n' >"$work/fork/src/net/n.cc"
rc=0; out=$(bash "$script" --fork "$work/fork" 2>&1) || rc=$?
{ [ "$rc" -eq 1 ] && grep -q 'src/net/n.cc:1:' <<<"$out" && ! grep -q 'child.cc' <<<"$out"; } ||
  fail "--fork flagged an allowed line or missed src: $out"
rm "$work/fork/src/net/n.cc"
rc=0; out=$(bash "$script" --fork "$work/fork" 2>&1) || rc=$?
[ "$rc" -eq 0 ] || fail "--fork failed a clean tree: $out"

finish banned_apis_selftest "$case_no line cases and 10 tree cases passed"
