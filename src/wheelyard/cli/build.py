"""``wheelyard build``: list interpreters, plan a requirements set, or carry the plan out
(fetch, build, repair, verify, publish to a label)."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

from wheelyard.builder import portability
from wheelyard.builder.runners import AUTO, DEFAULT, RUNNERS, Runner, decide, make_runner
from wheelyard.builder.runners.engines import ENGINES
from wheelyard.builder.runners.images import DEFAULT as DEFAULT_IMAGE
from wheelyard.builder.runners.images import PYPA
from wheelyard.builder.secret import seal, upload_token
from wheelyard.builder.settings import TRANSFERS, BuildSettings, load
from wheelyard.cli.terminal import err, out, shown, styled
from wheelyard.config import Settings
from wheelyard.errors import InvalidInput

if TYPE_CHECKING:
    from rich.text import Text

    from wheelyard.builder.pipeline import Planned, Publication, Request
    from wheelyard.builder.portability import Portability
    from wheelyard.builder.run import Outcome

# What only a run needs (the pipeline, rich's tables, httpx …) is imported inside the functions:
# ``wheelyard build`` replaces its process once before it runs anything (builder/secret.py),
# and the process it replaces should not have loaded it all for nothing.


def list_pythons(args: argparse.Namespace, settings: BuildSettings, runner: Runner) -> int:
    from rich.table import Table

    from wheelyard.builder.interpreters import discover, select

    table = Table("python", "tag", "executable", "selected")
    wanted = settings.python
    chosen = {i.executable for i in select(list(wanted), runner)} if wanted else None
    for interp in discover(runner):
        selected = (interp.version[:2] >= (3, 9)) if chosen is None else interp.executable in chosen
        table.add_row(
            ".".join(map(str, interp.version)),
            interp.tag,
            str(interp.executable),
            "yes" if selected else "",
        )
    out.print(table)
    return 0


def _swallowed_folder(args: argparse.Namespace) -> None:
    """``--container`` takes an optional value, so ``--container FOLDER`` makes FOLDER the
    image: say so rather than try to pull it."""
    image = getattr(args, "container", None)
    if image and args.folder == "." and (Path(image) / "requirements.txt").is_file():
        raise InvalidInput(
            f"--container took {image!r} as the image, but it is a requirements folder: "
            f"write `wheelyard build {image} --container` or `--container=IMAGE`"
        )


def settings_of(args: argparse.Namespace) -> BuildSettings:
    cli = {
        "python": tuple(args.python or ()),
        "jobs": args.jobs,
        "wheelhouse": args.wheelhouse,
        "plat": args.plat,
        "from_source": args.from_source,
        "no_binary": tuple(args.no_binary or ()),
        "url": args.url,
        "owner": args.owner,
        "label": getattr(args, "label", None),
        "runner": getattr(args, "runner", None),
        "target": getattr(args, "target", None),
        "strict": getattr(args, "strict", False),
        "resolver": getattr(args, "resolver", None),
        "strip": "false" if getattr(args, "no_strip", False) else None,
        "container": getattr(args, "container", None),
        "container_engine": getattr(args, "container_engine", None),
        "verify_image": getattr(args, "verify_image", None),
        "container_transfer": getattr(args, "container_transfer", None),
        "container_network": getattr(args, "container_network", None),
    }
    return load(Path(args.folder), cli)


def _notes(planned: Planned) -> None:
    from rich.text import Text

    for warning in planned.warnings:
        err.print(Text.assemble(styled("warning", "yellow"), f": {shown(warning)}"))
    for interp, resolution in planned.notes():
        err.print(f"Python {interp.minor}: {resolution.describe()}")


def plan(args: argparse.Namespace, request: Request, runner: Runner) -> int:
    from rich.table import Table
    from rich.text import Text

    from wheelyard.builder import pipeline

    result = pipeline.plan(request, runner, _notes).plan
    if args.json:
        print(result.to_json())
        return 0
    table = Table("project", "version", "python", "source", "file")
    for step in result.steps:
        cells = (step.project, step.version, step.python, step.source, step.filename)
        table.add_row(*(Text(shown(c)) for c in cells))
    out.print(table)
    counts = {s: len(result.by_source(s)) for s in ("yard", "upstream", "build")}
    out.print(
        f"{counts['yard']} in the yard, {counts['upstream']} upstream wheels, "
        f"{counts['build']} to build"
    )
    return 0


def _failures(outcome: Outcome) -> None:
    from rich.text import Text

    if outcome.setup_failed:
        failed = outcome.setup_failed
        out.print(styled(failed, "red"))
        out.print("\n".join("    " + line for line in failed.tail), markup=False)
    for built in outcome.failed_builds:
        t = built.task
        failure = f"{t.project} {t.version} failed for Python {t.interpreter.minor}"
        out.print(styled(failure, "red"), f"(log: {built.log})")
        out.print("\n".join("    " + line for line in built.tail), markup=False)
        if built.hint:
            out.print(f"  hint: {built.hint}")
    for task, message in outcome.repair_failures:
        out.print(styled("repair failed", "red"), f"for {task.project}: {message}")
    for step, message in outcome.fetch_failures:
        out.print(styled("could not fetch", "red"), f"{step.filename}: {message}")
    for v in outcome.verified:
        state: str | Text = "ok"
        if v.skipped:
            state = "ok (this exact set passed before)"
        elif not v.ok:
            state = Text.assemble(styled("failed", "red"), shown(f": {', '.join(v.failed)}"))
            state.append(shown(f" (log: {v.log})"))
        out.print(Text.assemble(f"verify Python {v.interpreter.minor}: ", state))
        if not v.ok:
            out.print("\n".join("    " + line for line in v.tail), markup=False)


def _portable(outcome: Outcome, settings: BuildSettings, runner: Runner) -> Portability:
    """State the run's glibc floor; warn (or, with --strict, fail) on wheels above target."""
    from rich.text import Text

    done = [r.filename for r in outcome.rows if r.state == "done" and r.filename]
    result = portability.check(done, settings.target)
    above = bool(result.above)
    colour = ("red" if settings.strict else "yellow") if above else "green"
    out.print(Text.assemble("portability: ", styled(result.summary(), colour)))
    for name in result.above:
        kind = "error" if settings.strict else "warning"
        out.print(f"  {kind}: {shown(name)}: {result.floors[name]}", markup=False)
    if above:
        out.print(f"  hint: {portability.hint(runner.name, settings.target)}", markup=False)
    return result


