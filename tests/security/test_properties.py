"""Property-based tests (hypothesis) of every place the yard reads a name, a version, a file name
or core metadata: the pure rules in ``yard/names.py`` and ``yard/distfile.py``, and every HTTP
route family of the real ASGI application (real routing, real SQLite or PostgreSQL database,
real blob store) driven in-process with Starlette's TestClient.

What must hold for any input: the rules raise nothing but ``InvalidInput``; what they accept is
clean (ASCII, no whitespace or control characters, within the column widths) and stable; the
server never answers 5xx, and every error is a JSON ``{"error": ...}`` body (S3-style XML on the
credential-less stage-upload route).
"""

from __future__ import annotations

import io
import json
import string
import tarfile
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from packaging.tags import Tag
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.helpers import yard_of
from wheelyard.config import Settings
from wheelyard.db.unit import transaction
from wheelyard.errors import InvalidInput
from wheelyard.testing import make_sdist, make_wheel
from wheelyard.web.app import create_app
from wheelyard.web.context import YardContext
from wheelyard.yard import accounts, labels, tokens
from wheelyard.yard.distfile import ParsedName, inspect_file, parse_filename
from wheelyard.yard.names import (
    MAX_PROJECT,
    MAX_VERSION,
    RESERVED_OWNERS,
    check_label_name,
    check_owner_name,
    check_project_name,
    check_version,
)

with warnings.catch_warnings():
    # Starlette 1.x asks for httpx2 under its TestClient; httpx is what the project uses.
    warnings.simplefilter("ignore", UserWarning)
    from starlette.testclient import TestClient

# Hand-made zips may repeat a member name on purpose.
pytestmark = pytest.mark.filterwarnings("ignore:Duplicate name:UserWarning")

# Pure rules are cheap: many examples. Entry points cost a request each: fewer, so that the
# whole module runs in about a minute. Counts are multiples of the loaded profile's base
# (tests/conftest.py): 100 under CI (300, 200, 800, 250 examples), a tenth in a developer's run.
BASE = settings().max_examples
PURE = settings(max_examples=3 * BASE, deadline=None)
FILES = settings(
    max_examples=2 * BASE,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
ROUTES = settings(
    max_examples=8 * BASE,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# --- strategies --------------------------------------------------------------------------------

# Characters a name must never carry: controls, NUL, whitespace (ASCII and not), and homoglyphs
# that case-fold to ASCII letters (Kelvin sign, long s, dotless i, Cyrillic a).
NASTY = "\x00\t\n\r\x0b\x0c \x85\xa0\u2028\u3000\u212a\u017f\u0131\u0430\ufeff"
nasty_char = st.sampled_from(NASTY)
any_text = st.text(max_size=120)
# Text from the alphabet the rules accept, so that the valid branch is reached often.
name_like = st.text(alphabet=string.ascii_letters + string.digits + "._-", min_size=1, max_size=80)


@st.composite
def spoiled(draw: st.DrawFn, base: st.SearchStrategy[str]) -> str:
    """A value from ``base`` with one nasty character put anywhere (ends included)."""
    text = draw(base)
    at = draw(st.integers(0, len(text)))
    return text[:at] + draw(nasty_char) + text[at:]


# PEP 440 versions built from their parts, so every one is valid.
versions = st.builds(
    lambda epoch, release, pre, post, dev, local: (
        (f"{epoch}!" if epoch else "")
        + ".".join(map(str, release))
        + (f"{pre[0]}{pre[1]}" if pre else "")
        + (f".post{post}" if post is not None else "")
        + (f".dev{dev}" if dev is not None else "")
        + (f"+{local}" if local else "")
    ),
    st.integers(0, 3),
    st.lists(st.integers(0, 2**40), min_size=1, max_size=4),
    st.none() | st.tuples(st.sampled_from(["a", "b", "rc"]), st.integers(0, 99)),
    st.none() | st.integers(0, 99),
    st.none() | st.integers(0, 99),
    st.none() | st.from_regex(r"[a-z0-9]{1,8}(\.[a-z0-9]{1,8}){0,2}", fullmatch=True),
)
project_names = st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9._-]{0,30}[A-Za-z0-9])?", fullmatch=True)
tags = st.sampled_from(
    [
        "py3-none-any",
        "py2.py3-none-any",
        "cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64",
        "cp312-abi3-musllinux_1_2_aarch64",
        "cp310-cp310-win_amd64",
        "pp310-pypy310_pp73-macosx_11_0_arm64",
    ]
)


# --- names -------------------------------------------------------------------------------------


def _refused_or(check: Any, value: str) -> str | None:
    """The rule's answer, or None when it refused with InvalidInput (anything else fails)."""
    try:
        result: str = check(value)
    except InvalidInput:
        return None
    return result


