"""The builder against the loop it replaces, in one run, on the same requirements and
interpreters: the old serial loop, ``wheelyard build`` on the host and ``wheelyard build
--container`` side by side.

Old approach, for each interpreter in turn (as the Travis/manylinux scripts did):
``pip install -r requirements-build.txt`` (when there is one), ``pip wheel -r requirements.txt``,
``auditwheel repair`` on each platform wheel, then a ``--no-index`` install and import check in
a fresh venv. wheelyard, once per runner (``host``, ``container``; each its own owner in the
yard): ``wheelyard build --upload`` to a yard started here — cold (empty yard, empty caches),
rerun with nothing changed, rerun after changing one pin; both reruns on a fresh wheelhouse
and pip cache, as a CI clone starts (nothing kept but the yard). The reference for the
one-pin rerun is that one package built the old way for every interpreter.

Each run reports its wall time, the sum of its builds' CPU seconds (measured where they ran,
from ``--report``; the old loop's ``pip wheel`` children, from ``getrusage``) and the
parallel efficiency of its build phase: build CPU seconds ÷ (build wall seconds × cores).

Each run is broken down by phase (resolve, fetch, build, repair, verify, upload: wall seconds
each; the old loop's ``pip wheel`` resolves, fetches and builds in one, counted as build;
wheelyard's phases overlap, each counted as the time any of its tasks was running, from
``--report``). Three sets: ``project`` (below), ``services`` (psycopg2, PyYAML and cffi from
source, linking libpq, libyaml and libffi, plus upstream wheels) and ``tiny`` (fabricated,
offline: a smoke run that the script works).

Both sides get pip isolated from the machine's configuration (PyPI, no extra indexes or
constraints) and a fresh pip cache for their cold run. Needs network access to PyPI, gcc and
libyaml-dev (and libpq-dev, libffi-dev for ``services``). Results: ``bench/out/builder.json``
and tables on stdout. The interpreters are chosen, and the final plan checked, through the
builder's library (``builder.pipeline``).

    .venv/bin/python bench/builder.py [--python 3.10 3.11 3.12 3.13] [--sets project services]
        [--runners host container] [--image manylinux_2_28] [--engine podman] [--repeat 3]

The container path needs docker or podman and the image (pulled, or local: ``--image bench``
builds ``bench/images/``'s look-alike with the host's pyenv CPythons of ``--python`` at
``/opt/python/*``; ``localhost/wheelyard-test-manylinux:TAG`` is the test suite's, 3.11
only). A set's ``build-setup.sh`` installs its ``-dev`` packages where they are missing: with
apt-get in the build container, nothing on the host; the verify container never has them.
Every run records the load average before and after it (the machine is shared).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from packaging import tags
from peers import OUT, REPO_BIN, start_wheelyard

from wheelyard.builder import pipeline
from wheelyard.builder.interpreters import Interpreter
from wheelyard.builder.runners import make_runner
from wheelyard.builder.runners.container import ContainerRunner
from wheelyard.builder.runners.images import DEFAULT as DEFAULT_IMAGE
from wheelyard.builder.settings import BuildSettings
from wheelyard.testing import make_sdist, make_wheel

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
    fabricated: bool = False  # offline: sdists and wheels written to ./dists by the script
    # Debian -dev packages its source builds need: build-setup.sh installs them where they are
    # missing (in the build container; the host has them already), as the seed's
    # troubleshooting section shows. The verify container never has them.
    dev_packages: tuple[str, ...] = ()


SETS = {
    "project": Set(PINS, FROM_SOURCE, IMPORTS, ONE_PIN, dev_packages=("libyaml-dev",)),
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
        dev_packages=("libpq-dev", "libyaml-dev", "libffi-dev"),
    ),
    # A smoke run, offline: two pure sdists and one pure wheel, fabricated.
    "tiny": Set(
        {"tinya": "1.0", "tinyb": "1.0", "tinyc": "1.0"},
        ["tinya", "tinyb"],
        "tinya, tinyb, tinyc",
        ("tinya", "1.1"),
        fabricated=True,
    ),
}
RUNNERS = ("host", "container")
PHASE_NAMES = ("resolve", "fetch", "build", "repair", "verify", "upload")
BUILD_REQUIREMENTS = "setuptools\nwheel\n"
# Installs what is missing only: a no-op on a host that has the packages, apt-get in a
# Debian-based build container (the bench image; a real manylinux image would use dnf).
SETUP = """dpkg -s {packages} >/dev/null 2>&1 || {{
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \\
    {packages} >/dev/null
}}
"""
BENCH_IMAGE = Path(__file__).parent / "images" / "build.sh"
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


def _children_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def sh(
    cmd: list[str],
    env: dict[str, str],
    log: Path,
    cwd: Path | None = None,
    phases: dict[str, float] | None = None,
    phase: str = "build",
) -> None:
    """Run ``cmd``; with ``phases``, add its wall seconds to ``phase`` and its CPU seconds to
    ``phase + " cpu"``."""
    started, cpu = time.perf_counter(), _children_cpu()
    with log.open("a") as fh:
        fh.write(f"$ {' '.join(cmd)}\n")
        fh.flush()
        status = subprocess.run(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT, cwd=cwd)
    if phases is not None:
        phases[phase] += time.perf_counter() - started
        phases[f"{phase} cpu"] += _children_cpu() - cpu
    if status.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)} (see {log})")


def write_requirements(folder: Path, pins: dict[str, str], chosen: Set | None = None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    lines = "".join(f"{n}=={v}\n" for n, v in pins.items())
    if chosen is not None and chosen.fabricated:
        dists = folder / "dists"
        dists.mkdir(exist_ok=True)
        for name, version in pins.items():
            if name in chosen.from_source:
                make_sdist(dists, name, version)
            else:
                make_wheel(dists, name, version)
        # Relative: the container sees the folder elsewhere (commands run in the folder).
        (folder / "requirements.txt").write_text("--no-index\n--find-links ./dists\n" + lines)
        return
    (folder / "requirements.txt").write_text(lines)
    if chosen is not None and chosen.dev_packages:
        packages = " ".join(chosen.dev_packages)
        (folder / "build-setup.sh").write_text(SETUP.format(packages=packages))
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
    seconds of each phase (and ``build cpu``: the CPU seconds of its builds). pip runs in the
    folder, as a user would (a relative ``--find-links`` in the file means the same)."""
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
            sh([*pip, "install", "-r", str(build_reqs)], env, log, folder, phases, "build")
        built, repaired = root / f"wheels-{i.tag}", root / f"repaired-{i.tag}"
        no_binary = ["--no-binary", ",".join(chosen.from_source)]
        if only:
            offline = ["--no-index", "--find-links", "dists"] if chosen.fabricated else []
            sh([*pip, "wheel", "--no-deps", *no_binary, *offline, "-w", str(built), *only], env,
               log, folder, phases, "build")  # fmt: skip
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
                folder,
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
            folder,
            phases,
            "verify",
        )
        imports = f"import {chosen.imports}"
        sh([str(check / "bin" / "python"), "-c", imports], env, log, root, phases, "verify")
    kept = {k: round(phases[k], 1) for k in (*PHASE_NAMES, "build cpu")}
    return time.perf_counter() - started, kept


