"""A mock interview: a few cards asked in turn, a follow-up probe on each answer's weakest dimension, one report.

    session = MockSession.start(coach, choose_cards(bank, group="debug-and-operate"), style="interview")
    while (step := session.next_step()) is not None:     # a card's question, then its follow-up probe
        session.answer(text, spoken=spoken, audio=path)  # graded, kept, and the session saved after every step
    report = session_report(session.data, coach.bank)    # mock_report.py: per card, per dimension, delivery

- The main answer is graded as usual through the Coach (`coach.submit`: the configured grader, kept in History).
- The probe is asked on the weakest dimension the answer did not already cover (choose_probe). When an LLM
  graded the answer, its own follow-up question is the probe (the grading prompt already asks it to aim at the
  weakest dimension); otherwise, and always offline, it is one of the card's authored follow-ups for that
  dimension: the one sharing most words with the points the answer missed.
- The follow-up answer is graded by the offline grader against that dimension's points only (the card with its
  other dimensions' points removed), so a sentence there can earn only that dimension; it counts toward that
  dimension (the card's score on it is the better of the two answers). It is kept in the session, not as an
  attempt: a one-dimension answer must not read as a weak attempt at the whole card in the progress.
- A session is saved after every step (History.save_session) and resumed by id; until its last step it is
  `in_progress`, listed as incomplete and never counted against the user. On completion the three things to
  practise next are recorded, and `progress.suggestions(marked=practice_marks(store))` makes those cards due.

This module is a part, not a front end: it receives the Coach as a value (MockCoach) and never imports it.
"""

from __future__ import annotations

import random
import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from . import __version__
from .attempt import new_id, utc_text
from .config import Settings
from .content import DIMENSION_NAMES, DIMENSIONS, GROUPS, Question, QuestionBank, Rubric
from .errors import AnswerError, HistoryError
from .grading.base import DimensionScore, Grade
from .progress import CHECKLIST_CARDS, Suggestion, suggestions

if TYPE_CHECKING:
    from .attempt import Attempt
    from .delivery import DeliveryMetrics, DeliveryTargets
    from .history import HistoryStore, KeptSession

STYLES = ("practice", "interview")  # practice: feedback after each answer; interview: only at the end
MIN_CARDS, MAX_CARDS = 3, 8
DEFAULT_COUNT = 5  # cards for --due and --random when no count is given
WARNING_S = 10.0  # the countdown warns this long before the limit
FOLLOW_UP_SECONDS = 45.0  # a follow-up is a short answer (the "short" target's upper end)
PRACTISE_NEXT = 3


# ---------------------------------------------------------------- what the session needs from the Coach


class _Graded(Protocol):
    @property
    def grade(self) -> Grade: ...
    @property
    def attempt(self) -> Attempt | None: ...


class _Transcript(Protocol):
    text: str

    def to_dict(self) -> dict[str, Any]: ...


class Spoken(Protocol):
    """A transcribed answer (coach.SpokenAnswer)."""

    @property
    def text(self) -> str: ...
    @property
    def metrics(self) -> DeliveryMetrics: ...


class MockCoach(Protocol):
    """The part of coach.Coach a session uses (the Coach is passed in: parts never import the pipeline)."""

    bank: QuestionBank
    settings: Settings
    store: HistoryStore | None

    def submit(
        self, question: Question, text: str, *, mode: str = ..., spoken: Any = ..., audio: Any = ...
    ) -> _Graded: ...


# ---------------------------------------------------------------- choosing the cards


def _clamp(cards: Sequence[Question], how: str) -> list[int]:
    if len(cards) < MIN_CARDS:
        raise AnswerError(f"{how} gives {len(cards)} card(s); a mock interview needs {MIN_CARDS} to {MAX_CARDS}")
    return [q.card for q in cards[:MAX_CARDS]]


