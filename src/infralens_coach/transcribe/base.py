"""The engine interface: Transcriber protocol, Transcript/Segment/Word, and the honest no-speech gate.

Both engines return the same typed Transcript. The gate is shared so they refuse silence the same way:
Whisper writes "Thank you." on a 0.2 s clip and "You" on silence, and its no_speech_prob is unreliable
on synthetic speech, so the decision rests on voice-activity time plus a list of known hallucinations.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ..errors import NoSpeechError

MAX_WORDS_PER_S = 8.0  # faster than any speaker: a segment above this was invented
MIN_AUDIO_S = 1.0  # shorter recordings are refused before any model runs
MIN_SPEECH_S = 1.0  # less voice-activity time than this is "no speech"
NO_SPEECH_MESSAGE = "no speech detected — check the microphone"

# on_progress(audio_seconds_done, audio_seconds_total), called as the engine decodes (never backwards).
Progress = Callable[[float, float], None]

# What Whisper says when there is nothing to say (normalised: lower case, no punctuation).
KNOWN_HALLUCINATIONS = frozenset(
    {
        "",
        "you",
        "thank you",
        "thank you very much",
        "thanks",
        "thanks for watching",
        "thank you for watching",
        "thanks for watching and see you next time",
        "please subscribe",
        "bye",
        "bye bye",
        "okay",
        "oh",
        "so",
        "music",
        "applause",
        "silence",
        "the end",
        "subtitles by the amara org community",
    }
)
# Whole sentences Whisper appends at the end of real speech ("We'll see you in the next video, bye!").
_OUTRO = re.compile(
    r"^(?:(?:we ?'?ll |i ?'?ll )?see you (?:in the |at the )?next (?:video|time|week|one)"
    r"|thanks? (?:you )?(?:so much |very much )?for (?:watching|listening)"
    r"|(?:please )?(?:like and )?subscribe(?: to (?:my|our|the) channel)?"
    r"|bye(?: bye)?|goodbye)$"
)


@dataclass(frozen=True)
class Word:
    text: str  # as Whisper wrote it, with punctuation, without surrounding spaces
    start_s: float
    end_s: float
    probability: float


@dataclass(frozen=True)
class Segment:
    text: str
    start_s: float
    end_s: float
    words: tuple[Word, ...] = ()
    avg_logprob: float | None = None
    no_speech_prob: float | None = None


@dataclass(frozen=True)
class Gap:
    """A passage of voice activity that the transcript has (almost) no words for."""

    start_s: float
    end_s: float
    speech_s: float  # voice-activity time inside it
    words: int  # words the transcript has there

    def to_dict(self) -> dict[str, Any]:
        return {
            "start_s": round(self.start_s, 2),
            "end_s": round(self.end_s, 2),
            "speech_s": round(self.speech_s, 2),
            "words": self.words,
        }


CUT_OFF_WARNING = (
    "The recording stopped while you were still speaking, so the last word may be cut off: check the end of the "
    "transcript, and leave a short pause before Stop next time."
)


@dataclass(frozen=True)
class Transcript:
    text: str
    segments: tuple[Segment, ...]
    duration_s: float  # the whole recording
    speech_s: float  # voice-activity time
    engine: str
    model: str
    gaps: tuple[Gap, ...] = ()  # speech still without words after recovery: tell the user, keep the audio
    recovered: tuple[Gap, ...] = ()  # passages the first decode missed and a second decode filled in
    cut_off: bool = False  # a live recording that ends while the voice is still going (its last word may be cut)

    @property
    def words(self) -> tuple[Word, ...]:
        return tuple(w for s in self.segments for w in s.words)

    @property
    def warnings(self) -> tuple[str, ...]:
        """What the user must be told about this transcript (empty when every passage of speech has words)."""
        cut = (CUT_OFF_WARNING,) if self.cut_off else ()
        if not self.gaps:
            return cut
        where = ", ".join(f"{_clock(g.start_s)}–{_clock(g.end_s)}" for g in self.gaps[:4])
        where += " …" if len(self.gaps) > 4 else ""
        lost_s = sum(g.speech_s for g in self.gaps)
        return (
            f"Part of the recording was not transcribed: {lost_s:.0f} s of speech at {where} has no words. "
            "Listen back to the recording and add what is missing to the transcript before grading.",
            *cut,
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (the CLI's --json shape, and what the history keeps of it)."""
        return {
            "text": self.text,
            "duration_s": round(self.duration_s, 3),
            "speech_s": round(self.speech_s, 3),
            "engine": self.engine,
            "model": self.model,
            "gaps": [g.to_dict() for g in self.gaps],
            "recovered": [g.to_dict() for g in self.recovered],
            "warnings": list(self.warnings),
            "segments": [
                {
                    **{k: v for k, v in asdict(s).items() if k != "words"},
                    "words": [asdict(w) for w in s.words],
                }
                for s in self.segments
            ],
        }


