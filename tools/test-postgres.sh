#!/usr/bin/env bash
# A throwaway PostgreSQL 15 + pgvector server for the HouseSimilarity tests (Debian 12).
# Usage: tools/test-postgres.sh [start|stop|status|restart|env]   (default: start)
# Idempotent: every step is skipped when already done, so a re-run takes about a second.
# Progress goes to stderr; `start` prints only the connection string, on stdout.
set -euo pipefail

PGBIN=/usr/lib/postgresql/15/bin; PG_CONFIG=$PGBIN/pg_config
PORT=${HOUSESIM_PG_PORT:-55432}
DATA=${HOUSESIM_PG_DATA:-/tmp/housesim-pg}; DATA=${DATA%/}
LOG=$DATA.log
PASSWORD=housesim
CONN="Host=127.0.0.1;Port=$PORT;Database=housesim;Username=postgres;Password=$PASSWORD"

say() { echo "test-postgres: $*" >&2; }
die() { echo "test-postgres: error: $*" >&2; exit 1; }

# Installing needs root; use sudo only when we are not root and it exists.
as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else die "need root (or sudo) to run: $*"; fi
}

# postgres refuses to run as root, so root runs the cluster as the postgres user;
# anyone else runs it as themselves. An existing cluster keeps its owner.
if [ "$(id -u)" = 0 ]; then OWNER=postgres; else OWNER=$(id -un); fi
[ -f "$DATA/PG_VERSION" ] && OWNER=$(stat -c %U "$DATA")
as_owner() {
  if [ "$OWNER" = "$(id -un)" ]; then "$@"
  elif [ "$(id -u)" = 0 ]; then runuser -u "$OWNER" -- "$@"
  elif command -v sudo >/dev/null; then sudo -u "$OWNER" -- "$@"
  else die "$DATA belongs to $OWNER; run as root or $OWNER, or remove it"; fi
}

[ -x "$PGBIN/pg_ctl" ] || die "PostgreSQL 15 server not found in $PGBIN (apt-get install postgresql-15)"

# Local socket connections use trust, so no password is needed here.
psql_local() { "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h /tmp -p "$PORT" -U postgres "$@"; }
running() { as_owner "$PGBIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; }

install_pgvector() {
  [ -f "$("$PG_CONFIG" --sharedir)/extension/vector.control" ] && return
  say "building pgvector (first run only)"
  # Headers for building extensions; apt-get update only when something must be installed.
  if [ ! -f "$("$PG_CONFIG" --includedir-server)/postgres.h" ]; then
    as_root apt-get update -q >&2
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql-server-dev-15 >&2
  fi
  # Debian 12 ships no pgvector; Debian 13's source package (0.8.0) builds fine against PG 15.
  # A private apt state dir fetches it without touching the system's sources.
  d=$(mktemp -d)   # global, so the EXIT trap can still see it; apt (as root) may leave root-owned files
  trap 'rm -rf "$d" 2>/dev/null || as_root rm -rf "$d"' EXIT
  mkdir -p "$d/lists/partial" "$d/parts"
  printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: trixie\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    > "$d/parts/trixie-src.sources"
  local o=(-oDir::Etc::SourceList=/dev/null "-oDir::Etc::SourceParts=$d/parts" "-oDir::State::Lists=$d/lists"
           -oAPT::Sandbox::User=root)   # _apt cannot read our private temp dir
  as_root apt-get "${o[@]}" update -q >&2 || die "could not fetch the Debian trixie source index"
  (cd "$d" && as_root apt-get "${o[@]}" source --download-only pgvector >&2) || die "could not download pgvector source"
  tar xzf "$d"/pgvector_*.orig.tar.gz -C "$d"
  # OPTFLAGS="" drops -march=native so the build runs on any x86-64.
  make -s -C "$d"/pgvector-*/ PG_CONFIG="$PG_CONFIG" OPTFLAGS="" >&2
  as_root make -s -C "$d"/pgvector-*/ PG_CONFIG="$PG_CONFIG" OPTFLAGS="" install >&2
}

init_cluster() {
  [ -f "$DATA/PG_VERSION" ] && return
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
    install -d -o "$OWNER" -m 700 "$DATA"
  else
    mkdir -p "$DATA" && chmod 700 "$DATA"
  fi
  say "initialising cluster in $DATA"
  local pw; pw=$(mktemp)
  printf '%s\n' "$PASSWORD" > "$pw"; chmod 644 "$pw"   # readable by the cluster owner
  # TCP needs the password (tests check a wrong one fails); the local socket is trusted.
  as_owner "$PGBIN/initdb" -D "$DATA" -U postgres --pwfile="$pw" -E UTF8 \
    --auth-local=trust --auth-host=scram-sha-256 >"$LOG.initdb" 2>&1 \
    || { rm -f "$pw"; cat "$LOG.initdb" >&2; die "initdb failed"; }
  rm -f "$pw"
}

wait_ready() {
  for _ in $(seq 60); do
    "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" && return
    sleep 0.5
  done
  tail -n 20 "$LOG" >&2 || true
  die "server not ready on 127.0.0.1:$PORT after 30 s (log: $LOG)"
}

# Listen on loopback only; socket in /tmp. Passed on every start so HOUSESIM_PG_PORT wins.
OPTS="-p $PORT -h 127.0.0.1 -k /tmp"

start() {
  install_pgvector
  init_cluster
  if ! running; then
    if [ "$(id -u)" = 0 ]; then touch "$LOG"; chown "$OWNER" "$LOG"; fi
    as_owner "$PGBIN/pg_ctl" -D "$DATA" -o "$OPTS" -l "$LOG" -w -t 30 start >/dev/null \
      || { tail -n 20 "$LOG" >&2; die "pg_ctl start failed (port $PORT in use? log: $LOG)"; }
  fi
  wait_ready
  # Cheap, so done every time: it also repairs a half-finished earlier run.
  [ "$(psql_local -d postgres -Atc "SELECT 1 FROM pg_database WHERE datname='housesim'")" = 1 ] \
    || psql_local -d postgres -c 'CREATE DATABASE housesim'
  psql_local -d housesim -c 'SET client_min_messages=warning; CREATE EXTENSION IF NOT EXISTS vector'
  echo "$CONN"
}

case "${1:-start}" in
  start)   start ;;
  stop)    if running; then as_owner "$PGBIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null; say "stopped"
           else say "not running"; fi ;;
  status)  if running; then say "running on 127.0.0.1:$PORT (data $DATA)"; echo "$CONN"
           else say "not running (data $DATA)"; exit 3; fi ;;
  restart) running || { say "not running; starting"; start; exit; }
           as_owner "$PGBIN/pg_ctl" -D "$DATA" -o "$OPTS" -l "$LOG" -m fast -w -t 30 restart >/dev/null \
             || { tail -n 20 "$LOG" >&2; die "pg_ctl restart failed (log: $LOG)"; }
           wait_ready; echo "$CONN" ;;
  env)     echo "export HOUSESIM_PG_CONNECTION='$CONN'" ;;
  *)       die "unknown command '$1' (use start|stop|status|restart|env)" ;;
esac
