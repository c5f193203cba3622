#!/usr/bin/env bash
# Installs Debian's prometheus package (which brings promtool too) when it is missing, and prints the path
# of the prometheus binary as the only line on stdout, so a caller can run:
#   export MCP_TEST_PROMETHEUS_BIN="$(bash .ci/prometheus.sh)"
# Idempotent. The tests start their own prometheus on a temporary folder; the Debian service is never started.
set -euo pipefail

log() { echo "prometheus.sh: $*" >&2; }

if ! command -v prometheus >/dev/null 2>&1 || ! command -v promtool >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then
    log "prometheus is not installed and installing it needs root (apt-get install prometheus)"
    exit 1
  fi
  log "installing prometheus"
  apt-get update -qq >&2
  # policy-rc.d answering 101 keeps the package's service from being started during the install
  policy="/usr/sbin/policy-rc.d"
  created_policy=""
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && created_policy="yes"
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus >&2 || status=$?
  [ -n "$created_policy" ] && rm -f "$policy"
  [ "${status:-0}" -eq 0 ] || exit "$status"
fi

command -v prometheus
