#!/usr/bin/env bash
# Runs a private PostgreSQL and a private Redis for the test suite, on loopback only, from one
# temporary directory, so make test works on a clean machine that has the Debian packages
# postgresql and redis-server installed (scripts/deps.sh --browser) but no servers running.
#
#   scripts/testdb.sh start DIR          create DIR, start both, print the env lines below
#   scripts/testdb.sh stop DIR           stop both and remove DIR (idempotent, never fails)
#   scripts/testdb.sh status DIR         exit 0 when both are up, 1 otherwise
#   scripts/testdb.sh pg-stop DIR        stop PostgreSQL only (an outage test)
#   scripts/testdb.sh pg-start DIR       start it again, same port and data
#   scripts/testdb.sh redis-restart DIR  restart Redis on the same port (its data is not kept)
#
# start writes DIR/env and prints the same three lines on stdout; everything else goes to stderr:
#   export PARLEY_TEST_PG=postgresql://parley@127.0.0.1:PORT/parley
#   export PARLEY_TEST_REDIS=redis://127.0.0.1:RPORT
#   export PARLEY_TEST_DB_DIR=DIR (absolute)
# Typical use, from a Makefile recipe or CI step:
#   d=$(mktemp -d) && trap 'scripts/testdb.sh stop "$d"' EXIT
#   eval "$(scripts/testdb.sh start "$d")" && ./run-the-tests
# DIR may be missing or an empty directory (mktemp -d); anything else is refused, so a typo
# can never make stop delete a directory it did not create. Several instances may run at once
# in different DIRs: each picks its own free ports.
#
# Security: the role parley is a superuser with trust authentication (initdb --auth=trust), so
# anyone who can reach the port can act as it. That is acceptable only because the server
# listens on 127.0.0.1 alone, its Unix socket lives in the private DIR/sock, and it holds nothing
# but throwaway test data for the length of a test run. Never point this at real data.
#
# As root: initdb and postgres refuse to run as root, so both servers run as the unprivileged
# "postgres" system user (created by the Debian package) and DIR is handed to that user; DIR's
# parent must then be searchable by it (/tmp and mktemp -d are). Otherwise they run as the
# current user.
set -euo pipefail

# Our own client calls name host, port and user explicitly; a caller's libpq environment (say
# PGSSLMODE=require or a PGSERVICE) must not redirect or break them.
unset PGHOST PGHOSTADDR PGPORT PGUSER PGDATABASE PGPASSWORD PGSERVICE PGSERVICEFILE \
      PGOPTIONS PGSSLMODE PGREQUIRESSL PGCONNECT_TIMEOUT PGDATA

MARKER=.parley-testdb   # proves DIR is ours before stop deletes it

die() { echo "testdb: $*" >&2; exit 1; }
say() { echo "testdb: $*" >&2; }

usage() {
  sed -n '6,11p' "$0" >&2
  exit 2
}

# ---- locating the binaries ----

# The highest installed server version wins. pg_config --bindir is only a fallback: with
# libpq-dev it may name a client-only directory that has no initdb.
find_pg_bindir() {
  local d best=""
  if [ -n "${PG_BINDIR:-}" ]; then
    [ -x "$PG_BINDIR/initdb" ] || die "PG_BINDIR=$PG_BINDIR has no initdb"
    echo "$PG_BINDIR"; return
  fi
  # shellcheck disable=SC2012  # the glob only ever matches version numbers
  best=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V |
         while read -r d; do [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && echo "$d"; done |
         tail -n 1) || true
  if [ -z "$best" ] && command -v pg_config >/dev/null 2>&1; then
    d=$(pg_config --bindir 2>/dev/null || true)
    [ -n "$d" ] && [ -x "$d/initdb" ] && best=$d
  fi
  if [ -z "$best" ] && command -v initdb >/dev/null 2>&1; then
    best=$(dirname "$(command -v initdb)")
  fi
  [ -n "$best" ] || die "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found:" \
    "install the Debian package postgresql (scripts/deps.sh --browser) or set PG_BINDIR"
  echo "$best"
}

find_tool() { # name, package to suggest
  local p
  p=$(command -v "$1" 2>/dev/null || true)
  [ -z "$p" ] && [ -x "/usr/bin/$1" ] && p=/usr/bin/$1
  [ -n "$p" ] || die "$1 not found: install the Debian package $2 (scripts/deps.sh --browser)"
  echo "$p"
}

