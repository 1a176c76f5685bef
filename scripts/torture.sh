#!/usr/bin/env bash
# The torture sweep, `make torture`:
#   torture.sh SRCDIR BUILDDIR [CLASS...]
# BUILDDIR is a build of its own, configured --enable-torture (the Nth
# allocation, write or sync fails on request; core/base/torture.c) and
# --enable-sanitizers (ASan, UBSan; leaks count), as scripts/fuzz.sh does
# for fuzzing: a torture build is never one to install or test otherwise.
# Builds the CLI and the plugins there, then runs tests/torture.sh, which
# prints calls, runs and failures per class and exits 1 on any failure.
set -euo pipefail
src=$1 build=$2
shift 2

mkdir -p "$build"
if [ ! -f "$build/Makefile" ]; then
  echo "torture: configuring a torture build in $build"
  (cd "$build" && "$src/configure" -q --enable-torture --enable-sanitizers \
     2> >(grep -v "cannot remove 'core'" >&2))
fi
# Two jobs at most: the sweep shares the machine.
make -C "$build" -j2 jobexec plugins/noop.la plugins/registry.la >/dev/null
exec "$src/tests/torture.sh" "$src" "$build" "$@"
