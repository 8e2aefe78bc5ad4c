"""Authentication and authorisation of token management, against a real server (and the real
anaconda client where it is the one asking): scopes on every token route, tokens made for an
organisation, throttled failed authentications, no echo of bad headers, and clear 400s for bad
token-creation input.
"""

from __future__ import annotations

import itertools
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import BIN, PASSWORD, Anaconda, Yard, start_yard, stop_yard, text
from wheelyard.testing import make_wheel

pytestmark = pytest.mark.e2e

WINDOW = 6
THROTTLE = {
    "WHEELYARD_AUTH_FAILURES_PER_CLIENT": "5",
    "WHEELYARD_AUTH_FAILURES_PER_USER": "3",
    "WHEELYARD_AUTH_WINDOW": str(WINDOW),
}
_clients = itertools.count(1)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Yard]:
    yard = start_yard(tmp_path_factory.mktemp("auth") / "data", THROTTLE)
    yield yard
    stop_yard(yard)


def client_ip() -> str:
    """A client address of its own (uvicorn trusts X-Forwarded-For from 127.0.0.1), so each
    throttling test starts with clean counters."""
    n = next(_clients)
    return f"198.51.100.{n}"


def call(
    yard: Yard,
    method: str,
    path: str,
    token: str | None = None,
    ip: str | None = None,
    **kwargs: Any,
) -> httpx.Response:
    headers = dict(kwargs.pop("headers", {}))
    if token is not None:
        headers["Authorization"] = f"token {token}"
    if ip is not None:
        headers["X-Forwarded-For"] = ip
    return httpx.request(method, f"{yard.url}{path}", headers=headers, timeout=30, **kwargs)


def token_names(yard: Yard, user: str) -> str:
    return yard.cli("token", "list", "--user", user).stdout


# --- scopes on token management ----------------------------------------------------------------

MANAGEMENT = [
    ("GET", "/api/authentications", None, "'api:read'"),
    ("DELETE", "/api/authentications/name/other", None, "'api:write'"),
    ("POST", "/api/authentications", {"note": "minted", "scopes": ["pypi:download"]}, "api:write"),
]


@pytest.mark.parametrize(("method", "path", "body", "scope"), MANAGEMENT)
def test_download_token_cannot_manage_tokens(
    server: Yard, owner_name: str, method: str, path: str, body: Any, scope: str
) -> None:
    """A pypi:download token neither lists, nor mints, nor revokes its user's tokens (it did
    all three before): 403 naming the scope it lacks, and nothing changes."""
    download = server.user(owner_name, "pypi:download")
    other = server.token(owner_name, "other", "all")
    answer = call(server, method, path, download, json=body)
    assert answer.status_code == 403, answer.text
    assert scope in answer.json()["error"] and "lacks scope" in answer.json()["error"]
    assert call(server, "GET", "/api/user", other).status_code == 200  # still valid
    assert "minted" not in token_names(server, owner_name)


def test_read_token_lists_but_cannot_revoke(server: Yard, owner_name: str) -> None:
    reader = server.user(owner_name, "api:read")
    server.token(owner_name, "other", "all")
    listing = call(server, "GET", "/api/authentications", reader)
    assert listing.status_code == 200
    assert sorted(t["application"] for t in listing.json()) == ["other", "t0"]
    assert reader not in listing.text
    refused = call(server, "DELETE", "/api/authentications/name/other", reader)
    assert refused.status_code == 403 and "'api:write'" in refused.json()["error"]
    assert "other" in token_names(server, owner_name)


def test_write_token_manages_tokens_but_never_mints_stronger_ones(
    server: Yard, owner_name: str
) -> None:
    writer = server.user(owner_name, "api:write")
    victim = server.token(owner_name, "other", "pypi:download")
    stronger = call(server, "POST", "/api/authentications", writer, json={"scopes": ["all"]})
    assert stronger.status_code == 403 and "scopes it lacks: all" in stronger.json()["error"]
    weaker = call(
        server, "POST", "/api/authentications", writer, json={"note": "ro", "scopes": ["api:read"]}
    )
    assert weaker.status_code == 200, weaker.text
    assert call(server, "GET", "/api/authentications", weaker.json()["token"]).status_code == 200
    revoked = call(server, "DELETE", "/api/authentications/name/other", writer)
    assert revoked.status_code == 201
    assert call(server, "GET", "/api/user", victim).status_code == 401


def test_any_token_shows_and_revokes_itself(server: Yard, owner_name: str) -> None:
    """``anaconda auth --info`` and ``anaconda logout`` work with every valid token."""
    download = server.user(owner_name, "pypi:download")
    info = call(server, "GET", "/api/authentication", download)
    assert info.status_code == 200 and info.json()["application"] == "t0"
    assert call(server, "DELETE", "/api/authentications", download).status_code == 201
    assert call(server, "GET", "/api/authentication", download).status_code == 401