def _clean(text: str) -> bool:
    return text.isascii() and text.isprintable() and not any(c.isspace() for c in text)


@PURE
@given(st.one_of(any_text, name_like, spoiled(name_like)))
@example("\u212a")  # KELVIN SIGN lower-cases to "k"
@example("alice\n")  # "$" in a regex also matches before a final newline
def test_owner_names(name: str) -> None:
    owner = _refused_or(check_owner_name, name)
    if owner is None:
        return
    assert _clean(owner) and 1 <= len(owner) <= 64 and owner == owner.lower()
    assert owner == name.lower() and owner not in RESERVED_OWNERS
    assert check_owner_name(owner) == owner
    assert check_owner_name(owner.upper()) == owner


@PURE
@given(st.one_of(any_text, name_like, spoiled(name_like)))
@example("main\n")
def test_label_names(name: str) -> None:
    label = _refused_or(check_label_name, name)
    if label is None:
        return
    assert label == name and _clean(label) and 1 <= len(label) <= 100
    assert check_label_name(label) == label


@PURE
@given(
    st.one_of(any_text, name_like, spoiled(name_like), st.text("a-", min_size=190, max_size=260))
)
@example("pkg\n")
@example("p\u212ag")
def test_project_names(name: str) -> None:
    canonical = _refused_or(check_project_name, name)
    if canonical is None:
        assert not (
            _clean(name)
            and 0 < len(name) <= MAX_PROJECT
            and name[0].isalnum()
            and name[-1].isalnum()
            and set(name) <= set(string.ascii_letters + string.digits + "._-")
        )
        return
    assert name.isascii() and _clean(name) and len(name) <= MAX_PROJECT
    assert canonical == canonicalize_name(canonical) == canonicalize_name(name)
    assert check_project_name(canonical) == canonical  # idempotent


@PURE
@given(st.one_of(any_text, versions, spoiled(versions), st.text("0123456789.", max_size=300)))
@example("1.0\n")
@example("1.0.po\u017ft1")  # LATIN SMALL LETTER LONG S case-folds to "s"
@example("1" * 5000)
def test_versions(version: str) -> None:
    normal = _refused_or(check_version, version)
    if normal is None:
        return
    assert version.isascii() and _clean(version) and len(version) <= MAX_VERSION
    assert _clean(normal) and len(normal) <= MAX_VERSION
    assert Version(normal) == Version(version)
    assert check_version(normal) == normal


@PURE
@given(versions)
def test_valid_versions_are_accepted(version: str) -> None:
    if len(version) <= MAX_VERSION:
        assert check_version(version) == str(Version(version))


@PURE
@given(st.one_of(any_text, name_like))
def test_nasty_characters_always_refused(base: str) -> None:
    for char in NASTY:
        for value in (char + base, base + char, base[:1] + char + base[1:]):
            for check in (check_owner_name, check_label_name, check_project_name, check_version):
                assert _refused_or(check, value) is None, (check.__name__, value)


# --- file names --------------------------------------------------------------------------------


@PURE
@given(
    st.one_of(
        any_text, spoiled(st.just("pkg-1.0-py3-none-any.whl")), spoiled(st.just("pkg-1.0.tar.gz"))
    )
)
@example("\u212a-1.0-py3-none-any.whl")
@example("pkg-1.0.po\u017ft1-py3-none-any.whl")
@example("pkg-" + "9" * 5000 + "-py3-none-any.whl")  # int() refuses over 4300 digits
@example("pkg-" + "9" * 350 + ".tar.gz")  # wider than releases.version
def test_parse_filename_refuses_or_parses(filename: str) -> None:
    try:
        parsed = parse_filename(filename)
    except InvalidInput:
        return
    assert isinstance(parsed, ParsedName)
    assert _clean(filename), "an accepted file name is printable ASCII without spaces"
    assert filename.endswith((".whl", ".tar.gz")) and len(filename) <= 400
    assert len(parsed.name) <= MAX_PROJECT and len(str(parsed.version)) <= MAX_VERSION


@PURE
@given(
    project_names, versions, tags, st.none() | st.from_regex(r"[0-9][a-z0-9_]{0,5}", fullmatch=True)
)
def test_valid_wheel_names_parse(name: str, version: str, tag: str, build: str | None) -> None:
    dist = canonicalize_name(name).replace("-", "_")
    filename = f"{dist}-{version}{'-' + build if build else ''}-{tag}.whl"
    parsed = parse_filename(filename)
    assert (parsed.kind, parsed.name, parsed.version) == (
        "wheel",
        canonicalize_name(name),
        Version(version),
    )
    interpreters, abis, platforms = tag.split("-")
    assert parsed.tags == {
        Tag(i, a, p)
        for i in interpreters.split(".")
        for a in abis.split(".")
        for p in platforms.split(".")
    }


