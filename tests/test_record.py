"""`practice --record` through real PortAudio, with ALSA's file plugin replaying speech as the microphone.

ALSA_CONFIG_PATH must be set before sounddevice (PortAudio) is first imported, so every case runs the
CLI in its own process, as a user would.
"""

import io
import json
import os
import re
import subprocess
import sys
import textwrap
import threading
import wave

import numpy as np
import pytest
from support import clips
from support.app_server import outside_home


def cli(*args, alsa_conf=None, extra_env=None, input=None, timeout=180):
    env = dict(os.environ)
    if alsa_conf is not None:
        env["ALSA_CONFIG_PATH"] = str(alsa_conf)
    env.update(extra_env or {})
    return subprocess.run(
        [sys.executable, "-m", "infralens_coach.cli", *args],
        env=env,
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def microphone():
    """ALSA config whose default capture device plays the card 7 answer, then silence."""
    return clips.alsa_config(clips.raw_microphone(clips.ANSWER, tail_s=1.0), "mic-answer.conf")


@pytest.mark.slow
def test_practice_record_json(microphone):
    result = cli("practice", "7", "--record", "--seconds", "16", "--json", alsa_conf=microphone, input="")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["card"] == 7 and data["decided_by"] == "keyword"
    text = data["transcript"]["text"].lower()
    assert sum(w in text for w in clips.KEY_WORDS) >= 3, text
    assert data["transcript"]["duration_s"] == pytest.approx(16.0, abs=0.05)
    assert data["metrics"]["word_count"] > 30
    assert "Recorded 16.0 s." in result.stderr and "press Enter to stop" in result.stderr
    assert re.search(r"● +16 s  [█·]{20}", result.stderr)  # elapsed time and level meter
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_practice_record_prints_feedback(microphone):
    result = cli("practice", "7", "--record", "--seconds", "16", alsa_conf=microphone, input="")
    assert result.returncode == 0, result.stderr
    assert "Kubernetes Job instead of a Deployment" in result.stdout  # the question is shown first
    assert "Transcript:" in result.stdout and "Delivery:" in result.stdout
    assert "speech model tiny.en (bundled)" in result.stderr


@pytest.mark.slow
def test_practice_record_keeps_the_recording_it_heard(microphone):
    """The saved attempt's WAV is the microphone's audio (before: int16 clipped as floats into a square wave)."""
    with outside_home("record-kept") as home:  # a data directory like the default one: not under /tmp
        result = cli("practice", "7", "--record", "--seconds", "6", "--json", alsa_conf=microphone, input="",
                     extra_env={"INFRALENS_HOME": str(home)})  # fmt: skip
        assert result.returncode == 0, result.stderr
        (kept,) = (home / "audio").rglob("*.wav")
        with wave.open(str(kept)) as wav:
            saved = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").astype(int)
    source = np.fromfile(clips.raw_microphone(clips.ANSWER, tail_s=1.0), dtype="<i2").astype(int)
    assert len(saved) == 6 * 16_000 and np.abs(saved - source[: len(saved)]).max() <= 1


@pytest.mark.slow
def test_recorder_returns_the_microphone_samples_exactly(microphone, tmp_path):
    out = tmp_path / "rec.npy"
    script = textwrap.dedent(
        f"""
        import numpy as np
        from infralens_coach import recorder
        samples = recorder.record(3.0)
        np.save({str(out)!r}, samples)
        print(samples.dtype, len(samples))
        """
    )
    env = dict(os.environ, ALSA_CONFIG_PATH=str(microphone))
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    dtype, n = done.stdout.split()
    assert dtype == "int16" and int(n) == 48_000
    source = np.fromfile(clips.raw_microphone(clips.ANSWER, tail_s=1.0), dtype="<i2")
    assert np.array_equal(np.load(out), source[:48_000])


def test_enter_stops_and_end_of_input_does_not():
    from infralens_coach import recorder

    pressed, closed = threading.Event(), threading.Event()
    recorder.stop_on_enter(pressed, io.StringIO("\n")).join(5)
    recorder.stop_on_enter(closed, io.StringIO("")).join(5)
    assert pressed.is_set() and not closed.is_set()
    assert recorder.meter(0.0) == "·" * 20 and recorder.meter(1.0) == "█" * 20
    assert "sounddevice" not in sys.modules  # PortAudio is loaded only when recording starts


@pytest.mark.slow
def test_silent_microphone_is_no_speech():
    silent_raw = clips.workdir() / "silent.raw"
    silent_raw.write_bytes(b"\0\0" * 16_000 * 5)
    silent = clips.alsa_config(silent_raw, "mic-silent.conf")
    result = cli("practice", "7", "--record", "--seconds", "4", alsa_conf=silent, input="")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "infralens-coach: no speech detected — check the microphone (0.0 s of speech found)"
    )


