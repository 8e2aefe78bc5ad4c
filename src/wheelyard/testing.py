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
    name: str,
    version: str,
    requires_python: str | None,
    summary: str,
    requires: list[str],
    description_type: str | None = None,
) -> str:
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}", f"Summary: {summary}"]
    if description_type:
        lines.append(f"Description-Content-Type: {description_type}")
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
    description: str = "",
    description_type: str = "text/markdown",
    extra: dict[str, bytes] | None = None,
) -> Path:
    """Write ``{name}-{version}-{tag}.whl`` holding one importable module; return its path.

    ``padding`` adds that many bytes of incompressible data, for large-upload tests;
    ``description`` becomes the metadata's body (its long description); ``extra`` adds
    members by path (say ``<name>.libs/libfoo.so``, as auditwheel grafts them).
    """
    dist = canonicalize_name(name).replace("-", "_")
    info = f"{dist}-{version}.dist-info"
    files: dict[str, bytes] = {
        f"{dist}/__init__.py": (module_body or f"__version__ = {version!r}\n").encode(),
        f"{info}/METADATA": (
            _metadata(
                name,
                version,
                requires_python,
                summary,
                requires or [],
                description_type if description else None,
            )
            + description
        ).encode(),
        f"{info}/WHEEL": (
            f"Wheel-Version: 1.0\nGenerator: wheelyard.testing\nRoot-Is-Purelib: true\nTag: {tag}\n"
        ).encode(),
        **(extra or {}),
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


# In-tree PEP 517 backends for fabricated sdists: no build requirements, so pip resolves
# and builds them with no index at all. The common part, then one build_wheel per kind.
_BACKEND_COMMON = """\
import base64, hashlib, os, subprocess, sys, sysconfig, zipfile

NAME, VERSION, DIST, META = {name!r}, {version!r}, {dist!r}, {meta!r}


def _info():
    return f"{{DIST}}-{{VERSION}}.dist-info"


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    path = os.path.join(metadata_directory, _info())
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "METADATA"), "w") as fh:
        fh.write(META)
    return _info()


def _write_wheel(wheel_directory, tag, purelib, files):
    files = {{**files, f"{{_info()}}/METADATA": META.encode(),
             f"{{_info()}}/WHEEL": (f"Wheel-Version: 1.0\\nRoot-Is-Purelib: {{purelib}}\\n"
                                  f"Tag: {{tag}}\\n").encode()}}
    name = f"{{DIST}}-{{VERSION}}-{{tag}}.whl"
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

_PURE_BUILD = """
FAIL, NEEDS = {fail!r}, {needs!r}


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    if FAIL:  # fail the way a compiler does, and show whether a secret leaked in
        sys.stderr.write(FAIL + "\\n")
        leaked = "WHEELYARD_TOKEN" in os.environ
        sys.stderr.write(f"WHEELYARD_TOKEN in build env: {{leaked}}\\n")
        raise SystemExit(1)
    if NEEDS:  # a build-time import the sdist does not declare
        __import__(NEEDS)
    # What the build saw of the variables build-setup.sh and overrides may set.
    seen = {{k: v for k, v in os.environ.items() if k.startswith("FIXTURE_")}}
    init = f"__version__ = {{VERSION!r}}\\nbuilt_with = {{seen!r}}\\n".encode()
    return _write_wheel(wheel_directory, "py3-none-any", "true", {{f"{{DIST}}/__init__.py": init}})
"""

_C_BUILD = """
LIBS, LINK = {libs!r}, {link!r}


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    so = f"{{DIST}}/_ext{{sysconfig.get_config_var('EXT_SUFFIX')}}"
    os.makedirs(DIST, exist_ok=True)
    cmd = [os.environ.get("CC", "cc"), "-shared", "-fPIC", "-O1",
           "-I" + sysconfig.get_paths()["include"], "ext.c", "-o", so]
    libs = ["-l" + lib for lib in LIBS]
    subprocess.run(cmd + libs + LINK, check=True, stdout=sys.stderr)
    tag = sys.implementation.cache_tag.replace("cpython-", "cp")
    abi = "cp" + sysconfig.get_config_var("SOABI").split("-")[1]  # cp37m before 3.8
    plat = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    with open(so, "rb") as fh:
        files = {{f"{{DIST}}/__init__.py": b"from ._ext import version\\n", so: fh.read()}}
    return _write_wheel(wheel_directory, f"{{tag}}-{{abi}}-{{plat}}", "false", files)
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


def _write_sdist(
    directory: Path, name: str, version: str, summary: str, build_part: str, extra: dict[str, bytes]
) -> Path:
    dist = canonicalize_name(name).replace("-", "_")
    stem = f"{dist}-{version}"
    meta = _metadata(name, version, None, summary, [])
    backend = _BACKEND_COMMON.format(name=name, version=version, dist=dist, meta=meta)
    files = {
        f"{stem}/PKG-INFO": meta.encode(),
        f"{stem}/pyproject.toml": (
            f'[project]\nname = "{name}"\nversion = "{version}"\n\n'
            '[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n'
        ).encode(),
        f"{stem}/backend.py": (backend + build_part).encode(),
        **{f"{stem}/{n}": d for n, d in extra.items()},
    }
    return write_tar_gz(directory / f"{stem}.tar.gz", files)


def write_tar_gz(path: Path, files: dict[str, bytes]) -> Path:
    """A gzipped tar of ``files`` (archive name → bytes), as an sdist is laid out."""
    with tarfile.open(path, "w:gz") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


def make_sdist(
    directory: Path,
    name: str,
    version: str,
    summary: str = "A test package",
    fail_with: str | None = None,
    needs: str | None = None,
    backend_extra: str = "",
) -> Path:
    """Write ``{name}-{version}.tar.gz`` (PKG-INFO, pyproject.toml, an in-tree backend) that
    builds a pure wheel offline; its module's ``built_with`` holds the build's ``FIXTURE_*``
    variables. With ``fail_with``, building prints that text, as a compiler would, and fails.
    With ``needs``, building imports that module without declaring it (the case
    ``requirements-build.txt`` exists for). ``backend_extra``: Python appended to the
    backend module (a hook defined there replaces the one above it)."""
    build = _PURE_BUILD.format(fail=fail_with or "", needs=needs or "") + backend_extra
    return _write_sdist(directory, name, version, summary, build, {})


def make_c_sdist(directory: Path, name: str, version: str) -> Path:
    """Write an sdist whose C extension links libyaml, a library outside every manylinux
    policy, so auditwheel has to graft it. Building needs a C compiler and libyaml-dev."""
    return _write_sdist(
        directory,
        name,
        version,
        "A C extension linking libyaml",
        _C_BUILD.format(libs=["yaml"], link=[]),
        {"ext.c": _YAML_EXT.encode()},
    )


_PLAIN_EXT = """\
#include <Python.h>

static PyObject *version(PyObject *self, PyObject *args) { return PyUnicode_FromString("1"); }
static PyMethodDef methods[] = {{"version", version, METH_NOARGS, NULL}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_ext", NULL, -1, methods};
PyMODINIT_FUNC PyInit__ext(void) { return PyModule_Create(&module); }
"""


def make_c_sdist_without_libc(directory: Path, name: str, version: str) -> Path:
    """Write an sdist whose C extension links nothing at all, not even libc (as some
    ``-Wl,--as-needed`` builds turn out), which auditwheel cannot place by itself."""
    return _write_sdist(
        directory,
        name,
        version,
        "A C extension linking no libc",
        _C_BUILD.format(libs=[], link=["-nostdlib"]),
        {"ext.c": _PLAIN_EXT.encode()},
    )
