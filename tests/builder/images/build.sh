#!/usr/bin/env bash
# Build the local test image (a manylinux look-alike from Debian packages, Python 3.11 only)
# once, cached by a hash of its recipe (make-image.sh). Prints the image name on its last
# line. Needs podman, runc and mmdebstrap (.ci/run installs them) and root.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# The root file system's package list (its image is tagged by this list's hash, which
# tests/builder/runners/test_container.py reads from this line).
PACKAGES="python3,python3-venv,python3-pip,python3-dev,gcc,libc6-dev"
exec "$here/make-image.sh" localhost/wheelyard-test-manylinux "$here" "$PACKAGES"
