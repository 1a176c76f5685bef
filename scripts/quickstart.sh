#!/usr/bin/env bash
# Installs what is missing, builds, and runs the example plan on the
# default config: a job on the shipped registry and exec handlers, which
# leaves the registry as it found it, so it runs any number of times.  The
# evidence document is printed on stdout.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/build.sh"
# The build tree's state folder: the registry database of the example job.
mkdir -p "$top/_build/state"
exec "$top/_build/jobexec" run "$top/conf/example-plan.yaml"
