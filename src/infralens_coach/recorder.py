"""Record an answer from the microphone with sounddevice (PortAudio): 16 kHz mono int16.

sounddevice is imported only when recording starts: without the PortAudio library its import fails, and
that must become one line on how to fix it, not a traceback at start-up.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np

from .errors import AudioError

SAMPLE_RATE = 16_000
BLOCK_S = 0.1

PORTAUDIO_HINT = (
    "the PortAudio library is missing, so the microphone cannot be used — install it "
    "(Debian/Ubuntu: sudo apt-get install libportaudio2; Fedora: sudo dnf install portaudio; "
    "macOS: brew install portaudio), or transcribe a recording with --audio FILE"
)

# on_progress(elapsed_s, level) where level is the last block's peak in [0, 1]
Progress = Callable[[float, float], None]
# on_block(samples, sample_rate) with each block as it arrives (int16 mono; in PortAudio's thread: return quickly)
BlockSink = Callable[[np.ndarray, int], None]


def import_sounddevice():
    try:
        import sounddevice
    except OSError as exc:  # "PortAudio library not found"
        raise AudioError(PORTAUDIO_HINT) from exc
    except ImportError as exc:
        raise AudioError("sounddevice is not installed: pip install sounddevice") from exc
    return sounddevice


def default_input_device() -> str:
    """Name of the input device that will be used; AudioError when there is none."""
    sd = import_sounddevice()
    try:
        info = sd.query_devices(kind="input")
    except (sd.PortAudioError, ValueError) as exc:
        raise AudioError(
            "no microphone found (no audio input device) — plug one in or enable it in the system's sound "
            f"settings, or transcribe a recording with --audio FILE [{exc}]"
        ) from exc
    return str(info["name"])


def record(
    max_seconds: float,
    *,
    stop: threading.Event | None = None,
    on_progress: Progress | None = None,
    sample_rate: int = SAMPLE_RATE,
    on_block: BlockSink | None = None,
) -> np.ndarray:
    """Record until ``max_seconds`` have been captured or ``stop`` is set; returns int16 mono samples.

    ``on_block`` receives every block as it is captured (a live transcriber's feed); the returned samples are
    exactly the blocks it was given, in order."""
    if max_seconds <= 0:
        raise AudioError("the recording length must be more than 0 seconds")
    sd = import_sounddevice()
    default_input_device()
    stop = stop or threading.Event()
    target = int(round(max_seconds * sample_rate))
    blocks: list[np.ndarray] = []
    captured = 0
    level = 0.0
    full = threading.Event()
    lock = threading.Lock()

    def callback(indata, frames, time_info, status) -> None:
        nonlocal captured, level
        with lock:
            if captured >= target:
                return
            block = indata[: target - captured, 0].copy()
            blocks.append(block)
            captured += len(block)
            level = float(np.abs(block).max()) / 32768 if len(block) else 0.0
            if captured >= target:
                full.set()
        if on_block is not None and len(block):
            on_block(block, sample_rate)

    try:
        with sd.InputStream(
            samplerate=sample_rate,
            channels=1,
            dtype="int16",
            blocksize=int(sample_rate * BLOCK_S),
            callback=callback,
        ):
            while True:
                done = full.wait(BLOCK_S) or stop.is_set()
                if on_progress is not None:  # also once at the end, however short the recording
                    with lock:
                        elapsed, current = captured / sample_rate, level
                    on_progress(elapsed, current)
                if done:
                    break
    except sd.PortAudioError as exc:
        raise AudioError(f"could not record from the microphone: {exc}") from exc
    with lock:
        samples = np.concatenate(blocks) if blocks else np.zeros(0, np.int16)
    return samples


def stop_on_enter(stop: threading.Event, stream=None) -> threading.Thread:
    """Set ``stop`` when a line is read from ``stream`` (stdin); end of input is ignored."""
    import sys

    stream = stream or sys.stdin

    def wait_for_enter() -> None:
        try:
            line = stream.readline()
        except (OSError, ValueError):
            return
        if line:
            stop.set()

    thread = threading.Thread(target=wait_for_enter, name="stop-on-enter", daemon=True)
    thread.start()
    return thread


def meter(level: float, width: int = 20) -> str:
    """A text level meter: peak level in [0, 1] on a dB scale from -60 dBFS."""
    db = 20 * np.log10(max(level, 1e-6))
    filled = int(round(width * min(1.0, max(0.0, (db + 60) / 60))))
    return "█" * filled + "·" * (width - filled)
