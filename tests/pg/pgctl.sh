#!/usr/bin/env bash
# A throwaway PostgreSQL for the tests: initdb into a temporary directory as
# a non-root user, listen only on a unix socket in that directory, on a
# random port.  No mocks: the tests talk to this real server.
#
#   pgctl.sh start DIR     create and start; writes DIR/url (a libpq URL)
#   pgctl.sh stop DIR      stop the server and remove DIR
#   pgctl.sh restart DIR   stop and start again (same data, same port)
#   pgctl.sh kill DIR      SIGKILL the postmaster (crash test)
set -euo pipefail
cmd=${1:?usage: pgctl.sh start|stop|restart|kill DIR}
dir=${2:?usage: pgctl.sh start|stop|restart|kill DIR}
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$bindir/initdb" ] || { echo "pgctl: PostgreSQL server binaries not found (apt-get install postgresql)" >&2; exit 1; }

# The server refuses to run as root: run it as an unprivileged user.
if [ "$(id -u)" -eq 0 ]; then
  user=postgres
  id "$user" >/dev/null 2>&1 || useradd --system --no-create-home "$user"
  as() { runuser -u "$user" -- "$@"; }
else
  user=$(id -un)
  as() { "$@"; }
fi

pg_ctl_() { as "$bindir/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 "$@"; }

case $cmd in
start)
  mkdir -p "$dir"
  chmod 755 "$dir"
  [ "$(id -u)" -eq 0 ] && chown "$user" "$dir"
  as "$bindir/initdb" -D "$dir/data" -U tillpipe --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  cp "$dir/data/postgresql.conf" "$dir/postgresql.conf.orig"
  # A random port; another server may hold it, so try a few.
  for try in 1 2 3 4 5; do
    port=$(( (RANDOM % 20000) + 30000 ))
    cp "$dir/postgresql.conf.orig" "$dir/data/postgresql.conf"
    cat >> "$dir/data/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$dir'
port = $port
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
shared_buffers = 128MB
CONF
    [ "$(id -u)" -eq 0 ] && chown "$user" "$dir/data/postgresql.conf"
    if pg_ctl_ start >/dev/null 2>&1; then break; fi
    [ "$try" -lt 5 ] || { echo "pgctl: could not start PostgreSQL (see $dir/log)" >&2; exit 1; }
  done
  as "$bindir/createdb" -h "$dir" -p "$port" -U tillpipe tillpipe
  echo "postgresql:///tillpipe?host=$dir&port=$port&user=tillpipe" > "$dir/url"
  chmod 644 "$dir/url"
  cat "$dir/url"
  ;;
stop)
  [ -d "$dir/data" ] && pg_ctl_ stop -m immediate >/dev/null 2>&1 || true
  case $dir in /tmp/*) rm -rf "$dir" ;; esac
  ;;
restart)
  pg_ctl_ restart -m fast >/dev/null
  ;;
kill)
  pid=$(head -1 "$dir/data/postmaster.pid")
  kill -9 "$pid"
  ;;
*) echo "usage: pgctl.sh start|stop|restart|kill DIR" >&2; exit 2 ;;
esac