@PURE
@given(project_names, versions)
def test_valid_sdist_names_parse(name: str, version: str) -> None:
    for stem in (canonicalize_name(name).replace("-", "_"), canonicalize_name(name)):
        if "-" in stem:
            continue  # a dash in an sdist name is ambiguous; PEP 625 says underscore
        parsed = parse_filename(f"{stem}-{version}.tar.gz")
        assert (parsed.kind, parsed.name, parsed.version) == (
            "sdist",
            canonicalize_name(name),
            Version(version),
        )


# --- core metadata and archives ----------------------------------------------------------------

FIELDS = [
    "Metadata-Version",
    "Name",
    "Version",
    "Summary",
    "Requires-Python",
    "Requires-Dist",
    "Provides-Extra",
    "License-Expression",
    "License-File",
    "Dynamic",
    "Classifier",
    "Project-URL",
    "Description-Content-Type",
    "Keywords",
    "Author-email",
    "Platform",
    "Supported-Platform",
    "Obsoletes-Dist",
]
header_values = st.one_of(
    st.text(max_size=60),
    st.sampled_from(["1.0", "2.1", "2.4", "pkg", ">=3.8", "requests>=2; extra == 'x'", "MIT"]),
    st.from_regex(r"=\?[a-z0-9-]{0,10}\?[bqBQx]\?[A-Za-z0-9+/=!_ ]{0,20}\?=", fullmatch=True),
    st.integers(1, 200_000).map(lambda n: "x" * n),  # huge field
)
header = st.tuples(st.sampled_from(FIELDS) | st.text(min_size=1, max_size=20), header_values)


@st.composite
def metadata_bytes(draw: st.DrawFn) -> bytes:
    """A METADATA file: often a valid core (so validation goes deep), plus arbitrary headers,
    junk lines, a body, and text in any of several encodings or raw bytes."""
    lines = []
    if draw(st.booleans()):
        lines += ["Metadata-Version: 2.1", "Name: pkg", "Version: 1.0"]
    for name, value in draw(st.lists(header, max_size=8)):
        lines.append(f"{name}: {value}")
    lines += draw(st.lists(st.text(max_size=40), max_size=3))  # junk lines (continuations too)
    text = "\n".join(lines) + "\n\n" + draw(st.text(max_size=100))
    encoding = draw(st.sampled_from(["utf-8", "latin-1", "utf-16", "surrogates"]))
    if encoding == "surrogates":
        data = text.encode("utf-8", "surrogatepass")
    else:
        data = text.encode(encoding, "replace")
    if draw(st.booleans()):
        data = draw(st.binary(max_size=64)) + data  # not text at all in front
    return data


def _zip(path: Path, members: list[tuple[str, bytes, int]]) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data, method in members:
            info = zipfile.ZipInfo(name)
            info.compress_type = method
            zf.writestr(info, data)


def _must_refuse_or_accept(path: Path, filename: str) -> None:
    try:
        dist = inspect_file(path, filename)
    except InvalidInput:
        return
    parsed = parse_filename(filename)
    assert (dist.name, dist.version) == (parsed.name, parsed.version)
    assert canonicalize_name(dist.display_name) == dist.name
    assert len(dist.display_name) <= MAX_PROJECT and len(dist.requires_python or "") <= 200


@FILES
@given(project_names, versions, st.sampled_from(["wheel", "sdist"]), st.text(max_size=200))
def test_generated_distributions_are_accepted(
    tmp_path: Path, name: str, version: str, kind: str, summary: str
) -> None:
    """Every wheel and sdist with a valid name and version (and any one-line summary) passes,
    with the name and version its file name carries."""
    summary = " ".join(summary.split())  # one header line
    if kind == "wheel":
        path = make_wheel(tmp_path, name, version, summary=summary, requires_python=">=3.8")
    else:
        path = make_sdist(tmp_path, name, version, summary=summary)
    dist = inspect_file(path, path.name)
    assert (dist.kind, dist.name, dist.version) == (kind, canonicalize_name(name), Version(version))
    assert dist.display_name == name and (dist.summary or "") == summary
    path.unlink()


INFO = "pkg-1.0.dist-info"
WHEEL = b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"


@FILES
@given(metadata_bytes())
def test_wheel_metadata(tmp_path: Path, metadata: bytes) -> None:
    path = tmp_path / "pkg-1.0-py3-none-any.whl"
    stored = zipfile.ZIP_DEFLATED
    _zip(
        path,
        [
            (f"{INFO}/METADATA", metadata, stored),
            (f"{INFO}/WHEEL", WHEEL, stored),
            (f"{INFO}/RECORD", b"", stored),
        ],
    )
    _must_refuse_or_accept(path, path.name)


