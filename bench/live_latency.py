"""Post-Stop latency through the real page: the live transcript vs today's upload-then-transcribe recorder.

    python bench/live_latency.py                     # 30 s, 2 min and 5 min answers: about 20 minutes
    python bench/live_latency.py --lengths 30 120    # a shorter run

Starts the real app (`python app.py`, data directory under ~/.cache) and headless Chromium whose fake microphone
plays an espeak-ng answer in real time. For each length, in one run on the same machine:

- live: the Microphone tab streams while the answer plays; Stop -> the transcript box fills (finish() of the tail)
  -> the offline grade shows by itself;
- today: the "Record, then transcribe" tab records the same length; Stop -> upload -> whole-file transcription ->
  the transcript box fills; Grade is clicked the moment it does -> the grade shows.

Times are taken in the page (performance.now) from the Stop click: until the transcript box holds the answer, and
from then until the feedback shows. Prints both paths, their ratio, and the machine's load before and after
(`os.getloadavg`): the figures are only comparable at similar load.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from support import clips  # noqa: E402
from support.app_server import AppServer, outside_home  # noqa: E402
from support.browser import launch, mic_wav  # noqa: E402

CARD = "Kubernetes Job instead of a Deployment"
TARGET_TRANSCRIPT_S = 1.5
TARGET_FEEDBACK_S = 0.5

# Clicks Stop, then watches the page: when the transcript box fills (and, for today's path, clicks Grade then),
# and when the grade shows. Returns seconds from the Stop click.
MEASURE_JS = """async ([mic, clickGrade]) => {
    const box = () => document.querySelector('#il-transcript textarea').value;
    const t0 = performance.now();
    document.querySelector(mic + ' button.stop-button').click();
    let text = null;
    while (performance.now() - t0 < 900000) {
        await new Promise(r => setTimeout(r, 10));
        const now = performance.now();
        if (text === null && box().length > 20) {
            text = now;
            if (clickGrade) document.querySelector('#il-grade').click();
        }
        if (text !== null && document.querySelector('#il-overall')) {
            const words = box().split(/\\s+/).length;
            return {transcript_s: (text - t0) / 1000, feedback_s: (now - text) / 1000, words};
        }
    }
    return null;
}"""


@dataclass(frozen=True)
class Run:
    path: str  # live | today
    answer_s: float
    transcript_s: float  # Stop -> transcript in the box
    feedback_s: float  # transcript in the box -> grade shown
    words: int
    note: str


def mic_file(seconds: float) -> Path:
    return mic_wav(clips.long_answer(seconds)[0], clips.workdir() / f"bench-live-{seconds:.0f}.wav", pad_s=3)


def measure(browser, url: str, path: str, seconds: float) -> Run:
    page = browser.new_page(viewport={"width": 1280, "height": 1400})
    try:
        page.goto(url, wait_until="domcontentloaded")
        page.locator("#il-mic button.record-button").wait_for(state="visible", timeout=120_000)
        picker = page.locator("#il-picker input")
        picker.click()
        picker.fill(CARD)
        page.get_by_role("option", name=CARD, exact=False).first.click()
        mic = "#il-mic"
        if path == "today":
            page.get_by_role("tab", name="Record, then transcribe").click()
            mic = "#il-mic-whole"
        page.locator(f"{mic} button.record-button").click()
        page.locator(f"{mic} button.stop-button").wait_for(state="visible", timeout=10_000)
        page.wait_for_timeout(int(seconds * 1000))
        out = page.evaluate(MEASURE_JS, [mic, path == "today"])
        if out is None:
            raise RuntimeError(f"{path} {seconds:.0f} s: no feedback within 15 minutes")
        note = page.locator("#il-live").inner_text() if path == "live" else ""
        return Run(path, seconds, out["transcript_s"], out["feedback_s"], out["words"], " ".join(note.split()))
    finally:
        page.close()


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} ({os.cpu_count()} cores)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lengths", type=float, nargs="+", default=[30, 120, 300], help="answer lengths, seconds")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    runs: list[Run] = []
    print(f"before: {load()}", flush=True)
    with outside_home("bench-live") as home, sync_playwright() as playwright:
        server = AppServer(home).start()
        try:
            for seconds in args.lengths:
                browser = launch(playwright, mic_file(seconds))
                try:
                    for path in ("live", "today"):
                        run = measure(browser, server.url, path, seconds)
                        runs.append(run)
                        print(
                            f"  {path:5} {seconds:4.0f} s answer: transcript {run.transcript_s:5.2f} s after Stop, "
                            f"feedback {run.feedback_s:4.2f} s after that ({run.words} words) {run.note}",
                            flush=True,
                        )
                finally:
                    browser.close()
        finally:
            server.stop()
    print(f"after: {load()}")
    print(f"\npost-Stop latency (target: transcript <= {TARGET_TRANSCRIPT_S} s, feedback {TARGET_FEEDBACK_S} s after)")
    header = f"{'answer':>7} | {'live: transcript':>16} {'feedback':>8} | {'today: transcript':>17} {'feedback':>8}"
    print(header + " | ratio")
    for seconds in args.lengths:
        live = next(r for r in runs if r.path == "live" and r.answer_s == seconds)
        today = next(r for r in runs if r.path == "today" and r.answer_s == seconds)
        ratio = today.transcript_s / live.transcript_s if live.transcript_s > 0 else float("inf")
        print(
            f"{seconds:6.0f}s | {live.transcript_s:14.2f}s {live.feedback_s:8.2f}s | "
            f"{today.transcript_s:15.2f}s {today.feedback_s:8.2f}s | {ratio:4.1f}x"
        )
    print("ratio: today's transcript latency / the live one (higher is better for live)")
    print(f"measured at {time.strftime('%Y-%m-%d %H:%M:%S')}")


if __name__ == "__main__":
    main()
