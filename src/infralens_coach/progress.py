"""Progress from the history: score series, what changed between attempts, what to practise next.

Pure functions over Attempt lists (oldest first), so they are tested on hand-built histories. Only graded
attempts count: an ungraded attempt is kept in the history but is neither practice nor progress.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from .attempt import Attempt, parse_utc
from .content import Question
from .errors import HistoryError

# The seed's final review checklist is cards 1-8, in this order.
CHECKLIST_INTRO = "Before an interview, you should be able to answer these without reading the page."
CHECKLIST_CARDS = (1, 2, 3, 4, 5, 6, 7, 8)
SOLID_SHARE = 0.75  # every assessed dimension at 3/4 or better, and no misconception asserted

SCHEDULE_RULE = """\
How `next` chooses (a Leitner-style spaced-repetition rule; only graded attempts count):
1. A card never practised comes first, lowest card number first.
2. Otherwise each card is due 2^w days after its last graded attempt, where w (0-4) is the score of that
   attempt's weakest dimension: 1 day after a 0/4, 2 after a 1/4, 4 after a 2/4, 8 after a 3/4, 16 after 4/4.
3. Cards are ranked by how overdue they are (days since the last attempt / interval), so a weak dimension
   and a long gap both raise a card; ties go to the weaker card, then the lower card number. When nothing is
   due yet, the card due soonest is suggested.
4. A card a finished mock interview named as one of the three things to practise next is due from then on,
   until it is practised again."""


def graded(attempts: Iterable[Attempt]) -> list[Attempt]:
    return [a for a in attempts if a.graded]


def grade_of(attempt: Attempt) -> dict[str, Any]:
    """A graded attempt's grade (Grade.to_json()); HistoryError for an ungraded one."""
    if not attempt.graded or attempt.grade is None:
        raise HistoryError(f"attempt {attempt.id} is ungraded: run `infralens-coach history regrade {attempt.id}`")
    return attempt.grade


def overall_of(attempt: Attempt) -> int:
    """A graded attempt's overall score (0-100); HistoryError for an ungraded one."""
    overall: int = grade_of(attempt)["overall"]
    return overall


def by_card(attempts: Iterable[Attempt]) -> dict[int, list[Attempt]]:
    cards: dict[int, list[Attempt]] = {}
    for attempt in graded(attempts):
        cards.setdefault(attempt.card, []).append(attempt)
    return cards


def score_series(attempts: Iterable[Attempt], card: int) -> dict[str, list[tuple[str, int, int]]]:
    """dimension -> [(created_utc, score, max_score), ...] over the card's graded attempts, oldest first (plots)."""
    series: dict[str, list[tuple[str, int, int]]] = {}
    for attempt in by_card(attempts).get(card, []):
        for dim, (score, top) in attempt.scores().items():
            series.setdefault(dim, []).append((attempt.created_utc, score, top))
    return series


def weakest(attempt: Attempt) -> tuple[str, int]:
    """The lowest-scoring assessed dimension of a graded attempt and its score on a 0-4 scale (first wins ties)."""
    assessed = [(dim, 4 * score / top) for dim, (score, top) in attempt.scores().items() if top > 0]
    if not assessed:
        return "", 0
    dim, level = min(assessed, key=lambda pair: pair[1])
    return dim, int(level)


def status(card_attempts: Sequence[Attempt]) -> str:
    """ "not yet" with no graded attempt; "solid" when the latest graded attempt has every assessed dimension
    at 3/4 or better and asserts no misconception; "weak" otherwise."""
    done = graded(card_attempts)
    if not done:
        return "not yet"
    last = done[-1]
    shares = [score / top for score, top in last.scores().values() if top > 0]
    solid = shares and min(shares) >= SOLID_SHARE and not grade_of(last)["misconceptions"]
    return "solid" if solid else "weak"


# ---------------------------------------------------------------- next


@dataclass(frozen=True)
class Suggestion:
    card: int
    question_id: str
    question: str
    practised: bool
    weakest_dimension: str | None = None
    weakest_score: int | None = None  # 0-4
    last_utc: str | None = None
    days_since: float | None = None
    interval_days: int | None = None
    overdue: float | None = None  # days_since / interval_days; >= 1 means due

    @property
    def due(self) -> bool:
        return not self.practised or (self.overdue or 0) >= 1

    def to_json(self) -> dict[str, Any]:
        return {**self.__dict__, "due": self.due}