@FILES
@given(metadata_bytes())
def test_sdist_metadata(tmp_path: Path, metadata: bytes) -> None:
    path = tmp_path / "pkg-1.0.tar.gz"
    with tarfile.open(path, "w:gz") as tf:
        info = tarfile.TarInfo("pkg-1.0/PKG-INFO")
        info.size = len(metadata)
        tf.addfile(info, io.BytesIO(metadata))
    _must_refuse_or_accept(path, path.name)


member_names = st.one_of(
    st.sampled_from(
        [f"{INFO}/METADATA", f"{INFO}/WHEEL", f"{INFO}/RECORD", "other-1.0.dist-info/METADATA"]
    ),
    st.text(max_size=30),
    st.builds(lambda a, b: f"{a}.dist-info/{b}", st.text(max_size=10), st.text(max_size=10)),
)
methods = st.sampled_from(
    [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA]
)


@st.composite
def damaged(draw: st.DrawFn, data: bytes) -> bytes:
    """``data`` with some bytes overwritten, a tail cut off or junk appended."""
    out = bytearray(data)
    for _ in range(draw(st.integers(0, 8))):
        if out:
            out[draw(st.integers(0, len(out) - 1))] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        out = out[: draw(st.integers(0, len(out)))]
    return bytes(out) + draw(st.binary(max_size=16))


@FILES
@given(st.data())
def test_wheel_archives(tmp_path: Path, data: st.DataObject) -> None:
    """Wheels built by hand (any members, any compression) or made valid and then damaged:
    corrupt streams, encrypted-entry flags, unknown compression methods, cut archives."""
    path = tmp_path / "pkg-1.0-py3-none-any.whl"
    if data.draw(st.booleans()):
        members = data.draw(st.lists(st.tuples(member_names, st.binary(max_size=200), methods)))
        _zip(path, members)
    else:
        good = make_wheel(tmp_path, "pkg", "1.0").read_bytes()
        path.write_bytes(data.draw(damaged(good)))
    _must_refuse_or_accept(path, path.name)


@FILES
@given(st.data())
def test_sdist_archives(tmp_path: Path, data: st.DataObject) -> None:
    path = tmp_path / "pkg-1.0.tar.gz"
    good = make_sdist(tmp_path, "pkg", "1.0").read_bytes()
    path.write_bytes(data.draw(damaged(good)))
    _must_refuse_or_accept(path, path.name)


@pytest.mark.parametrize("flag_bit", [0x1, 0x40])  # encrypted, strong encryption
def test_encrypted_metadata_is_refused(tmp_path: Path, flag_bit: int) -> None:
    """A zip entry flagged as encrypted makes zipfile raise RuntimeError, not BadZipFile."""
    path = make_wheel(tmp_path, "pkg", "1.0")
    raw = bytearray(path.read_bytes())
    # Set the flag in every local and central header (general purpose flags at +6 / +8).
    for sig, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = raw.find(sig)
        while at != -1:
            raw[at + offset] |= flag_bit
            at = raw.find(sig, at + 4)
    path.write_bytes(bytes(raw))
    with pytest.raises(InvalidInput):
        inspect_file(path, path.name)


def test_unknown_compression_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "pkg-1.0-py3-none-any.whl"
    _zip(
        path,
        [
            (f"{INFO}/METADATA", b"Metadata-Version: 2.1\nName: pkg\nVersion: 1.0\n\n", 0),
            (f"{INFO}/WHEEL", WHEEL, 0),
            (f"{INFO}/RECORD", b"", 0),
        ],
    )
    raw = bytearray(path.read_bytes())
    for sig, offset in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):  # compression method
        at = raw.find(sig)
        while at != -1:
            raw[at + offset : at + offset + 2] = (99).to_bytes(2, "little")
            at = raw.find(sig, at + 4)
    path.write_bytes(bytes(raw))
    with pytest.raises(InvalidInput):
        inspect_file(path, path.name)


# --- every HTTP entry point --------------------------------------------------------------------

PASSWORD = "correct horse battery"
TOKEN_NAME = "props-main-token-not-in-any-strategy"  # never drawn: DELETE by name keeps it


@dataclass
class Live:
    """The real application over a fresh yard: alice (token with every scope) owns a public
    wheel and sdist on ``main``, a wheel on the private label ``secret`` and the org ``acme``;
    bob is another user with a token of his own."""

    client: TestClient
    yard: YardContext
    token: str
    other: str
    wheel: str
    sdist: str
    sha: str
    wheel_bytes: bytes


def _json(value: Any) -> str:
    return json.dumps(value)


