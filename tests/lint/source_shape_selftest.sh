#!/usr/bin/env bash
# source_shape_selftest.sh SCRIPT
# Runs source_shape.py against throwaway trees: a long function in each form it must
# recognise fails naming its first line; short ones, braced data and long comments or
# strings pass; a file over the line limit fails.
set -euo pipefail

source "$(dirname "$0")/selftest_lib.sh" "$@"

# body N: N lines of statements.
body() { for ((k = 0; k < $1; k++)); do echo "  x += $k;"; done; }

# expect NAME WANT_RC [WANT_TEXT]: checks src/NAME.cc (written before the call).
expect() {
  local name=$1 want=$2 text=${3:-}
  local out rc=0
  out=$(python3 "$script" "$work/$name" src 2>&1) || rc=$?
  if [ "$rc" -ne "$want" ]; then
    fail "$name: exit $rc, want $want"$'\n'"$out"
  elif [ -n "$text" ] && ! grep -qF "$text" <<<"$out"; then
    fail "$name: output lacks '$text'"$'\n'"$out"
  fi
}
tree() { mkdir -p "$work/$1/src"; cat >"$work/$1/src/f.cc"; }

# A free function of 71 lines (its braces on lines 2 and 72) fails; of 70 passes.
{ echo "// c"; echo "int f(int x) {"; body 69; echo "}"; } | tree long_free
expect long_free 1 "src/f.cc:2: function of 71 lines"
{ echo "int f(int x) {"; body 68; echo "}"; } | tree ok_free
expect ok_free 0
# A member function defined in a class, inside a namespace.
{ echo "namespace a {"; echo "class C {"; echo " public:"; echo "  void g() const {"; body 70; echo "  }"; echo "};"; echo "}"; } | tree long_member
expect long_member 1 "src/f.cc:4: function of 72 lines"
# A constructor whose initializer list uses braces is measured from its body.
{ echo "C::C(int a) : x_{a}, y_(a) {"; body 70; echo "}"; } | tree long_ctor
expect long_ctor 1 "src/f.cc:1: function of 72 lines"
# Lambdas and control blocks count towards the function that holds them.
{ echo "void h() {"; echo "  auto l = [&](int v) {"; body 35; echo "  };"; echo "  if (x) {"; body 35; echo "  }"; echo "}"; } | tree long_lambda
expect long_lambda 1 "src/f.cc:1: function of 76 lines"
# Braced data, comments and strings are no function, however long.
{ echo "const int kTable[] = {"; body 80 | sed 's/x += //; s/;/,/'; echo "};"; echo "/*"; body 80; echo "*/"; \
  echo 'const char* s = "{ f() {";'; echo "void k() {}"; } | tree data
expect data 0
# A file of 601 lines fails.
{ for ((k = 0; k < 601; k++)); do echo "// line"; done; } | tree long_file
expect long_file 1 "src/f.cc: 601 lines"

finish source_shape_selftest "passed"
