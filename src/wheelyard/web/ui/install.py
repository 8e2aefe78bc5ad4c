"""Install snippets for a package or label page: pip, uv, a requirements-file line, and for
private labels a ``~/.netrc`` entry, so the token never has to go into a URL."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from wheelyard.yard.names import DEFAULT_LABEL


@dataclass(frozen=True)
class Snippets:
    index: str
    pip: str
    uv: str
    requirements: str
    netrc: str | None  # only for private labels


def index_url(base: str, owner: str, label: str) -> str:
    if label == DEFAULT_LABEL:
        return f"{base}/{owner}/simple/"
    return f"{base}/{owner}/label/{label}/simple/"


def snippets(base: str, owner: str, label: str, package: str | None, private: bool) -> Snippets:
    index = index_url(base, owner, label)
    what = package or "PACKAGE"
    netrc = None
    if private:
        host = urlsplit(base).hostname or "localhost"
        netrc = f"machine {host}\nlogin __token__\npassword YOUR-TOKEN"
    return Snippets(
        index,
        f"pip install --index-url {index} {what}",
        f"uv pip install --index-url {index} {what}",
        f"--extra-index-url {index}",
        netrc,
    )
