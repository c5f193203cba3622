#!/usr/bin/env bash
# Installs podman (idempotent) so the docker_ps tests can run against a real Engine-API-compatible
# daemon (`podman system service` on a temporary socket). Without podman those tests are skipped.
set -euo pipefail

if command -v podman >/dev/null 2>&1; then
  echo "podman already installed: $(podman --version)"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "podman is missing and apt-get is not available: install podman by hand" >&2
  exit 1
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi

echo "== installing podman"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq podman >/dev/null
echo "podman installed: $(podman --version)"
