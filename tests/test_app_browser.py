"""End to end in a real browser: ``frbtriage app`` serving a small workspace, driven by
headless Chromium through Playwright (Debian's ``/usr/bin/chromium``; ``make test``
installs it). Signs in, votes with the mouse and with a keyboard shortcut, reloads half-way,
checks the votes in the database, and saves screenshots of the pages into ``docs/``."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from app_workspace import CHROMIUM, CHROMIUM_ARGS, AppServer, AppWorkspace, make_app_workspace

from frbtriage.crowd.volunteers import authenticate
from frbtriage.crowd.votes import votes_of

pytestmark = pytest.mark.browser

DOCS = Path(__file__).resolve().parents[1] / "docs"
#: A laptop screen's browser viewport: the volunteer page must fit without scrolling.
VIEWPORT = {"width": 1366, "height": 768}


def launch_chromium(playwright):  # noqa: ANN001, ANN201 - Playwright objects
    """Headless Chromium from Debian's package (Playwright cannot download browsers here)."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} missing (make test installs Debian's chromium)")
        pytest.skip(f"{CHROMIUM} missing; `make test` installs it (apt-get install chromium)")
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


@pytest.fixture()
def served(tmp_path: Path) -> Iterator[tuple[AppWorkspace, AppServer]]:
    aw = make_app_workspace(tmp_path / "ws", n=30)
    server = AppServer(aw.ws.path)
    try:
        yield aw, server
    finally:
        server.stop()
        aw.ws.close()


def sign_in(page, url: str, token: str, path: str = "") -> None:  # noqa: ANN001
    page.goto(f"{url}/{path}")
    page.get_by_label("Sign-in token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("Signed in as").wait_for(timeout=30_000)


def shown(page) -> int:  # noqa: ANN001
    """The candidate id on screen, once its picture has loaded."""
    page.locator("img").first.wait_for(timeout=30_000)
    page.wait_for_function("() => [...document.images].every(i => i.complete)")
    text = page.get_by_text(re.compile(r"^Candidate \d+")).first.inner_text(timeout=30_000)
    return int(re.search(r"\d+", text).group())


def wait_next(page, before: int) -> int:  # noqa: ANN001
    page.wait_for_function(
        "b => { const m = document.body.innerText.match(/Candidate (\\d+)/);"
        " return m && Number(m[1]) !== b; }", arg=before, timeout=30_000)
    return shown(page)


def test_volunteer_and_researcher_in_a_real_browser(
        served: tuple[AppWorkspace, AppServer]) -> None:
    from playwright.sync_api import sync_playwright

    aw, server = served
    vid = authenticate(aw.ws, aw.tokens["volunteer"]).id
    with sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_page(viewport=VIEWPORT)
        sign_in(page, server.url, aw.tokens["volunteer"])
        page.get_by_role("button", name=re.compile("Got it")).click()
        first = shown(page)
        page.get_by_role("button", name=re.compile("Astrophysical burst")).click()  # mouse
        second = wait_next(page, first)
        page.locator("body").press("2")  # keyboard shortcut: RFI
        third = wait_next(page, second)
        page.screenshot(path=str(DOCS / "app_volunteer.png"))
        fits = page.evaluate("() => document.documentElement.scrollHeight <= innerHeight + 4")
        page.reload()  # half-way: the session ends, the unanswered candidate must come back
        sign_in(page, server.url, aw.tokens["volunteer"])
        assert shown(page) == third
        page.locator("body").press("3")  # can't tell
        wait_next(page, third)

        votes = votes_of(aw.ws, volunteer_id=vid)
        assert [(v.candidate_id, v.answer) for v in votes] == [
            (first, "astro"), (second, "rfi"), (third, "cant_tell")]
        assert all(v.source == "app" for v in votes)

        research = browser.new_page(viewport={"width": 1440, "height": 1500})
        sign_in(research, server.url, aw.tokens["researcher"], "?page=researcher")
        research.get_by_text("candidates shown").wait_for(timeout=30_000)
        research.locator("img").first.wait_for(timeout=30_000)
        research.screenshot(path=str(DOCS / "app_researcher.png"))

        refused = browser.new_page()
        sign_in(refused, server.url, aw.tokens["volunteer"], "?page=researcher")
        refused.get_by_text("needs the researcher role").wait_for(timeout=30_000)
        browser.close()
    assert fits, "the volunteer page scrolls on a 1366 x 768 screen"
