"""The builder against the loop it replaces, in one run, on the same requirements and
interpreters.

Old approach, for each interpreter in turn (as the Travis/manylinux scripts did):
``pip install -r requirements-build.txt`` (when there is one), ``pip wheel -r requirements.txt``,
``auditwheel repair`` on each platform wheel, then a ``--no-index`` install and import check in
a fresh venv. wheelyard: ``wheelyard build --upload`` to a yard started here — cold (empty
yard, empty caches), rerun with nothing changed, rerun after changing one pin. The reference
for the one-pin rerun is that one package built the old way for every interpreter.

Each run is broken down by phase (resolve, fetch, build, repair, verify, upload: wall seconds
each; the old loop's ``pip wheel`` resolves, fetches and builds in one, counted as build;
wheelyard's phases overlap, each counted as the time any of its tasks was running, from
``--report``). Two sets: ``project`` (below) and ``services`` (psycopg2, PyYAML and cffi from
source, linking libpq, libyaml and libffi, plus upstream wheels).

Both sides get pip isolated from the machine's configuration (PyPI, no extra indexes or
constraints) and a fresh pip cache for their cold run. Needs network access to PyPI, gcc and
libyaml-dev (and libpq-dev, libffi-dev for ``services``). Results: ``bench/out/builder.json``
and tables on stdout. The interpreters are chosen, and the final plan checked, through the
builder's library (``builder.pipeline``).

    .venv/bin/python bench/builder.py [--python 3.10 3.11 3.12 3.13] [--sets project services]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from packaging import tags
from peers import OUT, REPO_BIN, start_wheelyard

from wheelyard.builder import pipeline
from wheelyard.builder.interpreters import Interpreter
from wheelyard.builder.runners import make_runner
from wheelyard.builder.settings import BuildSettings

# Five C extensions (one grafts libyaml), two pure projects built from sdists, and two
# projects whose upstream wheels are taken as they are.
PINS = {
    "markupsafe": "2.1.5",
    "msgpack": "1.1.0",
    "pyyaml": "6.0.2",
    "simplejson": "3.19.3",
    "wrapt": "1.16.0",
    "six": "1.16.0",
    "idna": "3.10",
    "attrs": "24.2.0",
    "charset-normalizer": "3.4.0",
}
FROM_SOURCE = ["markupsafe", "msgpack", "pyyaml", "simplejson", "wrapt", "six", "idna"]
IMPORTS = "markupsafe, msgpack, yaml, simplejson, wrapt, six, idna, attrs, charset_normalizer"
ONE_PIN = ("markupsafe", "2.1.4")


@dataclass(frozen=True)
class Set:
    pins: dict[str, str]
    from_source: list[str]
    imports: str
    one_pin: tuple[str, str]


SETS = {
    "project": Set(PINS, FROM_SOURCE, IMPORTS, ONE_PIN),
    # Three source builds linking system libraries, as a service's requirements carry them.
    "services": Set(
        {
            "psycopg2": "2.9.10",
            "pyyaml": "6.0.2",
            "cffi": "1.17.1",
            "pycparser": "2.22",
            "requests": "2.32.3",
            "certifi": "2024.8.30",
            "idna": "3.10",
            "urllib3": "2.2.3",
            "charset-normalizer": "3.4.0",
        },
        ["psycopg2", "pyyaml", "cffi"],
        "psycopg2, yaml, cffi, requests",
        ("cffi", "1.17.0"),  # PyYAML 6.0.1 no longer compiles on 3.13 (Cython 3)
    ),
}
PHASE_NAMES = ("resolve", "fetch", "build", "repair", "verify", "upload")
BUILD_REQUIREMENTS = "setuptools\nwheel\n"
WORK = OUT / "builder"
HOST_MANYLINUX = next(p for p in tags.platform_tags() if p.startswith("manylinux_"))


def clean_env(cache: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "WHEELYARD_"))}
    env.update(
        PIP_CONFIG_FILE="/dev/null",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PIP_CACHE_DIR=str(cache),
        UV_CACHE_DIR=str(cache / "uv"),  # cold means uv's cache too
        CI="true",
        **extra,
    )
    return env


def sh(
    cmd: list[str],
    env: dict[str, str],
    log: Path,
    cwd: Path | None = None,
    phases: dict[str, float] | None = None,
    phase: str = "build",
) -> None:
    started = time.perf_counter()
    with log.open("a") as fh:
        fh.write(f"$ {' '.join(cmd)}\n")
        fh.flush()
        status = subprocess.run(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT, cwd=cwd)
    if phases is not None:
        phases[phase] += time.perf_counter() - started
    if status.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)} (see {log})")


def write_requirements(folder: Path, pins: dict[str, str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "requirements.txt").write_text("".join(f"{n}=={v}\n" for n, v in pins.items()))
    # What such setups carry: legacy setup.py sdists need wheel next to an older setuptools.
    (folder / "requirements-build.txt").write_text(BUILD_REQUIREMENTS)


def old_loop(
    interps: list[Interpreter],
    folder: Path,
    env: dict[str, str],
    chosen: Set,
    only: list[str] | None = None,
) -> tuple[float, dict[str, float]]:
    """The old approach; its wall time (venv creation for the build env excluded) and the
    seconds of each phase."""
    phases: dict[str, float] = defaultdict(float)
    root = folder / "old"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    log = root / "log.txt"
    venvs = {}
    for i in interps:  # stands in for the manylinux image's own interpreter
        venvs[i.tag] = root / f"env-{i.tag}"
        sh([str(i.executable), "-m", "venv", str(venvs[i.tag])], env, log)
    build_reqs = folder / "requirements-build.txt"
    started = time.perf_counter()
    for i in interps:
        pip = [str(venvs[i.tag] / "bin" / "python"), "-m", "pip"]
        if build_reqs.is_file():
            sh([*pip, "install", "-r", str(build_reqs)], env, log, None, phases, "build")
        built, repaired = root / f"wheels-{i.tag}", root / f"repaired-{i.tag}"
        no_binary = ["--no-binary", ",".join(chosen.from_source)]
        if only:
            sh([*pip, "wheel", "--no-deps", *no_binary, "-w", str(built), *only], env, log,
               None, phases, "build")  # fmt: skip
        else:
            sh(
                [
                    *pip,
                    "wheel",
                    *no_binary,
                    "-r",
                    str(folder / "requirements.txt"),
                    "-w",
                    str(built),
                ],
                env,
                log,
                None,
                phases,
                "build",
            )
        repaired.mkdir()
        for wheel in sorted(built.glob("*.whl")):
            if wheel.name.endswith("-none-any.whl") or "manylinux" in wheel.name:
                shutil.copy2(wheel, repaired)
            else:
                cmd = [sys.executable, "-m", "auditwheel", "repair", "-w", str(repaired)]
                aw_env = {**env, "PATH": f"{REPO_BIN}:{env['PATH']}"}
                try:
                    sh([*cmd, str(wheel)], aw_env, log, None, phases, "repair")
                except SystemExit:
                    # An extension linking no libc needs --plat (auditwheel cannot tell it).
                    sh([*cmd, "--plat", HOST_MANYLINUX, str(wheel)], aw_env, log, None, phases,
                       "repair")  # fmt: skip
        if only:
            continue
        check = root / f"check-{i.tag}"
        sh([str(i.executable), "-m", "venv", str(check)], env, log, None, phases, "verify")
        sh(
            [
                str(check / "bin" / "python"),
                "-m",
                "pip",
                "install",
                "--no-index",
                "--find-links",
                str(repaired),
                "-r",
                str(folder / "requirements.txt"),
            ],
            env,
            log,
            None,
            phases,
            "verify",
        )
        imports = f"import {chosen.imports}"
        sh([str(check / "bin" / "python"), "-c", imports], env, log, root, phases, "verify")
    return time.perf_counter() - started, {k: round(phases[k], 1) for k in PHASE_NAMES}


def wheelyard_build(
    interps: list[Interpreter],
    folder: Path,
    env: dict[str, str],
    url: str,
    name: str,
    chosen: Set,
) -> tuple[float, dict[str, object]]:
    report = folder / f"report-{name}.json"
    cmd = [
        str(REPO_BIN / "wheelyard"), "build", str(folder), "--wheelhouse",
        str(folder / "wheelhouse"), "--python", *[str(i.executable) for i in interps],
        "--no-binary", *chosen.from_source, "--url", url, "--owner", "bench", "--upload",
        "--label", "bench", "--report", str(report),
    ]  # fmt: skip
    started = time.perf_counter()
    sh(cmd, env, folder / f"wheelyard-{name}.log")
    return time.perf_counter() - started, json.loads(report.read_text())


def plan_left(
    interps: list[Interpreter],
    folder: Path,
    env: dict[str, str],
    url: str,
    token: str,
    chosen: Set,
) -> int:
    """What the library plans to build once the runs published everything (not timed): the
    same settings as the command line, asked in-process."""
    settings = BuildSettings(
        python=tuple(str(i.executable) for i in interps),
        wheelhouse=folder / "wheelhouse",
        no_binary=tuple(chosen.from_source),
        url=url,
        owner="bench",
    )
    request = pipeline.Request(folder, settings, env, token=lambda: token)
    with make_runner(settings, env) as runner:
        planned = pipeline.plan(request, runner)
    return len(planned.plan.by_source("build"))


def bench_set(
    name: str, chosen: Set, interps: list[Interpreter], url: str, token: str
) -> dict[str, object]:
    """One set: the old loop cold, the one-pin reference, and wheelyard's three runs."""
    work = WORK / name
    print(f"[{name}] old approach, cold, {len(interps)} interpreters …", flush=True)
    old_dir = work / "old-set"
    write_requirements(old_dir, chosen.pins)
    old, old_phases = old_loop(interps, old_dir, clean_env(work / "cache-old"), chosen)
    print(f"  {old:.1f} s {old_phases}", flush=True)

    print(f"[{name}] reference: the one changed package, built the old way …", flush=True)
    ref_dir = work / "ref-set"
    write_requirements(ref_dir, {})
    pin_name, pin_version = chosen.one_pin
    one, _ = old_loop(
        interps, ref_dir, clean_env(work / "cache-ref"), chosen, [f"{pin_name}=={pin_version}"]
    )
    print(f"  {one:.1f} s", flush=True)

    env = clean_env(work / "cache-wheelyard", WHEELYARD_TOKEN=token)
    folder = work / "wy-set"
    timings: dict[str, dict[str, object]] = {}
    for run_name, pins in (
        ("cold", chosen.pins),
        ("unchanged", chosen.pins),
        ("one pin", {**chosen.pins, pin_name: pin_version}),
    ):
        write_requirements(folder, pins)
        print(f"[{name}] wheelyard build, {run_name} …", flush=True)
        tag = f"{name}-{run_name.replace(' ', '-')}"
        seconds, report = wheelyard_build(interps, folder, env, url, tag, chosen)
        rows = report["wheels"]
        assert isinstance(rows, list)
        built = sorted({r["filename"] for r in rows if r["source"] == "built"})
        phases = report.get("phases", {})
        timings[run_name] = {"seconds": round(seconds, 1), "built": len(built), "phases": phases}
        print(f"  {seconds:.1f} s, {len(built)} wheels built, {phases}", flush=True)
    left = plan_left(interps, folder, env, url, token, chosen)
    print(f"[{name}] plan after publishing: {left} to build (expected 0)", flush=True)
    return {
        "old": round(old, 1),
        "old_phases": old_phases,
        "one_package_old": round(one, 1),
        "wheelyard": timings,
        "left_to_build": left,
    }


