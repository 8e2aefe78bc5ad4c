#!/usr/bin/env bash
# Build the benchmark's manylinux look-alike (bench/images/Containerfile: CPython 3.10–3.13
# from the host's pyenv at /opt/python/cpXY-cpXY) once, cached by a hash of its recipe and
# the interpreter versions (tests/builder/images/make-image.sh). Prints the image name on its
# last line. Needs root, podman, runc, mmdebstrap and pyenv builds of the versions asked for:
#
#   bench/images/build.sh [3.10 3.11 3.12 3.13]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
make="$here/../../tests/builder/images/make-image.sh"
pyenv_root="${PYENV_ROOT:-$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")}"
[ $# -gt 0 ] || set -- 3.10 3.11 3.12 3.13
pythons=""
for minor in "$@"; do
  found=$(cd "$pyenv_root/versions" && ls -d "$minor".* 2>/dev/null | grep -E "^$minor\.[0-9]+$" \
          | sort -V | tail -1 || true)
  [ -n "$found" ] || { echo "no pyenv build of Python $minor under $pyenv_root/versions" >&2; exit 1; }
  pythons="$pythons $found"
done
pythons="${pythons# }"
# What the pyenv builds link (ldd of their libpython and lib-dynload modules; no tkinter, no
# gdbm: those modules are not built or not needed), plus the compiler. No -dev packages.
PACKAGES="gcc,libc6-dev,libssl3,libffi8,zlib1g,libbz2-1.0,liblzma5,libsqlite3-0,libreadline8"
PACKAGES="$PACKAGES,libncursesw6,libtinfo6,libuuid1,libexpat1,libnsl2,libtirpc3"
# The interpreters' builds are part of the recipe: their versions and libpython's checksum.
export RECIPE_EXTRA
RECIPE_EXTRA=$(for v in $pythons; do echo "$v"; sha256sum "$pyenv_root/versions/$v/lib/"libpython3*.so.1.0; done)
exec "$make" localhost/wheelyard-bench-manylinux "$here" "$PACKAGES" \
  --volume "$pyenv_root/versions:/host-pyenv:ro" --build-arg "PYENV=$pyenv_root" \
  --build-arg "PYTHONS=$pythons"
