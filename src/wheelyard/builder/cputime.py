"""CPU seconds of commands measured where they run (the host or a container: the engine's
processes are no children of ours): a command is run under a small wrapper, started by the
interpreter being built for, that writes the CPU time of everything it ran to the log."""

from __future__ import annotations

from pathlib import Path

LINE = "# wheelyard: build cpu seconds "  # a build's own commands
ENV_LINE = "# wheelyard: build environment cpu seconds "  # creating a shared build environment
# Python 3.6 syntax: it runs under the interpreter being built for. Started without site
# (-S) and spawning without the subprocess module: it runs once per command, and the
# interpreter's own start is CPU no figure counts (about 11 ms instead of 27 here).
_WRAPPER = (
    "import os, resource, sys; status = os.spawnvp(os.P_WAIT, sys.argv[2], sys.argv[2:]); "
    "used = resource.getrusage(resource.RUSAGE_CHILDREN); "
    "print('%s%.3f' % (sys.argv[1], used.ru_utime + used.ru_stime), flush=True); "
    "sys.exit(status)"
)


def timed(python: Path, cmd: list[str], line: str = LINE) -> list[str]:
    """``cmd`` run under the wrapper (by ``python``), which writes its CPU seconds to the log
    after ``line``."""
    return [str(python), "-S", "-c", _WRAPPER, line, *cmd]


def total(text: str, line: str = LINE) -> float:
    """The CPU seconds the wrapped commands wrote to a log after ``line``, summed."""
    seconds = 0.0
    for logged in text.splitlines():
        if logged.startswith(line):
            try:
                seconds += float(logged[len(line) :])
            except ValueError:
                continue
    return seconds
