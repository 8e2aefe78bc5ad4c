#!/usr/bin/env bash
# Build the local test image (a manylinux look-alike from Debian packages) once: it is tagged
# with a hash of this recipe, so an unchanged recipe is found and reused. Prints the image
# name on its last line. Needs podman, runc and mmdebstrap (.ci/run installs them) and root.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$here/containers.conf}"
PACKAGES="python3,python3-venv,python3-pip,python3-dev,gcc,libc6-dev"
hash=$( (cat "$here/build.sh" "$here/Containerfile"; echo "$PACKAGES"; uname -m) | sha256sum | cut -c1-12)
image="localhost/wheelyard-test-manylinux:$hash"
if podman image exists "$image"; then
  echo "$image"
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The Debian root file system depends on the package list only, so a Containerfile change
# does not bootstrap again.
base="localhost/wheelyard-test-rootfs:$(echo "$PACKAGES" | sha256sum | cut -c1-12)"
if ! podman image exists "$base"; then
  mmdebstrap --quiet --variant=minbase --include="$PACKAGES" bookworm "$work/rootfs.tar" >&2
  podman import --quiet "$work/rootfs.tar" "$base" >&2
  rm -f "$work/rootfs.tar"
fi
ca="${PIP_CERT:-${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}}"
cp "$ca" "$work/ca-bundle.crt"
cp "$here/Containerfile" "$work/Containerfile"
podman build --quiet --network host --build-arg "BASE=$base" --build-arg "ARCH=$(uname -m)" -t "$image" "$work" >&2
echo "$image"
