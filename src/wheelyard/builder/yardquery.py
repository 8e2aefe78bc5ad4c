"""What the yard already holds for an owner, under any label the token may read or under one
label: one PEP 691 JSON request per project (several at once), not one per file."""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from wheelyard.client import YardClient

JSON_V1 = "application/vnd.pypi.simple.v1+json"
_AT_ONCE = 8


def held_files(
    client: YardClient, owner: str, projects: Iterable[str], label: str | None = None
) -> dict[str, dict[str, str]]:
    """Project → {file name: sha256} the owner holds under any label, or under ``label``
    (unknown projects absent)."""
    index = f"/{owner}/label/{label}/simple" if label else f"/{owner}/all-labels/simple"

    def one(project: str) -> dict[str, str] | None:
        response = client.get(f"{index}/{project}/", headers={"Accept": JSON_V1})
        if response.status_code == 404:
            return None
        client.check(response)
        return {f["filename"]: f["hashes"]["sha256"] for f in response.json().get("files", [])}

    names = sorted(set(projects))
    with ThreadPoolExecutor(_AT_ONCE) as pool:
        found = pool.map(one, names)
        return {name: files for name, files in zip(names, found, strict=True) if files is not None}
