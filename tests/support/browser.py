"""Headless Chromium with a fake microphone: the one launch every browser test and bench uses."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
HAVE_CHROMIUM = Path(CHROMIUM).exists()


BROWSER_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]  # fmt: skip  (no network of its own)


def fake_mic_args(audio: Path) -> list[str]:
    """Chromium flags: no network of its own, and `audio` (a WAV, looped) as the microphone, allowed at once."""
    return [
        *BROWSER_ARGS,
        "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={audio}",
    ]  # fmt: skip


def launch(playwright, audio: Path | None = None):
    """A headless browser whose microphone plays `audio` (no microphone without it)."""
    args = BROWSER_ARGS if audio is None else fake_mic_args(audio)
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)


def mic_wav(source: Path, out: Path, pad_s: float = 0.0) -> Path:
    """`source` as the 48 kHz mono 16-bit WAV Chromium's fake capture device plays (made once), with `pad_s` of
    silence after it."""
    if not out.exists():
        pad = ["pad", "0", f"{pad_s:g}"] if pad_s else []
        subprocess.run(["sox", str(source), "-r", "48000", "-c", "1", "-b", "16", str(out), *pad], check=True)
    return out
