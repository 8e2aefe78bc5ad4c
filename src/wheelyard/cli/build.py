"""``wheelyard build``: list interpreters, plan a requirements set, or carry the plan out
(fetch, build, repair, verify, publish to a label)."""

from __future__ import annotations

import argparse
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from packaging.utils import parse_wheel_filename
from rich.table import Table

from wheelyard.build.envs import HostEnvironment
from wheelyard.build.interpreters import Interpreter, discover, select
from wheelyard.build.plan import Plan, make_plan
from wheelyard.build.publish import default_label, publish
from wheelyard.build.resolve import resolve
from wheelyard.build.run import execute
from wheelyard.build.yardquery import held_files
from wheelyard.cli.common import out
from wheelyard.config import Settings
from wheelyard.yard.errors import InvalidInput


def list_pythons(args: argparse.Namespace) -> int:
    table = Table("python", "tag", "executable", "selected")
    chosen = {i.executable for i in select(args.python)} if args.python else None
    for interp in discover():
        selected = (interp.version[:2] >= (3, 9)) if chosen is None else interp.executable in chosen
        table.add_row(
            ".".join(map(str, interp.version)),
            interp.tag,
            str(interp.executable),
            "yes" if selected else "",
        )
    out.print(table)
    return 0


def make(args: argparse.Namespace) -> tuple[list[Interpreter], Path, Plan]:
    folder = Path(args.folder)
    requirements = folder / "requirements.txt"
    if not requirements.is_file():
        raise InvalidInput(f"no requirements.txt in {folder.absolute()}")
    interps = select(args.python)
    with ThreadPoolExecutor(max(1, min(len(interps), os.cpu_count() or 1))) as pool:
        closures = dict(
            zip(interps, pool.map(lambda i: resolve(i, requirements), interps), strict=True)
        )
    in_yard: dict[str, dict[str, str]] = {}
    if args.url:
        if not args.owner:
            raise InvalidInput("--url needs --owner")
        projects = {r.name for closure in closures.values() for r in closure}
        in_yard = held_files(args.url, args.owner, projects, os.environ.get("WHEELYARD_TOKEN"))
    result = make_plan(
        closures, in_yard, from_source=args.from_source, no_binary=args.no_binary or ()
    )
    return interps, requirements, result


def plan(args: argparse.Namespace) -> int:
    _interps, _requirements, result = make(args)
    if args.json:
        print(result.to_json())
        return 0
    table = Table("project", "version", "python", "source", "file")
    for step in result.steps:
        table.add_row(step.project, step.version, step.python, step.source, step.filename)
    out.print(table)
    counts = {s: len(result.by_source(s)) for s in ("yard", "upstream", "build")}
    out.print(
        f"{counts['yard']} in the yard, {counts['upstream']} upstream wheels, "
        f"{counts['build']} to build"
    )
    return 0


