"""The parts of a sentence the misconception rules weigh (grading/misconceptions.py): what a speaker holds after a
concession or a hypothesis, what a dismissal brushes aside, the clauses before a negation, and the sentence a "that's
enough" points back to. Each is a piece of text that may be compared with the card by meaning, so `pieces` lists them
all for the one model run (grading/similarity.py).
"""

from __future__ import annotations

import re

from ..content import Question
from .stance import (
    ANAPHOR,
    CLAUSE_BREAK,
    DISMISSAL,
    DISMISSIVE,
    NEGATION_STEMS,
    SUFFICIENCY,
    reporting_stems,
    sentence_stems,
)
from .text import Span, tokenize

CONCESSION = re.compile(r"\b(?:but|however|yet)\b", re.I)
HYPOTHESIS = re.compile(r"^\W*(?:if|when|whenever) (?:you|a team|teams|someone|somebody|people)\b[^,;:]*[,;:]", re.I)


def held_part(span: Span) -> str | None:
    """The part of a sentence the speaker holds, when it is not all of it: the words after a concession's last "but"
    ("Accuracy is a property of the model, but someone has to build the machinery around it"), or what follows a
    hypothesis about someone's choice ("If you run a finite task as a Deployment, Kubernetes restarts it")."""
    parts = CONCESSION.split(span.text)
    if len(parts) >= 2 and len(parts[-1].split()) >= 3:
        return parts[-1].strip(" ,;:")
    hypothesis = HYPOTHESIS.match(span.text)
    if hypothesis and len(span.text[hypothesis.end() :].split()) >= 3:
        return span.text[hypothesis.end() :].strip()
    return None


_OBJECT_FOLLOWS = re.compile(r"need|bother|skip", re.I)  # "don't need X", "skip X": X comes after the words


def dismissed_words(text: str, match: re.Match[str]) -> str:
    """What a DISMISSAL match brushes aside: the words after "don't need", "skip"; else the clause before it."""
    if _OBJECT_FOLLOWS.search(match.group()):
        return CLAUSE_BREAK.split(text[match.end() :])[0].strip()
    return next((c for c in CLAUSE_BREAK.split(text[: match.start()])[::-1] if c.strip()), "").strip()


def clause_up_to(text: str, match: re.Match[str]) -> str:
    """The clause that ends with this match: what a DISMISSIVE match calls a burden, what a SUFFICIENCY match
    calls enough."""
    return next(c for c in CLAUSE_BREAK.split(text[: match.end()])[::-1] if c and c.strip())


def before_negation(span: Span, stems: set[str] | None = None) -> str | None:
    """The clauses of a sentence before its first negated one, when a negation is its only reporting word: what
    misconceptions._asserts_before_negation matches."""
    stems = sentence_stems(span.tokens) if stems is None else stems
    if not stems & NEGATION_STEMS or reporting_stems(span, stems) - NEGATION_STEMS:
        return None
    clauses = [c for c in CLAUSE_BREAK.split(span.text) if c and c.strip()]
    negated = [bool({t.stem for t in tokenize(c)} & NEGATION_STEMS) for c in clauses]
    before = clauses[: negated.index(True)] if True in negated else []
    return ", ".join(c.strip() for c in before) or None


def called_with_antecedent(spans: list[Span], i: int) -> list[Span]:
    """The sentence, with the one before when it opens on what that one said ("...; that's all it takes")."""
    return [spans[i - 1], spans[i]] if i and ANAPHOR.match(spans[i].text) else [spans[i]]


def called_text(called: list[Span]) -> str:
    """The words of called_with_antecedent's sentences as one text (the key of_text is asked with)."""
    return " ".join(s.text for s in called)


def pieces(question: Question, spans: list[Span]) -> list[str]:
    """Every part of a sentence the rules may ask Similarity.of_text about, so that they are encoded in the one
    model run with the sentences (a run of its own costs more than the words in it)."""
    if not question.misconceptions:
        return []
    found = []
    for i, span in enumerate(spans):
        text = span.text
        if (before := before_negation(span)) is not None:
            found.append(before)
        if (held := held_part(span)) is not None:
            found.append(held)
        if dismissal := DISMISSAL.search(text):
            found.append(dismissed_words(text, dismissal))
        if dismissive := DISMISSIVE.search(text):
            found.append(clause_up_to(text, dismissive))
        if SUFFICIENCY.search(text):
            found.append(called_text(called_with_antecedent(spans, i)))
    return [p for p in found if p]
