"""What the yard already holds for an owner, under any label the token may read: one PEP 691
JSON request per project to the owner's all-labels index, not one per file."""

from __future__ import annotations

from collections.abc import Iterable

from wheelyard.client import YardClient

JSON_V1 = "application/vnd.pypi.simple.v1+json"


def held_files(
    client: YardClient, owner: str, projects: Iterable[str]
) -> dict[str, dict[str, str]]:
    """Project → {file name: sha256} the owner holds under any label (unknown projects absent)."""
    result: dict[str, dict[str, str]] = {}
    for project in sorted(set(projects)):
        response = client.get(f"/{owner}/all-labels/simple/{project}/", headers={"Accept": JSON_V1})
        if response.status_code == 404:
            continue
        client.check(response)
        result[project] = {
            f["filename"]: f["hashes"]["sha256"] for f in response.json().get("files", [])
        }
    return result
