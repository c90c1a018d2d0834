# selftest_lib.sh: sourced (never run) by the lint checks' self-tests, as
#   source "$(dirname "$0")/selftest_lib.sh" "$@"
# It takes the checker under test as $1 and sets:
#   script    the checker's path
#   work      a scratch folder, removed on exit
#   failures  the count of failed cases; fail MESSAGE adds one and prints it
#   finish NAME SUMMARY  prints the outcome and exits 1 if any case failed
if [ "$#" -lt 1 ]; then
  echo "usage: $0 SCRIPT (the checker under test)" >&2
  exit 2
fi
script=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
fail() { echo "SELFTEST FAIL: $*"; failures=$((failures + 1)); }
finish() {
  if [ "$failures" -ne 0 ]; then
    echo "$1: $failures failure(s)"
    exit 1
  fi
  echo "$1: $2"
}
