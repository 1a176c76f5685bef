#!/usr/bin/env bash
# Installs the Debian packages jobexec needs to build and test, when any is
# missing.  Safe to run again: it does nothing when all are present.
set -euo pipefail

packages=(
  build-essential pkg-config autoconf automake libtool libltdl-dev
  libyaml-dev libjansson-dev uuid-dev libssl-dev libsodium-dev libcmocka-dev
  libsqlite3-dev libpq-dev
  postgresql      # make check and make bench-worker: a throw-away server
  mandoc          # make check: the man pages' lint
  cppcheck clang-tidy   # scripts/test.sh: static analysis (scripts/lint.sh)
  clang           # make fuzz: libFuzzer (shares LLVM with clang-tidy)
  python3         # make bench: the reference executor's model (json, uuid
                  # and dataclasses are not in python3-minimal)
  jq              # make torture: the driver compares documents
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "jobexec: installing ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "jobexec: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  sudo=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