def suggestions(
    questions: Sequence[Question],
    attempts: Iterable[Attempt],
    now: datetime | None = None,
    marked: Mapping[int, str] | None = None,
) -> list[Suggestion]:
    """Every card of the bank, best next practice first (SCHEDULE_RULE). `marked`: card -> when a mock interview
    named it one of the three things to practise next (mock.practice_marks); such a card is due now (rule 4)."""
    now = now or datetime.now(timezone.utc)
    marked = marked or {}
    cards = by_card(attempts)
    fresh: list[Suggestion] = []
    practised: list[tuple[tuple[float, int, int], Suggestion]] = []  # (rank key, suggestion)
    for q in questions:
        done = cards.get(q.card)
        if not done:
            fresh.append(Suggestion(q.card, q.id, q.question, practised=False))
            continue
        last = done[-1]
        dim, level = weakest(last)
        interval = 2**level
        days = max(0.0, (now - parse_utc(last.created_utc)) / timedelta(days=1))
        overdue = days / interval
        if q.card in marked and marked[q.card] >= last.created_utc:  # named after its last attempt: due now
            overdue = max(overdue, 1.0)
        suggestion = Suggestion(q.card, q.id, q.question, True, dim, level, last.created_utc, days, interval, overdue)
        practised.append(((-overdue, level, q.card), suggestion))
    practised.sort(key=lambda ranked: ranked[0])
    return sorted(fresh, key=lambda s: s.card) + [s for _, s in practised]


# ---------------------------------------------------------------- checklist


@dataclass(frozen=True)
class ChecklistItem:
    card: int
    question: str
    status: str  # not yet | weak | solid
    attempts: int  # graded attempts
    last_overall: int | None

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def checklist(
    questions: Sequence[Question], attempts: Iterable[Attempt], cards: Sequence[int] | None = CHECKLIST_CARDS
) -> list[ChecklistItem]:
    """Status per card: the seed's review checklist (cards 1-8) by default, every card of the bank with cards=None."""
    done_by_card = by_card(attempts)
    items: list[ChecklistItem] = []
    for q in sorted((q for q in questions if cards is None or q.card in cards), key=lambda q: q.card):
        done = done_by_card.get(q.card, [])
        items.append(ChecklistItem(q.card, q.question, status(done), len(done), done[-1].overall if done else None))
    return items


# ---------------------------------------------------------------- diff


@dataclass(frozen=True)
class DimensionChange:
    dimension: str
    old_score: int
    new_score: int
    max_score: int
    newly_covered: tuple[str, ...]
    dropped: tuple[str, ...]

    @property
    def change(self) -> int:
        return self.new_score - self.old_score


@dataclass(frozen=True)
class AttemptDiff:
    old: Attempt
    new: Attempt
    dimensions: tuple[DimensionChange, ...]
    misconceptions_new: tuple[str, ...]
    misconceptions_gone: tuple[str, ...]

    @property
    def overall_change(self) -> int:
        return overall_of(self.new) - overall_of(self.old)

    @property
    def same_version(self) -> bool:
        return self.old.question_version == self.new.question_version

    def to_json(self) -> dict[str, Any]:
        return {
            "old": self.old.id, "new": self.new.id, "card": self.new.card,
            "old_overall": self.old.overall, "new_overall": self.new.overall, "overall_change": self.overall_change,
            "same_version": self.same_version,
            "dimensions": [{**d.__dict__, "newly_covered": list(d.newly_covered), "dropped": list(d.dropped),
                            "change": d.change} for d in self.dimensions],
            "misconceptions_new": list(self.misconceptions_new),
            "misconceptions_gone": list(self.misconceptions_gone),
        }  # fmt: skip


def diff(old: Attempt, new: Attempt) -> AttemptDiff:
    """Points newly covered, points dropped and the score change per dimension, old -> new."""
    old_grade, new_grade = grade_of(old), grade_of(new)
    if old.question_id != new.question_id:
        raise HistoryError(f"attempts {old.id} and {new.id} answer different cards ({old.card} and {new.card})")
    before = {d["id"]: d for d in old_grade["dimensions"]}
    changes = []
    for dim in new_grade["dimensions"]:
        prev = before.get(dim["id"], {"score": 0, "covered": []})
        old_covered, new_covered = prev.get("covered", []), dim.get("covered", [])
        gained = tuple(p for p in new_covered if p not in old_covered)
        dropped = tuple(p for p in old_covered if p not in new_covered)
        changes.append(DimensionChange(dim["id"], prev["score"], dim["score"], dim["max_score"], gained, dropped))
    old_m = [m["text"] for m in old_grade["misconceptions"]]
    new_m = [m["text"] for m in new_grade["misconceptions"]]
    return AttemptDiff(
        old, new, tuple(changes), tuple(m for m in new_m if m not in old_m), tuple(m for m in old_m if m not in new_m)
    )


def last_two(attempts: Iterable[Attempt], card: int | None = None) -> tuple[Attempt, Attempt]:
    """The last two graded attempts on `card` (default: the card of the latest graded attempt)."""
    done = graded(attempts)
    if card is None:
        if not done:
            raise HistoryError("no graded attempts yet: grade an answer first")
        card = done[-1].card
    on_card = [a for a in done if a.card == card]
    if len(on_card) < 2:
        raise HistoryError(f"card {card} has {len(on_card)} graded attempt(s); a diff needs two")
    return on_card[-2], on_card[-1]