@dataclass(frozen=True)
class Where:
    """Where wheelyard builds: the runner, its flags, and the owner it publishes to."""

    runner: str
    flags: tuple[str, ...]
    owner: str
    token: str


def wheelyard_build(
    interps: list[Interpreter],
    folder: Path,
    env: dict[str, str],
    url: str,
    name: str,
    chosen: Set,
    where: Where,
) -> tuple[float, dict[str, object]]:
    report = folder / f"report-{name}.json"
    pythons = (
        [str(i.executable) for i in interps]
        if where.runner == "host"
        else [i.minor for i in interps]
    )
    cmd = [
        str(REPO_BIN / "wheelyard"), "build", str(folder), "--wheelhouse",
        str(folder / f"wheelhouse-{where.runner}"), "--python", *pythons,
        "--no-binary", *chosen.from_source, "--url", url, "--owner", where.owner, "--upload",
        "--label", "bench", "--report", str(report), *where.flags,
    ]  # fmt: skip
    started = time.perf_counter()
    try:
        sh(cmd, {**env, "WHEELYARD_TOKEN": where.token}, folder / f"wheelyard-{name}.log")
    except SystemExit as failed:  # measured still, and marked: the next runs go on
        print(f"  {failed}", flush=True)
        if not report.is_file():
            return time.perf_counter() - started, {"wheels": [], "failed": True}
        return time.perf_counter() - started, {**json.loads(report.read_text()), "failed": True}
    return time.perf_counter() - started, json.loads(report.read_text())


