"""``build-setup.sh``: run once with ``bash -e`` before any build; the variables it exports
(CFLAGS, PKG_CONFIG_PATH, CC …) are handed to every build. In a container it may start ahead
(:class:`Started`), while the set is resolved elsewhere, since nothing it does there outlives
the container."""

from __future__ import annotations

import threading
from concurrent.futures import Future
from pathlib import Path

from wheelyard.builder.hints import tail
from wheelyard.builder.runners import Runner
from wheelyard.builder.secret import SECRET_VARIABLES

SCRIPT = "build-setup.sh"
SETUP_LOG = "build-setup.log"  # (in the wheelhouse's logs folder)
# Set by bash itself, not by the script.
_SHELL_NOISE = {"_", "SHLVL", "PWD", "OLDPWD"}


class SetupFailed(Exception):
    def __init__(self, status: int, log: Path) -> None:
        self.status = status
        self.log = log
        self.tail = tuple(tail(log.read_text(errors="replace")))
        super().__init__(f"{SCRIPT} failed with exit status {status} (log: {log})")


def _parse(blob: bytes) -> dict[str, str]:
    result = {}
    for entry in blob.split(b"\0"):
        name, sep, value = entry.decode(errors="surrogateescape").partition("=")
        if sep:
            result[name] = value
    return result


def run_setup(runner: Runner, folder: Path, log: Path) -> dict[str, str]:
    """Run ``folder/build-setup.sh`` if it exists; return the variables it set or changed."""
    script = folder / SCRIPT
    if not script.is_file():
        return {}
    log.unlink(missing_ok=True)
    with runner.scratch("wheelyard-setup-") as tmp:
        before, after = tmp / "before", tmp / "after"
        # Sourced, so its exports survive to the final `env -0`; the environment is dumped
        # before too, so only what the script changed is handed on.
        status = runner.run(
            [
                "bash",
                "-c",
                # Not an && list: errexit is ignored inside one.
                'env -0 >"$1" || exit 1; set -e; source "$2"; set +e; env -0 >"$3"',
                "wheelyard-setup",
                str(before),
                str(script.absolute()),
                str(after),
            ],
            log,
            cwd=folder,
        )
        if status != 0 or not after.exists():
            raise SetupFailed(status, log)
        old, new = _parse(before.read_bytes()), _parse(after.read_bytes())
    return {
        k: v
        for k, v in new.items()
        if old.get(k) != v and k not in _SHELL_NOISE and k not in SECRET_VARIABLES
    }


class Started:
    """build-setup.sh running ahead in ``runner`` (a thread of its own); :meth:`result` waits
    for the variables it set, or raises :class:`SetupFailed`. Never waited for when the run
    turns out to build nothing: removing the container ends it."""

    def __init__(self, runner: Runner, folder: Path, log: Path) -> None:
        self.runner = runner
        self._future: Future[dict[str, str]] = Future()
        log.parent.mkdir(parents=True, exist_ok=True)
        threading.Thread(
            target=self._run, args=(folder, log), name="wheelyard-build-setup", daemon=True
        ).start()

    def _run(self, folder: Path, log: Path) -> None:
        try:
            self._future.set_result(run_setup(self.runner, folder, log))
        except BaseException as exc:  # handed to whoever waits, as run_setup would raise it
            self._future.set_exception(exc)

    def result(self) -> dict[str, str]:
        return self._future.result()
