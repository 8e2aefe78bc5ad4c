"""Repairing platform wheels with auditwheel: external shared libraries grafted in, tag set to
the best manylinux policy the wheel satisfies (or the one asked for, failing clearly)."""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import parse_wheel_filename

from wheelyard.build.envs import BuildEnvironment, HostEnvironment

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
    platforms = sorted({t.platform for t in parse_wheel_filename(wheel.name)[3]})
    pep600 = [p for p in platforms if p.startswith(("manylinux_", "musllinux_"))]
    return (pep600 or platforms)[0]


def _grafted(wheel: Path) -> tuple[str, ...]:
    with zipfile.ZipFile(wheel) as zf:
        return tuple(
            sorted(Path(n).name for n in zf.namelist() if ".libs/" in n and not n.endswith("/"))
        )


def repair(
    wheel: Path,
    outdir: Path,
    plat: str | None = None,
    exclude: Sequence[str] = (),
    where: BuildEnvironment | None = None,
) -> Repaired:
    """Write the repaired wheel to ``outdir``; pure wheels are copied unchanged."""
    outdir.mkdir(parents=True, exist_ok=True)
    if is_pure(wheel):
        target = outdir / wheel.name
        if wheel.resolve() != target.resolve():
            shutil.copy2(wheel, target)
        return Repaired(target, PURE, ())
    with tempfile.TemporaryDirectory(prefix="wheelyard-repair-") as tmp:
        where = where or HostEnvironment()
        auditwheel, env = where.auditwheel()
        cmd = [*auditwheel, "repair", "-w", tmp, str(wheel)]
        if plat:
            cmd += ["--plat", plat]
        for lib in exclude:
            cmd += ["--exclude", lib]
        result = where.capture(cmd, env=env)
        produced = sorted(Path(tmp).glob("*.whl"))
        if result.returncode != 0 or not produced:
            lines = (result.stderr or result.stdout).strip().splitlines()[-6:]
            raise RepairFailed(
                f"auditwheel could not repair {wheel.name}"
                f"{' to ' + plat if plat else ''}: " + " ".join(lines)
            )
        target = outdir / produced[0].name
        shutil.move(str(produced[0]), target)
    return Repaired(target, _policy(target), _grafted(target))
