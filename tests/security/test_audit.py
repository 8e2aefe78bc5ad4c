"""The audit trail: every kind of mutation shows up, with its actor, through the CLI and the
API, and only the owner's users may read it."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.helpers import Yard, wait_for
from wheelyard.testing import make_wheel

pytestmark = pytest.mark.e2e


def test_every_mutation_is_recorded(yard: Yard, owner_name: str, tmp_path: Path) -> None:
    o = owner_name
    token = yard.user(o)
    stranger = yard.user(o + "x")
    auth = {"Authorization": f"token {token}"}
    wheel = make_wheel(tmp_path, "audited", "1.0")
    up = httpx.post(
        f"{yard.url}/{o}/label/dev/",
        auth=("__token__", token),
        files={"content": (wheel.name, wheel.read_bytes())},
    )
    assert up.status_code == 200, up.text
    steps = [
        ("POST", f"api/channels/{o}/dev/copy/main", None),
        ("POST", f"api/channels/{o}/main/lock", None),
        ("DELETE", f"api/channels/{o}/main/lock", None),
        ("POST", f"api/package/{o}/audited", {"public": False}),
        ("POST", f"api/package/{o}/audited", {"public": True}),
        ("POST", f"api/copy/package/{o}/audited/1.0/", {"from_channel": "dev", "to_channel": "qa"}),
    ]
    for method, path, body in steps:
        r = httpx.request(method, f"{yard.url}/{path}", headers=auth, json=body)
        assert r.status_code < 300, (path, r.text)
    yard.cli("label", "private", o, "dev")
    yard.cli("yank", o, "audited", "1.0", "--label", "main", "--reason", "bad")
    # Last: the file goes REMOVAL_DELAY later, which two CLI runs may well outlast.
    r = httpx.delete(f"{yard.url}/api/dist/{o}/audited/1.0/{wheel.name}", headers=auth)
    assert r.status_code < 300, r.text
    yard.token(o, "second", "api:read")
    yard.cli("token", "revoke", "--user", o, "second")
    assert wait_for(lambda: "file-remove " in yard.cli("events", o).stdout + " ")

    printed = yard.cli("events", o).stdout
    for action in (
        "upload",
        "label-copy",
        "label-lock",
        "label-unlock",
        "package-private",
        "package-public",
        "copy",
        "file-remove-requested",
        "file-remove",
        "label-private",
        "yank",
        "token-create",
        "token-revoke",
    ):
        assert action in printed, action
    assert o in printed and "admin" in printed  # API actor, CLI actor
    assert token not in printed

    listed = httpx.get(f"{yard.url}/api/events/{o}", headers=auth)
    assert listed.status_code == 200
    actions = [e["action"] for e in listed.json()]
    assert actions[0] == "token-create" and "upload" in actions and "file-remove" in actions
    assert all(e["at"] and "action" in e for e in listed.json())
    later = httpx.get(f"{yard.url}/api/events/{o}?since=2999-01-01T00:00:00", headers=auth)
    assert later.json() == []
    assert yard.cli("events", o, "--since", "2999-01-01").stdout.count("upload") == 0
    bad = yard.cli("events", o, "--since", "yesterday-ish", check=False)
    assert bad.returncode == 1 and "--since" in bad.stderr

    # Others may not read it; an anonymous reader is asked to authenticate.
    theirs = httpx.get(f"{yard.url}/api/events/{o}", headers={"Authorization": f"token {stranger}"})
    assert theirs.status_code == 403
    assert httpx.get(f"{yard.url}/api/events/{o}").status_code == 401
