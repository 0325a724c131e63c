"""The Mock interview tab in headless Chromium with a fake microphone (issue 16).

A 3-card interview-style session (cards 7, 12, 13). Chromium's fake capture device plays an espeak-ng answer;
each answer's clip needs a browser of its own, so the browser is closed and relaunched on the same profile
between clips: every relaunch is a reload mid-session, and must resume where it stopped. Card 7's answer says
nothing about tradeoffs, so its probe must be on tradeoffs; its follow-up answer is about tradeoffs. Nothing
presses Stop: with INFRALENS_TARGET_SECONDS=5-20 every answer runs into the 20 s countdown, which warns 10 s
before and stops the recording itself. The report and the sessions table show the session; so does the CLI.
The app is the tab on its own page (`python -m infralens_coach.ui_mock`); the test screenshots the report into
artifacts/browser/mock-report.png (docs/mock-report.png is a copy, refreshed by hand: tests never write the repo).
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner
from support import clips
from support.app_server import REPO, AppServer, outside_home
from support.browser import CHROMIUM, fake_mic_args, mic_wav
from support.mock_page import (  # WEAK_ON_TRADEOFFS: ~17 s, inside the 20 s countdown
    WEAK_ON_TRADEOFFS,
    step_of,
    wait_for_step,
)

ARTIFACTS = REPO / "artifacts" / "browser"
LIMIT_S = 20

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed"),
]

TRADEOFFS = (
    "Job retries start from scratch unless the training code resumes from a checkpoint, so a high backoff limit "
    "can waste a lot of compute. Distributed training usually outgrows a bare Job, so you use a training operator."
)


def mic_file(name: str, text: str) -> Path:
    return mic_wav(clips.speech(text), clips.workdir() / f"mock-{name}.wav")


def start_app(home: Path) -> AppServer:
    server = AppServer(home, env={"INFRALENS_TARGET_SECONDS": f"5-{LIMIT_S}"})
    server._log_file = server.log.open("wb")
    server.proc = subprocess.Popen(
        [sys.executable, "-m", "infralens_coach.ui_mock"], cwd=REPO, env=server.env, stdout=server._log_file,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(server.url, timeout=2):
                return server
        except OSError:
            time.sleep(0.3)
    server.stop()
    raise RuntimeError(server.log.read_text())


def open_browser(playwright, profile: Path, audio: Path):
    """A browser on the same profile (its localStorage keeps the session id), the microphone playing `audio`."""
    return playwright.chromium.launch_persistent_context(
        str(profile), executable_path=CHROMIUM, headless=True, viewport={"width": 1280, "height": 1600},
        args=fake_mic_args(audio),
    )  # fmt: skip


def open_page(context, app):
    page = context.pages[0] if context.pages else context.new_page()
    page.goto(app.url, wait_until="domcontentloaded")
    page.locator("#il-mock-mic").wait_for(state="attached", timeout=60_000)
    return page


def answer_by_countdown(page) -> None:
    """Record and let the countdown warn and stop it; wait until the page has moved on."""
    before = step_of(page)
    # The flags are the last answer's until Record starts this countdown: clear them, so only this answer's count.
    page.evaluate("() => { if (window.__ilMock) Object.assign(window.__ilMock, {warned: false, autoStopped: false}); }")
    page.locator("#il-mock-mic button.record-button").click()
    page.wait_for_function("() => window.__ilMock && window.__ilMock.warned", timeout=LIMIT_S * 1000)
    assert "wrap up" in page.locator("#il-mock-countdown").inner_text()
    page.wait_for_function("() => window.__ilMock.autoStopped", timeout=(LIMIT_S + 10) * 1000)
    page.wait_for_function(
        """(before) => { const s = document.querySelector('#il-mock-step');
            if (!s) return !!document.querySelector('#il-mock-done');
            return s.dataset.kind !== before.kind || s.dataset.card !== before.card; }""",
        arg=before,
        timeout=180_000,
    )


@pytest.fixture(scope="module")
def playwright():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        yield p


def test_a_three_card_interview_probes_the_weak_dimension_stops_at_the_limit_and_resumes(playwright):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with outside_home("browser-mock") as home:
        app = start_app(home)
        profile = home / "chromium-profile"
        context = None
        try:
            # Card 7, its answer: weak on tradeoffs.
            context = open_browser(playwright, profile, mic_file("card7", WEAK_ON_TRADEOFFS))
            page = open_page(context, app)
            page.get_by_role("tab", name="Mock interview").click()
            page.get_by_role("radio", name="Card list").check()
            page.locator("#il-mock-cards textarea, #il-mock-cards input").first.fill("7,12,13")
            page.locator("#il-mock-start").click()
            wait_for_step(page, "question", 7)
            assert "Kubernetes Job instead of a Deployment" in page.evaluate("() => window.__ilMock.spoken")
            answer_by_countdown(page)
            probe = wait_for_step(page, "follow_up", 7)
            assert probe["dimension"] == "tradeoffs"
            assert "Interview style" in page.locator("#il-mock-feedback").inner_text()  # no scores mid-interview
            context.close()

            # Reload mid-session (a new browser on the same profile): the follow-up is waiting.
            context = open_browser(playwright, profile, mic_file("card7-tradeoffs", TRADEOFFS))
            page = open_page(context, app)
            page.get_by_role("tab", name="Mock interview").click()
            assert wait_for_step(page, "follow_up", 7)["dimension"] == "tradeoffs"
            answer_by_countdown(page)
            wait_for_step(page, "question", 12)
            context.close()

            for card, text in ((12, clips.COVERAGE_ANSWERS[12]), (13, clips.COVERAGE_ANSWERS[13])):
                context = open_browser(playwright, profile, mic_file(f"card{card}", text))
                page = open_page(context, app)
                page.get_by_role("tab", name="Mock interview").click()
                wait_for_step(page, "question", card)  # resumed again
                answer_by_countdown(page)
                wait_for_step(page, "follow_up", card)
                answer_by_countdown(page)
                if card == 12:
                    context.close()

            page.locator("#il-mock-done").wait_for(timeout=60_000)
            report = page.locator("#il-mock-report")
            report.get_by_text("Practise next").wait_for(timeout=30_000)
            text = report.inner_text()
            for needle in ("Card by card", "By dimension", "Strongest", "Delivery", "6 recorded answer(s)",
                           "6 answer(s) ran into the countdown", "Probe"):  # fmt: skip
                assert needle in text, needle
            assert "complete" in page.locator("#il-mock-sessions").inner_text()
            report.screenshot(path=str(ARTIFACTS / "mock-report.png"))  # docs/mock-report.png is a copy of it
            context.close()
        finally:
            with contextlib.suppress(Exception):  # a failed step leaves its browser open: close it before the home goes
                context.close()
            app.stop()

        # History has the session, complete, with its three attempts; each probe is on its answer's weakest point.
        from infralens_coach import mock
        from infralens_coach.cli import main
        from infralens_coach.content import QuestionBank
        from infralens_coach.grading.base import Grade

        env = {"INFRALENS_HOME": str(home)}
        (listed,) = json.loads(CliRunner().invoke(main, ["history", "sessions", "--json"], env=env).stdout)
        assert listed["state"] == "complete" and listed["cards"] == [7, 12, 13]
        kept = json.loads(CliRunner().invoke(main, ["history", "session", listed["id"], "--json"], env=env).stdout)
        assert len(kept["attempt_ids"]) == 3
        bank = QuestionBank.load()
        for run in kept["session"]["runs"]:
            grade = Grade.from_json(run["grade"])
            assert run["metrics"]["recording_s"] >= LIMIT_S - 1.5  # stopped by the countdown, not before
            assert run["probe"]["dimension"] == mock.weakest_uncovered(grade, bank.get(run["card"]), bank.rubric)[0]
        assert Grade.from_json(kept["session"]["runs"][0]["grade"]).dimension("tradeoffs").score <= 1
