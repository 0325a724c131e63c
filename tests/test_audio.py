"""audio.decode on real files in every listed format, and the bad-input table."""

import io

import numpy as np
import pytest
from support import clips

from infralens_coach import audio
from infralens_coach.errors import AudioError


def reference_seconds() -> float:
    samples, rate = clips.read_wav(clips.speech(clips.ANSWER))
    return len(samples) / rate


@pytest.mark.slow
@pytest.mark.parametrize("fmt", sorted(clips.FORMATS))
def test_every_format_decodes_to_16k_mono_float32(fmt):
    samples = audio.decode(clips.answer_in(fmt))
    assert samples.dtype == np.float32 and samples.ndim == 1
    assert abs(len(samples) / audio.SAMPLE_RATE - reference_seconds()) < 0.15
    assert 0.1 < np.abs(samples).max() <= 1.0


@pytest.mark.slow
def test_decodes_bytes_and_file_objects_like_paths():
    path = clips.answer_in("webm-opus")
    from_path = audio.decode(path)
    assert np.array_equal(audio.decode(path.read_bytes()), from_path)
    assert np.array_equal(audio.decode(io.BytesIO(path.read_bytes())), from_path)


def test_resampling_keeps_the_signal():
    """A 440 Hz tone at 44.1 kHz stereo int16 comes out as a 440 Hz tone at 16 kHz."""
    t = np.arange(44_100 * 2) / 44_100
    tone = (np.sin(2 * np.pi * 440 * t) * 16_000).astype(np.int16)
    out = audio.decode(np.stack([tone, tone], axis=1), sample_rate=44_100)
    assert out.dtype == np.float32 and len(out) == 32_000
    spectrum = np.abs(np.fft.rfft(out))
    assert abs(np.argmax(spectrum) * audio.SAMPLE_RATE / len(out) - 440) < 2
    assert abs(np.abs(out).max() - 16_000 / 32_768) < 0.01


@pytest.mark.parametrize(
    "kind, message",
    [
        ("empty", "empty (0 bytes)"),
        ("random", "could not decode it as audio"),
        ("text", "could not decode it as audio"),
        ("header-only", "no audio samples"),
    ],
)
def test_bad_files_give_a_message_a_user_understands(kind, message):
    with pytest.raises(AudioError, match=message.replace("(", r"\(").replace(")", r"\)")):
        audio.decode(clips.bad_file(kind))


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(AudioError, match="no such file"):
        audio.decode(tmp_path / "nope.wav")
    with pytest.raises(AudioError, match="is a directory"):
        audio.decode(tmp_path)
    with pytest.raises(AudioError, match="0 bytes"):
        audio.decode(b"")


def test_over_length_is_refused_from_the_header():
    with pytest.raises(AudioError, match=r"10 min 1 s long; the maximum is 10 min 0 s"):
        audio.decode(clips.over_length())


@pytest.mark.slow
def test_over_length_is_refused_without_a_declared_duration():
    """A stream (no seekable header) is stopped as soon as decoding passes the limit."""
    data = clips.answer_in("webm-opus").read_bytes()

    class Unseekable(io.RawIOBase):
        def __init__(self):
            self.inner = io.BytesIO(data)

        def readable(self):
            return True

        def readinto(self, b):
            chunk = self.inner.read(len(b))
            b[: len(chunk)] = chunk
            return len(chunk)

    with pytest.raises(AudioError, match="maximum is 5.0 s"):
        audio.decode(Unseekable(), max_duration_s=5)
