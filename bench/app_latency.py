"""Web-app latency through its API: submit a 60 s recording → feedback shown, cold and warm.

    python bench/app_latency.py        # about a minute on 2 cores

Starts the real app (`python app.py`) on a free port, then through gradio_client: "cold" is the first
transcribe + grade right after the page answers (the Whisper warm-up may still be running); "warm" repeats
it three times. Also prints the start-up time (process start → HTTP 200) and the app's peak RSS.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from gradio_client import Client, handle_file  # noqa: E402
from support import clips  # noqa: E402
from support.app_server import AppServer  # noqa: E402

CARD = "k8s-job-vs-deployment"


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def submit(client: Client, clip: Path) -> tuple[float, float]:
    start = time.perf_counter()
    text, _metrics = client.predict(CARD, handle_file(str(clip)), api_name="/transcribe")
    transcribed = time.perf_counter()
    client.predict(CARD, text, api_name="/grade")
    return transcribed - start, time.perf_counter() - start


def main() -> None:
    clip, _text = clips.long_answer(60)
    seconds = clips.read_wav(clip)[0].size / clips.read_wav(clip)[1]
    with tempfile.TemporaryDirectory() as home:
        started = time.perf_counter()
        server = AppServer(Path(home)).start()
        startup_s = time.perf_counter() - started
        try:
            client = Client(server.url, verbose=False)
            cold = submit(client, clip)
            # a new session each time: a session that sends the same recording again gets its transcript back
            # without a second decode, which would measure nothing
            warm = [submit(Client(server.url, verbose=False), clip) for _ in range(3)]
            rss = peak_rss_mb(server.proc.pid)
        finally:
            server.stop()
    print(f"recording: {seconds:.1f} s (espeak-ng), model: the bundled tiny.en, beam 5, 2 threads")
    print(f"start-up (process start -> HTTP 200): {startup_s:.1f} s")
    print(f"cold: transcript {cold[0]:.1f} s, feedback {cold[1]:.1f} s after submitting")
    print(
        f"warm: transcript {statistics.median(w[0] for w in warm):.1f} s, "
        f"feedback {statistics.median(w[1] for w in warm):.1f} s (median of 3)"
    )
    print(f"app peak RSS: {rss:.0f} MB")


if __name__ == "__main__":
    main()