def build(args: argparse.Namespace, request: Request, runner: Runner, why: str = "") -> int:
    """``why``: the reason the default runner chose ``runner`` ("" when it was named)."""
    from wheelyard.builder import pipeline
    from wheelyard.builder.progress import choose, final_table, write_report

    planned = pipeline.plan(request, runner, _notes, ahead=True)
    settings = request.settings
    if runner.name == "host" and planned.plan.by_source("build"):
        err.print(portability.host_note(settings.target, why), markup=False)
    with choose(out) as reporter:
        outcome = pipeline.run(planned, runner, reporter)
    out.print(final_table(outcome.rows))
    _failures(outcome)
    portable = _portable(outcome, settings, runner)
    published: Publication | None = None
    ok = outcome.ok and not (settings.strict and portable.above)
    status = 0 if ok else 1
    if not args.upload:
        out.print(f"wheels are in {request.wheelhouse}")
    elif not ok and not args.upload_anyway:
        out.print(
            styled("not uploading", "red"),
            ": the run failed (use --upload-anyway to upload regardless)",
            sep="",
        )
    else:
        kept = pipeline.record_of(planned, outcome)
        published = pipeline.publish(
            request,
            outcome.wheels,
            (planned.key, kept) if kept is not None else None,
            planned.lines_key,
        )
        _published(published)
        if not published.ok:
            status = 1
    if args.report:
        verdicts = pipeline.report(outcome, status == 0, published)
        verdicts["portability"] = {**portable.to_json(), "strict": settings.strict}
        write_report(Path(args.report), outcome.rows, verdicts)
    return status


def _published(publication: Publication) -> None:
    from rich.text import Text

    for r in publication.results:
        if r.action in ("conflict", "failed"):
            out.print(styled(r.action, "red"), f": {r.filename}: {r.detail}", sep="")
    owner, label = publication.owner, publication.label
    out.print(f"label {label} of {owner}: {publication.summary() or 'nothing to publish'}")
    out.print(f"published to {publication.url}")
    if publication.note:
        out.print(Text.assemble(styled("warning", "yellow"), f": {shown(publication.note)}"))


