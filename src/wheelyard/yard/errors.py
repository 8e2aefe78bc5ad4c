"""The yard's errors are the project's errors: see ``wheelyard.errors`` (kept importable here
for the builder modules that still name this path)."""

from wheelyard.errors import *  # noqa: F403
from wheelyard.errors import YardError as YardError
