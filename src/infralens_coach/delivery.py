"""Delivery metrics: pure functions of a transcript's timed words.

Length, speaking time, pace, long pauses and filler words, with plain-language notes against a target
band: a named preset (TARGET_PRESETS: "short" 20–45 s, "full" 60–120 s, both 130–170 words per minute) or
the settings' target_seconds / target_wpm (INFRALENS_TARGET_SECONDS / _WPM as "MIN-MAX"). Whisper drops many
fillers, so the filler count is a lower bound and says so. Fillers are counted from the words alone, so the same
transcript always gives the same count; "like", "so" and "you know" count only as discourse markers, never as a
preposition ("like an inference API") or a conjunction ("so it restarts").
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .config import Settings
from .transcribe.base import Transcript, Word

FILLERS = frozenset({"um", "umm", "uh", "uhh", "uhm", "er", "erm", "ah", "hmm", "mm", "mhm"})
SET_OFF_PAUSE_S = 0.5  # "like" then this much silence: the speaker is searching, not comparing
# After these, "like" compares ("like a batch run", "like the API"): a preposition, even after a pause.
DETERMINERS = frozenset(
    {
        "a",
        "an",
        "the",
        "this",
        "that",
        "these",
        "those",
        "my",
        "your",
        "our",
        "their",
        "its",
        "his",
        "her",
        "some",
        "any",
        "every",
        "each",
        "one",
        "two",
    }
)
SENTENCE_END = (".", "?", "!", "…")
SET_OFF = (",", "...", "…", ";", ":", "—", "–")
FILLER_CAVEAT = "speech engines drop many fillers, so this count is a lower bound"


@dataclass(frozen=True)
class DeliveryTargets:
    min_duration_s: float = 60.0
    max_duration_s: float = 120.0
    min_wpm: float = 130.0
    max_wpm: float = 170.0
    long_pause_s: float = 1.5

    @classmethod
    def from_settings(cls, settings: Settings) -> DeliveryTargets:
        """The settings' bands (INFRALENS_TARGET_SECONDS / _WPM), each defaulting to the full-answer band."""
        lo_s, hi_s = settings.target_seconds or (cls.min_duration_s, cls.max_duration_s)
        lo_w, hi_w = settings.target_wpm or (cls.min_wpm, cls.max_wpm)
        return cls(lo_s, hi_s, lo_w, hi_w)


# The target lengths a user picks (web "Target length", CLI --target); the pace band is the same for both.
TARGET_PRESETS: dict[str, DeliveryTargets] = {
    "short": DeliveryTargets(min_duration_s=20.0, max_duration_s=45.0),  # "about 30 s"
    "full": DeliveryTargets(min_duration_s=60.0, max_duration_s=120.0),  # "about 2 min"
}


@dataclass(frozen=True)
class Pause:
    start_s: float
    end_s: float
    after: str  # the word before the pause

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass(frozen=True)
class Filler:
    text: str
    start_s: float