def build(args: argparse.Namespace) -> int:
    if args.upload and not (args.url and args.owner):
        raise InvalidInput("--upload needs --url and --owner")
    interps, requirements, result = make(args)
    wheelhouse = Path(args.wheelhouse).absolute()
    outcome = execute(
        result,
        interps,
        requirements,
        wheelhouse,
        HostEnvironment(),
        args.jobs or os.cpu_count() or 1,
        args.plat,
        args.url,
        args.owner,
        os.environ.get("WHEELYARD_TOKEN"),
    )
    table = Table("project", "version", "python", "result", "tag / policy", "grafted", "seconds")
    for path in outcome.fetched:
        name, version, _b, _t = parse_wheel_filename(path.name)
        table.add_row(name, str(version), "", "fetched", path.name.rsplit("-", 1)[-1][:-4], "", "")
    for built, repaired in outcome.built:
        t = built.task
        if repaired is None:
            table.add_row(
                t.project,
                t.version,
                t.interpreter.minor,
                "[red]build failed[/]",
                "",
                "",
                f"{built.seconds:.1f}",
            )
        else:
            table.add_row(
                t.project,
                t.version,
                t.interpreter.minor,
                "built",
                repaired.policy,
                ", ".join(repaired.grafted),
                f"{built.seconds:.1f}",
            )
    out.print(table)
    for built, _repaired in outcome.built:
        if not built.ok:
            out.print(
                f"[red]{built.task.project} {built.task.version} failed for Python "
                f"{built.task.interpreter.minor}[/] (log: {built.log})"
            )
            out.print("\n".join("    " + line for line in built.tail), markup=False)
            if built.hint:
                out.print(f"  hint: {built.hint}")
    for built, message in outcome.repair_failures:
        out.print(f"[red]repair failed[/] for {built.task.project}: {message}")
    for v in outcome.verified:
        state = "ok" if v.ok else f"[red]failed[/]: {', '.join(v.failed)} (log: {v.log})"
        out.print(f"verify Python {v.interpreter.minor}: {state}")
    if not args.upload:
        out.print(f"wheels are in {wheelhouse}")
        return 0 if outcome.ok else 1
    if not outcome.ok and not args.upload_anyway:
        out.print(
            "[red]not uploading[/]: the run failed (use --upload-anyway to upload regardless)"
        )
        return 1
    return upload(args, outcome.wheels()) or (0 if outcome.ok else 1)


def upload(args: argparse.Namespace, wheels: list[Path]) -> int:
    token = os.environ.get("WHEELYARD_TOKEN")
    if not token:
        raise InvalidInput("--upload needs the token in WHEELYARD_TOKEN")
    label = args.label or default_label(Path(args.folder))
    results = publish(args.url, args.owner, label, token, wheels)
    counts: dict[str, int] = {}
    for r in results:
        counts[r.action] = counts.get(r.action, 0) + 1
        if r.action in ("conflict", "failed"):
            out.print(f"[red]{r.action}[/]: {r.filename}: {r.detail}")
    summary = ", ".join(f"{n} {action}" for action, n in sorted(counts.items()))
    out.print(f"label {label} of {args.owner}: {summary}")
    return 1 if counts.get("conflict") or counts.get("failed") else 0


def run(args: argparse.Namespace, _settings: Settings) -> int:
    if args.list_pythons:
        return list_pythons(args)
    if args.plan:
        return plan(args)
    return build(args)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("build", help="build, repair and verify wheels for a requirements set")
    p.add_argument("folder", nargs="?", default=".", help="holds requirements.txt (default .)")
    p.add_argument(
        "--python",
        nargs="+",
        default=[],
        metavar="SEL",
        help="versions (3.12), ranges (3.10-3.13), tags (cp312), paths or globs",
    )
    p.add_argument("--list-pythons", action="store_true", help="show the interpreters found")
    p.add_argument("--plan", action="store_true", help="print the plan and exit")
    p.add_argument("--json", action="store_true", help="with --plan: machine-readable")
    p.add_argument("--from-source", action="store_true", help="build every project from sdist")
    p.add_argument("--no-binary", nargs="+", metavar="PROJECT", help="build these from sdist")
    p.add_argument(
        "--wheelhouse", default="wheelhouse", help="output folder (default ./wheelhouse)"
    )
    p.add_argument("--jobs", type=int, help="parallel builds (default: CPU count)")
    p.add_argument("--plat", help="the manylinux policy to repair to (default: the best one)")
    p.add_argument(
        "--upload",
        action="store_true",
        help="publish to the yard (token from WHEELYARD_TOKEN) once verification passed",
    )
    p.add_argument("--upload-anyway", action="store_true", help="publish even if a step failed")
    p.add_argument("--label", help="label to publish to (default: the git branch)")
    p.add_argument("--url", help="the yard to ask what is already built")
    p.add_argument("--owner", help="the owner whose files count as built")
    p.set_defaults(func=run)
