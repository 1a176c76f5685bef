#!/usr/bin/env bash
# The torture sweep: runs each of two jobs (tests/data/torture/) with a
# torture build's jobexec (configure --enable-torture, see
# core/base/torture.c) once plainly, to count the calls of each class it
# makes, then once for every N from 1 to that count with the Nth call of
# the class failing:
#   tests/torture.sh SRCDIR BUILDDIR [CLASS...]  (alloc write write-eio sync)
# The jobs: plan.yaml, registry and noop steps, in every class; long.yaml,
# 80 noop steps, long enough to take the evidence log alone and append
# through a mapping, in every class but alloc (its allocations are
# plan.yaml's, many times over).
# Each run must end as a run may end on a sick machine:
#   - the process exits (no signal) with a documented status, 0 to 3;
#   - no sanitizer report (ASan, LSan - leaks count - or UBSan);
#   - standard error ends with one "jobexec: ..." line;
#   - a run that exits 0 prints a document with every member the plain
#     run's has, unless a "jobexec: warning: " line says why not;
#   - `jobexec evidence verify` of its log, run without injection, says
#     valid (exit 0) or incomplete (exit 1, no "tampered"); a run that
#     exits 0 must leave a valid log.  No log at all is fine for a run that
#     did not exit 0 (it failed before the log was opened).
# TORTURE_STRIDE=K runs every Kth N only (N = 1, 1+K, ...); TORTURE_MAX=M
# stops at N = M.  A failing run's files stay in BUILDDIR/torture/JOB-CLASS-N/
# (stdout, stderr, the log, verify's output and why it failed).  Prints a
# summary per class; exits 1 when any run failed.
set -uo pipefail
command -v jq >/dev/null || {
  echo "torture: needs jq: install the Debian package jq" >&2; exit 1; }
src=$1 build=$2
shift 2
classes=("$@")
[ ${#classes[@]} -gt 0 ] || classes=(alloc write write-eio sync)
stride=${TORTURE_STRIDE:-1}
max=${TORTURE_MAX:-0}
work=$build/torture
jobexec=$build/jobexec

# Sanitizer reports get exit statuses of their own, outside 0-3, and are
# also looked for in stderr.
export ASAN_OPTIONS=detect_leaks=1:exitcode=86:abort_on_error=0
# use_tls=0: LeakSanitizer's own tracer crashes here on a dynamic TLS
# entry of a dlopen'd plugin ("DTLS 8 at 0x15f", SIGSEGV, exit 87 on a
# clean run).  Not scanning TLS can only report more leaks, never fewer:
# what only a thread-local points to counts as leaked.  That includes the
# dynamic TLS blocks themselves, which LeakSanitizer's built-in
# suppression (*tls_get_addr*) covers; print_suppressions=0 keeps its
# summary off stderr, where a run must print nothing else.
export LSAN_OPTIONS=exitcode=87:use_tls=0:print_suppressions=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=88

rm -rf "$work"
mkdir -p "$work"

# A fresh folder with its config: an empty registry, no evidence log.
prepare() {
  rm -rf "$1"
  mkdir -p "$1"
  sed -e "s|@dir@|$1|g" -e "s|@plugindir@|$build/plugins/.libs|g" \
    "$src/tests/data/torture/config.yaml.in" >"$1/config.yaml"
}

# run DIR PLAN [JX_TORTURE value]: the job, its output in DIR; sets
# $status.
run_job() {
  local dir=$1 plan=$2 inject=${3:-}
  JX_TORTURE=$inject JX_TORTURE_COUNT=$dir/count \
    "$jobexec" run --config "$dir/config.yaml" --progress none "$plan" \
    >"$dir/stdout" 2>"$dir/stderr" </dev/null
  status=$?
}

# The members of the evidence document in FILE, as paths: its shape.
shape() {
  jq -r 'paths | map(tostring) | join("/")' "$1" 2>/dev/null || echo unparsable
}

# check DIR: why the run in DIR is wrong, or nothing.
check() {
  local dir=$1 last vstatus
  if [ "$status" -gt 3 ]; then
    if [ "$status" -gt 128 ]; then
      echo "killed by signal $((status - 128))"
    else
      echo "exit status $status (not one of 0-3)"
    fi
    return
  fi
  if grep -q 'Sanitizer\|runtime error:\|Segmentation\|Aborted' "$dir/stderr"; then
    echo "sanitizer report: $(grep -m1 'Sanitizer\|runtime error:' "$dir/stderr")"
    return
  fi
  last=$(tail -n 1 "$dir/stderr")
  case $last in
    jobexec:\ ?*) ;;
    '') echo "exit $status with nothing on stderr"; return ;;
    *) echo "stderr does not end with a 'jobexec: ' line: $last"; return ;;
  esac
  # A completed job's document has every member the plain run's has,
  # unless a warning said what is missing (a health snapshot that could
  # not be taken): a member left out in silence is evidence lost.
  if [ "$status" -eq 0 ] && ! grep -q '^jobexec: warning: ' "$dir/stderr" &&
     [ "$(shape "$dir/stdout")" != "$(shape "$baseline/stdout")" ]; then
    echo "exit 0 with no warning, but the document differs: $(diff \
      <(shape "$baseline/stdout") <(shape "$dir/stdout") |
      sed -n 's/^</lacks/p; s/^>/adds/p' | head -n 3 | tr '\n' ' ')"
    return
  fi
  if [ ! -e "$dir/evidence.jsonl" ]; then
    [ "$status" -ne 0 ] || echo "exit 0 but no evidence log"
    return
  fi
  "$jobexec" evidence verify "$dir/evidence.jsonl" >"$dir/verify" 2>&1
  vstatus=$?
  if [ "$vstatus" -eq 0 ]; then
    return
  elif [ "$status" -eq 0 ] && [ "$vstatus" -eq 1 ] &&
       grep -q '^jobexec: warning: .*: cannot cut the preallocated tail: ' \
         "$dir/stderr" &&
       grep -q ' valid, 0 incomplete, 0 tampered$' "$dir/verify"; then
    # The job is whole and every record verifies; the zero tail a failed
    # ftruncate left is said on stderr, verify calls it a torn line, and
    # the next writer cuts it.
    return
  elif [ "$vstatus" -eq 1 ] && ! grep -q tampered: "$dir/verify" &&
       grep -q incomplete "$dir/verify"; then
    [ "$status" -ne 0 ] || echo "exit 0 but the log is incomplete: $(head -n 1 "$dir/verify")"
  else
    echo "log neither valid nor incomplete (verify exit $vstatus): $(head -n 1 "$dir/verify")"
  fi
}

