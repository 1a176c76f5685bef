#!/usr/bin/env bash
# Installs what is missing, builds, checks core/ and plugins/ with cppcheck
# and clang-tidy (any finding fails), and runs the whole test suite three
# ways: plainly, under AddressSanitizer + UndefinedBehaviorSanitizer (leaks
# count), and as `make distcheck` (the release tarball builds and passes).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
jobs=$(nproc)

step() { printf '\n== %s\n' "$*"; }

show_failures() {
  # The logs of failing suites say what went wrong; print them.
  for log in "$1"/tests/*.log; do
    [ -f "$log" ] || continue
    grep -q '^FAIL\|^ERROR' "${log%.log}.trs" 2>/dev/null && { echo "--- $log"; cat "$log"; }
  done
  return 1
}

step "build"
"$top/scripts/build.sh" "$top/_build"

step "static analysis"
"$top/scripts/lint.sh" "$top/_build"

step "test suite"
make -C "$top/_build" -j"$jobs" check || show_failures "$top/_build"

step "test suite under ASan + UBSan"
"$top/scripts/build.sh" "$top/_build-asan" --enable-sanitizers
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  make -C "$top/_build-asan" -j"$jobs" check || show_failures "$top/_build-asan"

step "distcheck"
make -C "$top/_build" -j"$jobs" distcheck >/dev/null 2>"$top/_build/distcheck.err" \
  || { cat "$top/_build/distcheck.err"; exit 1; }
echo "distcheck: the release tarball builds and passes its suite"

step "summary"
for b in _build _build-asan; do
  t=$(cat "$top/$b"/tests/*.log 2>/dev/null | grep -c '^\[       OK \]' || true)
  f=$(cat "$top/$b"/tests/*.log 2>/dev/null | grep -c '^\[  FAILED  \]' || true)
  echo "$b: $t passed, $f failed"
done
