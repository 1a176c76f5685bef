#!/usr/bin/env bash
# Installs what is missing, builds, checks core/ and plugins/ with cppcheck
# and clang-tidy (any finding fails), and runs the whole test suite twice:
# under AddressSanitizer + UndefinedBehaviorSanitizer (leaks count), and
# plainly as `make distcheck` (the release tarball builds and passes).  A
# plain `make check` in _build/ would run the very suite distcheck runs,
# from the same sources, so it is left out.
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

step "test suite under ASan + UBSan"
"$top/scripts/build.sh" "$top/_build-asan" --enable-sanitizers
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  make -C "$top/_build-asan" -j"$jobs" check || show_failures "$top/_build-asan"

step "test suite from the release tarball (make distcheck)"
# distcheck builds in jobexec-VERSION/_build/sub and keeps it when its
# suite fails, so the failing suites' logs can be shown from there.
make -C "$top/_build" -j"$jobs" distcheck >"$top/_build/distcheck.out" \
  2>"$top/_build/distcheck.err" || {
  cat "$top/_build/distcheck.err"
  for sub in "$top"/_build/jobexec-*/_build/sub; do
    [ -d "$sub" ] && show_failures "$sub"
  done
  exit 1
}
grep '^# \(TOTAL\|PASS\|FAIL\|ERROR\):' "$top/_build/distcheck.out"
echo "distcheck: the release tarball builds and passes its suite"

step "summary"
t=$(cat "$top"/_build-asan/tests/*.log | grep -c '^\[       OK \]' || true)
f=$(cat "$top"/_build-asan/tests/*.log | grep -c '^\[  FAILED  \]' || true)
echo "ASan + UBSan: $t tests passed, $f failed"
echo "plain (distcheck): $(sed -n 's/^# PASS: *//p' "$top/_build/distcheck.out") suites passed"