def plan_left(
    interps: list[Interpreter],
    folder: Path,
    env: dict[str, str],
    url: str,
    token: str,
    chosen: Set,
) -> int:
    """What the library plans to build on the host once the runs published everything (not
    timed): the same settings as the command line, asked in-process."""
    settings = BuildSettings(
        python=tuple(str(i.executable) for i in interps),
        wheelhouse=folder / "wheelhouse-host",
        no_binary=tuple(chosen.from_source),
        url=url,
        owner="bench-host",
        runner="host",
    )
    request = pipeline.Request(folder, settings, env, token=lambda: token)
    with make_runner(settings, env) as runner:
        planned = pipeline.plan(request, runner)
    return len(planned.plan.by_source("build"))


def load() -> str:
    """The load averages (1, 5, 15 minutes), as ``uptime`` prints them."""
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def efficiency(cpu: float, wall: float) -> float:
    """Build CPU seconds ÷ (wall seconds × cores)."""
    cores = os.cpu_count() or 1
    return round(cpu / (wall * cores), 3) if wall > 0 else 0.0


def wheelyard_runs(
    name: str, chosen: Set, interps: list[Interpreter], url: str, where: Where, round_: int = 1
) -> dict[str, dict[str, object]]:
    """Cold, then unchanged and one pin, each of those on a fresh wheelhouse and pip cache
    (nothing kept but the yard; ``round_`` > 1: an owner, caches and logs of its own)."""
    work = WORK / name
    folder = work / "wy-set"
    pin_name, pin_version = chosen.one_pin
    timings: dict[str, dict[str, object]] = {}
    for run_name, pins in (
        ("cold", chosen.pins),
        ("unchanged", chosen.pins),
        ("one pin", {**chosen.pins, pin_name: pin_version}),
    ):
        write_requirements(folder, pins, chosen)
        shutil.rmtree(folder / f"wheelhouse-{where.runner}", ignore_errors=True)
        tag = f"{name}-{where.runner}-{run_name.replace(' ', '-')}"
        tag += f"-r{round_}" if round_ > 1 else ""
        env = clean_env(work / f"cache-{tag}")  # a fresh pip cache every run
        shown = f", round {round_}" if round_ > 1 else ""
        print(f"[{name}] wheelyard build ({where.runner}), {run_name}{shown} …", flush=True)
        before = load()
        seconds, report = wheelyard_build(interps, folder, env, url, tag, chosen, where)
        after = load()
        # The run's logs, kept (the next run starts on a fresh wheelhouse): each build's.
        logs = folder / f"wheelhouse-{where.runner}" / "logs"
        if logs.is_dir():
            shutil.copytree(logs, work / f"logs-{tag}", dirs_exist_ok=True)
        rows = report["wheels"]
        assert isinstance(rows, list)
        built = sorted({r["filename"] for r in rows if r["source"] == "built"})
        phases = report.get("phases", {})
        assert isinstance(phases, dict)
        cpu = round(sum(float(r.get("cpu", 0)) for r in rows), 1)
        build_wall = float(phases.get("build", 0))
        # The builds' own wall seconds: with the CPU seconds, it splits the efficiency into
        # how busy the build slots were and how much CPU a running build got (the machine is
        # shared: other work takes the rest).
        busy = sum(float(r.get("seconds") or 0) for r in rows if r["source"] == "built")
        # The shared build environments' CPU (made ahead, beside the builds): build work in no
        # build's row, as the old loop's `pip wheel` counts its own build environments.
        envs = report.get("build_envs") or {}
        env_cpu = round(float(envs.get("cpu", 0)), 1) if isinstance(envs, dict) else 0.0
        timings[run_name] = {
            "seconds": round(seconds, 1),
            "built": len(built),
            "phases": phases,
            "build_cpu": cpu,
            "efficiency": efficiency(cpu, build_wall),
            "env_cpu": env_cpu,
            "efficiency_with_envs": efficiency(cpu + env_cpu, build_wall),
            "slots_busy": efficiency(busy, build_wall),
            "cpu_per_build_second": round(cpu / busy, 2) if busy else 0.0,
            "load": [before, after],
            "failed": bool(report.get("failed")),
        }
        print(
            f"  {seconds:.1f} s, {len(built)} wheels built, build CPU {cpu} s, load {before} → "
            f"{after}, "
            f"efficiency {efficiency(cpu, build_wall):.0%} "
            f"({efficiency(cpu + env_cpu, build_wall):.0%} with environments), {phases}",
            flush=True,
        )
    return timings


