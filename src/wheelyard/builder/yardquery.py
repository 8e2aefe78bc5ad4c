"""What the yard already holds for an owner, under any label the token may read: one PEP 691
JSON request per project to the owner's all-labels index, not one per file."""

from __future__ import annotations

from collections.abc import Iterable

import httpx

JSON_V1 = "application/vnd.pypi.simple.v1+json"


def held_files(
    url: str, owner: str, projects: Iterable[str], token: str | None = None
) -> dict[str, dict[str, str]]:
    """Project → {file name: sha256} the owner holds under any label (unknown projects absent)."""
    headers = {"Accept": JSON_V1}
    if token:
        headers["Authorization"] = f"token {token}"
    result: dict[str, dict[str, str]] = {}
    with httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=60) as client:
        for project in sorted(set(projects)):
            response = client.get(f"/{owner}/all-labels/simple/{project}/")
            if response.status_code == 404:
                continue
            response.raise_for_status()
            result[project] = {
                f["filename"]: f["hashes"]["sha256"] for f in response.json().get("files", [])
            }
    return result