def run(args: argparse.Namespace, _settings: Settings) -> int:
    _swallowed_folder(args)
    # Before anything runs (an interpreter probe, pip, a build): see builder/secret.py.
    seal(getattr(args, "own_process", False), args.token_file)
    settings, why = decide(settings_of(args), os.environ)
    if why and settings.runner != "host":
        err.print(f"note: building in containers ({why}); --runner host builds on this machine")
    started = time.monotonic()
    with make_runner(settings, os.environ) as runner:
        if args.list_pythons:
            return list_pythons(args, settings, runner)
        from wheelyard.builder.pipeline import Request

        request = Request(
            Path(args.folder),
            settings,
            os.environ,
            args.refresh,
            token=upload_token,
            upload=bool(getattr(args, "upload", False)) and not args.plan,
        )
        if args.plan:
            return plan(args, request, runner)
        status = build(args, request, runner, why)
        out.print(f"finished in {time.monotonic() - started:.1f} s")
        return status


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "build",
        help="build, repair and verify wheels for a requirements set",
        description="Build, repair (auditwheel) and verify manylinux wheels for the "
        "requirements.txt in FOLDER, for every selected interpreter, and publish them to a "
        "label of a yard. In FOLDER: requirements.txt (what to build), requirements-build.txt "
        "(installed into every build environment), build-setup.sh (run once with bash before "
        "the builds; the variables it exports reach every build).",
        epilog="Settings live in [tool.wheelyard.build] of FOLDER/pyproject.toml or [build] of "
        "FOLDER/wheelyard.toml (per-project overrides in [...packages.NAME]: environment, "
        "build-requires, no-binary, exclude, test); WHEELYARD_* variables override the file, "
        "flags override both. Interpreters: every CPython >= 3.9 found on PATH, in pyenv and "
        "in /opt/python unless --python says otherwise (the oldest supported is 3.6). --url is "
        "both the yard asked what is already built and the one --upload publishes to.",
    )
    p.add_argument("folder", nargs="?", default=".", help="holds requirements.txt (default .)")
    p.add_argument(
        "--python",
        nargs="+",
        metavar="SEL",
        help="versions (3.12), ranges (3.10-3.13), tags (cp312), paths or globs (default: "
        "every CPython >= 3.9 found; see --list-pythons)",
    )
    p.add_argument("--list-pythons", action="store_true", help="show the interpreters found")
    p.add_argument("--plan", action="store_true", help="print the plan and exit")
    p.add_argument("--json", action="store_true", help="with --plan: machine-readable")
    p.add_argument("--from-source", action="store_true", help="build every project from sdist")
    p.add_argument("--no-binary", nargs="+", metavar="PROJECT", help="build these from sdist")
    p.add_argument("--wheelhouse", help="output folder (default ./wheelhouse)")
    p.add_argument("--report", metavar="FILE", help="write the run's result as JSON")
    p.add_argument(
        "--refresh",
        action="store_true",
        help="resolve and verify again even if the pinned set and the wheels are unchanged",
    )
    p.add_argument("--jobs", type=int, help="parallel builds (default: CPU count)")
    p.add_argument(
        "--runner",
        choices=sorted([*RUNNERS, AUTO]),
        help=f"where builds run (WHEELYARD_RUNNER; default {DEFAULT}: in containers where docker "
        "or podman answers, else on the host)",
    )
    p.add_argument(
        "--resolver",
        choices=["auto", "pip", "uv"],
        help="what resolves (WHEELYARD_RESOLVER; default auto: uv unless pip's configuration "
        "names indexes, find-links or constraints, which only pip reads)",
    )
    p.add_argument(
        "--no-strip",
        action="store_true",
        help="keep debug information in extensions and grafted libraries (strip = false)",
    )
    p.add_argument(
        "--container",
        nargs="?",
        const=DEFAULT_IMAGE,
        metavar="IMAGE",
        help=f"build, repair and verify in containers of IMAGE (WHEELYARD_CONTAINER; default "
        f"{DEFAULT_IMAGE}; short names {', '.join(sorted(PYPA))} mean PyPA's images)",
    )
    p.add_argument(
        "--container-engine",
        choices=ENGINES,
        help="docker or podman (WHEELYARD_CONTAINER_ENGINE; default: whichever answers)",
    )
    p.add_argument(
        "--container-transfer",
        choices=TRANSFERS,
        help="how files reach the containers (WHEELYARD_CONTAINER_TRANSFER; default auto: "
        "copied in and out when DOCKER_HOST names a tcp:// or ssh:// daemon, as with GitLab's "
        "docker-in-docker, else bind mounts)",
    )
    p.add_argument(
        "--container-network",
        metavar="NETWORK",
        help="the containers' network (WHEELYARD_CONTAINER_NETWORK; default: the engine's), "
        "e.g. host where the daemon has no bridge network; builds then reach this machine's "
        "local services",
    )
    p.add_argument(
        "--verify-image",
        metavar="IMAGE",
        help="verify in clean containers of this image (default: the build image)",
    )
    p.add_argument("--plat", help="the manylinux policy to repair to (default: the best one)")
    p.add_argument(
        "--target",
        metavar="POLICY",
        help="the policy wheels must install on, e.g. manylinux2014 (WHEELYARD_TARGET; "
        f"default {portability.DEFAULT_TARGET}); wheels above it are a warning",
    )
    p.add_argument(
        "--strict",
        action="store_true",
        help="a wheel above the target fails the run and stops the upload (WHEELYARD_STRICT)",
    )
    p.add_argument(
        "--upload",
        action="store_true",
        help="publish to the yard once verification passed (token: WHEELYARD_TOKEN or "
        "--token-file; never visible to what is built)",
    )
    p.add_argument(
        "--token-file",
        metavar="PATH",
        help="read the token from this file (WHEELYARD_TOKEN_FILE), not the environment",
    )
    p.add_argument("--upload-anyway", action="store_true", help="publish even if a step failed")
    p.add_argument("--label", help="label to publish to (default: the git branch)")
    p.add_argument(
        "--url",
        help="the yard (WHEELYARD_URL): asked what is already built, and where --upload publishes",
    )
    p.add_argument("--owner", help="the owner whose files count as built")
    p.set_defaults(func=run)
