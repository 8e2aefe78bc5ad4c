"""What the yard already holds for an owner: one request per project (any label)."""

from __future__ import annotations

from collections.abc import Iterable

import httpx


def held_files(
    url: str, owner: str, projects: Iterable[str], token: str | None = None
) -> dict[str, dict[str, str]]:
    """Project → {file name: sha256} the owner holds under any label (unknown projects absent)."""
    headers = {"Authorization": f"token {token}"} if token else {}
    result: dict[str, dict[str, str]] = {}
    with httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=60) as client:
        for project in sorted(set(projects)):
            response = client.get(f"/api/package/{owner}/{project}")
            if response.status_code == 404:
                continue
            response.raise_for_status()
            result[project] = {f["basename"]: f["sha256"] for f in response.json().get("files", [])}
    return result
