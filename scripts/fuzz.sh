#!/usr/bin/env bash
# Runs the fuzz targets of tests/fuzz/ with libFuzzer: `make fuzz` calls
#   fuzz.sh SRCDIR BUILDDIR SECONDS TARGET...
# BUILDDIR is a build of its own, configured with clang, the core's code
# instrumented for coverage and built with ASan and UBSan.  Each target
# runs for SECONDS from its seed corpus (tests/fuzz/corpus/TARGET) with
# its dictionary; what it adds to the corpus stays in BUILDDIR, as do
# findings (crash-*, leak-*, timeout-*, oom-*).  Prints executions and
# findings per target; exits 1 when anything was found.
#
# Needs clang with its libFuzzer runtime (Debian: apt-get install clang);
# installs nothing.  FUZZ_FLAGS adds libFuzzer options (-jobs=2, ...).
set -euo pipefail
src=$1 build=$2 secs=$3
shift 3

command -v clang >/dev/null || {
  echo "make fuzz needs clang: install the Debian package clang (apt-get install clang)" >&2
  exit 1
}
san="-fsanitize=address,undefined -fno-sanitize-recover=all"
mkdir -p "$build"
if [ ! -f "$build/Makefile" ]; then
  echo "fuzz: configuring a clang build in $build"
  (cd "$build" && "$src/configure" -q CC=clang \
     CFLAGS="-g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer-no-link $san" \
     LDFLAGS="$san" 2> >(grep -v "cannot remove 'core'" >&2))
fi
programs=()
for t in "$@"; do programs+=("tests/fuzz/fuzz_$t"); done
make -C "$build" -j"$(nproc)" "${programs[@]}" >/dev/null

found=0
printf '\n%-10s %14s %9s  %s\n' target executions findings "corpus (new inputs kept)"
for t in "$@"; do
  work=$build/tests/fuzz/work/$t findings=$build/tests/fuzz/findings/$t
  mkdir -p "$work" "$findings"
  log=$build/tests/fuzz/$t.log
  # libFuzzer stops at its first finding and exits non-zero: that is
  # counted below from the files it leaves, not from its status.
  "$build/tests/fuzz/fuzz_$t" -max_total_time="$secs" -timeout=10 \
    -print_final_stats=1 -dict="$src/tests/fuzz/$t.dict" \
    -artifact_prefix="$findings/" ${FUZZ_FLAGS:-} \
    "$work" "$src/tests/fuzz/corpus/$t" >"$log" 2>&1 || true
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  n=$(find "$findings" -type f \( -name 'crash-*' -o -name 'leak-*' \
        -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
  printf '%-10s %14s %9s  %s\n' "$t" "${execs:-?}" "$n" "$work ($(ls "$work" | wc -l))"
  if [ "$n" -gt 0 ] || [ -z "$execs" ]; then
    found=1
    echo "  see $log and $findings/" >&2
  fi
done
exit $found
