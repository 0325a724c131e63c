"""One attempt at a card, as the history keeps it: transcript, how it was heard, grade; and its id.

Ids are ULIDs (48-bit millisecond time + 80 random bits, Crockford base32), so they sort by creation time.
`Attempt.to_dict()` is the export and --json shape. An attempt holds JSON data as the history stores it: the
grade is `Grade.to_json()` (read back with `Grade.from_json`, grading/base.py, the one decoder), the transcript
`Transcript.to_dict()`, the delivery `DeliveryMetrics.to_dict()`. The Coach converts its typed values at this edge.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from . import __version__
from .content import Question, Rubric

MODES = ("voice", "upload", "text")

# ---------------------------------------------------------------- ids and time

ID_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_id_lock = threading.Lock()
_last_id = [0, 0]  # [ms, random] of the last id made in this process


def _reset_ids() -> None:  # a forked child must not continue its parent's monotonic sequence
    _last_id[:] = [0, 0]


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_ids)


def new_id(ms: int | None = None) -> str:
    """A 26-character ULID; within one process, ids made in the same millisecond still increase."""
    with _id_lock:
        ms = time.time_ns() // 1_000_000 if ms is None else ms
        same_ms = ms == _last_id[0]
        rand = (_last_id[1] + 1) & ((1 << 80) - 1) if same_ms else int.from_bytes(os.urandom(10), "big")
        _last_id[:] = [ms, rand]
    value = (ms << 80) | rand
    return "".join(ID_ALPHABET[(value >> shift) & 31] for shift in range(125, -1, -5))


def id_time(attempt_id: str) -> datetime:
    value = 0
    for ch in attempt_id[:10]:
        value = value * 32 + ID_ALPHABET.index(ch)
    return datetime.fromtimestamp(value / 1000, tz=timezone.utc)


def utc_text(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# ---------------------------------------------------------------- the attempt


@dataclass(frozen=True)
class Attempt:
    id: str
    created_utc: str
    card: int
    question_id: str
    question_version: str
    mode: str  # voice | upload | text
    state: str  # graded | ungraded
    transcript: str  # what was (or will be) graded: the transcript after the user's edits
    transcript_raw: str  # the engine's words, or the typed text
    ungraded_reason: str | None = None
    segments: list[dict[str, Any]] = field(default_factory=list)  # Transcript.to_dict()["segments"]
    duration_s: float | None = None
    speech_s: float | None = None
    engine: str | None = None
    model: str | None = None
    audio_path: str | None = None  # relative to the data directory
    audio_source: str | None = None  # the name of the file the user gave
    metrics: dict[str, Any] | None = None  # DeliveryMetrics.to_dict()
    grade: dict[str, Any] | None = None  # Grade.to_json()
    transcribe_s: float | None = None
    grade_s: float | None = None
    graded_utc: str | None = None
    app_version: str = __version__
    user: str = ""  # whose attempt: the login name with authentication on, "" for the single user (no accounts)

    @property
    def graded(self) -> bool:
        return self.state == "graded"

    @property
    def overall(self) -> int | None:
        return self.grade["overall"] if self.grade else None

    @property
    def decided_by(self) -> str | None:
        return self.grade["decided_by"] if self.grade else None

    @property
    def fallback_reason(self) -> str | None:
        return self.grade["fallback_reason"] if self.grade else None

    def scores(self) -> dict[str, tuple[int, int]]:
        """dimension id -> (score, max_score); empty when ungraded."""
        return {d["id"]: (d["score"], d["max_score"]) for d in (self.grade or {}).get("dimensions", [])}

    def to_dict(self) -> dict[str, Any]:
        """The export / --json shape; Attempt.from_dict(a.to_dict()) == a."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Attempt:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def new_attempt(
    question: Question,
    rubric: Rubric,
    text: str,
    *,
    mode: str = "text",
    grade: dict[str, Any] | None = None,
    ungraded_reason: str | None = None,
    transcript: dict[str, Any] | None = None,
    raw_text: str | None = None,
    metrics: dict[str, Any] | None = None,
    audio_source: str | None = None,
    transcribe_s: float | None = None,
    grade_s: float | None = None,
    now: datetime | None = None,
) -> Attempt:
    """An attempt at `question`; `text` is what is graded, `transcript` what the engine heard (if spoken).

    `grade` is Grade.to_json(), `transcript` Transcript.to_dict(), `metrics` DeliveryMetrics.to_dict()."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    if grade is None and not ungraded_reason:
        raise ValueError("an attempt without a grade needs the reason it is ungraded")
    ms = time.time_ns() // 1_000_000 if now is None else int(now.timestamp() * 1000)
    created = utc_text(datetime.fromtimestamp(ms / 1000, tz=timezone.utc))
    spoken = transcript or {}
    return Attempt(
        id=new_id(ms), created_utc=created, card=question.card, question_id=question.id,
        question_version=question.version(rubric), mode=mode,
        state="graded" if grade is not None else "ungraded",
        ungraded_reason=None if grade is not None else ungraded_reason,
        transcript=text, transcript_raw=raw_text if raw_text is not None else spoken.get("text", text),
        segments=spoken.get("segments", []), duration_s=spoken.get("duration_s"), speech_s=spoken.get("speech_s"),
        engine=spoken.get("engine"), model=spoken.get("model"), audio_source=audio_source,
        metrics=metrics, grade=grade, transcribe_s=transcribe_s, grade_s=grade_s,
        graded_utc=created if grade is not None else None,
    )  # fmt: skip