_NO_PHASES = {p: 0.0 for p in PHASE_NAMES}


def _old_runs(
    name: str, chosen: Set, interps: list[Interpreter], work: Path
) -> tuple[float, dict[str, float], list[str], float, list[str]]:
    """The old loop cold and the one-pin reference, each with its loads before and after."""
    print(f"[{name}] old approach, cold, {len(interps)} interpreters …", flush=True)
    old_dir = work / "old-set"
    write_requirements(old_dir, chosen.pins, chosen)
    old_load = [load()]
    old, old_phases = old_loop(interps, old_dir, clean_env(work / "cache-old"), chosen)
    old_load.append(load())
    print(f"  {old:.1f} s {old_phases}, load {old_load[0]} → {old_load[1]}", flush=True)

    print(f"[{name}] reference: the one changed package, built the old way …", flush=True)
    ref_dir = work / "ref-set"
    pin_name, pin_version = chosen.one_pin
    write_requirements(ref_dir, {pin_name: pin_version} if chosen.fabricated else {}, chosen)
    one_load = [load()]
    one, _ = old_loop(
        interps, ref_dir, clean_env(work / "cache-ref"), chosen, [f"{pin_name}=={pin_version}"]
    )
    one_load.append(load())
    print(f"  {one:.1f} s, load {one_load[0]} → {one_load[1]}", flush=True)

    return old, old_phases, old_load, one, one_load