def choose_cards(
    bank: QuestionBank,
    *,
    group: str | None = None,
    checklist: bool = False,
    due: Sequence[int] | None = None,
    random_count: int | None = None,
    seed: int | None = None,
    cards: Sequence[str | int] | None = None,
) -> tuple[list[int], str]:
    """The session's cards (3-8) and how they were chosen, from exactly one of: a question-map group, the review
    checklist, `due` (card numbers ranked by progress.suggestions, due first), `random_count` cards (with `seed`),
    or `cards` by number or id."""
    given = [group is not None, checklist, due is not None, random_count is not None, cards is not None]
    if sum(given) != 1:
        raise AnswerError("choose the cards one way: a group, the checklist, the due cards, random N, or a card list")
    if group is not None:
        if group not in GROUPS:
            raise AnswerError(f"unknown group {group!r}; expected one of {', '.join(GROUPS)}")
        return _clamp(bank.in_group(group), f"group {group}"), f"group {group}"
    if checklist:
        return _clamp([q for q in bank.questions if q.card in CHECKLIST_CARDS], "the checklist"), "review checklist"
    if due is not None:
        return _clamp([bank.get(c) for c in due], "the due cards"), "due by spaced repetition"
    if random_count is not None:
        if not MIN_CARDS <= random_count <= MAX_CARDS:
            raise AnswerError(f"random: give {MIN_CARDS} to {MAX_CARDS} cards, not {random_count}")
        picked = random.Random(seed).sample(list(bank.questions), min(random_count, len(bank.questions)))
        return _clamp(picked, "random"), f"random {random_count}" + (f" (seed {seed})" if seed is not None else "")
    listed = [bank.get(c) for c in cards or ()]
    if len({q.card for q in listed}) != len(listed):
        raise AnswerError("a card is listed twice")
    if len(listed) > MAX_CARDS:
        raise AnswerError(f"{len(listed)} cards listed; a mock interview takes {MIN_CARDS} to {MAX_CARDS}")
    return _clamp(listed, "the card list"), "cards " + ",".join(str(q.card) for q in listed)


def due_cards(ranked: Sequence[Any], count: int = DEFAULT_COUNT) -> list[int]:
    """From progress.suggestions(): the due cards first, topped up with the next ones ranked when fewer are due."""
    due = [s.card for s in ranked if s.due]
    rest = [s.card for s in ranked if not s.due]
    return (due + rest)[: max(MIN_CARDS, min(count, MAX_CARDS))]


# ---------------------------------------------------------------- the probe


@dataclass(frozen=True)
class Probe:
    dimension: str
    question: str
    source: str  # authored | llm | generic
    reason: str  # why this dimension, in words

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


_WORD = re.compile(r"[a-z][a-z0-9-]{3,}")


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


def weakest_uncovered(grade: Grade, question: Question, rubric: Rubric) -> tuple[str, str]:
    """The dimension to probe and why: the lowest share among the assessed dimensions the answer did not fully
    cover (all of them when it covered everything); ties go to the heavier dimension, then rubric order."""
    assessed = [d for d in grade.dimensions if d.max_score > 0]
    if not assessed:
        return "mechanism", "nothing on this card is assessed by dimension"
    open_ = [d for d in assessed if d.score < d.max_score] or assessed

    def key(d: DimensionScore) -> tuple[float, float, int]:
        weight = question.dimension_weight(rubric, d.dimension)
        return d.score / d.max_score, -weight, DIMENSIONS.index(d.dimension)

    pick = min(open_, key=key)
    name = DIMENSION_NAMES.get(pick.dimension, pick.dimension)
    if pick.score == pick.max_score:
        return pick.dimension, f"every dimension was covered; {name} carries the most weight"
    others = [d for d in assessed if d is not pick and d.score == pick.score]
    tie = f" (tied with {', '.join(DIMENSION_NAMES[d.dimension] for d in others)}; it weighs more)" if others else ""
    return pick.dimension, f"{name} scored {pick.score}/{pick.max_score}, the weakest not already covered{tie}"


def choose_probe(question: Question, rubric: Rubric, grade: Grade) -> Probe:
    """The follow-up to ask after this graded answer (see the module docstring)."""
    dimension, reason = weakest_uncovered(grade, question, rubric)
    if grade.decided_by.startswith("llm") and grade.follow_up:
        return Probe(dimension, grade.follow_up.strip(), "llm", reason)
    authored = question.follow_ups.get(dimension, ())
    if authored:
        missed = _words(" ".join(grade.dimension(dimension).missing))
        # The probe closest to what was missed; the first authored one on a tie (max keeps the first).
        best = max(authored, key=lambda probe: len(_words(probe) & missed))
        return Probe(dimension, best, "authored", reason)
    description = rubric.dimension(dimension).description.rstrip(".")
    return Probe(dimension, f"Let's go deeper on {rubric.dimension(dimension).name.lower()}: {description}?", "generic",
                 reason)  # fmt: skip


