"""The Anaconda client's deletes, made safe: ``upload --force`` (delete + re-upload) and
``anaconda remove`` are the same request, and wheelyard tells them apart by what follows.

Driven with the unmodified anaconda client against a real server whose removal delay is
short; the simple index that pip reads is checked throughout.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers import JSON, Anaconda, Yard, files_in, new_user, start_yard, stop_yard, text
from wheelyard.testing import make_wheel

pytestmark = pytest.mark.e2e

DELAY = 3.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Yard]:
    yard = start_yard(
        tmp_path_factory.mktemp("deletes") / "data", {"WHEELYARD_REMOVAL_DELAY": str(DELAY)}
    )
    yield yard
    stop_yard(yard)


@pytest.fixture
def client(server: Yard, tmp_path: Path) -> Anaconda:
    return Anaconda.configured(server, tmp_path / "home")


@pytest.fixture
def uploader(server: Yard, owner_name: str) -> tuple[str, str]:
    """A fresh user and an api:write token of theirs."""
    new_user(server, owner_name)
    return owner_name, server.token(owner_name, "up", "api:write")


def sha_on(yard: Yard, owner: str, label: str, project: str) -> dict[str, str]:
    prefix = f"{owner}/simple" if label == "main" else f"{owner}/label/{label}/simple"
    page = httpx.get(f"{yard.url}/{prefix}/{project}/", headers=JSON)
    if page.status_code == 404:
        return {}
    return {f["filename"]: f["hashes"]["sha256"] for f in page.json()["files"]}


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class Watch:
    """Polls a label's page in the background and records any moment a file was missing."""

    def __init__(self, check: Callable[[], bool]) -> None:
        self.check, self.gaps, self.polls = check, 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.polls += 1
            if not self.check():
                self.gaps += 1
            time.sleep(0.02)

    def __enter__(self) -> Watch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def settle() -> None:
    time.sleep(DELAY + 2)  # past the delay and a sweep


def test_force_upload_to_a_second_label_keeps_the_first(
    server: Yard, client: Anaconda, uploader: tuple[str, str], tmp_path: Path
) -> None:
    """The old workflow: the same wheels, forced to a second branch's label."""
    u, token = uploader
    wheels = [make_wheel(tmp_path, "flow", v) for v in ("1.0", "2.0")]
    client("upload", "-u", u, "-l", "main", *map(str, wheels), token=token)
    expected = {w.name: sha(w) for w in wheels}

    with Watch(lambda: sha_on(server, u, "main", "flow") == expected) as watch:
        out = client("upload", "--force", "-u", u, "-l", "dev", *map(str, wheels), token=token)
        settle()
    assert "Upload complete" in text(out)
    assert f"/{u}/label/dev/simple/" in text(out)  # the location names the label
    assert watch.polls > 20 and watch.gaps == 0, "main stopped serving during upload --force"
    assert sha_on(server, u, "main", "flow") == expected
    assert sha_on(server, u, "dev", "flow") == expected
    assert server.cli("check").returncode == 0


def test_explicit_remove_takes_the_file_from_every_label(
    server: Yard, client: Anaconda, uploader: tuple[str, str], tmp_path: Path
) -> None:
    u, token = uploader
    keep, drop = make_wheel(tmp_path, "rm", "1.0"), make_wheel(tmp_path, "rm", "2.0")
    client("upload", "-u", u, "-l", "main", "-l", "dev", str(keep), str(drop), token=token)
    removed = client("remove", "-f", f"{u}/rm/2.0/{drop.name}", token=token)
    assert removed.returncode == 0
    settle()
    assert files_in(server, u, "main", "rm") == files_in(server, u, "dev", "rm") == [keep.name]
    events = server.cli("events", u).stdout
    assert "file-remove" in events and drop.name in events

    # A locked label refuses the delete outright.
    server.cli("label", "lock", u, "main")
    refused = client("remove", "-f", f"{u}/rm/1.0/{keep.name}", token=token, ok=False)
    assert refused.returncode != 0 and "locked" in text(refused)
    settle()
    assert files_in(server, u, "main", "rm") == [keep.name]


def test_force_with_other_bytes_never_changes_other_labels(
    server: Yard, client: Anaconda, uploader: tuple[str, str], tmp_path: Path
) -> None:
    u, token = uploader
    first = make_wheel(tmp_path, "bytes", "1.0", module_body="x = 1\n")
    client("upload", "-u", u, "-l", "main", "-l", "dev", str(first), token=token)
    (tmp_path / "v2").mkdir()
    rebuilt = make_wheel(tmp_path / "v2", "bytes", "1.0", module_body="x = 2\n")

    with Watch(lambda: sha_on(server, u, "main", "bytes") == {first.name: sha(first)}) as watch:
        forced = client(
            "upload", "--force", "-u", u, "-l", "dev", str(rebuilt), token=token, ok=False
        )
        settle()
    assert forced.returncode != 0
    assert "label(s) main" in text(forced) and "new version" in text(forced)
    assert watch.gaps == 0
    for label in ("main", "dev"):
        assert sha_on(server, u, label, "bytes") == {first.name: sha(first)}

    # A file only the upload's own label holds is replaced, as on Anaconda.org.
    solo = make_wheel(tmp_path, "solo", "1.0", module_body="y = 1\n")
    client("upload", "-u", u, "-l", "dev", str(solo), token=token)
    (tmp_path / "v3").mkdir()
    solo2 = make_wheel(tmp_path / "v3", "solo", "1.0", module_body="y = 2\n")
    client("upload", "--force", "-u", u, "-l", "dev", str(solo2), token=token)
    assert sha_on(server, u, "dev", "solo") == {solo2.name: sha(solo2)}
    settle()
    assert sha_on(server, u, "dev", "solo") == {solo2.name: sha(solo2)}
    assert server.cli("check").returncode == 0
