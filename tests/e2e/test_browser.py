"""The web UI in a real browser: Debian's chromium, headless, driven by Playwright, against a
server started on 127.0.0.1. A person logs in (by keyboard too), browses owner → package →
file, creates a token and sees it once, copies and locks a label through the confirmation
forms, searches; a description carrying a script and a ``javascript:`` link fires nothing; a
private package never shows to an anonymous browser; a phone-width page does not scroll
sideways. Every test leaves a screenshot in its temp dir."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers import PASSWORD, Yard, start_yard, stop_yard, upload
from wheelyard.testing import make_wheel

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
EVIL = (
    "# Evil\n\n<script>alert(1)</script>\n\n[click me](javascript:alert(2))\n\n"
    '<a href="javascript:alert(3)">or me</a> <img src=x onerror=alert(4)>'
)

if not CHROMIUM.exists():
    pytest.skip("Debian's chromium is not installed (.ci/run installs it)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def yard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Yard]:
    root = tmp_path_factory.mktemp("browser")
    server = start_yard(root / "data", {"WHEELYARD_AUTH_FAILURES_PER_CLIENT": "1000"})
    try:
        token = server.user("alice", "all")
        server.user("bob", "all")
        dists = root / "dists"
        dists.mkdir()
        wheels = [
            make_wheel(dists, "Some.Thing", "1.0", summary="A useful thing"),
            make_wheel(
                dists, "evil-pkg", "1.0", summary="<script>alert(5)</script>", description=EVIL
            ),
        ]
        for wheel in wheels:
            upload(server, "alice/", token, wheel)
        made = httpx.post(
            f"{server.url}/api/package/alice/hushhush",
            headers={"Authorization": f"token {token}"},
            json={"public": False},
        )
        assert made.status_code == 200, made.text
        upload(server, "alice/", token, make_wheel(dists, "hushhush", "1.0"))
        yield server
    finally:
        stop_yard(server)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=ARGS
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser, tmp_path: Path) -> Iterator[object]:  # type: ignore[no-untyped-def]
    context = browser.new_context()
    tab = context.new_page()
    yield tab
    tab.screenshot(path=str(tmp_path / "last.png"), full_page=True)
    context.close()


def log_in(page, yard: Yard, user: str = "alice") -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{yard.url}/-/login")
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{yard.url}/")
    assert page.get_by_role("button", name="Log out").is_visible()


def test_log_in_browse_create_a_token_and_copy_and_lock_a_label(
    page, yard: Yard, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    log_in(page, yard)
    page.get_by_role("link", name="alice", exact=True).first.click()
    page.wait_for_url(f"{yard.url}/alice/")
    page.get_by_role("link", name="Some.Thing").click()
    page.wait_for_url(f"{yard.url}/alice/package/some-thing/")
    assert page.get_by_text("some_thing-1.0-py3-none-any.whl").is_visible()
    assert page.get_by_text(f"pip install --index-url {yard.url}/alice/simple/ some-thing").count()
    page.screenshot(path=str(tmp_path / "package.png"), full_page=True)

    page.get_by_role("link", name="Tokens").click()
    page.get_by_label("Name").fill("from-the-browser")
    page.get_by_label("pypi:download").check()
    page.get_by_label("Expires after").select_option("30 days")
    page.get_by_role("button", name="Create token").click()
    secret = page.get_by_label("Token", exact=True).input_value()
    assert secret.startswith("wy_")
    page.screenshot(path=str(tmp_path / "token.png"), full_page=True)
    simple = httpx.get(f"{yard.url}/alice/simple/", auth=("__token__", secret))
    assert simple.status_code == 200  # the token works
    page.goto(f"{yard.url}/-/tokens")
    assert "from-the-browser" in page.content() and secret not in page.content()

    page.goto(f"{yard.url}/alice/label/main/")
    page.get_by_role("link", name="Copy…").click()
    page.get_by_label("Target label").fill("qa")
    page.get_by_role("button", name="Confirm: copy label").click()
    page.wait_for_url(f"{yard.url}/alice/label/qa/?done=copy")
    assert page.get_by_role("status").inner_text().startswith("Copied")
    page.get_by_role("link", name="Lock…").click()
    page.get_by_role("button", name="Confirm: lock label").click()
    page.wait_for_url(f"{yard.url}/alice/label/qa/?done=lock")
    assert page.locator("h1 .badge.locked").is_visible()
    page.screenshot(path=str(tmp_path / "locked.png"), full_page=True)

    page.get_by_label("Search packages").fill("thing")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{yard.url}/-/search?q=thing")
    assert page.get_by_role("link", name="alice/Some.Thing").is_visible()


def test_keyboard_alone_logs_in(page, yard: Yard) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{yard.url}/-/login")
    for _ in range(12):  # skip link, brand, search, ..., then the user name field
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "login-name":
            break
    assert page.evaluate("document.activeElement.id") == "login-name"
    page.keyboard.type("bob")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{yard.url}/")
    nav = page.get_by_role("navigation", name="Site")
    assert nav.get_by_role("link", name="bob", exact=True).is_visible()


def test_a_script_in_a_description_stays_inert(page, yard: Yard) -> None:  # type: ignore[no-untyped-def]
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(f"{yard.url}/alice/package/evil-pkg/")
    described = page.locator("div.description")
    assert described.get_by_role("heading", name="Evil").is_visible()  # rendered
    for text in ("click me", "or me"):
        link = page.get_by_text(text)
        if link.count():
            link.first.click()
    page.wait_for_timeout(300)
    assert dialogs == []
    assert page.locator("script").count() == 0
    assert page.locator("[href^='javascript:']").count() == 0
    assert "<script>alert(5)</script>" in page.inner_text("p.summary")  # shown as text


def test_a_private_package_is_invisible_to_an_anonymous_browser(page, yard: Yard) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{yard.url}/alice/")
    assert "some-thing" in page.content().lower()
    assert "hushhush" not in page.content()
    missing = page.goto(f"{yard.url}/alice/package/hushhush/")
    assert missing is not None and missing.status == 404
    assert page.get_by_role("heading", name="Not found").is_visible()
    page.goto(f"{yard.url}/-/search?q=hushhush")
    assert page.get_by_text("0 results for").is_visible()
    assert page.locator("ol.hits li").count() == 0


def test_phone_width_has_no_horizontal_scroll(browser, yard: Yard, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 375, "height": 800})
    tab = context.new_page()
    try:
        for path in ("/", "/alice/", "/alice/package/some-thing/", "/alice/label/main/"):
            tab.goto(yard.url + path)
            wide = tab.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert wide <= 0, (path, wide)
        tab.screenshot(path=str(tmp_path / "phone.png"), full_page=True)
    finally:
        context.close()
