#!/usr/bin/env bash
# Starts a throwaway Redis server on 127.0.0.1 for the tests of replicas sharing Redis, and prints its URL
# as the only line on stdout, so a caller can run: export MCP_TEST_REDIS_URL="$(bash .ci/redis.sh)"
# Idempotent: a server already answering on the port is reused. Nothing is persisted (no RDB, no AOF).
# Installs Debian's redis-server package when the binary is missing (needs root).
set -euo pipefail

# the first port from here that is free (or already holds such a server): 63790 unless set
first_port="${MCP_TEST_REDIS_PORT:-63790}"

log() { echo "redis.sh: $*" >&2; }

if ! command -v redis-server >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then
    log "redis-server is not installed and installing it needs root (apt-get install redis-server)"
    exit 1
  fi
  log "installing redis-server"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >&2
fi

# the package's redis-cli may be missing on minimal images: ask with bash's /dev/tcp instead
answers() (
  exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
  printf 'PING\r\n' >&3
  IFS= read -r -t 2 reply <&3 || reply=""
  [[ "$reply" == +PONG* ]]
) 2>/dev/null

in_use() ( exec 3<>"/dev/tcp/127.0.0.1/$1" ) 2>/dev/null

for port in $(seq "$first_port" $((first_port + 9))); do
  dir="${MCP_TEST_REDIS_DIR:-/tmp/mcp-router-redis-${port}}"
  url="redis://127.0.0.1:${port}"
  if answers "$port"; then
    log "already running on 127.0.0.1:${port}"
    echo "$url"
    exit 0
  fi
  in_use "$port" || break
  log "127.0.0.1:${port} is taken by another program"
done

mkdir -p "$dir"
log "starting on 127.0.0.1:${port} in ${dir}"
redis-server --bind 127.0.0.1 --port "$port" --dir "$dir" --save "" --appendonly no \
  --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" >&2

for _ in $(seq 1 100); do
  if answers "$port"; then
    echo "$url"
    exit 0
  fi
  sleep 0.1
done
log "the server did not answer within 10 s; its log:"
tail -n 20 "$dir/redis.log" >&2 || true
exit 1
