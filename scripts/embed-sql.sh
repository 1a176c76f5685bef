#!/bin/sh
# Writes, on stdout, the C table of the worker's schema migrations from
# their files (NNNN_name.sql, given in order), so that the library carries
# the very SQL that is shipped.
set -eu
echo "/* Made from the files of core/worker/migrations by scripts/embed-sql.sh. */"
echo '#include "worker/migrations.h"'
echo
echo "const jx__migration jx__migrations[] = {"
n=0
for f in "$@"; do
  base=$(basename "$f" .sql)
  version=$(echo "$base" | sed 's/_.*//; s/^0*//')
  echo "    {$version, \"$base\","
  sed 's/\\/\\\\/g; s/"/\\"/g; s/^/     "/; s/$/\\n"/' "$f"
  echo "    },"
  n=$((n + 1))
done
echo "};"
echo "const size_t jx__n_migrations = $n;"
