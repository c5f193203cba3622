#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server for the sql_query tests on 127.0.0.1 and prints its URL as the
# only line on stdout, so a caller can run: export MCP_TEST_POSTGRES_URL="$(bash .ci/postgres.sh)"
# Idempotent: a server already running in the data folder is reused; the data folder is kept between runs.
# Installs Debian's postgresql package when no server binaries are found (needs root).
set -euo pipefail

port="${MCP_TEST_POSTGRES_PORT:-54329}"
data="${MCP_TEST_POSTGRES_DIR:-/tmp/mcp-router-postgres-${port}}"
user="mcp"
password="mcp"
database="mcp_test"
url="postgres://${user}:${password}@127.0.0.1:${port}/${database}"

log() { echo "postgres.sh: $*" >&2; }

# pg_ctl and initdb are not on PATH on Debian: they live in /usr/lib/postgresql/<major>/bin
find_bindir() {
  if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/pg_ctl" ]; then
    pg_config --bindir
    return
  fi
  local dir
  dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
  [ -n "$dir" ] && [ -x "$dir/pg_ctl" ] && echo "$dir"
}

bindir="$(find_bindir || true)"
if [ -z "$bindir" ]; then
  if [ "$(id -u)" -ne 0 ]; then
    log "PostgreSQL is not installed and installing it needs root (apt-get install postgresql)"
    exit 1
  fi
  log "installing PostgreSQL"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
  bindir="$(find_bindir)"
fi

# initdb and postgres refuse to run as root: run them as the postgres account then
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

if as_owner "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; then
  log "already running in $data"
  echo "$url"
  exit 0
fi

if [ ! -f "$data/PG_VERSION" ]; then
  log "creating a cluster in $data"
  mkdir -p "$data"
  [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$data"
  chmod 700 "$data"
  pwfile="$(mktemp)"
  echo "$password" >"$pwfile"
  [ "$(id -u)" -eq 0 ] && chown postgres "$pwfile"
  as_owner "$bindir/initdb" -D "$data" -U "$user" --pwfile="$pwfile" \
    --auth-host=scram-sha-256 --auth-local=trust --encoding=UTF8 --locale=C.UTF-8 >&2
  rm -f "$pwfile"
fi

log "starting on 127.0.0.1:$port"
# the socket goes in the data folder: /var/run/postgresql may not exist or not be writable
as_owner "$bindir/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -p $port -k $data" start >&2

if ! as_owner "$bindir/psql" -h "$data" -p "$port" -U "$user" -d postgres -tAc \
  "SELECT 1 FROM pg_database WHERE datname = '$database'" | grep -q 1; then
  as_owner "$bindir/createdb" -h "$data" -p "$port" -U "$user" "$database"
fi

echo "$url"
