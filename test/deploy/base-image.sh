#!/usr/bin/env bash
# Makes a local stand-in for the official node:24-slim image, for building deploy/Dockerfile where no
# registry of container images is reached: a Debian root filesystem made by debootstrap (minbase), with
# Node.js 24 from the npm `node` package (the project's own node_modules/node) and npm from the npm
# registry, imported into podman. Prints the image name as the only line on stdout:
#   NODE_IMAGE="$(bash test/deploy/base-image.sh)"
#   podman build --runtime runc --format docker -f deploy/Dockerfile --build-arg NODE_IMAGE="$NODE_IMAGE" .
# The root filesystem's tarball is cached under $MCP_IMAGE_CACHE_DIR (default $TMPDIR/mcp-router-image-cache),
# keyed by every input (this script, the suite, the mirror, Node's and npm's versions); an image already
# in podman's store under that key is used as it is. Needs root, debootstrap and podman (installed with
# apt-get when missing).
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
suite="${MCP_IMAGE_SUITE:-bookworm}"
mirror="${MCP_IMAGE_MIRROR:-http://deb.debian.org/debian}"
cache="${MCP_IMAGE_CACHE_DIR:-${TMPDIR:-/tmp}/mcp-router-image-cache}"
node_bin="${MCP_IMAGE_NODE:-$root/node_modules/node/bin/node}"

log() { echo "base-image.sh: $*" >&2; }

if [ "$(id -u)" -ne 0 ]; then log "needs root (debootstrap, podman import)"; exit 1; fi
missing=()
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
command -v podman >/dev/null 2>&1 || missing+=(podman)
command -v runc >/dev/null 2>&1 || missing+=(runc)
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing ${missing[*]}"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
fi

if [ ! -x "$node_bin" ]; then log "no Node.js binary at $node_bin (npm ci installs the node package)"; exit 1; fi
node_version="$("$node_bin" --version)"
case "$node_version" in v24.*) ;; *) log "$node_bin is $node_version, not Node.js 24"; exit 1 ;; esac
npm_version="${MCP_IMAGE_NPM_VERSION:-$(npm --version)}"
arch="$(dpkg --print-architecture)"

key="$( { cat "$0"; echo "$suite $mirror $arch $node_version npm@$npm_version"; } | sha256sum | cut -c1-16)"
image="localhost/mcp-router-base:$key"
if podman image exists "$image"; then
  log "using $image"
  echo "$image"
  exit 0
fi

mkdir -p "$cache"
tarball="$cache/rootfs-$key.tar"
if [ ! -s "$tarball" ]; then
  work="$(mktemp -d "$cache/build-XXXXXX")"
  trap 'rm -rf "$work"' EXIT
  rootfs="$work/rootfs"
  started=$SECONDS
  log "debootstrap --variant=minbase $suite from $mirror"
  debootstrap --variant=minbase --arch="$arch" "$suite" "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 || {
    tail -20 "$work/debootstrap.log" >&2
    log "debootstrap failed"
    exit 1
  }
  log "Node.js $node_version and npm $npm_version into /usr/local"
  install -m 0755 "$node_bin" "$rootfs/usr/local/bin/node"
  (cd "$work" && npm pack --silent "npm@$npm_version" >/dev/null)
  mkdir -p "$rootfs/usr/local/lib/node_modules/npm"
  tar -xzf "$work"/npm-*.tgz -C "$rootfs/usr/local/lib/node_modules/npm" --strip-components=1 --no-same-owner
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
  # what the official image leaves out too
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/*
  tar --numeric-owner -C "$rootfs" -cf "$tarball.partial" .
  mv "$tarball.partial" "$tarball"
  log "root filesystem made in $((SECONDS - started)) s: $tarball"
fi

# bases made from other inputs are not used again
find "$cache" -maxdepth 1 -name 'rootfs-*.tar' ! -name "rootfs-$key.tar" -delete 2>/dev/null || true
for old in $(podman images --format '{{.Repository}}:{{.Tag}}' | grep '^localhost/mcp-router-base:' | grep -v ":$key\$"); do
  podman rmi "$old" >/dev/null 2>&1 || true
done

podman import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["node"]' \
  "$tarball" "$image" >&2
log "imported $image"
echo "$image"
