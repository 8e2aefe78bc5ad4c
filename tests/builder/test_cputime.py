"""CPU seconds measured where commands run: the wrapper's lines in a log, a build's own and
a build environment's counted apart."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from wheelyard.builder import cputime


def test_the_wrapper_writes_the_cpu_of_what_it_ran_under_its_own_line(tmp_path: Path) -> None:
    spin = [sys.executable, "-c", "import time\nend = time.process_time() + 0.3\n"
            "while time.process_time() < end: pass"]  # fmt: skip
    logged = []
    for line in (cputime.LINE, cputime.ENV_LINE):
        done = subprocess.run(cputime.timed(Path(sys.executable), spin, line),
                              capture_output=True, text=True, check=True)  # fmt: skip
        logged.append(done.stdout)
    text = "".join(logged) + f"{cputime.LINE}not a number\n"
    build, env = cputime.total(text), cputime.total(text, cputime.ENV_LINE)
    # Each line counts its own command only: about 0.3 s, plus a child interpreter's start.
    assert 0.3 <= build < 1.5 and 0.3 <= env < 1.5
    assert cputime.total(logged[1]) == 0.0  # an environment's CPU is no build's


def test_the_wrapper_passes_the_exit_status_on(tmp_path: Path) -> None:
    cmd = cputime.timed(Path(sys.executable), [sys.executable, "-c", "raise SystemExit(3)"])
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 3 and done.stdout.startswith(cputime.LINE)