setup_tools() {
  PGBIN=$(find_pg_bindir)
  local t
  for t in initdb pg_ctl postgres pg_isready psql; do
    [ -x "$PGBIN/$t" ] || die "$PGBIN/$t is missing: the postgresql installation is incomplete"
  done
  REDIS_SERVER=$(find_tool redis-server redis-server)
  REDIS_CLI=$(find_tool redis-cli redis-tools)
  if [ "$(id -u)" = 0 ]; then
    command -v runuser >/dev/null 2>&1 || die "running as root needs runuser (util-linux)"
    id -u postgres >/dev/null 2>&1 || die "running as root needs the 'postgres' system user" \
      "(created by the Debian package postgresql): initdb and postgres refuse to run as root"
    RUN_AS=(runuser -u postgres --)
  else
    RUN_AS=()
  fi
}

# Runs a server-side command as the service user, from inside DIR: the caller's working
# directory (often /root) may be unreadable to that user, and initdb and pg_ctl complain.
as_svc() { (cd "$DIR" && "${RUN_AS[@]}" "$@"); }

# ---- directory and ports ----

set_dir() {
  [ -n "${1:-}" ] || usage
  case "$1" in /*) DIR=$1 ;; *) DIR=$PWD/$1 ;; esac
  DIR=${DIR%/}
  # The path ends up quoted in postgresql.conf and as a Unix socket path: keep it plain.
  [[ "$DIR" =~ ^[A-Za-z0-9._/+-]+$ ]] ||
    die "DIR must be a plain path (letters, digits, . _ / + -): $DIR"
  if [ "$DIR" = "" ] || [ "$DIR" = "/" ]; then die "refusing DIR=/"; fi
  # Unix socket paths are limited to 107 bytes; ours is DIR/sock/.s.PGSQL.NNNNN.
  [ $((${#DIR} + 20)) -le 107 ] || die "DIR path too long for a Unix socket path: $DIR"
}

port_busy() {
  local p=$1
  if command -v ss >/dev/null 2>&1; then
    [ -n "$(ss -Htln "sport = :$p" 2>/dev/null)" ] && return 0
  fi
  # Something that accepts a connection is busy too (and covers machines without ss).
  (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && return 0
  return 1
}

# 20000-32767 sits below Linux's default ephemeral range (32768-60999), so outgoing
# connections do not take our ports from under us. Two instances racing for the same port is
# still possible; each start retries with a new port when the bind fails.
pick_port() {
  local p
  for _ in $(seq 1 200); do
    p=$((20000 + RANDOM % 12768))
    port_busy "$p" || { echo "$p"; return 0; }
  done
  die "no free port found in 20000-32767"
}

# ---- PostgreSQL ----

pg_port() { cat "$DIR/pg.port" 2>/dev/null || true; }

pg_running() {
  [ -f "$DIR/pg/postmaster.pid" ] && as_svc "$PGBIN/pg_ctl" status -D "$DIR/pg" >/dev/null 2>&1
}

# Settings live in a file of their own, included from postgresql.conf, so pg-start reuses the
# same port and options without having to repeat them on a command line.
write_pg_conf() {
  local port=$1
  cat >"$DIR/pg/parley_test.conf" <<EOF
# Written by scripts/testdb.sh: a private test server, loopback only.
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$DIR/sock'
unix_socket_permissions = 0700
# Durability tests kill the server and expect committed data to survive: keep fsync on.
fsync = on
synchronous_commit = on
# Tests run in parallel, each with its own database and store connections.
max_connections = 300
shared_buffers = 128MB
EOF
  [ ${#RUN_AS[@]} -eq 0 ] || chown postgres: "$DIR/pg/parley_test.conf"
  echo "$port" >"$DIR/pg.port"
}

pg_start_on() { # port; returns 0 up, 1 port taken, dies on anything else
  local port=$1
  write_pg_conf "$port"
  : >"$DIR/pg.log"
  [ ${#RUN_AS[@]} -eq 0 ] || chown postgres: "$DIR/pg.log"
  if as_svc "$PGBIN/pg_ctl" start -w -t 60 -D "$DIR/pg" -l "$DIR/pg.log" >/dev/null 2>&1; then
    return 0
  fi
  if grep -q "could not bind\|Address already in use" "$DIR/pg.log" 2>/dev/null; then
    return 1
  fi
  tail -n 20 "$DIR/pg.log" >&2 || true
  die "postgres failed to start (log: $DIR/pg.log)"
}

pg_wait_ready() {
  local port=$1
  for _ in $(seq 1 100); do
    "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$port" -U parley -d postgres && return 0
    sleep 0.1
  done
  die "postgres on 127.0.0.1:$port did not accept connections (log: $DIR/pg.log)"
}

pg_init() {
  mkdir -m 0700 "$DIR/pg" "$DIR/sock"
  [ ${#RUN_AS[@]} -eq 0 ] || chown postgres: "$DIR/pg" "$DIR/sock"
  # --auth=trust: see the security note at the top (loopback only, private socket dir).
  # -U parley makes the test role the bootstrap superuser, so no separate createuser.
  # --no-sync only skips syncing initdb's own files; the running server keeps fsync on.
  as_svc "$PGBIN/initdb" -D "$DIR/pg" -U parley --auth=trust -E UTF8 --locale=C --no-sync \
    >"$DIR/initdb.log" 2>&1 || { tail -n 20 "$DIR/initdb.log" >&2; die "initdb failed"; }
  echo "include 'parley_test.conf'" >>"$DIR/pg/postgresql.conf"
}

pg_start_new() {
  local port
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    port=$(pick_port)
    if pg_start_on "$port"; then
      pg_wait_ready "$port"
      PG_PORT=$port
      return 0
    fi
    say "port $port was taken, trying another"
  done
  die "postgres could not bind a free port after 10 tries"
}

pg_stop() {
  [ -d "$DIR/pg" ] || return 0
  if [ -f "$DIR/pg/postmaster.pid" ]; then
    as_svc "$PGBIN/pg_ctl" stop -D "$DIR/pg" -m fast -w -t 30 >/dev/null 2>&1 ||
      as_svc "$PGBIN/pg_ctl" stop -D "$DIR/pg" -m immediate -w -t 30 >/dev/null 2>&1 || true
  fi
  # Last resort, for a postmaster that pg_ctl could not stop (say, the bindir went away).
  local pid
  pid=$(head -n 1 "$DIR/pg/postmaster.pid" 2>/dev/null || true)
  # SIGQUIT is postgres's immediate shutdown, which also ends its children.

  if [[ "$pid" =~ ^[0-9]+$ ]] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = postgres ]; then
    kill -QUIT "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  return 0
}

# ---- Redis ----

redis_port() { cat "$DIR/redis.port" 2>/dev/null || true; }
redis_pid() { cat "$DIR/redis/redis.pid" 2>/dev/null || true; }

# Up means: answers on its port AND is the process we started, not some other server that
# happens to own the port after ours failed to bind.
redis_up() {
  local port pid got
  port=$(redis_port); pid=$(redis_pid)
  [ -n "$port" ] && [ -n "$pid" ] || return 1
  got=$("$REDIS_CLI" -h 127.0.0.1 -p "$port" info server 2>/dev/null |
        tr -d '\r' | sed -n 's/^process_id://p') || true
  [ "$got" = "$pid" ]
}

redis_start_on() { # port; returns 0 up, 1 port taken, dies on anything else
  local port=$1 bg
  echo "$port" >"$DIR/redis.port"
  rm -f "$DIR/redis/redis.pid"
  : >"$DIR/redis.log"
  [ ${#RUN_AS[@]} -eq 0 ] || chown postgres: "$DIR/redis.log"
  # Foreground mode in the background: a bind failure then shows as the process exiting,
  # instead of a daemonized child dying unseen. setsid keeps a Ctrl-C aimed at the caller's
  # terminal from reaching it, as pg_ctl does for postgres; stop is what ends it. No
  # persistence: test data must not outlive a run. All output goes to the log, so a caller
  # capturing our stdout ($(...)) is not held open by the server.
  # shellcheck disable=SC2094  # both append; redis reopens its --logfile itself
  setsid -w "${RUN_AS[@]}" "$REDIS_SERVER" --bind 127.0.0.1 --port "$port" --save '' \
    --appendonly no --dir "$DIR/redis" --daemonize no --pidfile "$DIR/redis/redis.pid" \
    --logfile "$DIR/redis.log" </dev/null >>"$DIR/redis.log" 2>&1 &
  bg=$!
  for _ in $(seq 1 100); do
    redis_up && return 0
    if ! kill -0 "$bg" 2>/dev/null; then
      grep -q "Address already in use" "$DIR/redis.log" 2>/dev/null && return 1
      tail -n 20 "$DIR/redis.log" >&2 || true
      die "redis-server failed to start (log: $DIR/redis.log)"
    fi
    sleep 0.1
  done
  kill "$bg" 2>/dev/null || true
  die "redis-server on 127.0.0.1:$port did not answer within 10 s (log: $DIR/redis.log)"
}

redis_start_new() {
  local port
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    port=$(pick_port)
    if redis_start_on "$port"; then REDIS_PORT=$port; return 0; fi
    say "port $port was taken, trying another"
  done
  die "redis-server could not bind a free port after 10 tries"
}

redis_stop() {
  local pid
  pid=$(redis_pid)
  [[ "$pid" =~ ^[0-9]+$ ]] || return 0
  # Only signal the pid if it is still a redis-server: after a reboot it may be reused.
  case "$(cat "/proc/$pid/comm" 2>/dev/null || true)" in redis-server*) ;; *) return 0 ;; esac
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$DIR/redis/redis.pid"; return 0; }
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$DIR/redis/redis.pid"
  return 0
}

# ---- subcommands ----

write_env() {
  local pg="export PARLEY_TEST_PG=postgresql://parley@127.0.0.1:$PG_PORT/parley"
  local rd="export PARLEY_TEST_REDIS=redis://127.0.0.1:$REDIS_PORT"
  # The outage tests stop and start this PostgreSQL through the script: they need DIR.
  local dd="export PARLEY_TEST_DB_DIR=$(cd "$DIR" && pwd)"
  printf '%s\n%s\n%s\n' "$pg" "$rd" "$dd" >"$DIR/env"
  printf '%s\n%s\n%s\n' "$pg" "$rd" "$dd"
}

start_failed() {
  local rc=$?
  [ "$rc" -ne 0 ] || return 0
  redis_stop
  pg_stop
  say "start failed; logs are in $DIR (remove with: $0 stop $DIR)"
}

cmd_start() {
  setup_tools
  if [ -e "$DIR" ]; then
    [ -d "$DIR" ] || die "$DIR exists and is not a directory"
    [ -f "$DIR/$MARKER" ] && die "$DIR is already in use: run 'stop $DIR' first"
    [ -z "$(ls -A "$DIR")" ] || die "$DIR is not empty; give a new or empty directory"
  fi
  mkdir -p "$DIR"
  chmod 0700 "$DIR"
  : >"$DIR/$MARKER"
  mkdir -m 0700 "$DIR/redis"
  if [ ${#RUN_AS[@]} -gt 0 ]; then
    chown -R postgres: "$DIR"
    "${RUN_AS[@]}" test -w "$DIR" -a -x "$DIR" 2>/dev/null ||
      die "user postgres cannot reach $DIR: a parent directory is not searchable by it" \
        "(use a directory under /tmp, e.g. mktemp -d)"
  fi
  # A half-started pair would otherwise keep running with nobody to stop it.
  trap start_failed EXIT
  pg_init
  pg_start_new
  "$PGBIN/psql" -q -X -h 127.0.0.1 -p "$PG_PORT" -U parley -d postgres -v ON_ERROR_STOP=1 \
    -c 'CREATE DATABASE parley' >/dev/null || die "could not create database parley"
  redis_start_new
  write_env
  trap - EXIT
}

need_started() {
  [ -f "$DIR/$MARKER" ] || die "$DIR was not set up by '$0 start'"
}

cmd_stop() {
  [ -e "$DIR" ] || return 0
  if [ ! -f "$DIR/$MARKER" ]; then
    # Never delete what start did not make; an empty leftover directory is harmless to remove.
    rmdir "$DIR" 2>/dev/null || say "$DIR was not made by '$0 start'; left untouched"
    return 0
  fi
  # Stopping works even when the binaries have gone: fall back to signals.
  PGBIN=$(find_pg_bindir 2>/dev/null || echo /nonexistent)
  if [ "$(id -u)" = 0 ] && id -u postgres >/dev/null 2>&1; then RUN_AS=(runuser -u postgres --)
  else RUN_AS=(); fi
  redis_stop
  pg_stop
  rm -rf "$DIR"
  return 0
}

cmd_status() {
  need_started
  setup_tools
  local ok=0 port
  port=$(pg_port)
  if [ -n "$port" ] && pg_running &&
     "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$port" -U parley -d parley; then
    say "postgres up on 127.0.0.1:$port"
  else
    say "postgres down"; ok=1
  fi
  if redis_up; then say "redis up on 127.0.0.1:$(redis_port)"; else say "redis down"; ok=1; fi
  return $ok
}

cmd_pg_stop() {
  need_started
  setup_tools
  pg_stop
}

cmd_pg_start() {
  need_started
  setup_tools
  local port
  port=$(pg_port)
  [ -n "$port" ] || die "no recorded PostgreSQL port in $DIR"
  if pg_running; then pg_wait_ready "$port"; return 0; fi
  pg_start_on "$port" || die "port $port is now taken by another process; cannot restart" \
    "PostgreSQL on the same port"
  pg_wait_ready "$port"
}

cmd_redis_restart() {
  need_started
  setup_tools
  local port
  port=$(redis_port)
  [ -n "$port" ] || die "no recorded Redis port in $DIR"
  redis_stop
  redis_start_on "$port" || die "port $port is now taken by another process; cannot restart" \
    "Redis on the same port"
}

[ $# -eq 2 ] || usage
set_dir "$2"
case "$1" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  pg-stop) cmd_pg_stop ;;
  pg-start) cmd_pg_start ;;
  redis-restart) cmd_redis_restart ;;
  *) usage ;;
esac
