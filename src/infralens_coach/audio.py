"""Audio in: any recording -> 16 kHz mono float32. The only module that touches codecs.

Decoding uses PyAV (bundled FFmpeg, already a faster-whisper dependency), so the default install needs
no system ffmpeg. Every failure becomes an AudioError whose message a user can act on.
"""

from __future__ import annotations

import io
from os import PathLike
from pathlib import Path
from typing import BinaryIO, Union

import numpy as np

from .errors import AudioError

SAMPLE_RATE = 16_000
DEFAULT_MAX_AUDIO_S = 600.0
SUPPORTED = "wav, flac, mp3, ogg/opus, webm/opus, m4a/aac"

AudioSource = Union[str, PathLike[str], bytes, bytearray, BinaryIO, np.ndarray]  # noqa: UP007 (a runtime alias on 3.10)


def decode(
    source: AudioSource,
    *,
    max_duration_s: float | None = DEFAULT_MAX_AUDIO_S,
    sample_rate: int | None = None,
) -> np.ndarray:
    """Decode a path, bytes, a file-like object or a sample array into 16 kHz mono float32 in [-1, 1].

    ``sample_rate`` is only used for arrays (the rate they were recorded at; default 16 kHz).
    Recordings longer than ``max_duration_s`` are refused before they are decoded in full.
    """
    if isinstance(source, np.ndarray):
        return from_array(source, sample_rate or SAMPLE_RATE, max_duration_s=max_duration_s)
    label, stream = _open_source(source)
    return _decode_stream(stream, label, max_duration_s)


def from_array(
    samples: np.ndarray, sample_rate: int, *, max_duration_s: float | None = DEFAULT_MAX_AUDIO_S
) -> np.ndarray:
    """Normalise an in-memory recording: int or float, (n,) or (n, channels) -> 16 kHz mono float32."""
    a = np.asarray(samples)
    if np.issubdtype(a.dtype, np.integer):
        a = int_to_float(a)
    elif not np.issubdtype(a.dtype, np.floating):
        raise AudioError(f"audio array has unsupported dtype {a.dtype}")
    if a.ndim == 2:
        # (frames, channels) as sounddevice returns it; a (channels, frames) layout is transposed
        if a.shape[0] < a.shape[1] and a.shape[0] <= 8:
            a = a.T
        a = a.mean(axis=1)
    elif a.ndim != 1:
        raise AudioError(f"audio array must be 1-D or 2-D, got shape {a.shape}")
    if sample_rate <= 0:
        raise AudioError(f"invalid sample rate {sample_rate}")
    _check_length(len(a) / sample_rate, max_duration_s)
    if sample_rate != SAMPLE_RATE:
        a = _resample_linear(a, sample_rate, SAMPLE_RATE)
    return np.ascontiguousarray(a, dtype=np.float32)


def duration_s(samples: np.ndarray) -> float:
    return len(samples) / SAMPLE_RATE


def int_to_float(a: np.ndarray) -> np.ndarray:
    """PCM integers (signed, or unsigned like 8-bit WAV) -> float64 in [-1, 1]."""
    info = np.iinfo(a.dtype)
    if info.min == 0:  # unsigned, e.g. 8-bit WAV
        return (a.astype(np.float64) - (info.max + 1) / 2) / ((info.max + 1) / 2)
    return a.astype(np.float64) / float(-info.min)


def _resample_linear(a: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    n_out = int(round(len(a) * rate_out / rate_in))
    if n_out == 0 or len(a) == 0:
        return np.zeros(0, dtype=np.float32)
    x_out = np.arange(n_out) * (rate_in / rate_out)
    return np.interp(x_out, np.arange(len(a)), a)


def _open_source(source) -> tuple[str, BinaryIO | str]:
    if isinstance(source, (bytes, bytearray)):
        if not source:
            raise AudioError("the recording is empty (0 bytes)")
        return "the recording", io.BytesIO(bytes(source))
    if isinstance(source, (str, PathLike)):
        path = Path(source)
        if not path.exists():
            raise AudioError(f"{path}: no such file")
        if path.is_dir():
            raise AudioError(f"{path}: is a directory, not an audio file")
        if path.stat().st_size == 0:
            raise AudioError(f"{path.name}: the file is empty (0 bytes)")
        return path.name, str(path)
    if hasattr(source, "read"):
        return getattr(source, "name", None) or "the recording", source
    raise AudioError(f"cannot read audio from a {type(source).__name__}")


def _check_length(length_s: float, max_duration_s: float | None, label: str = "the recording") -> None:
    if max_duration_s is not None and length_s > max_duration_s:
        raise AudioError(
            f"{label} is {_fmt_s(length_s)} long; the maximum is {_fmt_s(max_duration_s)} "
            "(set INFRALENS_MAX_AUDIO_S to change it)"
        )


def _fmt_s(seconds: float) -> str:
    if seconds >= 60:
        return f"{int(seconds // 60)} min {int(round(seconds % 60))} s"
    return f"{seconds:.1f} s"


def _decode_stream(stream, label: str, max_duration_s: float | None) -> np.ndarray:
    import av  # PyAV ships with faster-whisper; imported here so the keyword path never loads it

    undecodable = f"{label}: could not decode it as audio. Is it a recording? Supported: {SUPPORTED}"
    chunks: list[np.ndarray] = []
    try:
        with av.open(stream, mode="r", metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise AudioError(f"{label}: contains no audio track")
            audio_stream = container.streams.audio[0]
            declared_s = _declared_duration_s(container, audio_stream)
            if declared_s is not None:
                _check_length(declared_s, max_duration_s, label)
            resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
            decoded = 0
            for frame in _frames(container, audio_stream):
                for out in resampler.resample(frame):
                    chunk = out.to_ndarray().reshape(-1)
                    chunks.append(chunk)
                    decoded += len(chunk)
                # the header may lie or say nothing: stop as soon as the limit is passed
                if max_duration_s is not None and decoded / SAMPLE_RATE > max_duration_s:
                    _check_length(decoded / SAMPLE_RATE, max_duration_s, label)
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
    except AudioError:
        raise
    except (av.error.FFmpegError, ValueError, OSError, EOFError) as exc:
        raise AudioError(undecodable) from exc
    samples = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
    if samples.size == 0:
        raise AudioError(f"{label}: contains no audio samples (the recording is empty)")
    return np.clip(samples, -1.0, 1.0)


def _frames(container, audio_stream):
    """Decoded frames; a corrupt packet in the middle is skipped, as ffmpeg does, not fatal."""
    import av

    decoded_any = False
    for packet in container.demux(audio_stream):
        try:
            for frame in packet.decode():
                decoded_any = True
                yield frame
        except av.error.InvalidDataError:
            if not decoded_any:
                raise
            continue


def _declared_duration_s(container, audio_stream) -> float | None:
    if audio_stream.duration is not None and audio_stream.time_base is not None:
        return float(audio_stream.duration * audio_stream.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000  # av.time_base
    return None
