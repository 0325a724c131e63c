"""The default engine: faster-whisper (CTranslate2), int8 on CPU, Silero VAD on, English."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from ..errors import TranscriptionError
from .base import Progress, Segment, Transcript, Word
from .coverage import speech_regions, transcribe_covered
from .libraries import import_faster_whisper
from .models import ResolvedModel

ENGINE = "faster-whisper"
# Words this close to the end of voice activity count as reaching it: word timestamps are approximate, and
# what tiny.en heard in a window after them in our clips was made up ("See you.").
END_SLACK_S = 0.5

_MODELS: dict[tuple[str, str, int], Any] = {}  # one loaded WhisperModel per (source, compute type, threads)
_LOCK = threading.Lock()


def load_model(source: str, *, compute_type: str = "int8", threads: int = 2) -> Any:
    """The faster_whisper.WhisperModel, loaded once per process."""
    key = (source, compute_type, threads)
    with _LOCK:
        if key not in _MODELS:
            fw = import_faster_whisper()
            try:
                _MODELS[key] = fw.WhisperModel(source, device="cpu", compute_type=compute_type, cpu_threads=threads)
            except (RuntimeError, ValueError, OSError) as exc:
                raise TranscriptionError(f"could not load speech model {source}: {exc}") from exc
        return _MODELS[key]


def vad_speech_s(audio: np.ndarray) -> float:
    """Seconds of voice activity by Silero VAD (see coverage.speech_regions)."""
    return sum(r.speech_s for r in speech_regions(audio))


class FasterWhisperTranscriber(ResolvedModel):
    name = ENGINE

    def __init__(
        self, model: str | None = None, *, beam_size: int = 5, threads: int = 2, compute_type: str = "int8"
    ) -> None:
        super().__init__(model, beam_size=beam_size, threads=threads)
        self.compute_type = compute_type

    def warm_up(self) -> None:
        load_model(self.choice.source, compute_type=self.compute_type, threads=self.threads)

    def transcribe(
        self, audio: np.ndarray, *, prompt: str | None = None, on_progress: Progress | None = None
    ) -> Transcript:
        return transcribe_covered(
            audio, self.decode, prompt=prompt, on_progress=on_progress, engine=ENGINE, model=self.model_name
        )

    def decode(
        self,
        audio: np.ndarray,
        prompt: str | None = None,
        on_progress: Progress | None = None,
        *,
        speech_end_s: float | None = None,
    ) -> tuple[Segment, ...]:
        """One decode of the array, segments as faster-whisper yields them (lazily: progress is real).

        With ``speech_end_s`` (where voice activity ends), decoding stops once the words reach it: the next
        window would hold only the silence after them, and costs as much as a window of speech."""
        model = load_model(self.choice.source, compute_type=self.compute_type, threads=self.threads)
        total_s = len(audio) / 16_000
        raw: list[Any] = []
        try:
            pieces, _ = model.transcribe(
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
            _seed()
            for piece in pieces:  # decoding happens here, one segment at a time
                raw.append(piece)
                if on_progress is not None:
                    on_progress(min(float(piece.end), total_s), total_s)
                if speech_end_s is not None and _heard_until(piece) >= speech_end_s - END_SLACK_S:
                    break
        except (RuntimeError, ValueError) as exc:
            raise TranscriptionError(f"faster-whisper failed: {exc}") from exc
        return tuple(
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


def _heard_until(piece: Any) -> float:
    """Where a segment's last word ends (its end timestamp when it has no words)."""
    words = [w for w in (piece.words or ()) if w.word.strip()]
    return float(words[-1].end if words else piece.end)


def _seed() -> None:
    """The same audio gives the same transcript: a temperature fallback samples, so fix its random seed."""
    import ctranslate2

    ctranslate2.set_random_seed(0)