total_failed=0
summary=()

# sweep JOB CLASS...: the job tests/data/torture/JOB.yaml, plainly and
# then failing each call of each class in turn.
sweep() {
  local job=$1 plan=$src/tests/data/torture/$1.yaml class counted suffix
  local calls last runs failed absorbed start n dir why
  shift
  baseline=$work/$job-baseline
  prepare "$baseline"
  run_job "$baseline" "$plan"
  why=$(check "$baseline")
  if [ "$status" -ne 0 ] || [ -n "$why" ] || [ ! -s "$baseline/count" ]; then
    echo "torture: $job without injection must complete (exit $status): ${why:-no count written}" >&2
    cat "$baseline/stderr" >&2
    exit 1
  fi
  for class in "$@"; do
    # write-eio: the writes again, failing with EIO instead of ENOSPC.
    counted=${class%-eio} suffix=
    [ "$class" = "$counted" ] || suffix=:eio
    calls=$(sed -n "s/^$counted //p" "$baseline/count")
    [ -n "$calls" ] || { echo "torture: no class '$class'" >&2; exit 1; }
    last=$calls
    [ "$max" -gt 0 ] && [ "$max" -lt "$last" ] && last=$max
    runs=0 failed=0 absorbed=0 start=$SECONDS
    for ((n = 1; n <= last; n += stride)); do
      dir=$work/$job-$class-$n
      prepare "$dir"
      run_job "$dir" "$plan" "$counted:$n$suffix"
      why=$(check "$dir")
      runs=$((runs + 1))
      [ "$status" -eq 0 ] && absorbed=$((absorbed + 1))
      if [ -n "$why" ]; then
        failed=$((failed + 1))
        echo "$why" >"$dir/why"
        echo "FAIL $job $class:$n exit $status: $why"
      else
        rm -rf "$dir"
      fi
    done
    total_failed=$((total_failed + failed))
    summary+=("$(printf '%-5s %-9s %8s %6s %9s %9s %6ss' "$job" "$class" \
      "$calls" "$runs" "$failed" "$absorbed" "$((SECONDS - start))")")
  done
}

long_classes=()
for class in "${classes[@]}"; do
  [ "$class" = alloc ] || long_classes+=("$class")
done
sweep plan "${classes[@]}"
[ ${#long_classes[@]} -eq 0 ] || sweep long "${long_classes[@]}"

printf '\n%-5s %-9s %8s %6s %9s %9s %7s\n' job class calls runs failures \
  "exit 0" time
printf '%s\n' "${summary[@]}"
[ "$total_failed" -eq 0 ] || echo "failing runs are kept in $work/JOB-CLASS-N/" >&2
[ "$total_failed" -eq 0 ]
