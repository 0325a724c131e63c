"""The default engine: faster-whisper (CTranslate2), int8 on CPU, Silero VAD on, English."""

from __future__ import annotations

import threading

import numpy as np

from ..errors import TranscriptionError
from .base import (
    Segment,
    Transcript,
    Word,
    finish,
    require_audio_length,
    require_speech_time,
)
from .models import ResolvedModel

ENGINE = "faster-whisper"

_MODELS: dict[tuple, object] = {}  # one loaded model per (source, compute type, threads) per process
_LOCK = threading.Lock()


def _import():
    try:
        import faster_whisper
    except ImportError as exc:  # it is a default dependency, so this is a broken install
        raise TranscriptionError("faster-whisper is not installed: pip install 'faster-whisper==1.2.1'") from exc
    return faster_whisper


def load_model(source: str, *, compute_type: str = "int8", threads: int = 2):
    key = (source, compute_type, threads)
    with _LOCK:
        if key not in _MODELS:
            fw = _import()
            try:
                _MODELS[key] = fw.WhisperModel(source, device="cpu", compute_type=compute_type, cpu_threads=threads)
            except (RuntimeError, ValueError, OSError) as exc:
                raise TranscriptionError(f"could not load speech model {source}: {exc}") from exc
        return _MODELS[key]


def vad_speech_s(audio: np.ndarray) -> float:
    """Seconds of voice activity by Silero VAD (bundled with faster-whisper, nothing downloads).

    Unpadded, with short gaps split off: a 0.2 s click in silence counts 0.2 s, not the ~2.5 s that the
    padded chunks of vad_filter add up to, while a real 1.5 s answer counts ~1.4 s.
    """
    _import()
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    options = VadOptions(speech_pad_ms=0, min_silence_duration_ms=100)
    chunks = get_speech_timestamps(audio, options, sampling_rate=16_000)
    return sum(c["end"] - c["start"] for c in chunks) / 16_000


class FasterWhisperTranscriber(ResolvedModel):
    name = ENGINE

    def __init__(self, model: str | None = None, *, beam_size: int = 5, threads: int = 2,
                 compute_type: str = "int8") -> None:
        super().__init__(model, beam_size=beam_size, threads=threads)
        self.compute_type = compute_type

    def warm_up(self) -> None:
        load_model(self.choice.source, compute_type=self.compute_type, threads=self.threads)

    def transcribe(self, audio: np.ndarray, *, prompt: str | None = None) -> Transcript:
        require_audio_length(audio)
        speech_s = vad_speech_s(audio)
        require_speech_time(speech_s)  # before any decoding work
        model = load_model(self.choice.source, compute_type=self.compute_type, threads=self.threads)
        try:
            pieces, info = model.transcribe(
                audio,
                language="en",
                beam_size=self.beam_size,
                vad_filter=True,
                word_timestamps=True,
                initial_prompt=prompt or None,
                # The card prompt steers only the first window: conditioning every window on it (and on the
                # previous text) made tiny.en skip whole passages of 100 s answers (bench/asr_grading.py).
                condition_on_previous_text=False,
            )
            raw = list(pieces)
        except (RuntimeError, ValueError) as exc:
            raise TranscriptionError(f"faster-whisper failed: {exc}") from exc
        segments = tuple(
            Segment(
                text=s.text.strip(),
                start_s=float(s.start),
                end_s=float(s.end),
                words=tuple(
                    Word(w.word.strip(), float(w.start), float(w.end), float(w.probability))
                    for w in (s.words or ())
                    if w.word.strip()
                ),
                avg_logprob=float(s.avg_logprob),
                no_speech_prob=float(s.no_speech_prob),
            )
            for s in raw
        )
        return finish(segments, duration_s=float(info.duration), speech_s=speech_s, engine=ENGINE, model=self.model_name)