@runtime_checkable
class Transcriber(Protocol):
    """One speech engine with one loaded model. ``name`` is stored with every attempt."""

    name: str

    @property
    def model_name(self) -> str: ...

    def warm_up(self) -> None:
        """Load the model now (the first transcription otherwise pays for it)."""

    def transcribe(
        self, audio: np.ndarray, *, prompt: str | None = None, on_progress: Progress | None = None
    ) -> Transcript:
        """16 kHz mono float32 in; raises NoSpeechError, TranscriptionError.

        ``on_progress(done_s, total_s)`` is called with audio seconds decoded as the engine goes, ending at
        (total, total) when the transcript is final."""


def _clock(seconds: float) -> str:
    return f"{int(seconds // 60)}:{int(seconds % 60):02d}"


def normalise(text: str) -> str:
    """Lower case, letters/digits/apostrophes only, single spaces (for comparisons and WER)."""
    text = text.lower().replace("’", "'")
    text = re.sub(r"[^a-z0-9' ]+", " ", text)
    return " ".join(text.split())


def is_hallucinated(segment: Segment) -> bool:
    """A segment made only of silence phrases and outros, or spoken impossibly fast."""
    sentences = [normalise(x) for x in re.split(r"[.!?,]+", segment.text)]
    sentences = [x for x in sentences if x]
    if not sentences or all(x.replace("'", "") in KNOWN_HALLUCINATIONS or _OUTRO.match(x) for x in sentences):
        return True
    span_s = segment.end_s - segment.start_s
    n_words = len(normalise(segment.text).split())
    return n_words >= 4 and n_words > MAX_WORDS_PER_S * max(span_s, 0.05)


def drop_hallucinated(segments: tuple[Segment, ...]) -> tuple[Segment, ...]:
    return tuple(s for s in segments if not is_hallucinated(s))


def require_audio_length(audio: np.ndarray, sample_rate: int = 16_000) -> None:
    if len(audio) / sample_rate < MIN_AUDIO_S:
        raise NoSpeechError(f"{NO_SPEECH_MESSAGE} (the recording is only {len(audio) / sample_rate:.1f} s long)")


def require_speech_time(speech_s: float) -> None:
    if speech_s < MIN_SPEECH_S:
        raise NoSpeechError(f"{NO_SPEECH_MESSAGE} ({speech_s:.1f} s of speech found)")


def require_real_text(text: str) -> None:
    """Refuse a transcript that is empty or only one of Whisper's silence phrases."""
    if normalise(text).replace("'", "") in KNOWN_HALLUCINATIONS:
        shown = f' (the engine heard only "{text.strip()}")' if text.strip() else ""
        raise NoSpeechError(f"{NO_SPEECH_MESSAGE}{shown}")


def finish(
    segments: tuple[Segment, ...],
    *,
    duration_s: float,
    speech_s: float,
    engine: str,
    model: str,
    gaps: tuple[Gap, ...] = (),
    recovered: tuple[Gap, ...] = (),
) -> Transcript:
    """Drop Whisper's hallucinated segments, refuse a transcript with nothing real left, and assemble it."""
    segments = drop_hallucinated(segments)
    text = " ".join(s.text for s in segments if s.text)
    require_real_text(text)
    return Transcript(
        text=text,
        segments=segments,
        duration_s=duration_s,
        speech_s=speech_s,
        engine=engine,
        model=model,
        gaps=gaps,
        recovered=recovered,
    )
