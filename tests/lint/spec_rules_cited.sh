#!/usr/bin/env bash
# spec_rules_cited.sh ROOT
#
# Every rule of the spec must be cited by at least one test (spec/README.md).
# A rule is a paragraph of ROOT/spec/*.md whose first line starts with its id in
# bold: **ID.** (ERE ^\*\*([A-Z]+-[0-9]+)\.\*\*). Its text runs to the next blank
# line or the next rule. Rules whose text contains "(withdrawn)" are skipped.
# A rule is cited when its id appears as a whole word (SEL-10 does not cite
# SEL-1; a range such as X-1..X-4 cites only its two ends) in any file under
# ROOT/tests, ROOT/sim or ROOT/bench, except ROOT/tests/lint.
#
# Prints each uncited id with where it is defined, then "N rules, M cited".
# Exit: 0 all cited, 1 some uncited (or an id defined twice), 2 no rules found.
set -euo pipefail

if [ "$#" -ne 1 ]; then
  echo "usage: $0 ROOT" >&2
  exit 2
fi
root=${1%/}

shopt -s nullglob
specs=("$root"/spec/*.md)
if [ "${#specs[@]}" -eq 0 ]; then
  echo "spec_rules_cited: no $root/spec/*.md" >&2
  exit 2
fi

# One line per rule: ID<TAB>file:line<TAB>withdrawn(0|1)
rules=$(awk '
  function flush() { if (id != "") print id "\t" where "\t" withdrawn; id = "" }
  FNR == 1 { flush() }
  /^\*\*[A-Z]+-[0-9]+\.\*\*/ {
    flush()
    id = substr($0, 3); sub(/\.\*\*.*/, "", id)
    where = FILENAME ":" FNR; withdrawn = 0
  }
  /^[[:space:]]*$/ { flush() }
  id != "" && index($0, "(withdrawn)") { withdrawn = 1 }
  END { flush() }
' "${specs[@]}")

if [ -z "$rules" ]; then
  echo "spec_rules_cited: no rule (**ID.**) found in ${specs[*]}" >&2
  exit 2
fi

# Every whole-word id-shaped token in the citing trees.
search=()
for d in tests sim bench; do [ -d "$root/$d" ] && search+=("$root/$d"); done
cited_file=$(mktemp)
trap 'rm -f "$cited_file"' EXIT
if [ "${#search[@]}" -gt 0 ]; then
  find "${search[@]}" \( -path "$root/tests/lint" -o -path "$root/tests/sdk/node_modules" \) -prune -o -type f -print0 |
    xargs -0 -r grep -hoIwE '[A-Z]+-[0-9]+' 2>/dev/null | sort -u >"$cited_file" || true
fi

total=0
cited=0
withdrawn=0
status=0
declare -A seen=()
while IFS=$'\t' read -r id where is_withdrawn; do
  if [ -n "${seen[$id]:-}" ]; then
    echo "duplicate rule id $id: ${where#"$root"/} and ${seen[$id]#"$root"/}"
    status=1
    continue
  fi
  seen[$id]=$where
  if [ "$is_withdrawn" -eq 1 ]; then
    withdrawn=$((withdrawn + 1))
    continue
  fi
  total=$((total + 1))
  if grep -qxF -- "$id" "$cited_file"; then
    cited=$((cited + 1))
  else
    echo "uncited: $id (${where#"$root"/})"
    status=1
  fi
done <<<"$rules"

echo "$total rules, $cited cited"
[ "$withdrawn" -eq 0 ] || echo "($withdrawn withdrawn rule(s) skipped)"
exit "$status"