def table(name: str, result: dict[str, object], interps: int) -> None:
    old = float(result["old"])  # type: ignore[arg-type]
    one = float(result["one_package_old"])  # type: ignore[arg-type]
    runs = result["wheelyard"]
    assert isinstance(runs, dict)
    cold, same, pin = (float(runs[k]["seconds"]) for k in ("cold", "unchanged", "one pin"))
    cold_phases = runs["cold"]["phases"]
    outside = cold - float(cold_phases.get("build+repair", 0))
    print()
    print(f"set {name}: {interps} interpreters, {os.cpu_count()} cores (shared machine)")
    print("| run | seconds | goal | met |")
    print("|---|---|---|---|")
    print(f"| old approach, cold | {old:.1f} | | |")
    print(f"| wheelyard, cold | {cold:.1f} ({cold / old:.2f}×) | ≤ 0.5× | {cold <= old / 2} |")
    print(f"| wheelyard cold, outside build+repair | {outside:.1f} | ≤ 10 s | {outside <= 10} |")
    print(f"| wheelyard, unchanged rerun | {same:.1f} | ≤ 3 s | {same <= 3} |")
    print(f"| one package alone, old way | {one:.1f} | | |")
    print(
        f"| wheelyard, one-pin rerun | {pin:.1f} ({pin / one:.2f}×) | ≤ 1.2× | {pin <= 1.2 * one} |"
    )
    print()
    print("| phase (wall s) | " + " | ".join(PHASE_NAMES) + " |")
    print("|---|" + "---|" * len(PHASE_NAMES))
    old_phases = result["old_phases"]
    assert isinstance(old_phases, dict)
    print("| old loop | " + " | ".join(str(old_phases.get(p, 0)) for p in PHASE_NAMES) + " |")
    for run_name in ("cold", "unchanged", "one pin"):
        phases = runs[run_name]["phases"]
        cells = " | ".join(str(phases.get(p, 0)) for p in PHASE_NAMES)
        print(f"| wheelyard {run_name} | {cells} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", nargs="+", default=["3.10", "3.11", "3.12", "3.13"])
    parser.add_argument("--sets", nargs="+", choices=sorted(SETS), default=sorted(SETS))
    args = parser.parse_args()
    interps = pipeline.interpreters(
        BuildSettings(python=tuple(args.python)),
        make_runner(BuildSettings(), os.environ),
    )
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    results: dict[str, object] = {"pythons": [i.minor for i in interps], "cpus": os.cpu_count()}
    server = start_wheelyard(WORK / "yard", "bench", workers=1)
    try:
        url = server.index_url.split("/bench/")[0]
        yard_env = {**os.environ, "WHEELYARD_DATA_DIR": str(WORK / "yard")}
        subprocess.run([str(REPO_BIN / "wheelyard"), "user", "create", "bench",
                        "--password-stdin"], input="bench password 1\n", text=True,
                       env=yard_env, check=True, capture_output=True)  # fmt: skip
        token = subprocess.run(
            [str(REPO_BIN / "wheelyard"), "token", "create", "--user", "bench", "--name", "b",
             "--scopes", "api:read api:write pypi:upload"],
            env=yard_env, check=True, capture_output=True, text=True,
        ).stdout.strip()  # fmt: skip
        for name in args.sets:
            results[name] = bench_set(name, SETS[name], interps, url, token)
    finally:
        server.stop()
    (OUT / "builder.json").write_text(json.dumps(results, indent=2) + "\n")
    for name in args.sets:
        result = results[name]
        assert isinstance(result, dict)
        table(name, result, len(interps))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
