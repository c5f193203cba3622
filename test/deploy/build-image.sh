#!/usr/bin/env bash
# Builds deploy/Dockerfile with podman from a base made here (test/deploy/base-image.sh, passed as the
# NODE_IMAGE build argument) and prints the image's name as the only line on stdout:
#   MCP_TEST_IMAGE="$(bash test/deploy/build-image.sh)"
# The image test (test/deploy/image.test.ts) runs it. podman's default runtime (crun) refuses the hybrid
# cgroups of these machines, so runc builds; --format docker keeps the HEALTHCHECK (OCI images drop it).
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
image="${MCP_TEST_IMAGE_NAME:-localhost/mcp-router-pro:test}"
log() { echo "build-image.sh: $*" >&2; }

base="${MCP_TEST_NODE_IMAGE:-$(bash "$root/test/deploy/base-image.sh")}"
args=(--runtime runc --format docker --layers -f "$root/deploy/Dockerfile" --build-arg "NODE_IMAGE=$base" -t "$image")
# where a TLS-intercepting proxy sits between this machine and the npm registry, npm in the build needs
# the machine's certificate bundle (with the official image on an open network it is not needed)
bundle="/etc/ssl/certs/ca-certificates.crt"
if [ -s "$bundle" ]; then
  args+=(--build-arg "NODE_EXTRA_CA_CERTS=/run/host-ca-certificates.crt" -v "$bundle:/run/host-ca-certificates.crt:ro")
fi
started=$SECONDS
log "podman build from $base"
podman build "${args[@]}" "$root" >&2
log "built $image in $((SECONDS - started)) s"
# untagged stages of builds older than a day are not reused: their space is given back
podman image prune -f --filter until=24h >/dev/null 2>&1 || true
echo "$image"