@pytest.mark.slow
def test_no_input_device_is_one_clear_line():
    result = cli("practice", "7", "--record", alsa_conf=clips.alsa_config(None, "no-mic.conf"), input="")
    assert result.returncode == 2
    assert result.stderr.startswith("infralens-coach: no microphone found")
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


@pytest.mark.slow
def test_missing_portaudio_is_one_clear_line(tmp_path):
    # sounddevice raises exactly this at import when libportaudio2 is not installed
    (tmp_path / "sounddevice.py").write_text("raise OSError('PortAudio library not found')\n")
    pythonpath = os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])
    result = cli("practice", "7", "--record", extra_env={"PYTHONPATH": pythonpath}, input="")
    assert result.returncode == 2
    assert "PortAudio library is missing" in result.stderr and "libportaudio2" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_practice_needs_record():
    result = cli("practice", "7")
    assert result.returncode == 2 and "--record" in result.stderr


@pytest.mark.slow
def test_help_does_not_import_speech_stacks():
    script = (
        "import sys; from click.testing import CliRunner; from infralens_coach.cli import main; "
        "CliRunner().invoke(main, ['--help']); CliRunner().invoke(main, ['grade', '7', '--text', 'A Job completes.']); "
        "print(sorted(m for m in ('faster_whisper', 'whisper', 'torch', 'sounddevice', 'av', 'ctranslate2') "
        "if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


# ALSA's file plugin hands PortAudio the whole file at once (16 s arrive in a blink), so no transcript could grow
# during it. This stand-in for sounddevice (its InputStream/query_devices interface, as the PortAudio test above
# stands in for a missing library) replays the same raw file in real time, block by block, from its own thread.
PACED_SOUNDDEVICE = """
import threading, time
import numpy as np

RAW = {raw!r}


class PortAudioError(Exception):
    pass


def query_devices(kind=None):
    return {{"name": "paced replay"}}


class InputStream:
    def __init__(self, samplerate, channels, dtype, blocksize, callback):
        self.rate, self.block, self.callback = samplerate, blocksize, callback
        self.done = threading.Event()

    def __enter__(self):
        self.thread = threading.Thread(target=self.play, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.done.set()
        self.thread.join()

    def play(self):
        data = np.fromfile(RAW, dtype="<i2")
        start, i = time.monotonic(), 0
        while not self.done.is_set():
            block = data[i : i + self.block]
            block = np.concatenate([block, np.zeros(self.block - len(block), np.int16)]).reshape(-1, 1)
            self.callback(block, self.block, None, None)
            i += self.block
            time.sleep(max(0.0, start + i / self.rate - time.monotonic()))
"""


@pytest.mark.slow
def test_practice_record_shows_the_transcript_while_recording(tmp_path):
    """Issue 14: the settled transcript is printed on stderr while recording, before "Recorded"; the final
    transcript is the whole recording's."""
    raw = clips.raw_microphone(clips.ANSWER, tail_s=1.0)
    (tmp_path / "sounddevice.py").write_text(PACED_SOUNDDEVICE.format(raw=str(raw)))
    pythonpath = os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])
    env = {"PYTHONPATH": pythonpath}
    result = cli("practice", "7", "--record", "--seconds", "16", "--json", extra_env=env, input="")
    assert result.returncode == 0, result.stderr
    during, _, after = result.stderr.partition("Recorded 16.0 s.")
    live_lines = [line.strip()[2:] for line in during.splitlines() if line.strip().startswith("» ")]
    assert live_lines, result.stderr
    shown = " ".join(live_lines).lower()
    assert sum(w in shown for w in ("job", "batch", "completes", "retries", "deployment")) >= 2, shown
    data = json.loads(result.stdout)
    assert data["transcript"]["duration_s"] == pytest.approx(16.0, abs=0.05)
    assert shown.split()[0] in data["transcript"]["text"].lower()
    assert "Traceback" not in result.stderr