def dimension_question(question: Question, dimension: str) -> Question:
    """The card with only `dimension`'s points, so a grade of it can earn nothing elsewhere (a card whose points
    are derived from its reference answer is graded whole, and only `dimension` is read)."""
    if question.derived:
        return question
    return question.model_copy(update={"points": {dimension: question.points[dimension]}})


def grade_follow_up(question: Question, rubric: Rubric, dimension: str, text: str, settings: Settings) -> Grade:
    """The follow-up answer graded offline against that dimension's points only (deterministic, explainable)."""
    from .grading.keyword import KeywordGrader

    return KeywordGrader(meaning=settings.grader_meaning).grade(dimension_question(question, dimension), rubric, text)


# ---------------------------------------------------------------- the session's data


@dataclass
class CardRun:
    """One card of a session: the main answer (an attempt in History) and the follow-up (kept here)."""

    card: int
    question_id: str
    attempt_id: str | None = None
    answer: str | None = None
    mode: str | None = None  # voice | upload | text
    grade: dict[str, Any] | None = None  # Grade.to_json() of the main answer
    metrics: dict[str, Any] | None = None  # DeliveryMetrics.to_dict(), for a spoken answer
    seconds: float | None = None  # the countdown the answer had
    probe: dict[str, Any] | None = None  # Probe.to_json()
    follow_up_answer: str | None = None
    follow_up_grade: dict[str, Any] | None = None  # the one-dimension Grade.to_json()
    follow_up_metrics: dict[str, Any] | None = None
    follow_up_seconds: float | None = None
    follow_up_audio: str | None = None  # relative to the data directory

    @property
    def done(self) -> bool:
        return self.follow_up_grade is not None

    def follow_up_score(self) -> DimensionScore | None:
        if self.follow_up_grade is None or self.probe is None:
            return None
        return Grade.from_json(self.follow_up_grade).dimension(self.probe["dimension"])


@dataclass
class SessionData:
    id: str
    created_utc: str
    style: str
    selection: str  # how the cards were chosen, in words
    answer_seconds: float  # each question's countdown
    runs: list[CardRun]
    updated_utc: str = ""
    completed_utc: str | None = None
    practise_next: list[dict[str, Any]] = field(default_factory=list)  # set on completion (mock_report)

    @property
    def complete(self) -> bool:
        return all(r.done for r in self.runs)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SessionData:
        runs = [CardRun(**r) for r in data["runs"]]
        return cls(**{**data, "runs": runs})


@dataclass(frozen=True)
class Step:
    """What the interviewer asks now."""

    kind: str  # question | follow_up
    index: int  # the card's place in the session, from 0
    total: int
    card: int
    text: str  # read aloud and shown
    seconds: float  # the countdown: auto-stop at the limit, a warning WARNING_S before
    dimension: str | None = None  # the probed dimension, for a follow-up

    @property
    def label(self) -> str:
        what = "question" if self.kind == "question" else f"follow-up on {DIMENSION_NAMES[self.dimension or '']}"
        return f"Card {self.index + 1} of {self.total} · card {self.card:02d} · {what}"


@dataclass(frozen=True)
class Outcome:
    """What an answer produced: the main grade and the probe, or the follow-up's grade of its dimension."""

    step: Step
    grade: Grade  # the main grade, or the one-dimension grade of the follow-up
    probe: Probe | None = None
    score: DimensionScore | None = None  # the follow-up's score on the probed dimension


def answer_seconds(settings: Settings, target: DeliveryTargets | None = None) -> float:
    """A question's countdown: the upper end of the target length (INFRALENS_TARGET_SECONDS, or `target`)."""
    if settings.target_seconds:
        return float(settings.target_seconds[1])
    if target is not None:
        return float(target.max_duration_s)
    from .delivery import TARGET_PRESETS

    return float(TARGET_PRESETS["full"].max_duration_s)


# ---------------------------------------------------------------- the session