# PostgreSQL is a server process: that half is e2e; on SQLite all runs in-process.
@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.e2e)])
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Live]:
    data = tmp_path_factory.mktemp("props") / "data"
    env = {
        "WHEELYARD_DATA_DIR": str(data),
        # Junk credentials are drawn often: keep the throttle out of the way of the rest.
        "WHEELYARD_AUTH_FAILURES_PER_CLIENT": "1000000",
        "WHEELYARD_AUTH_FAILURES_PER_USER": "1000000",
        "WHEELYARD_REMOVAL_DELAY": "3600",
    }
    if request.param == "postgres":
        from tests.postgres import new_database

        env["WHEELYARD_DATABASE_URL"] = new_database(request.getfixturevalue("postgres"))
    app = create_app(Settings.from_env(env))
    yard = yard_of(app)
    with yard.sessions() as session, transaction(session):
        alice = accounts.create_user(session, "alice", PASSWORD)
        bob = accounts.create_user(session, "bob", PASSWORD)
        session.flush()
        accounts.create_org(session, "acme", "alice")
        labels.get_label(session, alice, "secret", create=True)
        labels.set_private(session, alice, "secret", True)
        _t, token = tokens.create_token(session, alice, TOKEN_NAME, ["all"])
        _t, other = tokens.create_token(session, bob, "bob-token", ["all"])
    files = tmp_path_factory.mktemp("dists")
    wheel = make_wheel(files, "pkg", "1.0")
    sdist = make_sdist(files, "pkg", "1.0")
    hidden = make_wheel(files, "hidden", "2.0")
    with TestClient(app) as client:
        auth = {"Authorization": f"token {token}"}
        for path, label in ((wheel, ""), (sdist, ""), (hidden, "label/secret/")):
            answer = client.post(
                f"/alice/{label}", headers=auth, files={"content": (path.name, path.read_bytes())}
            )
            assert answer.status_code == 200, answer.text
        sha = client.get(
            "/alice/simple/pkg/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}
        )
        digest = sha.json()["files"][0]["hashes"]["sha256"]
        yield Live(client, yard, token, other, wheel.name, sdist.name, digest, wheel.read_bytes())


def check_answer(response: httpx.Response, method: str, xml: bool = False) -> None:
    """Never a 5xx; every error is a JSON object with "error" (or S3 XML where ``xml``)."""
    assert response.status_code < 500, (response.status_code, response.text[:2000])
    if response.status_code < 400 or method == "HEAD":
        return
    if xml and response.text.startswith("<?xml"):
        assert "<Error><Code>" in response.text, response.text[:500]
        return
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = response.json()
    assert isinstance(body, dict) and isinstance(body.get("error"), str), body


JUNK_SEGMENTS = [
    "..",
    ".",
    "%2e%2e",
    "%00",
    "a%00b",
    "%2F",
    "%",
    "%zz",
    "%ff%fe",
    "%c0%ae%c0%ae",
    "%E2%80%AE",
    "alice%0A",
    "main%0A",
    "pkg%0A",
    "1.0%0A",
    "%E2%84%AA",  # KELVIN SIGN
    "~",
    "*",
    "-",
    "_",
    "api",
    "simple",
    "label",
    "t",
]


def segments(live: Live) -> st.SearchStrategy[str]:
    """One URL path segment, already percent-encoded where needed."""
    real = [
        "alice",
        "ALICE",
        "acme",
        "bob",
        "nobody",
        "main",
        "secret",
        "pkg",
        "Pkg",
        "PKG.",
        "hidden",
        "1.0",
        "1.0.0",
        "01.0",
        "2.0",
        live.wheel,
        live.sdist,
        "hidden-2.0-py3-none-any.whl",
        live.sha,
        "0" * 64,
    ]
    return st.one_of(
        st.sampled_from(real),
        st.sampled_from(real),  # twice: valid prefixes reach the deeper checks more often
        st.sampled_from(JUNK_SEGMENTS),
        st.text(min_size=1, max_size=40).map(lambda s: quote(s, safe="")),
        name_like,
        versions,
        st.builds(
            lambda n, c: c * n, st.integers(90, 6000), st.sampled_from(["a", "1", "9", ".", "-"])
        ),
    )


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(-(2**80), 2**80)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
    | st.integers(1, 20_000).map(lambda n: "9" * n),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
BODY_KEYS = [
    "max-age",
    "scopes",
    "note",
    "user",
    "fail-if-exists",
    "public",
    "public_attrs",
    "channels",
    "sha256",
    "dist_id",
    "from_channel",
    "to_owner",
    "to_channel",
    "package",
    "version",
    "basename",
]
bodies = st.one_of(
    st.none(),
    st.dictionaries(st.sampled_from(BODY_KEYS), json_values, max_size=5).map(_json),
    json_values.map(_json),
    st.sampled_from(
        [
            '{"max-age": NaN}',
            '{"max-age": Infinity}',
            '{"max-age": 1e999}',
            '{"max-age": -1}',
            '{"max-age": "99999999999999999999999"}',
            '{"max-age": "1" }',
            '{"scopes": "all"}',
            '{"scopes": [1, null]}',
            '{"scopes": {"all": 1}}',
            '{"channels": 5}',
            '{"channels": {"main": 1}}',
            '{"public_attrs": []}',
            '{"public_attrs": {"name": {"x": 1}}}',
            '{"public_attrs": {"name": "x\\u0000y"}}',
            "[1, 2]",
            '"text"',
            "{",
            "\x00",
        ]
    ),
    st.binary(max_size=40).map(lambda b: b.decode("latin-1")),
)

