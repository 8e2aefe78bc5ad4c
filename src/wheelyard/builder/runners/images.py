"""Build image names: short names (``manylinux_2_28``, ``musllinux_1_2`` …) stand for the PyPA
images of the host's architecture, kept as data as cibuildwheel keeps them; any other
reference is used as given."""

from __future__ import annotations

import platform

from wheelyard.errors import InvalidInput

DEFAULT = "manylinux_2_28"
REGISTRY = "quay.io/pypa"
# short name → the architectures PyPA publishes it for (image: REGISTRY/<name>_<arch>)
PYPA: dict[str, tuple[str, ...]] = {
    "manylinux1": ("x86_64", "i686"),
    "manylinux2010": ("x86_64", "i686"),
    "manylinux2014": ("x86_64", "i686", "aarch64", "ppc64le", "s390x"),
    "manylinux_2_24": ("x86_64", "i686", "aarch64", "ppc64le", "s390x"),
    "manylinux_2_28": ("x86_64", "aarch64", "ppc64le", "s390x"),
    "manylinux_2_34": ("x86_64", "aarch64", "ppc64le", "s390x"),
    "musllinux_1_1": ("x86_64", "i686", "aarch64", "ppc64le", "s390x"),
    "musllinux_1_2": ("x86_64", "i686", "aarch64", "ppc64le", "s390x", "armv7l"),
}
# what platform.machine() says → PyPA's name for it
_ARCH = {"amd64": "x86_64", "arm64": "aarch64", "i386": "i686", "i586": "i686", "armv8l": "armv7l"}


def host_arch() -> str:
    machine = platform.machine().lower()
    return _ARCH.get(machine, machine)


def image_for(name: str, arch: str | None = None) -> str:
    """The image reference for ``name`` on ``arch`` (default: this machine's)."""
    if name not in PYPA:
        return name
    arch = arch or host_arch()
    if arch not in PYPA[name]:
        have = ", ".join(PYPA[name])
        raise InvalidInput(f"PyPA publishes no {name} image for {arch} (only for {have})")
    return f"{REGISTRY}/{name}_{arch}"
