"""The Mock interview tab inside the main page (`python app.py`, as the README runs it), in headless Chromium with
a fake microphone (issue 16). tests/test_browser_mock.py runs the tab on a page of its own; this one drives it
where people use it, beside the Practice tab's recorders and the History tab.

Card 7 is answered out loud (Chromium's fake capture device plays an espeak-ng answer that says nothing about
tradeoffs) and stopped by pressing Stop as a person does, once the countdown shows the answer has been spoken;
its follow-up probe must be on tradeoffs. A reload then resumes at that probe. The rest is typed, submitted as
soon as each step shows. The report appears at the end, and the History tab lists the session and opens its report.
Every wait is on something visible on the page, never a fixed sleep.
"""

from __future__ import annotations

import contextlib
import wave
from pathlib import Path

import pytest
from support import clips
from support.app_server import REPO, AppServer, outside_home
from support.browser import CHROMIUM, launch, mic_wav
from support.mock_page import WEAK_ON_TRADEOFFS, wait_for_step

ARTIFACTS = REPO / "artifacts" / "browser"
LIMIT_S = 30  # the countdown of a main answer (INFRALENS_TARGET_SECONDS=5-30)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed"),
]

TYPED = {  # (card, step kind) -> the typed answer
    (7, "follow_up"): "Job retries start from scratch unless the training code resumes from a checkpoint, so a high "
    "backoff limit can waste a lot of compute. Distributed training usually outgrows a bare Job.",
    (12, "question"): clips.COVERAGE_ANSWERS[12],
    (12, "follow_up"): "Spot capacity is much cheaper, but the cloud can take it back at short notice, so only "
    "checkpointed training should run there.",
    (13, "question"): clips.COVERAGE_ANSWERS[13],
    (13, "follow_up"): "A short window catches a fast burn quickly but is noisy, and a long window catches a slow "
    "burn but late, so I would combine both.",
}


def mic_file(text: str) -> tuple[Path, float]:
    """A 48 kHz mono WAV for Chromium's fake capture device, and its length in seconds."""
    out = mic_wav(clips.speech(text), clips.workdir() / "mock-main-card7.wav")
    with wave.open(str(out)) as w:
        return out, w.getnframes() / w.getframerate()


def open_mock_tab(page, url: str | None = None) -> None:
    """Load the main page (or reload it) and open the Mock interview tab as soon as it can be clicked."""
    if url is None:
        page.reload(wait_until="domcontentloaded")
    else:
        page.goto(url, wait_until="domcontentloaded")  # networkidle never settles (SSE)
    tab = page.get_by_role("tab", name="Mock interview")
    tab.wait_for(timeout=60_000)
    tab.click()
    page.locator("#il-mock-start").wait_for(state="visible", timeout=30_000)


def type_answer(page, card: int, kind: str) -> None:
    """Type the answer the moment the step shows and submit it."""
    page.locator("#il-mock-typed textarea").fill(TYPED[(card, kind)])
    page.locator("#il-mock-submit").click()


def record_until_spoken(page, spoken_s: float) -> None:
    """Record, watch the countdown until the whole answer has been said, then press Stop (before the limit)."""
    mic = page.locator("#il-mock-mic")
    mic.locator("button.record-button").click()
    stop = mic.locator("button.stop-button")
    stop.wait_for(state="visible", timeout=10_000)
    left_at_most = LIMIT_S - spoken_s
    page.wait_for_function(
        """(leftAtMost) => { const m = (document.querySelector('#il-mock-countdown').textContent || '')
                .match(/^(\\d+):(\\d\\d) left/);
            return m && Number(m[1]) * 60 + Number(m[2]) < leftAtMost; }""",
        arg=left_at_most,
        timeout=(LIMIT_S + 5) * 1000,
    )
    stop.click()


@pytest.fixture(scope="module")
def playwright():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        yield p


def test_a_mock_interview_in_the_main_page_probes_resumes_reports_and_shows_in_history(playwright):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    audio, clip_s = mic_file(WEAK_ON_TRADEOFFS)
    with outside_home("browser-mock-main") as home:
        app = AppServer(home, env={"INFRALENS_TARGET_SECONDS": f"5-{LIMIT_S}"}).start()
        browser = None
        try:
            browser = launch(playwright, audio)
            page = browser.new_page(viewport={"width": 1280, "height": 1600})
            open_mock_tab(page, app.url)
            page.get_by_role("radio", name="Card list").check()
            page.locator("#il-mock-cards textarea, #il-mock-cards input").first.fill("7,12,13")
            page.locator("#il-mock-start").click()

            # Card 7, out loud: read aloud, counted down, stopped by the person once the answer is said.
            wait_for_step(page, "question", 7)
            assert "Kubernetes Job instead of a Deployment" in page.locator("#il-mock-question").inner_text()
            assert "Kubernetes Job instead of a Deployment" in page.evaluate("() => window.__ilMock.spoken")
            record_until_spoken(page, clip_s + 1.0)
            probe = wait_for_step(page, "follow_up", 7)
            assert probe["dimension"] == "tradeoffs", probe
            assert "Interview style" in page.locator("#il-mock-feedback").inner_text()  # no scores mid-interview
            assert not page.evaluate("() => window.__ilMock.autoStopped")  # Stop was the person's, not the limit's
            session_id = page.locator("#il-mock-session input, #il-mock-session textarea").first.input_value()
            assert session_id

            # A reload mid-session: the main page resumes at the probe.
            open_mock_tab(page)
            assert wait_for_step(page, "follow_up", 7)["dimension"] == "tradeoffs"

            # The rest typed, each answer submitted as soon as its step shows.
            for card, kind in TYPED:
                wait_for_step(page, kind, card)
                type_answer(page, card, kind)

            page.locator("#il-mock-done").wait_for(timeout=120_000)
            report = page.locator("#il-mock-report")
            report.get_by_text("Practise next").wait_for(timeout=30_000)
            text = report.inner_text()
            for needle in ("Card by card", "Probe", "By dimension", "Strongest", "Delivery",
                           "1 recorded answer(s)", "Practise next"):  # fmt: skip
                assert needle in text, needle
            assert session_id in page.locator("#il-mock-sessions").inner_text()

            # History lists the session; clicking its row opens the same report.
            page.get_by_role("tab", name="History").click()
            # (by role: the table also keeps a hidden copy of each cell's text, to measure the columns)
            row = page.locator("#il-history-sessions").get_by_role("row").filter(has_text=session_id)
            row.wait_for(timeout=30_000)
            cells = [c.strip() for c in row.get_by_role("gridcell").all_inner_texts()]
            assert "complete" in cells and "7, 12, 13" in cells, cells  # the state cell: not "incomplete"
            row.get_by_role("gridcell").filter(has_text=session_id).click()
            kept = page.locator("#il-session-report")
            kept.get_by_text("Practise next").wait_for(timeout=30_000)
            assert f"Session {session_id}" in kept.inner_text() and "Card by card" in kept.inner_text()
            page.locator("#il-session-export a").first.wait_for(timeout=30_000)  # the Markdown to download
            page.screenshot(path=str(ARTIFACTS / "mock-main-history.png"), full_page=True)
        finally:
            with contextlib.suppress(Exception):  # a failed step leaves its browser open: close it first
                browser.close()
            app.stop()