def test_anaconda_client_token_commands(server: Yard, owner_name: str, tmp_path: Path) -> None:
    """The real client: ``auth --list`` needs api:read, ``auth --info`` any token, and
    ``auth --create`` with a password still works."""
    anaconda = Anaconda.configured(server, tmp_path / "home")
    download = server.user(owner_name, "pypi:download")
    refused = anaconda("auth", "--list", token=download, ok=False)
    assert refused.returncode != 0 and "lacks scope 'api:read'" in text(refused)
    assert "t0" in text(anaconda("auth", "--info", token=download))
    reader = server.token(owner_name, "reader", "api:read")
    listing = text(anaconda("auth", "--list", token=reader))
    assert "reader" in listing and "t0" in listing
    anaconda("login", "--username", owner_name, "--password", PASSWORD)
    made = anaconda("auth", "--create", "-n", "made", "--scopes", "api:read", input=PASSWORD + "\n")
    assert made.stdout.strip().splitlines()[-1].startswith("wy_")


# --- tokens made for an organisation ---------------------------------------------------------


def test_org_token_acts_only_for_its_org(server: Yard, owner_name: str, tmp_path: Path) -> None:
    """``anaconda auth --create -o ORG`` makes a token that uploads to ORG only: not to the
    user's own namespace, not to another org of the user (it used to act for all of them)."""
    user, org, other_org = owner_name, owner_name + "org", owner_name + "other"
    server.user(user)
    server.cli("org", "create", org, "--owner", user)
    server.cli("org", "create", other_org, "--owner", user)
    anaconda = Anaconda.configured(server, tmp_path / "home")
    anaconda("login", "--username", user, "--password", PASSWORD)
    made = anaconda(
        "auth",
        "--create",
        "-o",
        org,
        "-n",
        "orgtok",
        "--scopes",
        "api:write pypi:upload",
        input=PASSWORD + "\n",
    )
    org_token = made.stdout.strip().splitlines()[-1]
    assert org_token.startswith("wy_")

    wheel = str(make_wheel(tmp_path, "orgonly", "1.0"))
    anaconda("upload", "-u", org, wheel, token=org_token)
    assert call(server, "GET", f"/{org}/simple/orgonly/").status_code == 200
    for elsewhere in (user, other_org):
        refused = anaconda("upload", "-u", elsewhere, wheel, token=org_token, ok=False)
        assert refused.returncode != 0, text(refused)
        files = {"content": ("orgonly-1.0-py3-none-any.whl", Path(wheel).read_bytes())}
        direct = httpx.post(
            f"{server.url}/{elsewhere}/", auth=("__token__", org_token), files=files
        )
        assert direct.status_code == 403, direct.text
    # An org token is not its user's key to token management either.
    listing = call(server, "GET", "/api/authentications", org_token)
    assert listing.status_code == 403 and "acts only for an organisation" in listing.text


def test_org_token_needs_membership(server: Yard, owner_name: str) -> None:
    server.user(owner_name)
    server.user(owner_name + "b")
    server.cli("org", "create", owner_name + "org", "--owner", owner_name + "b")
    answer = call(
        server,
        "POST",
        "/api/authentications",
        auth=(owner_name, PASSWORD),
        json={"note": "x", "user": owner_name + "org"},
    )
    assert answer.status_code == 403 and "is not a member" in answer.json()["error"]


# --- no echo of malformed Authorization headers ---------------------------------------------


@pytest.mark.parametrize(
    "header", ["Weird S3cr3tValue", "S3cr3tValue", "Basic S3cr3t!Value", "Digest S3cr3tValue"]
)
def test_malformed_authorization_is_not_echoed(server: Yard, owner_name: str, header: str) -> None:
    """The header may be a secret sent to the wrong place: never repeat it (it was echoed)."""
    server.user(owner_name)
    for method, path in [
        ("GET", "/api/user"),
        ("GET", f"/{owner_name}/simple/"),
        ("POST", f"/{owner_name}/"),
        ("POST", "/api/authentications"),
        ("GET", "/api/authentications"),
    ]:
        answer = call(server, method, path, headers={"Authorization": header})
        assert answer.status_code == 401, (method, path, answer.text)
        body = answer.text.lower()
        assert "s3cr3t" not in body and "weird" not in body and "digest" not in body


# --- token creation input ---------------------------------------------------------------------

BAD_BODIES = [
    ({"max-age": "soon"}, "'max-age'"),
    ({"max-age": -5}, "'max-age'"),
    ({"max-age": 0}, "'max-age'"),
    ({"max-age": 10**30}, "'max-age'"),
    ({"max-age": 1.5}, "'max-age'"),
    ({"max-age": True}, "'max-age'"),
    ({"max-age": [3600]}, "'max-age'"),
    ({"scopes": "all"}, "'scopes'"),
    ({"scopes": {"all": 1}}, "'scopes'"),
    ({"scopes": [1, 2]}, "scopes"),
    ({"scopes": ["bogus"]}, "'scopes': unknown scope(s): bogus"),
    ({"note": 5}, "'note'"),
    ({"user": ["org"]}, "'user'"),
    ({"fail-if-exists": "no"}, "'fail-if-exists'"),
]


