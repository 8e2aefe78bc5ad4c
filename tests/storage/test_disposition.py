"""The download's Content-Disposition (``storage.disposition``): a plain name as it is, any
other with an ASCII fallback and the exact name in RFC 8187 form, never raw in a header."""

from __future__ import annotations

from urllib.parse import unquote

import pytest

from wheelyard.storage.disposition import attachment


@pytest.mark.parametrize(
    "name",
    ["pkg-1.0-py3-none-any.whl", "pkg-1.0+local.2-py3-none-any.whl", "noarch pkg (1).tar.bz2"],
)
def test_a_plain_name_is_quoted_as_it_is(name: str) -> None:
    assert attachment(name) == f'attachment; filename="{name}"'


@pytest.mark.parametrize(
    ("name", "fallback"),
    [
        ("café-1.0.tar.gz", "caf_-1.0.tar.gz"),
        ('a"b\\c.whl', "a_b_c.whl"),
        ("evil\r\nSet-Cookie: x.whl", "evil__Set-Cookie: x.whl"),
    ],
)
def test_other_names_get_a_fallback_and_the_exact_name(name: str, fallback: str) -> None:
    value = attachment(name)
    head, _, exact = value.partition("; filename*=UTF-8''")
    assert head == f'attachment; filename="{fallback}"'
    assert unquote(exact, encoding="utf-8") == name
    # Only RFC 8187 attr-chars and percent escapes: nothing that could end or split a header.
    assert all(c.isalnum() or c in "!#$&+-.^_`|~%" for c in exact)
    assert value.isascii() and "\r" not in value and "\n" not in value
