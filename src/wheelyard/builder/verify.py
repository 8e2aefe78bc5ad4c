"""The gate before publishing: for each interpreter, a fresh virtual environment installs the
whole pinned set from the wheelhouse only (wheels only: a ``--no-binary`` in
requirements.txt named how to build, not what to install), then imports every built project (or runs
the project's own test command, from its per-package override). The runner given is the
clean one (``Runner.clean``): with containers, a fresh container that never ran
build-setup.sh, so a library the build had but the wheel did not graft is missing."""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import canonicalize_name, parse_wheel_filename

from wheelyard.builder import uv as uvtool
from wheelyard.builder.buildenvs import UV_CACHE
from wheelyard.builder.hints import tail
from wheelyard.builder.imports import import_names
from wheelyard.builder.interpreters import Interpreter, venv_commands
from wheelyard.builder.runners import Runner

# Imports every module named after the report file in one process; when that fails, each in a
# process of its own, writing the names of those that fail to the report (and the log says
# what it imports). (Python 3.6+.)
IMPORT_EACH = """
import subprocess, sys
report, modules = sys.argv[1], sys.argv[2:]
print("import " + ", ".join(modules))
sys.stdout.flush()
if subprocess.call([sys.executable, "-c", "import " + ", ".join(modules)]) == 0:
    sys.exit(0)
failed = []
for module in modules:
    sys.stdout.flush()
    if subprocess.call([sys.executable, "-c", "import " + module]) != 0:
        print("wheelyard: import %s failed" % module)
        failed.append(module)
with open(report, "w") as fh:
    fh.write("".join(m + "\\n" for m in failed))
sys.exit(1)
"""


@dataclass(frozen=True)
class Verified:
    interpreter: Interpreter
    ok: bool
    log: Path
    failed: tuple[str, ...] = ()  # "install", modules that did not import, failed tests
    tail: tuple[str, ...] = ()
    skipped: bool = False  # this exact set passed before


def verify(
    runner: Runner,
    interp: Interpreter,
    pins: Sequence[str],
    wheelhouse: Path,
    built: Iterable[Path],
    workdir: Path,
    tests: Mapping[str, str] | None = None,
    uv: Sequence[str] | None = None,
) -> Verified:
    """``tests`` maps a project to a shell command that replaces importing it; ``uv``: the
    uv command line, which then creates the venv and installs (builder/uv.py)."""
    venv = workdir / f"verify-{interp.tag}"
    log = wheelhouse / "logs" / f"verify-{interp.tag}.log"
    log.unlink(missing_ok=True)
    shutil.rmtree(venv, ignore_errors=True)
    python = str(venv / "bin" / "python")
    workdir.mkdir(parents=True, exist_ok=True)
    pinned = workdir / f"pins-{interp.tag}.txt"
    pinned.write_text("".join(f"{p}\n" for p in pins))
    create, pip = uvtool.venv_commands(uv, interp, venv) or venv_commands(interp, venv)
    install = [*pip, "install", "--no-index", "--only-binary", ":all:", "--find-links"]
    # uv's cache on the venvs' mount (links, not copies), gone with the work folder (builder/
    # buildenvs.py keeps the builds' for an ephemeral runner; this one never outlives a run).
    cache = {"UV_CACHE_DIR": str(workdir / UV_CACHE)} if uv and runner.ephemeral else {}
    for cmd in (create, [*install, str(wheelhouse), "-r", str(pinned)]):
        if runner.run(cmd, log, cache, cwd=workdir) != 0:
            return Verified(interp, False, log, ("install",), tuple(tail(log.read_text())))
    failed = []
    commands_of = {canonicalize_name(k): v for k, v in (tests or {}).items()}
    modules: set[str] = set()
    commands: dict[str, str] = {}
    nothing_to_import = False
    for wheel in built:
        project = canonicalize_name(parse_wheel_filename(wheel.name)[0])
        if project in commands_of:
            commands[project] = commands_of[project]
        else:
            names = import_names(wheel)
            modules.update(names)
            nothing_to_import = nothing_to_import or not names
    # A wheel with nothing importable by name is checked as installed: its requirements met.
    if nothing_to_import and runner.run([*pip, "check"], log, cwd=workdir) != 0:
        failed.append("pip check")
    # Everything runs outside the requirements folder, so a source checkout cannot shadow
    # the installed wheels. One command: one process imports them all; only when that fails
    # is each imported alone, in its own process, to name the ones that fail (so one
    # module's crash or side effect never decides another's verdict); those it writes to a
    # file. (Names are identifiers: builder/imports.py.)
    if modules:
        report = venv / "failed-imports.txt"
        report.unlink(missing_ok=True)
        cmd = [python, "-c", IMPORT_EACH, str(report), *sorted(modules)]
        if runner.run(cmd, log, cwd=venv) != 0:
            named = report.read_text().split() if report.is_file() else []
            failed += named or sorted(modules)  # (nothing named: the command itself failed)
    # Activated inside the environment, on its own PATH (a container's is not the host's).
    activate = 'PATH="$VIRTUAL_ENV/bin:$PATH"; export PATH; eval "$1"'
    for name, command in sorted(commands.items()):
        cmd = ["bash", "-c", activate, "wheelyard-test", command]
        if runner.run(cmd, log, {"VIRTUAL_ENV": str(venv)}, cwd=venv) != 0:
            failed.append(f"{name} (test: {command})")
    text = log.read_text()
    return Verified(interp, not failed, log, tuple(failed), tuple(tail(text)) if failed else ())
