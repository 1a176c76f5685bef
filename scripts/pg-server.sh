#!/usr/bin/env bash
# A throw-away PostgreSQL server for tests and benchmarks.
#
#   pg-server.sh start DIR   initdb into DIR/data, start the server on a
#                            free port of 127.0.0.1 and a Unix socket in DIR,
#                            print its connection string on stdout
#   pg-server.sh stop DIR    stop it and remove DIR
#
# Installs Debian's postgresql when no server is found.  The server runs as
# the calling user, or as "postgres" when called as root (PostgreSQL refuses
# to run as root).  Nothing outside DIR is touched.
set -euo pipefail

die() { echo "pg-server: $*" >&2; exit 1; }

bindir() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$d" ] && [ -x "$d/initdb" ] && { echo "$d"; return; }
  command -v initdb >/dev/null && { dirname "$(command -v initdb)"; return; }
  return 1
}

install_server() {
  echo "pg-server: installing postgresql" >&2
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends postgresql >/dev/null
}

# Runs a server program as the server's user.
as_server() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

free_port() {
  local p
  for _ in $(seq 1 50); do
    p=$((20000 + RANDOM % 30000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
  die "no free port found on 127.0.0.1"
}

start() {
  local dir=$1 bin port user
  bin=$(bindir) || { install_server; bin=$(bindir) || die "initdb not found after installing postgresql"; }
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  user=$(id -un)
  if [ "$(id -u)" -eq 0 ]; then
    getent passwd postgres >/dev/null || die "user postgres missing (is postgresql installed?)"
    chown postgres: "$dir"
    user=postgres
  fi
  as_server "$bin/initdb" -D "$dir/data" -U "$user" -A trust -E UTF8 \
    --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
  for _ in 1 2 3; do
    port=$(free_port)
    if as_server "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
         -o "-c listen_addresses=127.0.0.1 -c port=$port \
             -c unix_socket_directories='$dir' -c max_connections=300 \
             -c shared_buffers=128MB" start >/dev/null 2>&1; then
      echo "host=$dir port=$port user=$user dbname=postgres"
      return
    fi
  done
  cat "$dir/server.log" >&2
  die "the server did not start"
}

stop() {
  local dir=$1 bin
  bin=$(bindir) || die "initdb not found"
  if [ -f "$dir/data/postmaster.pid" ]; then
    as_server "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
}

[ $# -eq 2 ] || die "usage: pg-server.sh start|stop DIR"
case $1 in
  start) start "$2" ;;
  stop) stop "$2" ;;
  *) die "usage: pg-server.sh start|stop DIR" ;;
esac