class MockSession:
    def __init__(self, coach: MockCoach, data: SessionData) -> None:
        self.coach, self.data = coach, data

    @classmethod
    def start(
        cls,
        coach: MockCoach,
        cards: Sequence[int],
        *,
        style: str = "interview",
        selection: str = "",
        seconds: float | None = None,
    ) -> MockSession:
        if style not in STYLES:
            raise AnswerError(f"style must be one of {', '.join(STYLES)}, not {style!r}")
        questions = [coach.bank.get(c) for c in cards]
        if not MIN_CARDS <= len(questions) <= MAX_CARDS:
            raise AnswerError(f"a mock interview takes {MIN_CARDS} to {MAX_CARDS} cards, not {len(questions)}")
        now = utc_text(datetime.now(timezone.utc))
        data = SessionData(
            new_id(), now, style, selection or "cards " + ",".join(str(q.card) for q in questions),
            seconds or answer_seconds(coach.settings), [CardRun(q.card, q.id) for q in questions], now,
        )  # fmt: skip
        session = cls(coach, data)
        session.save()
        return session

    @classmethod
    def resume(cls, coach: MockCoach, ref: str) -> MockSession:
        store = _store(coach)
        kept = store.get_session(ref)
        return cls(coach, SessionData.from_json(kept.data))

    # -- the steps

    def next_step(self) -> Step | None:
        """The question or follow-up to ask now; None when the session is complete."""
        total = len(self.data.runs)
        for i, run in enumerate(self.data.runs):
            if run.grade is None:
                return Step("question", i, total, run.card, self.coach.bank.get(run.question_id).question,
                            self.data.answer_seconds)  # fmt: skip
            if not run.done and run.probe is not None:
                seconds = min(FOLLOW_UP_SECONDS, self.data.answer_seconds)
                return Step("follow_up", i, total, run.card, run.probe["question"], seconds, run.probe["dimension"])
        return None

    def answer(self, text: str, *, spoken: Spoken | None = None, audio: Any = None, mode: str | None = None) -> Outcome:
        """Grade the answer to the current step, keep it, and save the session."""
        step = self.next_step()
        if step is None:
            raise AnswerError(f"session {self.data.id} is complete: nothing is waiting for an answer")
        if not text or not text.strip():
            raise AnswerError("the answer is empty: nothing was heard — answer again, or type it")
        run = self.data.runs[step.index]
        question = self.coach.bank.get(run.question_id)
        mode = mode or ("voice" if spoken is not None else "text")
        metrics = None if spoken is None else spoken.metrics.to_dict()
        if step.kind == "question":
            graded = self.coach.submit(question, text, mode=mode, spoken=spoken, audio=audio)
            probe = choose_probe(question, self.coach.bank.rubric, graded.grade)
            run.answer, run.mode, run.grade, run.metrics, run.seconds = (
                text, mode, graded.grade.to_json(), metrics, step.seconds
            )  # fmt: skip
            run.attempt_id = graded.attempt.id if graded.attempt is not None else None
            run.probe = probe.to_json()
            self.save()
            return Outcome(step, graded.grade, probe=probe)
        dimension = step.dimension or ""
        grade = grade_follow_up(question, self.coach.bank.rubric, dimension, text, self.coach.settings)
        run.follow_up_answer, run.follow_up_grade, run.follow_up_metrics, run.follow_up_seconds = (
            text, grade.to_json(), metrics, step.seconds
        )  # fmt: skip
        run.follow_up_audio = self._keep_follow_up_audio(audio, step)
        if self.data.complete:
            self.data.completed_utc = utc_text(datetime.now(timezone.utc))
            self.data.practise_next = practise_next(self.data, self.coach.bank)
        self.save()
        return Outcome(step, grade, score=grade.dimension(dimension))

    def _keep_follow_up_audio(self, audio: Any, step: Step) -> str | None:
        """A copy of the follow-up recording in sessions/<id>/, or sessions/users/<user>/<id>/ for a signed-in user
        (the main answer's audio is kept with its attempt, in audio/<user>/)."""
        store = self.coach.store
        if store is None or not store.keep_audio or audio is None:
            return None
        root = store.data_dir / "sessions"
        folder = (root / "users" / store.user if store.user else root) / self.data.id
        name = f"card{step.index + 1:02d}-follow-up"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            if isinstance(audio, (str, Path)):
                target = folder / (name + Path(audio).suffix.lower())
                shutil.copyfile(audio, target)
            else:
                target = folder / (name + ".wav")
                _write_wav(audio, target)
        except OSError as exc:
            raise HistoryError(f"cannot keep the follow-up recording in {folder}: {exc}") from exc
        return target.relative_to(store.data_dir).as_posix()

    # -- keeping

    def save(self) -> None:
        self.data.updated_utc = utc_text(datetime.now(timezone.utc))
        store = self.coach.store
        if store is None:
            return
        from .history import KeptSession

        links = tuple((i, r.attempt_id) for i, r in enumerate(self.data.runs) if r.attempt_id)
        store.save_session(
            KeptSession(
                self.data.id, self.data.created_utc, self.data.updated_utc, self.data.style,
                "complete" if self.data.complete else "in_progress", self.data.to_json(), links, __version__,
            )
        )  # fmt: skip


