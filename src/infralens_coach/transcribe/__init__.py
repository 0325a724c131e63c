"""Speech to text behind one small interface, engines chosen by name.

    t = get_transcriber(settings=settings)     # engine and model from Settings, cached per process
    transcript = t.transcribe(audio.decode("answer.webm"), prompt=prompt_for(question))

Without `settings` the defaults apply (Settings()); the front ends pass Settings.from_env(), which reads
INFRALENS_WHISPER_*.

Engines are constructed lazily and their heavy imports (faster_whisper, whisper, torch) happen on first
use, so importing this package is cheap. A fake engine for tests is a class implementing Transcriber,
registered with ``register(name, factory)`` like the real ones.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from .. import audio
from ..config import Settings
from ..errors import NoSpeechError, TranscriptionError
from .base import Gap, Progress, Segment, Transcriber, Transcript, Word, normalise
from .models import ModelChoice

__all__ = [
    "Gap", "ModelChoice", "NoSpeechError", "Progress", "Segment", "Transcriber", "Transcript", "Word",
    "get_transcriber", "normalise", "prompt_for", "register", "transcribe_file", "warm_up",
]  # fmt: skip

DEFAULT_ENGINE = "faster-whisper"

# factory(model, beam_size=..., threads=...) -> Transcriber
Factory = Callable[..., Transcriber]


def _faster_whisper(model: str | None, *, beam_size: int, threads: int) -> Transcriber:
    from .faster_whisper import FasterWhisperTranscriber

    return FasterWhisperTranscriber(model, beam_size=beam_size, threads=threads)


def _openai_whisper(model: str | None, *, beam_size: int, threads: int) -> Transcriber:
    from .openai_whisper import OpenAIWhisperTranscriber

    return OpenAIWhisperTranscriber(model, beam_size=beam_size, threads=threads)


def _remote(model: str | None, *, beam_size: int, threads: int, settings: Settings) -> Transcriber:
    """The speech server (INFRALENS_STT_*), with the local engine as its fallback, loaded only when needed."""
    from .remote import RemoteTranscriber

    local_settings = dataclasses.replace(settings, whisper_engine=DEFAULT_ENGINE)
    remote = RemoteTranscriber.from_settings(settings, lambda: get_transcriber(settings=local_settings))
    if model:
        remote.model = model
    return remote


_ENGINES: dict[str, Factory] = {
    "faster-whisper": _faster_whisper, "openai-whisper": _openai_whisper, "remote": _remote,
}  # fmt: skip
REMOTE_ENGINE = "remote"
_INSTANCES: dict[tuple[str, str | None, int, int], Transcriber] = {}


def register(name: str, factory: Factory) -> None:
    """Add (or replace) an engine; existing instances of that name are dropped."""
    _ENGINES[name] = factory
    for key in [k for k in _INSTANCES if k[0] == name]:
        del _INSTANCES[key]


def get_transcriber(
    engine: str | None = None, model: str | None = None, *, settings: Settings | None = None
) -> Transcriber:
    """The engine by name with its model, one instance per (engine, model, beam, threads) per process."""
    settings = settings or Settings()
    engine = engine or settings.whisper_engine or DEFAULT_ENGINE
    if engine not in _ENGINES:
        raise TranscriptionError(f"unknown speech engine {engine!r}; choose one of {', '.join(_ENGINES)}")
    if engine == REMOTE_ENGINE:  # no model to hold: one per recording (it remembers a fallback for that recording)
        return _ENGINES[engine](
            model, beam_size=settings.whisper_beam_size, threads=settings.whisper_threads, settings=settings
        )
    model = model or settings.whisper_model
    if settings.whisper_beam_size < 1 or settings.whisper_threads < 1:
        raise TranscriptionError("INFRALENS_WHISPER_BEAM and INFRALENS_WHISPER_THREADS must be at least 1")
    key = (engine, model, settings.whisper_beam_size, settings.whisper_threads)
    if key not in _INSTANCES:
        _INSTANCES[key] = _ENGINES[engine](
            model, beam_size=settings.whisper_beam_size, threads=settings.whisper_threads
        )
    return _INSTANCES[key]


def warm_up(engine: str | None = None, model: str | None = None, *, settings: Settings | None = None) -> Transcriber:
    """Resolve and load the model now, so the first answer is not slowed by loading it."""
    transcriber = get_transcriber(engine, model, settings=settings)
    transcriber.warm_up()
    return transcriber


# A disfluent tail: Whisper copies the prompt's style, so fillers are kept instead of cleaned away
# (on our clips: 3 of 6 spoken fillers kept without it, 6 of 6 with it, none invented on fluent speech).
DISFLUENT_TAIL = "Um, so, I was like, uh, thinking, you know, about the, er, answer."


def prompt_for(question: str | None = None, vocabulary: Sequence[str] = (), *, keep_fillers: bool = True) -> str | None:
    """Whisper's initial_prompt for one card: the question, a sentence naming its key terms, fillers.

    A sentence, not a bare list: a "Key terms: A, B, C" prompt made tiny.en answer in comma lists.
    The disfluent tail must come last (first, it truncated transcripts). Never ``hotwords``: it dropped
    whole passages in our measurements.
    """
    parts = [question.strip()] if question and question.strip() else []
    terms = [v.strip() for v in vocabulary if v and v.strip()]
    if terms:
        listed = terms[0] if len(terms) == 1 else ", ".join(terms[:-1]) + " and " + terms[-1]
        parts.append(f"I will talk about {listed}.")
    if keep_fillers:
        parts.append(DISFLUENT_TAIL)
    return " ".join(parts) or None


def transcribe_file(
    source: audio.AudioSource,
    *,
    engine: str | None = None,
    model: str | None = None,
    prompt: str | None = None,
    settings: Settings | None = None,
    on_progress: Progress | None = None,
) -> Transcript:
    """Decode any recording (path, bytes, file object) and transcribe it; on_progress(done_s, total_s)."""
    settings = settings or Settings()
    samples = audio.decode(source, max_duration_s=settings.max_audio_s)
    transcriber = get_transcriber(engine, model, settings=settings)
    if on_progress is None:  # engines registered before progress existed take only the prompt
        return transcriber.transcribe(samples, prompt=prompt)
    return transcriber.transcribe(samples, prompt=prompt, on_progress=on_progress)