@dataclass(frozen=True)
class DeliveryMetrics:
    duration_s: float  # the answer: first word to last word
    recording_s: float  # the whole recording, silence included
    speaking_s: float  # the answer less its long pauses
    word_count: int
    words_per_minute: float | None
    long_pauses: tuple[Pause, ...]
    fillers: tuple[Filler, ...]
    notes: tuple[str, ...]

    @property
    def filler_count(self) -> int:
        return len(self.fillers)

    @property
    def long_pause_count(self) -> int:
        return len(self.long_pauses)

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape the CLI prints and the history stores."""
        return {
            "duration_s": round(self.duration_s, 1),
            "recording_s": round(self.recording_s, 1),
            "speaking_s": round(self.speaking_s, 1),
            "word_count": self.word_count,
            "words_per_minute": None if self.words_per_minute is None else round(self.words_per_minute),
            "long_pause_count": self.long_pause_count,
            "long_pauses": [
                {"at_s": round(p.start_s, 1), "duration_s": round(p.duration_s, 1), "after": p.after}
                for p in self.long_pauses
            ],
            "filler_count": self.filler_count,
            "fillers": dict(Counter(f.text for f in self.fillers)),
            "fillers_note": FILLER_CAVEAT,
            "notes": list(self.notes),
        }


def bare(word: str) -> str:
    """A word without punctuation, lower case ("So," -> "so")."""
    return re.sub(r"[^a-z0-9']", "", word.lower().replace("’", "'"))


def count_words(words: Sequence[Word]) -> int:
    return sum(1 for w in words if bare(w.text))


def long_pauses(words: Sequence[Word], min_pause_s: float = 1.5) -> tuple[Pause, ...]:
    return tuple(
        Pause(prev.end_s, nxt.start_s, prev.text)
        for prev, nxt in zip(words, words[1:], strict=False)
        if nxt.start_s - prev.end_s >= min_pause_s
    )


def find_fillers(words: Sequence[Word], pause_s: float = SET_OFF_PAUSE_S) -> tuple[Filler, ...]:
    """um/uh/er always; "like", "so" and "you know" only as discourse markers:

    - "like," (comma after it), or "like" then a pause not followed by a determiner — never "like a/the X";
    - "So," opening a sentence (or set off by commas on both sides) — never "so it restarts";
    - "you know" opening a clause and set off after it ("you know, the…", ", you know."), never "if you know".
    """
    found: list[Filler] = []
    for i, w in enumerate(words):
        token = bare(w.text)
        prev = words[i - 1] if i > 0 else None
        nxt = words[i + 1] if i + 1 < len(words) else None
        if token in FILLERS:
            found.append(Filler(token, w.start_s))
        elif token == "like" and _like_marker(w, nxt, pause_s):
            found.append(Filler("like", w.start_s))
        elif token == "so" and _so_marker(prev, w):
            found.append(Filler("so", w.start_s))
        elif (
            token == "know"
            and prev is not None
            and bare(prev.text) == "you"
            and _you_know_marker(words[i - 2] if i >= 2 else None, prev, w)
        ):
            found.append(Filler("you know", prev.start_s))
    return tuple(found)


def _ends(word: Word | None, marks: tuple[str, ...]) -> bool:
    return word is not None and word.text.rstrip().endswith(marks)


def _opens(before: Word | None) -> bool:
    """The next word starts a sentence or a clause set off by a comma."""
    return before is None or _ends(before, SENTENCE_END + SET_OFF)


def _like_marker(word: Word, nxt: Word | None, pause_s: float) -> bool:
    if _ends(word, SET_OFF + SENTENCE_END):
        return True
    return nxt is not None and nxt.start_s - word.end_s >= pause_s and bare(nxt.text) not in DETERMINERS


def _so_marker(prev: Word | None, word: Word) -> bool:
    if _ends(word, SENTENCE_END):  # "So." on its own
        return True
    return _ends(word, SET_OFF) and (prev is None or _ends(prev, SENTENCE_END + SET_OFF))


def _you_know_marker(before: Word | None, you: Word, know: Word) -> bool:
    return _opens(before) and not _ends(you, SET_OFF + SENTENCE_END) and _ends(know, SET_OFF + SENTENCE_END)


def delivery_metrics(transcript: Transcript, targets: DeliveryTargets | None = None) -> DeliveryMetrics:
    targets = targets or DeliveryTargets()
    words = transcript.words
    pauses = long_pauses(words, targets.long_pause_s)
    fillers = find_fillers(words)
    n_words = count_words(words)
    answer_s = max(0.0, words[-1].end_s - words[0].start_s) if words else transcript.speech_s
    speaking_s = max(0.0, answer_s - sum(p.duration_s for p in pauses))
    wpm = n_words / speaking_s * 60 if speaking_s >= 1.0 and n_words else None
    notes = transcript.warnings + delivery_notes(answer_s, wpm, pauses, fillers, speaking_s, targets)
    return DeliveryMetrics(answer_s, transcript.duration_s, speaking_s, n_words, wpm, pauses, fillers, notes)


def delivery_notes(
    duration_s: float,
    wpm: float | None,
    pauses: Sequence[Pause],
    fillers: Sequence[Filler],
    speaking_s: float,
    targets: DeliveryTargets,
) -> tuple[str, ...]:
    t = targets
    notes = []
    band_s = f"{t.min_duration_s:.0f}–{t.max_duration_s:.0f} s"
    if duration_s < t.min_duration_s:
        notes.append(f"Short: {duration_s:.0f} s against {band_s}. Add the why, a trade-off or a concrete example.")
    elif duration_s > t.max_duration_s:
        notes.append(f"Long: {duration_s:.0f} s against {band_s}. Lead with the short answer, then cut detail.")
    band_w = f"{t.min_wpm:.0f}–{t.max_wpm:.0f} wpm"
    if wpm is not None and wpm < t.min_wpm:
        notes.append(f"Slow: {wpm:.0f} wpm against {band_w}. Keep sentences moving; pause only between ideas.")
    elif wpm is not None and wpm > t.max_wpm:
        notes.append(f"Fast: {wpm:.0f} wpm against {band_w}. Slow down and let key terms land.")
    if pauses:
        where = ", ".join(_clock(p.start_s) for p in pauses[:5]) + (" …" if len(pauses) > 5 else "")
        notes.append(f"{len(pauses)} long pause{'s' if len(pauses) != 1 else ''} (≥ {t.long_pause_s:g} s) at {where}.")
    per_min = len(fillers) / (speaking_s / 60) if speaking_s >= 10 else 0.0
    if fillers and per_min >= 3:
        counts = ", ".join(f'"{k}" ×{v}' for k, v in Counter(f.text for f in fillers).most_common(4))
        notes.append(f"{len(fillers)} filler words ({counts}). Pause silently instead.")
    if not notes:
        notes.append(f"On target: length and pace are within {band_s} and {band_w}.")
    return tuple(notes)


def _clock(seconds: float) -> str:
    return f"{int(seconds // 60)}:{int(seconds % 60):02d}"