@pytest.mark.parametrize(("body", "message"), BAD_BODIES)
def test_bad_token_requests_are_400s(
    server: Yard, owner_name: str, body: dict[str, Any], message: str
) -> None:
    """Non-numeric or huge max-age and non-list scopes used to be 500s."""
    server.user(owner_name)
    answer = call(server, "POST", "/api/authentications", auth=(owner_name, PASSWORD), json=body)
    assert answer.status_code == 400, answer.text
    assert message in answer.json()["error"]
    assert token_names(server, owner_name).count("anaconda-client") == 0


def test_max_age_in_seconds_is_accepted(server: Yard, owner_name: str) -> None:
    server.user(owner_name)
    for max_age in (3600, "7200"):
        made = call(
            server,
            "POST",
            "/api/authentications",
            auth=(owner_name, PASSWORD),
            json={"note": f"t{max_age}", "max-age": max_age, "scopes": ["api:read"]},
        )
        assert made.status_code == 200, made.text
        info = call(server, "GET", "/api/authentication", made.json()["token"]).json()
        assert info["expires"] is not None


@pytest.mark.parametrize("max_age", ["soon", "-1", "0", str(10**30), "1.5"])
def test_cli_max_age_is_checked(server: Yard, owner_name: str, max_age: str) -> None:
    server.user(owner_name)
    result = subprocess.run(
        [
            *(str(BIN / "wheelyard"), "token", "create", "--user", owner_name, "--name", "x"),
            *("--scopes", "api:read", f"--max-age={max_age}"),
        ],
        env=server.env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "--max-age" in result.stderr and "Traceback" not in result.stderr


# --- throttling of failed authentications --------------------------------------------------


def login(yard: Yard, user: str, password: str, ip: str) -> httpx.Response:
    return call(
        yard,
        "POST",
        "/api/authentications",
        ip=ip,
        auth=(user, password),
        json={"note": "login", "scopes": ["api:read"]},
    )


def test_password_guessing_is_throttled_per_user(server: Yard, owner_name: str) -> None:
    """After 3 wrong passwords for one user, every login for that user answers 429 with
    Retry-After, from any client and even with the right password, until the window passes."""
    server.user(owner_name)
    guesser = client_ip()
    for n in range(3):
        assert login(server, owner_name, f"guess-{n}", guesser).status_code == 401
    blocked = login(server, owner_name, PASSWORD, client_ip())
    assert blocked.status_code == 429, blocked.text
    retry = int(blocked.headers["Retry-After"])
    assert 1 <= retry <= WINDOW and "too many failed logins" in blocked.json()["error"]
    server.user(owner_name + "x")
    assert login(server, owner_name + "x", PASSWORD, client_ip()).status_code == 200
    time.sleep(retry + 0.5)
    assert login(server, owner_name, PASSWORD, client_ip()).status_code == 200


def test_failed_tokens_are_throttled_per_client(server: Yard, owner_name: str) -> None:
    """5 distinct bad tokens from one client, and it gets 429 even for a valid token; other
    clients are unaffected."""
    good = server.user(owner_name, "api:read")
    guesser = client_ip()
    for n in range(5):
        answer = call(server, "GET", "/api/user", f"wy_guess{n}", ip=guesser)
        assert answer.status_code == 401
    blocked = call(server, "GET", "/api/user", good, ip=guesser)
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) >= 1
    # Every surface that takes a token is covered, the simple index included.
    index = httpx.get(
        f"{server.url}/{owner_name}/simple/",
        auth=("__token__", good),
        headers={"X-Forwarded-For": guesser},
    )
    assert index.status_code == 429
    assert call(server, "GET", "/api/user", good, ip=client_ip()).status_code == 200


def test_password_spraying_is_throttled_per_client(server: Yard, owner_name: str) -> None:
    """One wrong password each for many users still adds up for the client sending them."""
    names = [f"{owner_name}{n}" for n in range(6)]
    for name in names:
        server.user(name)
    sprayer = client_ip()
    # All at once: one after another, five argon2 checks on a loaded machine can outlast the
    # window, and the first failure would expire before the last one counts.
    with ThreadPoolExecutor(5) as pool:
        codes = list(
            pool.map(lambda n: login(server, n, "password1", sprayer).status_code, names[:5])
        )
    assert codes == [401] * 5
    assert login(server, names[5], PASSWORD, sprayer).status_code == 429
    assert login(server, names[5], PASSWORD, client_ip()).status_code == 200


def test_one_stale_token_repeated_does_not_block(server: Yard, owner_name: str) -> None:
    """A CI job retrying with one revoked token is not guessing: only distinct bad credentials
    count, so its client (maybe a proxy shared by everyone) is never blocked."""
    good = server.user(owner_name, "api:read")
    stale = server.token(owner_name, "stale", "api:read")
    server.cli("token", "revoke", "--user", owner_name, "stale")
    ci = client_ip()
    for _ in range(15):
        assert call(server, "GET", "/api/user", stale, ip=ci).status_code == 401
    assert call(server, "GET", "/api/user", good, ip=ci).status_code == 200