def practise_next(data: SessionData, bank: QuestionBank) -> list[dict[str, Any]]:
    """The three weakest (card, dimension) pairs after the follow-ups, one per card where possible, each with the
    first point still missing: what to say next time. Recorded on completion; they make those cards due."""
    candidates = []
    for run in data.runs:
        if run.grade is None:
            continue
        grade = Grade.from_json(run.grade)
        probed, score = (run.probe or {}).get("dimension"), run.follow_up_score()
        for d in grade.dimensions:
            if d.max_score == 0:
                continue
            best, missing = d.score, list(d.missing)
            if score is not None and probed == d.dimension:
                best = max(best, score.score)
                missing = [p for p in missing if p not in score.covered]
            if best < d.max_score:
                rank = (best / d.max_score, DIMENSIONS.index(d.dimension), run.card)
                candidates.append((rank, run, d.dimension, best, d.max_score, missing))
    candidates.sort(key=lambda c: c[0])
    picked: list[Any] = []
    for pass_ in ("one per card", "any"):
        for cand in candidates:
            if len(picked) == PRACTISE_NEXT:
                break
            if cand in picked or (pass_ == "one per card" and any(p[1] is cand[1] for p in picked)):
                continue
            picked.append(cand)
    return [
        {"card": run.card, "question_id": run.question_id, "dimension": dim, "score": best, "max_score": top,
         "what": missing[0] if missing else bank.rubric.dimension(dim).description}
        for _, run, dim, best, top, missing in picked
    ]  # fmt: skip


def _write_wav(samples: Any, path: Path, sample_rate: int = 16_000) -> None:
    """16 kHz mono samples as a 16-bit WAV: int16 as they are (the recorder's), floats in [-1, 1] scaled."""
    import wave

    import numpy as np

    data = np.asarray(samples)
    if data.dtype != np.int16:
        data = (np.clip(data.astype(np.float32), -1.0, 1.0) * 32767).astype(np.int16)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(data.astype("<i2").tobytes())


def _store(coach: MockCoach) -> HistoryStore:
    if coach.store is None:
        raise HistoryError("history is off (--no-save): sessions are kept in the history, so nothing can be resumed")
    return coach.store


def session_of(kept: KeptSession) -> SessionData:
    return SessionData.from_json(kept.data)


def practice_marks(store: HistoryStore) -> dict[int, str]:
    """card -> when a finished session last named it a thing to practise next (progress.suggestions(marked=))."""
    marks: dict[int, str] = {}
    for kept in store.list_sessions():
        if kept.state != "complete":
            continue  # an abandoned session marks nothing and counts against nothing
        for item in kept.data.get("practise_next", []):
            when = kept.data.get("completed_utc") or kept.updated_utc
            marks[int(item["card"])] = max(marks.get(int(item["card"]), ""), when)
    return marks


def next_cards(questions: Sequence[Question], store: HistoryStore | None) -> list[Suggestion]:
    """What to practise next, best first: the one ranking `infralens-coach next` and the web app both show
    (progress.suggestions over the graded attempts, a finished session's marks due now). No history: fresh cards."""
    if store is None:
        return suggestions(questions, [])
    return suggestions(questions, store.list(graded_only=True), marked=practice_marks(store))
