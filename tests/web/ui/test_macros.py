"""The web UI's shared template macros (templates/macros.html), rendered by the UI's own
Jinja2 environment: the table frame and the pager."""

from __future__ import annotations

import re

import pytest
from markupsafe import Markup

from wheelyard.web.ui.pages import _env

TABLE = (
    '{% from "macros.html" import table %}'
    "{% call table(caption, columns) %}<tr><td>{{ cell }}</td></tr>{% endcall %}"
)
PAGER = (
    '{% from "macros.html" import pager %}{{ pager(number, pages, "Things", "Back", "On", note) }}'
)


def test_table_frames_the_callers_rows_and_escapes_names() -> None:
    html = _env.from_string(TABLE).render(
        caption="Files of <b>",
        columns=["A&B", Markup('<span class="vh">Actions</span>')],
        cell="<i>",
    )
    html = re.sub(r"\s*\n\s*", "", html)
    assert html == (
        '<div class="scroll"><table><caption>Files of &lt;b&gt;</caption>'
        '<thead><tr><th scope="col">A&amp;B</th>'
        '<th scope="col"><span class="vh">Actions</span></th></tr></thead>'
        "<tbody><tr><td>&lt;i&gt;</td></tr></tbody></table></div>"
    )


@pytest.mark.parametrize(
    ("number", "pages", "links"),
    [
        (1, 1, []),
        (1, 3, [("2", "On")]),
        (2, 3, [("1", "Back"), ("3", "On")]),
        (3, 3, [("2", "Back")]),
    ],
)
def test_pager_links_only_to_pages_that_exist(
    number: int, pages: int, links: list[tuple[str, str]]
) -> None:
    html = _env.from_string(PAGER).render(number=number, pages=pages, note="")
    assert re.findall(r'<a href="\?page=(\d+)">([^<]*)</a>', html) == links
    if pages == 1:
        assert html.strip() == ""
    else:
        assert 'aria-label="Things"' in html
        assert f"<span>Page {number} of {pages}</span>" in html


def test_pager_note() -> None:
    html = _env.from_string(PAGER).render(number=1, pages=2, note="250 packages")
    assert "<span>Page 1 of 2 (250 packages)</span>" in html
