"""Whether a sentence that brushes something aside ("canaries are paperwork", "you don't need a fallback pool")
aims at the card's practice, which argues the mistake, or at the mistake itself, which warns against it: the
dismissed words against the card's expected points and the misconception's own wordings.
"""

from __future__ import annotations

from ..content import Question
from .clauses import clause_up_to, dismissed_words
from .mistake_texts import wordings
from .sentences import is_enumeration
from .similarity import Similarity
from .stance import DISMISSAL, DISMISSIVE, hedged, weighed
from .text import Span


def brushes_practice_aside(question: Question, span: Span, expected: list[str], sim: Similarity) -> bool:
    """An unweighed dismissal ("you don't need a canary", "canaries slow the team down") of what the card
    recommends: the thing dismissed is closer to one of the card's expected points than to the misconception, so
    "for CPU-only pods you don't need a GPU request" (it dismisses the misconception's own subject) is no claim."""
    match = DISMISSAL.search(span.text)
    if match is None or weighed(span.text, match):
        return False
    dismissed = dismissed_words(span.text, match)
    if len(dismissed.split()) < 2:  # "skip them", "it's overkill": nothing to weigh
        return True
    return aimed_at(question, dismissed, expected, sim) != "mistake"


def dismissed_by(question: Question, span: Span, expected: list[str], sim: Similarity) -> str | None:
    """What an unhedged "X is a burden" sentence brushes aside: "practice" when the clause that does it is closer
    to one of the card's expected points than to the mistake (it argues the mistake), "mistake" when it is closer
    to the mistake (a warning); None when nothing is dismissed, or with no model."""
    match = DISMISSIVE.search(span.text)
    if match is None or hedged(span.text, match):
        return None
    return dismissal_target(question, span, expected, sim)


def dismissal_target(question: Question, span: Span, expected: list[str], sim: Similarity) -> str | None:
    """dismissed_by, hedged or not."""
    match = DISMISSIVE.search(span.text)
    if match is None or is_enumeration(span):
        return None
    return aimed_at(question, clause_up_to(span.text, match), expected, sim)


def aimed_at(question: Question, dismissed: str, expected: list[str], sim: Similarity) -> str | None:
    """Whether what a sentence dismisses is nearer the card's practice ("practice") or its mistake ("mistake");
    None with no model or no expected point."""
    # the card's own wordings: a claim may itself brush the practice aside, which would make every dismissal a warning
    wrong = [text for m in question.misconceptions for text in wordings(question, m, claims=False)]
    cosines = sim.of_text(dismissed, [*expected, *wrong])
    if not cosines or not expected:
        return None
    return "practice" if max(cosines[: len(expected)]) > max(cosines[len(expected) :]) else "mistake"
