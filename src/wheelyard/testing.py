"""Fabricate small, valid wheels and sdists (for tests, benchmarks and the demo).

The archives follow the wheel spec (METADATA, WHEEL, RECORD with hashes) and the sdist
layout (``<name>-<version>/PKG-INFO``), so pip, uv and twine treat them as real ones.
"""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile
import zipfile
from pathlib import Path

from packaging.utils import canonicalize_name


def _metadata(
    name: str, version: str, requires_python: str | None, summary: str, requires: list[str]
) -> str:
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}", f"Summary: {summary}"]
    if requires_python:
        lines.append(f"Requires-Python: {requires_python}")
    lines += [f"Requires-Dist: {r}" for r in requires]
    return "\n".join(lines) + "\n\n"


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest}"


def make_wheel(
    directory: Path,
    name: str,
    version: str,
    tag: str = "py3-none-any",
    requires_python: str | None = None,
    summary: str = "A test package",
    requires: list[str] | None = None,
    module_body: str = "",
    padding: int = 0,
) -> Path:
    """Write ``{name}-{version}-{tag}.whl`` holding one importable module; return its path.

    ``padding`` adds that many bytes of incompressible data, for large-upload tests.
    """
    dist = canonicalize_name(name).replace("-", "_")
    info = f"{dist}-{version}.dist-info"
    files: dict[str, bytes] = {
        f"{dist}/__init__.py": (module_body or f"__version__ = {version!r}\n").encode(),
        f"{info}/METADATA": _metadata(
            name, version, requires_python, summary, requires or []
        ).encode(),
        f"{info}/WHEEL": (
            f"Wheel-Version: 1.0\nGenerator: wheelyard.testing\nRoot-Is-Purelib: true\nTag: {tag}\n"
        ).encode(),
    }
    path = directory / f"{dist}-{version}-{tag}.whl"
    record = [f"{n},{_record_hash(d)},{len(d)}" for n, d in files.items()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for n, d in files.items():
            zf.writestr(n, d)
        if padding:
            pad_name = f"{dist}/padding.bin"
            entry = zipfile.ZipInfo(pad_name)
            entry.compress_type = zipfile.ZIP_STORED
            with zf.open(entry, "w", force_zip64=True) as fh:
                h, left = hashlib.sha256(), padding
                seed = hashlib.sha256(name.encode()).digest()
                block = hashlib.sha512(seed).digest() * 16384  # 1 MiB, fast to generate
                while left:
                    piece = block[: min(left, len(block))]
                    fh.write(piece)
                    h.update(piece)
                    left -= len(piece)
                    block = block[1:] + block[:1]
            digest = base64.urlsafe_b64encode(h.digest()).rstrip(b"=").decode()
            record.append(f"{pad_name},sha256={digest},{padding}")
        record.append(f"{info}/RECORD,,")
        zf.writestr(f"{info}/RECORD", "\n".join(record) + "\n")
    return path


_BACKEND = """\
# A dependency-free PEP 517 backend, so the sdist builds offline.
import base64, hashlib, os, zipfile

NAME, VERSION, DIST = {name!r}, {version!r}, {dist!r}
META = {meta!r}
FAIL = {fail!r}
WHEEL = b"Wheel-Version: 1.0\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"


def _info():
    return f"{{DIST}}-{{VERSION}}.dist-info"


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    path = os.path.join(metadata_directory, _info())
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "METADATA"), "w") as fh:
        fh.write(META)
    return _info()


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    if FAIL:
        import sys
        sys.stderr.write(FAIL + "\\n")
        leaked = "WHEELYARD_TOKEN" in os.environ
        sys.stderr.write(f"WHEELYARD_TOKEN in build env: {{leaked}}\\n")
        raise SystemExit(1)
    files = {{f"{{DIST}}/__init__.py": f"__version__ = {{VERSION!r}}\\n".encode(),
             f"{{_info()}}/METADATA": META.encode(),
             f"{{_info()}}/WHEEL": WHEEL}}
    name = f"{{DIST}}-{{VERSION}}-py3-none-any.whl"
    record = []
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w") as zf:
        for path, data in files.items():
            zf.writestr(path, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            record.append(f"{{path}},sha256={{digest.decode()}},{{len(data)}}")
        record.append(f"{{_info()}}/RECORD,,")
        zf.writestr(f"{{_info()}}/RECORD", "\\n".join(record) + "\\n")
    return name
"""


def make_sdist(
    directory: Path,
    name: str,
    version: str,
    summary: str = "A test package",
    fail_with: str | None = None,
) -> Path:
    """Write ``{name}-{version}.tar.gz`` with PKG-INFO and an in-tree, dependency-free PEP 517
    backend (pip can resolve and build it with no index at all). With ``fail_with``, building
    the wheel prints that text (as a compiler would) and fails."""
    dist = canonicalize_name(name).replace("-", "_")
    stem = f"{dist}-{version}"
    meta = _metadata(name, version, None, summary, [])
    files = {
        f"{stem}/PKG-INFO": meta.encode(),
        f"{stem}/pyproject.toml": (
            f'[project]\nname = "{name}"\nversion = "{version}"\n\n'
            '[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n'
        ).encode(),
        f"{stem}/backend.py": _BACKEND.format(
            name=name, version=version, dist=dist, meta=meta, fail=fail_with or ""
        ).encode(),
    }
    path = directory / f"{stem}.tar.gz"
    with tarfile.open(path, "w:gz") as tf:
        for n, d in files.items():
            ti = tarfile.TarInfo(n)
            ti.size = len(d)
            tf.addfile(ti, io.BytesIO(d))
    return path


_C_BACKEND = """\
# A PEP 517 backend that compiles one C extension with the system compiler, offline.
import base64, hashlib, os, subprocess, sys, sysconfig, zipfile

NAME, VERSION, DIST, META, LIBS = {name!r}, {version!r}, {dist!r}, {meta!r}, {libs!r}


def _info():
    return f"{{DIST}}-{{VERSION}}.dist-info"


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    path = os.path.join(metadata_directory, _info())
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "METADATA"), "w") as fh:
        fh.write(META)
    return _info()


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    so = f"{{DIST}}/_ext{{suffix}}"
    os.makedirs(DIST, exist_ok=True)
    cc = os.environ.get("CC", "cc")
    cmd = [cc, "-shared", "-fPIC", "-O1", "-I" + sysconfig.get_paths()["include"],
           "ext.c", "-o", so] + ["-l" + lib for lib in LIBS]
    subprocess.run(cmd, check=True, stdout=sys.stderr)
    tag = sys.implementation.cache_tag.replace("cpython-", "cp")
    plat = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    wheel_tag = f"{{tag}}-{{tag}}-{{plat}}"
    files = {{f"{{DIST}}/__init__.py": b"from ._ext import version\\n",
             so: open(so, "rb").read(),
             f"{{_info()}}/METADATA": META.encode(),
             f"{{_info()}}/WHEEL": (f"Wheel-Version: 1.0\\nRoot-Is-Purelib: false\\n"
                                  f"Tag: {{wheel_tag}}\\n").encode()}}
    name = f"{{DIST}}-{{VERSION}}-{{wheel_tag}}.whl"
    record = []
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w") as zf:
        for path, data in files.items():
            zf.writestr(path, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            record.append(f"{{path}},sha256={{digest.decode()}},{{len(data)}}")
        record.append(f"{{_info()}}/RECORD,,")
        zf.writestr(f"{{_info()}}/RECORD", "\\n".join(record) + "\\n")
    return name
"""

_YAML_EXT = """\
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <yaml.h>

static PyObject *version(PyObject *self, PyObject *args) {
    return PyUnicode_FromString(yaml_get_version_string());
}
static PyMethodDef methods[] = {{"version", version, METH_NOARGS, NULL}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_ext", NULL, -1, methods};
PyMODINIT_FUNC PyInit__ext(void) { return PyModule_Create(&module); }
"""


def make_c_sdist(directory: Path, name: str, version: str) -> Path:
    """Write an sdist whose C extension links libyaml, a library outside every manylinux
    policy, so auditwheel has to graft it. Building needs a C compiler and libyaml-dev."""
    dist = canonicalize_name(name).replace("-", "_")
    stem = f"{dist}-{version}"
    meta = _metadata(name, version, None, "A C extension linking libyaml", [])
    files = {
        f"{stem}/PKG-INFO": meta.encode(),
        f"{stem}/pyproject.toml": (
            f'[project]\nname = "{name}"\nversion = "{version}"\n\n'
            '[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n'
        ).encode(),
        f"{stem}/backend.py": _C_BACKEND.format(
            name=name, version=version, dist=dist, meta=meta, libs=["yaml"]
        ).encode(),
        f"{stem}/ext.c": _YAML_EXT.encode(),
    }
    path = directory / f"{stem}.tar.gz"
    with tarfile.open(path, "w:gz") as tf:
        for n, d in files.items():
            ti = tarfile.TarInfo(n)
            ti.size = len(d)
            tf.addfile(ti, io.BytesIO(d))
    return path
