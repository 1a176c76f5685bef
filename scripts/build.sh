#!/usr/bin/env bash
# Builds jobexec out of tree in _build/ (or $1), after installing what is
# missing.  The source tree itself is never configured, so several build
# folders (plain, sanitizers) can live side by side.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/_build}
shift || true

"$top/scripts/deps.sh"
if [ ! -x "$top/configure" ] || [ "$top/configure.ac" -nt "$top/configure" ] \
   || [ "$top/Makefile.am" -nt "$top/Makefile.in" ] \
   || [ "$top/tests/Makefile.inc" -nt "$top/Makefile.in" ]; then
  (cd "$top" && mkdir -p m4 && autoreconf -fi >/dev/null 2>&1) \
    || (cd "$top" && autoreconf -fi)
fi
mkdir -p "$build"
cd "$build"
if [ ! -f Makefile ]; then
  # configure's own clean-up tries to remove files named "core"; our core/
  # folder makes it say so harmlessly, which is filtered out here.
  "$top/configure" -q "$@" 2> >(grep -v "cannot remove 'core'" >&2)
fi
make -j"$(nproc)" >/dev/null
