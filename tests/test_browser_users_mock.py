"""The Mock interview tab in headless Chromium with two accounts (issue 17): one shared browser, two learners.

Alice signs in, starts a session and answers its first question; her session id stays in the browser's storage
(a reload resumes from it, which she checks). She signs out and bob signs in on the same browser: the tab must
show bob the start screen, not alice's session; his list of past interviews must not name it; typing its id in
"Open a session" must be refused as unknown. Alice, signing in again, finds her session where she left it (bob's
visit left the browser's copy of her id alone).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support.app_server import AppServer, outside_home
from support.browser import CHROMIUM, launch
from support.fakes import JOB_ANSWER

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed"),
]


@pytest.fixture(scope="module")
def app():
    with outside_home("browser-users-mock") as home:
        server = AppServer(home, {"INFRALENS_AUTH": "alice:pw1,bob:pw2"}).start()
        yield server
        server.stop()


def sign_in(page, url: str, user: str, password: str) -> None:
    page.goto(url, wait_until="domcontentloaded")
    page.locator("input[type=password]").wait_for(timeout=60_000)
    page.locator("input:not([type=password])").first.fill(user)
    page.locator("input[type=password]").fill(password)
    page.get_by_role("button", name="Login").click()
    page.get_by_role("tab", name="Mock interview").click(timeout=60_000)


def settled_question(page) -> str:
    """The question pane once the resume-on-load event has answered: a step, or the start screen."""
    page.wait_for_function(
        "() => !!document.querySelector('#il-mock-step') || "
        "(document.querySelector('#il-mock-question')?.innerText || '').includes('Choose the cards')",
        timeout=60_000,
    )
    return str(page.locator("#il-mock-question").inner_text())


def test_on_a_shared_browser_bob_never_sees_alices_mock_session(app):
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = launch(p)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 1600})
            page = context.new_page()
            sign_in(page, app.url, "alice", "pw1")
            page.get_by_role("radio", name="Card list").check()
            page.locator("#il-mock-cards textarea, #il-mock-cards input").first.fill("7,12,13")
            page.locator("#il-mock-start").click()
            page.locator("#il-mock-step[data-kind='question'][data-card='7']").wait_for(timeout=60_000)
            sid = page.locator("#il-mock-session textarea, #il-mock-session input").first.input_value()
            assert sid
            page.locator("#il-mock-typed textarea").fill(JOB_ANSWER)
            page.locator("#il-mock-submit").click()
            page.locator("#il-mock-step[data-kind='follow_up'][data-card='7']").wait_for(timeout=60_000)
            assert sid in page.locator("#il-mock-sessions").inner_text()
            page.reload(wait_until="domcontentloaded")  # her reload resumes it (the id kept in the browser)
            page.get_by_role("tab", name="Mock interview").click(timeout=60_000)
            settled_question(page)
            page.locator("#il-mock-step[data-kind='follow_up'][data-card='7']").wait_for(timeout=60_000)

            page.goto(app.url + "logout", wait_until="domcontentloaded")  # same browser: its storage keeps the id
            sign_in(page, app.url, "bob", "pw2")
            question = settled_question(page)  # the resume-on-load event has answered, with bob's list
            assert "Choose the cards" in question and sid not in question
            assert sid not in page.locator("#il-mock-sessions").inner_text()
            page.locator("#il-mock-open-id textarea, #il-mock-open-id input").first.fill(sid)
            page.locator("#il-mock-open").click()
            page.get_by_text("no session").first.wait_for(timeout=60_000)  # Gradio's error toast
            assert page.locator("#il-mock-step").count() == 0
            assert sid not in page.locator("#il-mock-sessions").inner_text()
            assert sid not in page.locator("#il-mock-session textarea, #il-mock-session input").first.input_value()

            page.goto(app.url + "logout", wait_until="domcontentloaded")
            sign_in(page, app.url, "alice", "pw1")
            settled_question(page)
            page.locator("#il-mock-step[data-kind='follow_up'][data-card='7']").wait_for(timeout=60_000)
        finally:
            browser.close()
