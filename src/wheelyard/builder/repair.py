"""Repairing platform wheels with auditwheel: external shared libraries grafted in, tag set to
the best manylinux policy the wheel satisfies (or the one asked for, failing clearly)."""

from __future__ import annotations

import shutil
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import parse_wheel_filename

from wheelyard.builder.runners import Runner

PURE = "pure"


class RepairFailed(Exception):
    """auditwheel could not give the wheel the requested (or any) manylinux tag."""


@dataclass(frozen=True)
class Repaired:
    wheel: Path
    policy: str  # the PEP 600 platform tag, e.g. manylinux_2_17_x86_64, or "pure"
    grafted: tuple[str, ...]  # shared libraries bundled into <name>.libs/


def is_pure(wheel: Path) -> bool:
    return all(t.platform == "any" for t in parse_wheel_filename(wheel.name)[3])


def _policy(wheel: Path) -> str:
    """The most compatible platform tag of a repaired wheel (lowest glibc/musl first)."""
    platforms = sorted({t.platform for t in parse_wheel_filename(wheel.name)[3]})
    pep600 = [p for p in platforms if p.startswith(("manylinux_", "musllinux_"))]

    def glibc(tag: str) -> tuple[int, int]:
        major, minor = tag.split("_")[1:3]
        return int(major), int(minor)

    return min(pep600, key=glibc) if pep600 else platforms[0]


def _grafted(wheel: Path) -> tuple[str, ...]:
    with zipfile.ZipFile(wheel) as zf:
        return tuple(
            sorted(Path(n).name for n in zf.namelist() if ".libs/" in n and not n.endswith("/"))
        )


def _auditwheel(
    runner: Runner,
    wheel: Path,
    tmp: Path,
    plat: str | None,
    exclude: Sequence[str],
    options: Sequence[str] = (),
    environment: Mapping[str, str] | None = None,
) -> tuple[int, str]:
    auditwheel, env = runner.repair_command()
    env = {**(environment or {}), **env}
    cmd = [*auditwheel, "repair", *options, "-w", str(tmp), str(wheel)]
    if plat:
        cmd += ["--plat", plat]
    for lib in exclude:
        cmd += ["--exclude", lib]
    result = runner.capture(cmd, env=env)
    return result.returncode, (result.stderr or result.stdout)


def repair(
    wheel: Path,
    outdir: Path,
    runner: Runner,
    plat: str | None = None,
    exclude: Sequence[str] = (),
    platforms: Sequence[str] = (),
    options: Sequence[str] = (),
    environment: Mapping[str, str] | None = None,
) -> Repaired:
    """Write the repaired wheel to ``outdir`` (auditwheel run by ``runner``); pure wheels
    are copied unchanged.

    ``platforms`` are the building interpreter's, best first: when an extension links no
    libc at all (``-Wl,--as-needed`` builds can), auditwheel cannot tell its libc and needs a
    ``--plat``; the newest manylinux tag there lets it still pick the most compatible policy.
    ``options`` and ``environment`` (``--strip``, ``SOURCE_DATE_EPOCH``): builder/buildflags.py.
    """
    outdir.mkdir(parents=True, exist_ok=True)
    if is_pure(wheel):
        target = outdir / wheel.name
        if wheel.resolve() != target.resolve():
            shutil.copy2(wheel, target)
        return Repaired(target, PURE, ())
    with runner.scratch("wheelyard-repair-") as tmp:
        status, output = _auditwheel(runner, wheel, tmp, plat, exclude, options, environment)
        newest = next((p for p in platforms if p.startswith("manylinux_")), None)
        if status != 0 and not plat and newest and "couldn't detect libc" in output:
            status, output = _auditwheel(runner, wheel, tmp, newest, exclude, options, environment)
        produced = sorted(tmp.glob("*.whl"))
        if status != 0 or not produced:
            lines = output.strip().splitlines()[-6:]
            raise RepairFailed(
                f"auditwheel could not repair {wheel.name}"
                f"{' to ' + plat if plat else ''}: " + " ".join(lines)
            )
        target = outdir / produced[0].name
        shutil.move(str(produced[0]), target)
    return Repaired(target, _policy(target), _grafted(target))