def _median_runs(
    rounds: list[dict[str, dict[str, dict[str, object]]]],
) -> dict[str, dict[str, dict[str, object]]]:
    """Per runner and run, the round with the median wall time (the lower middle of an even
    count), with every round's wall seconds and cold efficiencies beside it, and for the
    container's cold run each round's ratio to the host's cold run of the same round (paired:
    one round's runs follow each other, so they share the machine's state)."""
    runs: dict[str, dict[str, dict[str, object]]] = {}
    for runner in rounds[0]:
        runs[runner] = {}
        for run_name in rounds[0][runner]:
            each = [r[runner][run_name] for r in rounds]
            ordered = sorted(each, key=lambda t: float(t["seconds"]))  # type: ignore[arg-type]
            chosen = dict(ordered[(len(ordered) - 1) // 2])
            chosen["all_seconds"] = [t["seconds"] for t in each]
            chosen["all_efficiency"] = [t.get("efficiency") for t in each]
            chosen["all_efficiency_with_envs"] = [t.get("efficiency_with_envs") for t in each]
            if run_name == "cold" and runner != "host" and "host" in rounds[0]:
                chosen["ratios_to_host"] = [
                    round(float(r[runner]["cold"]["seconds"])  # type: ignore[arg-type]
                          / float(r["host"]["cold"]["seconds"]), 2)  # type: ignore[arg-type]
                    for r in rounds
                ]  # fmt: skip
            runs[runner][run_name] = chosen
    return runs


def bench_set(
    name: str,
    chosen: Set,
    interps: list[Interpreter],
    url: str,
    rounds: list[list[Where]],
    skip_old: bool = False,
) -> dict[str, object]:
    """One set: the old loop cold, the one-pin reference (unless ``skip_old``), and
    wheelyard's runs per runner, in rounds (host, container, host, container …: the
    machine's noise falls on both alike), each figure the median round's."""
    work = WORK / name
    old, old_phases, old_load, one, one_load = 0.0, dict(_NO_PHASES), ["", ""], 0.0, ["", ""]
    if not skip_old:
        old, old_phases, old_load, one, one_load = _old_runs(name, chosen, interps, work)
    runs = _median_runs(
        [
            {w.runner: wheelyard_runs(name, chosen, interps, url, w, number) for w in wheres}
            for number, wheres in enumerate(rounds, start=1)
        ]
    )
    host = next((w for w in rounds[0] if w.runner == "host"), None)
    left = None
    if host is not None:
        left = plan_left(interps, work / "wy-set", clean_env(work / "cache-plan"), url,
                         host.token, chosen)  # fmt: skip
        print(f"[{name}] plan after publishing: {left} to build (expected 0)", flush=True)
    return {
        "old": round(old, 1),
        "old_phases": old_phases,
        "old_build_cpu": old_phases.get("build cpu", 0),
        "old_efficiency": efficiency(old_phases.get("build cpu", 0), old_phases.get("build", 0)),
        "old_load": old_load,
        "one_package_old": round(one, 1),
        "one_package_load": one_load,
        "wheelyard": runs,
        "left_to_build": left,
    }


def _loads(pair: object) -> str:
    return " → ".join(pair) if isinstance(pair, list) else ""


def table(name: str, result: dict[str, object], interps: int) -> None:
    old = float(result["old"])  # type: ignore[arg-type]
    one = float(result["one_package_old"])  # type: ignore[arg-type]
    runs = result["wheelyard"]
    assert isinstance(runs, dict)
    print()
    print(f"set {name}: {interps} interpreters, {os.cpu_count()} cores (shared machine)")
    print("| run | wall s | build CPU s | build efficiency | goal | met | load before → after |")
    print("|---|---|---|---|---|---|---|")
    old_cpu, old_eff = result["old_build_cpu"], float(result["old_efficiency"])  # type: ignore[arg-type]
    old_load, one_load = _loads(result.get("old_load")), _loads(result.get("one_package_load"))
    print(f"| old serial loop, cold | {old:.1f} | {old_cpu} | {old_eff:.0%} | | | {old_load} |")
    print(f"| one package alone, old way | {one:.1f} | | | | | {one_load} |")
    host_cold = float(runs["host"]["cold"]["seconds"]) if "host" in runs else None
    for runner, timings in runs.items():
        for run_name in ("cold", "unchanged", "one pin"):
            t = timings[run_name]
            wall, cpu, eff = float(t["seconds"]), t["build_cpu"], float(t["efficiency"])
            goal, met = "", ""
            if not old and (run_name == "one pin" or (run_name, runner) == ("cold", "host")):
                goal, met = "(old loop skipped)", ""
            elif run_name == "cold" and runner == "host":
                goal, met = "≤ 0.5× old", str(wall <= old / 2)
            elif run_name == "cold" and host_cold:
                goal, met = f"≤ 1.2× host ({wall / host_cold:.2f}×)", str(wall <= 1.2 * host_cold)
            elif run_name == "unchanged":
                goal, met = "≤ 10 s (fresh wheelhouse)", str(wall <= 10)
            elif run_name == "one pin":
                goal, met = f"≤ 1.2× one package old ({wall / one:.2f}×)", str(wall <= 1.2 * one)
            met = "run failed" if t.get("failed") else met
            cells = f"{wall:.1f} | {cpu} | {eff:.0%} | {goal} | {met} | {_loads(t.get('load'))}"
            print(f"| wheelyard {runner}, {run_name} | {cells} |")
    print("(build efficiency: build CPU s ÷ (build-phase wall s × cores); goal ≥ 85 % when cold)")
    first = next(iter(runs.values()))["cold"]
    if len(first.get("all_seconds", [])) > 1:
        print(f"(each figure: the median of {len(first['all_seconds'])} rounds; every round:)")
        for runner, timings in runs.items():
            for run_name in ("cold", "unchanged", "one pin"):
                t = timings[run_name]
                walls = " / ".join(f"{float(x):.1f}" for x in t["all_seconds"])
                extra = ""
                if run_name == "cold":
                    effs = " / ".join(f"{float(x or 0):.0%}" for x in t["all_efficiency"])
                    envs = " / ".join(f"{float(x or 0):.0%}" for x in t["all_efficiency_with_envs"])
                    extra = f"; efficiency {effs}, with envs {envs}"
                if "ratios_to_host" in t:
                    extra += "; ÷ host cold " + " / ".join(f"{x:.2f}×" for x in t["ratios_to_host"])
                print(f"-   {runner}, {run_name}: {walls} s{extra}")
    print()
    print("| run | build slots busy | CPU per build second | envs' CPU s | efficiency with it |")
    print("|---|---|---|---|---|")
    for runner, timings in runs.items():
        t = timings["cold"]
        busy, share = t.get("slots_busy", ""), t.get("cpu_per_build_second", "")
        envs, with_envs = t.get("env_cpu", 0), float(t.get("efficiency_with_envs", 0))
        print(f"| wheelyard {runner}, cold | {busy} | {share} | {envs} | {with_envs:.0%} |")
    print("(slots busy: Σ builds' wall s ÷ (build-phase wall s × cores), the scheduler's part;")
    print(" CPU per build second: build CPU s ÷ Σ builds' wall s, what the machine gave them)")
    print()
    print("| phase (wall s) | " + " | ".join(PHASE_NAMES) + " |")
    print("|---|" + "---|" * len(PHASE_NAMES))
    old_phases = result["old_phases"]
    assert isinstance(old_phases, dict)
    print("| old loop | " + " | ".join(str(old_phases.get(p, 0)) for p in PHASE_NAMES) + " |")
    for runner, timings in runs.items():
        for run_name in ("cold", "unchanged", "one pin"):
            phases = timings[run_name]["phases"]
            cells = " | ".join(str(phases.get(p, 0)) for p in PHASE_NAMES)
            print(f"| wheelyard {runner}, {run_name} | {cells} |")


def engine_overhead(image: str, engine: str | None, rounds: int = 20) -> dict[str, float]:
    """What the container path pays per command, through the builder's own runner (its
    command server): starting the container (its first command), then ``true`` and a bare
    interpreter start, each ``rounds`` times, against the same on the host and one engine
    ``exec`` of ``true`` (what every command cost before the server; milliseconds, medians)."""
    settings = BuildSettings(runner="container", container=image, container_engine=engine)
    result: dict[str, float] = {}

    def median(run: Callable[[], object]) -> float:
        times = []
        for _ in range(rounds):
            started = time.perf_counter()
            run()
            times.append(time.perf_counter() - started)
        return round(statistics.median(times) * 1000, 1)

    with make_runner(settings, os.environ) as runner:
        started = time.perf_counter()
        runner.capture(["true"])
        result["start ms"] = round((time.perf_counter() - started) * 1000, 1)
        python = str(runner.interpreter_candidates()[0])
        result["exec true ms"] = median(lambda: runner.capture(["true"]))
        result["exec python ms"] = median(lambda: runner.capture([python, "-c", "pass"]))
        # What each command cost before the command server: one engine exec.
        if isinstance(runner, ContainerRunner) and runner.engine is not None:
            found, name = runner.engine, runner._name
            result["engine exec true ms"] = median(lambda: found.call("exec", name, "true"))
    result["host true ms"] = median(lambda: subprocess.run(["true"], check=True))
    host_python = str(Path(sys.executable).resolve())
    result["host python ms"] = median(lambda: subprocess.run([host_python, "-c", "pass"]))
    return result


def _user(name: str, yard_env: dict[str, str]) -> str:
    """A user of the bench's yard and its upload token."""
    wheelyard = str(REPO_BIN / "wheelyard")
    subprocess.run([wheelyard, "user", "create", name, "--password-stdin"],
                   input="bench password 1\n", text=True, env=yard_env, check=True,
                   capture_output=True)  # fmt: skip
    return subprocess.run(
        [wheelyard, "token", "create", "--user", name, "--name", "b",
         "--scopes", "api:read api:write pypi:upload"],
        env=yard_env, check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", nargs="+", default=["3.10", "3.11", "3.12", "3.13"])
    parser.add_argument("--sets", nargs="+", choices=sorted(SETS), default=["project", "services"])
    parser.add_argument("--runners", nargs="+", choices=RUNNERS, default=list(RUNNERS))
    parser.add_argument(
        "--image",
        default=DEFAULT_IMAGE,
        help="the container path's image; 'bench': bench/images/build.sh's look-alike with the "
        "host's pyenv CPythons of --python (built once, cached by its recipe)",
    )
    parser.add_argument("--engine", choices=["docker", "podman"], help="default: what answers")
    parser.add_argument(
        "--skip-old",
        action="store_true",
        help="skip the old loop and its one-package reference (for iterating on wheelyard's "
        "runs; their goals against the old loop are then not judged)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="wheelyard's runs this many rounds (each round: every runner's cold, unchanged and "
        "one-pin runs, an owner of its own); the tables show the median round's figures",
    )
    args = parser.parse_args()
    host = BuildSettings(runner="host")
    interps = pipeline.interpreters(
        BuildSettings(python=tuple(args.python), runner="host"), make_runner(host, os.environ)
    )
    if args.image == "bench" and "container" in args.runners:
        made = subprocess.run([str(BENCH_IMAGE), *args.python], stdout=subprocess.PIPE,
                              text=True, check=True)  # fmt: skip
        args.image = made.stdout.strip().splitlines()[-1]
        print(f"container image: {args.image}", flush=True)
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    results: dict[str, object] = {
        "pythons": [i.minor for i in interps],
        "cpus": os.cpu_count(),
        "image": args.image,
    }
    server = start_wheelyard(WORK / "yard", "bench", workers=1)
    try:
        url = server.index_url.split("/bench/")[0]
        yard_env = {**os.environ, "WHEELYARD_DATA_DIR": str(WORK / "yard")}
        rounds: list[list[Where]] = []
        for number in range(1, max(1, args.repeat) + 1):
            wheres = []
            for runner in args.runners:
                flags: tuple[str, ...] = ("--runner", "host")
                if runner == "container":
                    engine = ("--container-engine", args.engine) if args.engine else ()
                    flags = (f"--container={args.image}", *engine)
                # One owner each (their wheels differ in bytes), and each round's own (cold).
                owner = f"bench-{runner}" + (f"-r{number}" if number > 1 else "")
                wheres.append(Where(runner, flags, owner, _user(owner, yard_env)))
            rounds.append(wheres)
        if "container" in args.runners:
            results["engine_overhead"] = overhead = engine_overhead(args.image, args.engine)
            print(f"container path, per command: {overhead}", flush=True)
        for name in args.sets:
            results[name] = bench_set(name, SETS[name], interps, url, rounds, args.skip_old)
    finally:
        server.stop()
    (OUT / "builder.json").write_text(json.dumps(results, indent=2) + "\n")
    for name in args.sets:
        result = results[name]
        assert isinstance(result, dict)
        table(name, result, len(interps))
    if "engine_overhead" in results:
        print(f"\ncontainer path, per command (median ms): {results['engine_overhead']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
