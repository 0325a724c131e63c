"""The real app in headless Chromium (Debian's package, driven by Playwright) with a fake microphone.

Chromium's fake capture device plays an espeak-ng answer as the microphone: record → transcript with the
spoken key terms → correct it → grade → five dimension cards and the reference → the History tab lists the
attempt. Also the upload path, the typed path, and silence giving a clear message. Screenshots are kept in
artifacts/browser/ (look at them).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from support import clips
from support.app_server import REPO, AppServer

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = REPO / "artifacts" / "browser"
RECORD_MS = 16_000  # the clip is ~15 s; Chromium loops it and starts it before Record is pressed

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed")


def mic_file(text: str | None) -> Path:
    """A 48 kHz mono WAV for Chromium's fake capture device (speech, or 20 s of silence)."""
    out = clips.workdir() / ("mic-silence.wav" if text is None else "mic-answer.wav")
    if not out.exists():
        source = clips.silence(20.0) if text is None else clips.speech(text)
        subprocess.run(["sox", str(source), "-r", "48000", "-c", "1", "-b", "16", str(out)], check=True)
    return out


def launch(playwright, fake_audio: Path):
    return playwright.chromium.launch(
        executable_path=CHROMIUM,
        headless=True,
        args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
              "--disable-background-networking", "--disable-component-update", "--disable-sync",
              "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
              f"--use-file-for-fake-audio-capture={fake_audio}"],
    )


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    server = AppServer(tmp_path_factory.mktemp("browser-home")).start()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def playwright():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        yield p


def open_page(browser, app):
    page = browser.new_page(viewport={"width": 1280, "height": 1400})
    page.goto(app.url, wait_until="domcontentloaded")  # networkidle never settles (SSE)
    page.locator("#il-mic button.record-button").wait_for(state="visible", timeout=60_000)
    return page


def pick_card(page, text: str) -> None:
    picker = page.locator("#il-picker input")
    picker.click()
    picker.fill(text)
    page.get_by_role("option", name=text, exact=False).first.click()
    page.locator("#il-question", has_text=text).wait_for(timeout=15_000)


def record(page, ms: int) -> None:
    mic = page.locator("#il-mic")
    mic.locator("button.record-button").click()
    mic.locator("button.stop-button").wait_for(state="visible", timeout=10_000)
    page.wait_for_timeout(ms)
    with page.expect_response(lambda r: "/upload" in r.url, timeout=30_000):
        mic.locator("button.stop-button").click()
    page.wait_for_timeout(500)


def transcript_value(page) -> str:
    return page.locator("#il-transcript textarea").input_value()


def test_answer_by_voice_correct_grade_and_find_it_in_history(app, playwright):
    browser = launch(playwright, mic_file(clips.ANSWER))
    try:
        page = open_page(browser, app)
        pick_card(page, "Kubernetes Job instead of a Deployment")
        assert page.locator("#il-reference").count() == 0  # the reference stays hidden before the attempt
        record(page, RECORD_MS)
        page.locator("#il-transcribe-mic").click()
        page.wait_for_function(
            "() => document.querySelector('#il-transcript textarea').value.length > 20", timeout=90_000)
        spoken = transcript_value(page).lower()
        assert "deployment" in spoken and ("job" in spoken or "batch" in spoken), spoken
        page.locator("#il-metrics", has_text="Delivery").wait_for(timeout=10_000)
        # the user corrects the transcript before grading (speech recognition mishears jargon)
        corrected = transcript_value(page) + " A common mistake is running a one-off batch task as a Deployment."
        page.locator("#il-transcript textarea").fill(corrected)
        page.locator("#il-grade").click()
        page.locator("#il-overall").wait_for(timeout=60_000)
        assert page.locator(".il-dim").count() == 5
        assert page.locator("#il-reference").is_visible()
        assert "Use a Job for finite batch work" in page.locator("#il-reference").inner_text()
        assert "offline keyword grader" in page.locator("#il-decided-by").inner_text()
        page.screenshot(path=str(ARTIFACTS / "1-voice-graded.png"), full_page=True)

        page.get_by_role("tab", name="History").click()
        page.wait_for_function(
            "() => (document.querySelector('#il-history-table')?.innerText || '').includes('voice')",
            timeout=30_000)
        assert "01" in page.locator("#il-history-table").inner_text()  # attempt ids are ULIDs
        page.locator("#il-history-table").get_by_text("voice").filter(visible=True).first.click()  # open it
        page.locator("#il-attempt-text", has_text="Transcript").wait_for(timeout=20_000)
        assert "one-off batch task" in page.locator("#il-attempt-text").inner_text()
        page.locator("#il-progress canvas, #il-progress svg").first.wait_for(timeout=20_000)
        page.locator("#il-checklist", has_text="weak").wait_for(timeout=10_000)
        page.wait_for_timeout(1000)  # let the plot finish drawing
        page.screenshot(path=str(ARTIFACTS / "2-history.png"), full_page=True)
    finally:
        browser.close()


def test_upload_and_typed_answers(app, playwright):
    browser = launch(playwright, mic_file(clips.ANSWER))
    try:
        page = open_page(browser, app)
        pick_card(page, "Kubernetes Job instead of a Deployment")
        page.get_by_role("tab", name="Upload").click()
        page.locator("#il-upload input[type=file]").set_input_files(str(clips.answer_in("ogg-opus")))
        page.locator("#il-transcribe-upload").click()
        page.wait_for_function(
            "() => document.querySelector('#il-transcript textarea').value.length > 20", timeout=90_000)
        assert "deployment" in transcript_value(page).lower()

        page.locator("#il-transcript textarea").fill(
            "A Job runs batch work until it completes and retries failed pods, while a Deployment keeps an "
            "inference API running with replicas. <script>alert('x')</script>")
        page.locator("#il-grade").click()
        page.locator("#il-overall").wait_for(timeout=60_000)
        assert "<script>alert('x')</script>" in page.locator("#il-highlighted").inner_text()  # shown as text
        page.screenshot(path=str(ARTIFACTS / "3-typed.png"), full_page=True)
    finally:
        browser.close()


def test_silence_gives_a_clear_message_and_the_page_keeps_working(app, playwright):
    browser = launch(playwright, mic_file(None))
    try:
        page = open_page(browser, app)
        record(page, 3_000)
        page.locator("#il-transcribe-mic").click()
        page.get_by_text("no speech detected", exact=False).first.wait_for(timeout=60_000)
        page.screenshot(path=str(ARTIFACTS / "4-silence.png"), full_page=True)
        page.locator("#il-transcript textarea").fill("A Job runs until it completes and then it stops.")
        page.locator("#il-grade").click()
        page.locator("#il-overall").wait_for(timeout=60_000)
    finally:
        browser.close()
