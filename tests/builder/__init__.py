"""Tests of the builder. ``host()``: the host runner, with pip isolated from this machine's
configuration, passed explicitly as the builder requires."""

from __future__ import annotations

from tests.conftest import client_env
from wheelyard.builder.runners.host import HostRunner


def host() -> HostRunner:
    return HostRunner(client_env())
