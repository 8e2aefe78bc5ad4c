"""Content negotiation (PEP 691) and page rendering details."""

from __future__ import annotations

from datetime import datetime, timezone

from wheelyard.web.render import HTML, HTML_V1, JSON_V1, negotiate, project_html, project_json
from wheelyard.yard.catalog import IndexFile


def test_negotiation() -> None:
    assert negotiate(None, None) == HTML
    assert negotiate("text/html", None) == HTML
    assert negotiate(JSON_V1, None) == JSON_V1
    # pip's header: JSON preferred, HTML fallbacks.
    pip = f"{JSON_V1}, {HTML_V1}; q=0.1, text/html; q=0.01"
    assert negotiate(pip, None) == JSON_V1
    assert negotiate(f"{JSON_V1}; q=0.2, text/html", None) == HTML
    assert negotiate("application/vnd.pypi.simple.latest+json", None) == JSON_V1
    assert negotiate("image/png", None) is None
    assert negotiate("text/html", JSON_V1) == JSON_V1


def _file(**kw: object) -> IndexFile:
    base = dict(
        filename="p-1.0-py3-none-any.whl",
        sha256="a" * 64,
        size=10,
        requires_python="<4,>=3.8",
        metadata_sha256="b" * 64,
        upload_time=datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
        version="1.0",
        yanked=False,
        yanked_reason=None,
    )
    base.update(kw)
    return IndexFile(**base)  # type: ignore[arg-type]


def test_html_escapes_and_advertises() -> None:
    html = project_html("p<x>", [_file(yanked=True, yanked_reason='bad "one"')]).decode()
    assert "Links for p&lt;x&gt;" in html
    assert 'data-requires-python="&lt;4,&gt;=3.8"' in html
    assert 'data-yanked="bad &quot;one&quot;"' in html
    assert f'data-core-metadata="sha256={"b" * 64}"' in html
    assert f'#sha256={"a" * 64}"' in html


def test_json_fields() -> None:
    import json

    data = json.loads(
        project_json("p", [_file(), _file(filename="p-1.0.tar.gz", metadata_sha256=None)])
    )
    whl, sdist = data["files"]
    assert whl["upload-time"] == "2026-01-02T03:04:05.000000Z"
    assert whl["core-metadata"] == {"sha256": "b" * 64} and "core-metadata" not in sdist
    assert whl["yanked"] is False and data["versions"] == ["1.0"]


def test_pep714_metadata_names() -> None:
    """JSON names the metadata only ``core-metadata``: pip 22.3 to 23.1 crash on the legacy
    ``dist-info-metadata`` key as a dict. HTML keeps both attributes for the pips that know only
    the old one (and PEP 714 asks for both)."""
    import json

    digest = f"sha256={'b' * 64}"
    data = json.loads(
        project_json("p", [_file(), _file(filename="p-1.0.tar.gz", metadata_sha256=None)])
    )
    whl, sdist = data["files"]
    assert whl["core-metadata"] == {"sha256": "b" * 64}
    assert "dist-info-metadata" not in whl
    assert "dist-info-metadata" not in sdist and "core-metadata" not in sdist
    html = project_html("p", [_file()]).decode()
    assert f'data-dist-info-metadata="{digest}"' in html
    assert f'data-core-metadata="{digest}"' in html
    bare = project_html("p", [_file(metadata_sha256=None)]).decode()
    assert "metadata" not in bare