# Route templates by family; {a} {b} {c} {d} {e} are segments drawn per request.
ROUTE_TABLE = [
    ("GET", "/{a}/simple/"),
    ("GET", "/{a}/simple/{b}/"),
    ("GET", "/{a}/label/{b}/simple/"),
    ("GET", "/{a}/label/{b}/simple/{c}/"),
    ("HEAD", "/{a}/label/{b}/simple/{c}/"),
    ("GET", "/{a}/files/{b}/{c}"),
    ("GET", "/{a}/files/{b}/{c}.metadata"),
    ("GET", "/{a}/label/{b}/files/{c}/{d}"),
    ("GET", "/{a}/all-labels/simple/{b}/"),
    ("GET", "/{a}/all-labels/files/{b}/{c}"),
    ("GET", "/t/{a}/{b}/simple/{c}/"),
    ("GET", "/t/{a}/{b}/label/{c}/files/{d}/{e}"),
    ("GET", "/api/packages/{a}"),
    ("GET", "/api/package/{a}/{b}"),
    ("POST", "/api/package/{a}/{b}"),
    ("PATCH", "/api/package/{a}/{b}"),
    ("DELETE", "/api/package/{a}/{b}"),
    ("GET", "/api/release/{a}/{b}/{c}"),
    ("POST", "/api/release/{a}/{b}/{c}"),
    ("PATCH", "/api/release/{a}/{b}/{c}"),
    ("DELETE", "/api/release/{a}/{b}/{c}"),
    ("GET", "/api/dist/{a}/{b}/{c}/{d}"),
    ("DELETE", "/api/dist/{a}/{b}/{c}/{d}"),
    ("GET", "/api/download/{a}/{b}/{c}/{d}"),
    ("POST", "/api/stage/{a}/{b}/{c}/{d}"),
    ("POST", "/api/commit/{a}/{b}/{c}/{d}"),
    ("GET", "/api/channels/{a}"),
    ("GET", "/api/channels/{a}/{b}"),
    ("POST", "/api/channels/{a}/{b}"),
    ("DELETE", "/api/channels/{a}/{b}"),
    ("POST", "/api/channels/{a}/{b}/copy/{c}"),
    ("POST", "/api/channels/{a}/{b}/lock"),
    ("DELETE", "/api/channels/{a}/{b}/lock"),
    ("POST", "/api/copy/package/{a}/{b}/{c}/"),
    ("PUT", "/api/copy/package/{a}/{b}/{c}/{d}"),
    ("GET", "/api/user/{a}"),
    ("GET", "/api/users/{a}/orgs"),
    ("GET", "/api/events/{a}"),
    ("POST", "/api/authentications"),
    ("GET", "/api/authentications"),
    ("DELETE", "/api/authentications/name/{a}"),
    ("DELETE", "/api/authentications/org/{a}/name/{b}"),
    ("POST", "/{a}/label/{b}"),
    ("POST", "/{a}/"),
]


def credentials(live: Live) -> st.SearchStrategy[dict[str, str]]:
    import base64

    def basic(user: str, password: str) -> str:
        return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    return st.sampled_from(
        [
            {},
            {"Authorization": f"token {live.token}"},
            {"Authorization": f"token {live.token}"},
            {"Authorization": f"Bearer {live.token}"},
            {"Authorization": basic("__token__", live.token)},
            {"Authorization": f"token {live.other}"},
            {"Authorization": "token wy_not-a-real-token"},
            {"Authorization": "Basic !!!"},
            {"Authorization": "Basic " + base64.b64encode(b"\xff\xfe:\x00").decode()},
            {"Authorization": basic("alice", PASSWORD)},
            {"Authorization": basic("alice", "wrong password")},
            {"Authorization": "Negotiate abc"},
            {"Authorization": ""},
        ]
    )


