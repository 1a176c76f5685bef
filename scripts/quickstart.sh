#!/usr/bin/env bash
# Installs what is missing, builds, and runs the example plan on the
# default config.  The evidence document is printed on stdout.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/build.sh"
exec "$top/_build/jobexec" run "$top/conf/example-plan.yaml"
