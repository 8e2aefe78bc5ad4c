"""``wheelyard ci init github|gitlab|travis``: write the CI workflow that builds on every push
to a branch and publishes to the branch's label (templates and rules: ``wheelyard/ci/``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from wheelyard.ci.templates import (
    DEFAULT_INSTALL,
    RELEASE_INSTALL,
    SERVICES,
    render,
    write,
)
from wheelyard.cli.common import err, out
from wheelyard.config import Settings


def init(args: argparse.Namespace, _settings: Settings) -> int:
    root = Path(args.root)
    text = render(args.service, args.pull_requests, args.folder, args.install)
    target = write(args.service, root, text, args.force)
    out.print(f"wrote {target}")
    if not (root / args.folder / "requirements.txt").is_file():
        err.print(f"note: no requirements.txt in {root / args.folder} yet: the build needs one")
    if args.install == RELEASE_INSTALL:
        err.print(
            f"note: the workflow installs wheelyard with `pip install {RELEASE_INSTALL}`; "
            "if it is not on your index, pass --install with where yours comes from"
        )
    elif args.install == DEFAULT_INSTALL:
        err.print(
            f"note: the workflow installs wheelyard with `pip install {DEFAULT_INSTALL}`, the "
            "commit this one was installed from; pass --install to choose another"
        )
    out.print("set WHEELYARD_URL, WHEELYARD_OWNER and WHEELYARD_TOKEN as masked CI secrets")
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    ci = sub.add_parser("ci", help="set up CI to build and publish wheels on every push")
    group = ci.add_subparsers(dest="ci_command", metavar="COMMAND", required=True)
    p = group.add_parser(
        "init",
        help="write the CI workflow file",
        description="Write the workflow that runs `wheelyard build --container --upload` on "
        "every push to a branch (label = the branch), with the yard's URL, owner and token "
        "from the CI's secret store. Pull/merge requests never publish.",
    )
    p.add_argument(
        "service",
        choices=sorted(SERVICES),
        help=", ".join(f"{k}: {s.path}" for k, s in SERVICES.items()),
    )
    p.add_argument(
        "--pull-requests",
        choices=("skip", "build"),
        default="skip",
        help="skip (default): pull requests run nothing; build: build and verify them, "
        "without secrets and without upload",
    )
    p.add_argument("--folder", default=".", help="the folder holding requirements.txt (default .)")
    p.add_argument(
        "--install",
        default=DEFAULT_INSTALL,
        metavar="PIP_ARGS",
        help="what the workflow pip-installs to get wheelyard (default "
        + DEFAULT_INSTALL.replace("%", "%%")
        + ": the commit this wheelyard was installed from, when pip installed it from git)",
    )
    p.add_argument("--root", default=".", help="the repository root (default .)")
    p.add_argument("--force", action="store_true", help="overwrite an existing workflow file")
    p.set_defaults(func=init)