@st.composite
def requests(draw: st.DrawFn, live: Live) -> tuple[str, str, str, dict[str, str], str | None]:
    method, template = draw(st.sampled_from(ROUTE_TABLE))
    seg = segments(live)
    path = template.format(**{k: draw(seg) for k in "abcde"})
    headers = dict(draw(credentials(live)))
    if draw(st.booleans()):
        headers["Accept"] = draw(
            st.sampled_from(
                ["application/vnd.pypi.simple.v1+json", "text/html", "image/png", "*/*;q=0", ";;"]
            )
        )
    body = draw(bodies) if method in ("POST", "PUT", "PATCH", "DELETE") else None
    if body is not None:
        headers["Content-Type"] = "application/json"
    return method, template, path, headers, body


@ROUTES
@given(data=st.data())
def test_any_request_on_any_route(live: Live, data: st.DataObject) -> None:
    method, template, path, headers, body = data.draw(requests(live))
    response = live.client.request(method, path, headers=headers, content=body)
    event(f"{method} {template} -> {response.status_code}")  # --hypothesis-show-statistics
    check_answer(response, method)


AUTH = settings(
    max_examples=BASE * 5 // 2,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
upload_names = st.one_of(
    st.just("pkg-1.0-py3-none-any.whl"),
    st.text(max_size=60),
    spoiled(st.just("pkg-1.0-py3-none-any.whl")),
    st.builds(lambda v: f"pkg-{v}-py3-none-any.whl", versions | st.text(max_size=20)),
    st.integers(300, 6000).map(lambda n: f"pkg-{'9' * n}-py3-none-any.whl"),
)
digests = st.one_of(st.none(), st.text(max_size=70), st.from_regex(r"[0-9a-f]{64}", fullmatch=True))


@st.composite
def contents(draw: st.DrawFn, live: Live) -> bytes:
    kind = draw(st.sampled_from(["wheel", "damaged", "junk"]))
    if kind == "wheel":
        return live.wheel_bytes
    if kind == "damaged":
        return draw(damaged(live.wheel_bytes))
    return draw(st.binary(max_size=200))


@AUTH
@given(data=st.data())
def test_legacy_upload_of_any_file(live: Live, data: st.DataObject) -> None:
    """twine's and uv's upload: any file name, any bytes, any digest fields."""
    label = data.draw(st.sampled_from(["", "label/main/", "label/fresh/", "label/secret/"]))
    fields = {":action": "file_upload"}
    for name in ("sha256_digest", "md5_digest", "name", "version"):
        value = data.draw(digests)
        if value is not None:
            fields[name] = value
    response = live.client.post(
        f"/alice/{label}",
        headers={"Authorization": f"token {live.token}"},
        data=fields,
        files={"content": (data.draw(upload_names), data.draw(contents(live)))},
    )
    event(f"upload -> {response.status_code}")
    check_answer(response, "POST")


@AUTH
@given(data=st.data())
def test_anaconda_upload_of_any_file(live: Live, data: st.DataObject) -> None:
    """The anaconda client's stage → S3-style transfer → commit, with any names and bytes."""
    import hashlib

    auth = {"Authorization": f"token {live.token}"}
    seg = segments(live)
    package = data.draw(st.sampled_from(["pkg", "Pkg"]) | seg)
    version = data.draw(st.sampled_from(["1.0", "1.0.0"]) | seg)
    basename = quote(data.draw(upload_names), safe="")
    content = data.draw(contents(live))
    sha = data.draw(st.just(hashlib.sha256(content).hexdigest()) | digests)
    channels = data.draw(st.just(["main"]) | json_values)
    path = f"/api/stage/alice/{package}/{version}/{basename}"
    staged = live.client.post(path, headers=auth, json={"sha256": sha, "channels": channels})
    event(f"stage -> {staged.status_code}")
    check_answer(staged, "POST")
    if staged.status_code != 200:
        return
    ticket = staged.json()
    form = dict(ticket["form_data"])
    for name in ("Content-Length", "Content-MD5"):
        value = data.draw(st.none() | st.text(max_size=30) | st.just(str(len(content))))
        if value is not None:
            form[name] = value
    if data.draw(st.booleans()):
        form["signature"] = data.draw(st.text(max_size=50))
    sent = live.client.post(ticket["post_url"], data=form, files={"file": (basename, content)})
    event(f"transfer -> {sent.status_code}")
    check_answer(sent, "POST", xml=True)
    dist_id = data.draw(st.just(ticket["dist_id"]) | json_values)
    done = live.client.post(
        path.replace("/stage/", "/commit/"), headers=auth, json={"dist_id": dist_id}
    )
    event(f"commit -> {done.status_code}")
    check_answer(done, "POST")


@AUTH
@given(
    dist_id=st.text(min_size=1, max_size=80).map(lambda s: quote(s, safe="")),
    body=st.binary(max_size=300),
    content_type=st.sampled_from(
        [
            "multipart/form-data; boundary=x",
            "multipart/form-data",
            "application/json",
            "text/plain",
            "multipart/form-data; boundary=",
        ]
    ),
)
def test_transfer_route_with_any_body(
    live: Live, dist_id: str, body: bytes, content_type: str
) -> None:
    response = live.client.post(
        f"/api/stage-upload/{dist_id}", content=body, headers={"Content-Type": content_type}
    )
    check_answer(response, "POST", xml=True)


@AUTH
@given(
    body=st.dictionaries(
        st.sampled_from(["max-age", "scopes", "note", "user", "fail-if-exists"]),
        json_values,
        max_size=5,
    ),
    basic=st.booleans(),
)
@example(body={"max-age": "9" * 5000}, basic=False)  # int() refuses over 4300 digits
@example(body={"max-age": "\u00b2"}, basic=False)  # "²".isdigit() is true, int("²") fails
@example(body={"max-age": "\u0663"}, basic=False)  # ARABIC-INDIC THREE: not ASCII, refused
def test_token_creation_with_any_body(live: Live, body: dict[str, Any], basic: bool) -> None:
    """``max-age``, ``scopes``, ``note``, ``user``, ``fail-if-exists`` of any JSON type: 200 or a
    clear 4xx, and an accepted token works."""
    import base64

    if basic:
        auth = "Basic " + base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
    else:
        auth = f"token {live.token}"
    body = {**body, "note": body.get("note") if body.get("note") != TOKEN_NAME else "x"}
    response = live.client.post("/api/authentications", headers={"Authorization": auth}, json=body)
    check_answer(response, "POST")
    if response.status_code == 200:
        secret = response.json()["token"]
        me = live.client.get("/api/authentication", headers={"Authorization": f"token {secret}"})
        assert me.status_code == 200, me.text


@AUTH
@given(
    name=st.one_of(
        name_like, any_text, spoiled(name_like), st.text("a-", min_size=190, max_size=260)
    )
)
def test_api_package_names_follow_the_upload_rule(live: Live, name: str) -> None:
    """POST /api/package creates exactly the packages an upload could create."""
    auth = {"Authorization": f"token {live.token}"}
    response = live.client.post(f"/api/package/alice/{quote(name, safe='')}", headers=auth, json={})
    check_answer(response, "POST")
    accepted = _refused_or(check_project_name, name) is not None
    if response.status_code == 200:
        assert accepted, name
        assert response.json()["normalized_name"] == canonicalize_name(name)
    elif accepted and "/" not in name:
        raise AssertionError((name, response.status_code, response.text))


@AUTH
@given(
    version=st.one_of(versions, any_text, spoiled(versions), st.text("0123456789.", max_size=300))
)
def test_api_release_versions_follow_the_upload_rule(live: Live, version: str) -> None:
    auth = {"Authorization": f"token {live.token}"}
    # A package of its own: the route test may have deleted alice/pkg.
    assert live.client.post("/api/package/alice/releases", headers=auth).status_code == 200
    path = f"/api/release/alice/releases/{quote(version, safe='')}"
    response = live.client.post(path, headers=auth, json={})
    check_answer(response, "POST")
    normal = _refused_or(check_version, version)
    if response.status_code == 200:
        assert normal is not None and response.json()["version"] == normal, version
        shown = live.client.get(path, headers=auth)
        assert shown.status_code == 200 and shown.json()["version"] == normal
    elif normal is not None and "/" not in version:
        raise AssertionError((version, response.status_code, response.text))


@pytest.mark.parametrize(
    ("name", "requires_python"),
    [("a" + "-" * 300 + "b", None), ("ok", ",".join(f"!=3.{i}.*" for i in range(40)))],
    ids=["display-name", "requires-python"],
)
def test_overlong_metadata_fields_are_refused(
    live: Live, tmp_path: Path, name: str, requires_python: str | None
) -> None:
    """A Name that canonicalises short ("a---…---b" is "a-b") or a long Requires-Python did not
    fit packages.display_name / files.requires_python: PostgreSQL answered 500."""
    wheel = make_wheel(tmp_path, name, "1.0", requires_python=requires_python)
    response = live.client.post(
        "/alice/label/overlong/",  # a label of its own: the route test may have locked main
        headers={"Authorization": f"token {live.token}"},
        files={"content": (wheel.name, wheel.read_bytes())},
    )
    check_answer(response, "POST")
    assert response.status_code == 400 and "at most 200" in response.json()["error"]


@pytest.mark.parametrize("length", [b"9" * 5000, b"\xb2", b"-1", b"1e9"])
def test_absurd_content_length(live: Live, length: bytes) -> None:
    """A Content-Length of 5000 digits made int() raise ValueError (500) in the body limit."""
    for path in ("/api/package/alice/lengths", "/alice/label/lengths/"):
        response = live.client.post(
            path,
            headers={"Authorization": f"token {live.token}", "Content-Length": length},
            content=b"{}",
        )
        check_answer(response, "POST")
