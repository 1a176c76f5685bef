#!/usr/bin/env bash
# Static analysis of core/ and plugins/: cppcheck (its checks and
# suppressions in .cppcheck) and clang-tidy (the checks of .clang-tidy).
# Any finding fails the run.  Needs a configured build folder, $1 (default
# _build), for config.h and <jobexec/version.h>.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$top/_build}" && pwd)
jobs=$(nproc)

[ -f "$build/config.h" ] || { echo "lint: $build is not a configured build" >&2; exit 1; }
for tool in cppcheck clang-tidy; do
  command -v "$tool" >/dev/null \
    || { echo "lint: $tool not found: install the Debian package $tool" >&2; exit 1; }
done

cd "$top"
files=(core/*/*.c plugins/*/*.c)
# The flags the build gives these files; the paths the build defines
# (plugin folder, runner, ...) only need to be strings here.
flags=(-D_GNU_SOURCE -I"$top/include" -I"$top/core" -I"$build" -I"$build/include")
for dir in $(pkg-config --cflags-only-I yaml-0.1 jansson uuid libcrypto \
               libsodium sqlite3 libpq); do
  flags+=("$dir")
done
for name in PLUGINDIR RUNNER SYSCONFDIR BUILD_TREE BUILD_CONFIG \
            BUILD_PLUGINDIR BUILD_RUNNER; do
  flags+=("-DJX__$name=\"/lint\"")
done

echo "cppcheck: ${#files[@]} files"
cppcheck --quiet --error-exitcode=1 -j"$jobs" --std=c11 \
  --enable=warning,style,performance,portability --inline-suppr \
  --suppressions-list="$top/.cppcheck" "${flags[@]}" "${files[@]}"

# clang-tidy reads each file's flags from a compilation database.
db=$build/lint
mkdir -p "$db"
{
  echo "["
  sep=""
  for f in "${files[@]}"; do
    printf '%s{"directory":"%s","file":"%s","arguments":["cc","-std=gnu11"' \
      "$sep" "$top" "$f"
    for a in "${flags[@]}"; do printf ',"%s"' "${a//\"/\\\"}"; done
    printf ',"-c","%s"]}\n' "$f"
    sep=","
  done
  echo "]"
} > "$db/compile_commands.json"

echo "clang-tidy: ${#files[@]} files, $jobs at a time"
printf '%s\n' "${files[@]}" |
  xargs -P"$jobs" -n4 clang-tidy --quiet -p "$db" --warnings-as-errors='*' \
    2> >(grep -v '^[0-9]* warnings\? \(and [0-9]* errors\? \)\?generated\.$' >&2)
echo "lint: no findings"
