#!/usr/bin/env bash
# spec_rules_cited_selftest.sh SCRIPT
# Runs spec_rules_cited.sh against throwaway trees with a fake spec.
set -euo pipefail

source "$(dirname "$0")/selftest_lib.sh" "$@"

# run ROOT -> sets rc and out
run() { rc=0; out=$(bash "$script" "$1" 2>&1) || rc=$?; }

# A fake spec: two live rules, one SEL-1 / SEL-10 pair, one withdrawn rule, and a
# line that only looks like a rule (not at the start of the line).
make_spec() {
  mkdir -p "$1/spec"
  cat >"$1/spec/a.md" <<'MD'
# Fake spec

**FOO-1.** The first rule,
over two lines.

**FOO-2.** The second rule.
**SEL-1.** A rule right after another, without a blank line.

**SEL-10.** Tenth.

**FOO-3.** (withdrawn)

Not a rule: **BAR-1.** appears mid-line.
MD
}

# 1. FOO-2 uncited; SEL-1 only "cited" through SEL-10 -> fail, both named.
t=$work/t1; make_spec "$t"; mkdir -p "$t/tests/unit"
printf '// Proves x (FOO-1, SEL-10).\n' >"$t/tests/unit/a_test.cc"
run "$t"
[ "$rc" -eq 1 ] || fail "t1: exit $rc, want 1: $out"
grep -q '^uncited: FOO-2 ' <<<"$out" || fail "t1: FOO-2 not reported: $out"
grep -q '^uncited: SEL-1 ' <<<"$out" || fail "t1: SEL-1 satisfied by SEL-10: $out"
grep -q 'FOO-1' <<<"$out" && fail "t1: FOO-1 reported although cited: $out"
grep -q 'FOO-3' <<<"$out" && fail "t1: withdrawn FOO-3 reported: $out"
grep -q 'BAR-1' <<<"$out" && fail "t1: mid-line BAR-1 taken as a rule: $out"
grep -qx '4 rules, 2 cited' <<<"$out" || fail "t1: wrong summary: $out"

# 2. All live rules cited, across tests/, sim/ and bench/, any file type -> pass.
t=$work/t2; make_spec "$t"; mkdir -p "$t/tests/unit" "$t/sim/scenarios" "$t/bench"
printf '// Proves x (FOO-1, SEL-10).\n' >"$t/tests/unit/a_test.cc"
printf '# covers FOO-2\n' >"$t/sim/scenarios/s.txt"
printf 'SEL-1: cited in a benchmark\n' >"$t/bench/notes.md"
run "$t"
[ "$rc" -eq 0 ] || fail "t2: exit $rc, want 0: $out"
grep -qx '4 rules, 4 cited' <<<"$out" || fail "t2: wrong summary: $out"

# 3. A citation inside tests/lint does not count.
t=$work/t3; make_spec "$t"; mkdir -p "$t/tests/unit" "$t/tests/lint"
printf 'FOO-1 SEL-1 SEL-10\n' >"$t/tests/unit/a_test.cc"
printf 'FOO-2\n' >"$t/tests/lint/fixture.sh"
run "$t"
{ [ "$rc" -eq 1 ] && grep -q '^uncited: FOO-2 ' <<<"$out"; } || fail "t3: tests/lint counted: $out"

# 4. An id defined twice is an error even when cited.
t=$work/t4; make_spec "$t"; mkdir -p "$t/tests"
printf '**FOO-1.** Again.\n' >"$t/spec/b.md"
printf 'FOO-1 FOO-2 SEL-1 SEL-10\n' >"$t/tests/all.txt"
run "$t"
{ [ "$rc" -eq 1 ] && grep -q '^duplicate rule id FOO-1' <<<"$out"; } || fail "t4: duplicate not caught: $out"

# 5. No rules at all is a usage error, not a pass.
t=$work/t5; mkdir -p "$t/spec"; printf '# empty\n' >"$t/spec/a.md"
run "$t"
[ "$rc" -eq 2 ] || fail "t5: exit $rc, want 2: $out"

finish spec_rules_cited_selftest "5 cases passed"
