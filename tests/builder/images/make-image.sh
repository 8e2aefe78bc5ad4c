#!/usr/bin/env bash
# Build a local manylinux look-alike image once and print its name on the last line (no image
# registry is reachable here, so images are made from Debian packages): a bookworm root file
# system from mmdebstrap with PACKAGES, imported into podman, then RECIPE_DIR/Containerfile on
# top of it (build args BASE and ARCH; the host's CA bundle in the context as ca-bundle.crt).
# The image is tagged NAME:<hash of this script, the Containerfile, PACKAGES, the extra build
# arguments, $RECIPE_EXTRA and the architecture>, so an unchanged recipe is found and reused.
# Needs podman, runc and mmdebstrap, and root.
#
#   make-image.sh NAME RECIPE_DIR PACKAGES [podman build arguments ...]
set -euo pipefail
[ $# -ge 3 ] || { echo "usage: $0 NAME RECIPE_DIR PACKAGES [podman build args...]" >&2; exit 2; }
name="$1" recipe="$2" packages="$3"
shift 3
here="$(cd "$(dirname "$0")" && pwd)"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$here/containers.conf}"
hash=$( (cat "$here/make-image.sh" "$recipe/Containerfile"; echo "$packages"; echo "$*";
         echo "${RECIPE_EXTRA:-}"; uname -m) | sha256sum | cut -c1-12)
image="$name:$hash"
if podman image exists "$image"; then
  echo "$image"
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The root file system depends on the package list only, so a Containerfile change does not
# bootstrap again (and images with the same packages share it).
base="localhost/wheelyard-test-rootfs:$(echo "$packages" | sha256sum | cut -c1-12)"
if ! podman image exists "$base"; then
  mmdebstrap --quiet --variant=minbase --include="$packages" bookworm "$work/rootfs.tar" >&2
  podman import --quiet "$work/rootfs.tar" "$base" >&2
  rm -f "$work/rootfs.tar"
fi
ca="${PIP_CERT:-${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}}"
cp "$ca" "$work/ca-bundle.crt"
cp "$recipe/Containerfile" "$work/Containerfile"
podman build --quiet --network host --build-arg "BASE=$base" --build-arg "ARCH=$(uname -m)" \
  "$@" -t "$image" "$work" >&2
echo "$image"
