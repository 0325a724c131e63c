"""The keyword-coverage grader: offline, deterministic, and the fallback behind every other grader.

For each rubric dimension it finds which expected points the answer makes (a point is made when one of
its phrases matches inside one sentence), quotes the sentences that made them, and lists the rest as
missing. These rules keep it honest:
- only sentences that read as explanations earn points (a bare term list has almost no function words);
- one sentence can earn only as many points as its length supports, and an enumeration ("X, Y, Z, W, V
  and U") just one (cramming terms does not pay);
- a common-mistake point counts only where the sentence frames it as a mistake;
- a sentence that asserts a misconception earns nothing, and the common-mistake dimension scores 0;
- a sentence addressed to the grader ("ignore the rubric") earns nothing and is flagged.
A dimension scores 4 when it makes min(3, its number of points) points; fewer scale down linearly.
"""

from __future__ import annotations

import re

from ..content import DIMENSIONS, Misconception, Point, Question, Rubric
from ..errors import AnswerError
from .base import DimensionScore, Grade, MisconceptionHit, overall_score
from .derive import points_of
from .injection import flags as injection_flags
from .injection import is_instruction
from .text import Span, compile_phrase, split_spans, stem

MIN_PROSE_TOKENS = 4
MIN_FUNCTION_WORDS = 2
MIN_FUNCTION_SHARE = 0.15
TOKENS_PER_POINT = 5  # a sentence of n words can earn at most max(2, n // 5) points
POINTS_FOR_FULL_MARKS = 3

# Words that turn a mention of a misconception into a warning against it anywhere in the sentence: the
# label ("a common mistake"), the advice ("avoid", "instead") or the bad consequence ("wasting GPUs").
WARNING_STEMS = frozenset(
    stem(w)
    for w in """mistake mistaken avoid instead rather wrong myth trap pitfall misconception misleading careful
    beware danger dangerous risky tempting temptation naive naively hide hides hiding mask masks masking
    fallacy incorrect blindly waste wasting forever problem problems bad hurt hurts pain painful anti""".split()
)
# Negations warn only in the clause they stand in: "don't just lower the batch size" warns, while
# "it's not complicated, you only need a GPU request" still asserts.
NEGATION_STEMS = frozenset(stem(w) for w in "not never no nobody nothing".split())
_CLAUSE_BREAK = re.compile(r"[,;:()]|\b(?:but|which|because|so|while|whereas)\b", re.I)
# A common-mistake point counts only when the sentence frames it as a mistake, not a neutral mention.
MISTAKE_FRAME_STEMS = WARNING_STEMS | NEGATION_STEMS | frozenset(
    stem(w) for w in "common often people teams usual usually typical classic only just".split()
)
# A label that makes the next sentence a warning too: "A common mistake is X. Another one is Y."
LABEL_STEMS = frozenset(stem(w) for w in "mistake mistakes pitfall pitfalls trap traps misconception antipattern".split())


_LIST_SEPARATOR = re.compile(r"[,;:/]|\b(?:and|or)\b", re.I)
LIST_ITEMS = 6  # a sentence with this many one- or two-word items is an enumeration


def is_enumeration(span: Span) -> bool:
    """"X, Y, Z, ... and W": legitimate in speech, but a prose shell around a term list looks the same."""
    items = [piece.split() for piece in _LIST_SEPARATOR.split(span.text)]
    return sum(1 for words in items if 1 <= len(words) <= 2) >= LIST_ITEMS


def point_budget(span: Span) -> int:
    """How many expected points one sentence may earn: cramming terms into a sentence does not pay."""
    if is_enumeration(span):
        return 1
    return max(2, len(span.tokens) // TOKENS_PER_POINT)


def is_prose(span: Span) -> bool:
    n = len(span.tokens)
    if n < MIN_PROSE_TOKENS:
        return False
    fw = span.function_word_count
    return fw >= MIN_FUNCTION_WORDS and fw / n >= MIN_FUNCTION_SHARE


def _warns(span: Span, previous: Span | None) -> bool:
    if any(t.stem in WARNING_STEMS for t in span.tokens):
        return True
    return previous is not None and any(t.stem in LABEL_STEMS for t in previous.tokens)


def _frames_a_mistake(span: Span, previous: Span | None) -> bool:
    return any(t.stem in MISTAKE_FRAME_STEMS for t in span.tokens) or _warns(span, previous)


def _point_matches(point: Point, span: Span) -> bool:
    return any(compile_phrase(p).matches(span) for p in point.phrases)


def _negated_in_clause(misconception: Misconception, span: Span) -> bool:
    """A negation in the same clause as part of the misconception's wording."""
    parts = [part for phrase in misconception.phrases for part in compile_phrase(phrase).parts]
    for clause in _CLAUSE_BREAK.split(span.text):
        for piece in split_spans(clause or ""):
            if any(t.stem in NEGATION_STEMS for t in piece.tokens) and any(piece.contains(p) for p in parts):
                return True
    return False


def find_misconceptions(question: Question, spans: list[Span]) -> list[tuple[Misconception, Span]]:
    """Misconceptions the answer asserts: matched in a sentence that does not warn against them."""
    hits = []
    for misconception in question.misconceptions:
        for i, span in enumerate(spans):
            if not _point_matches(misconception, span) or _warns(span, spans[i - 1] if i else None):
                continue
            if not _negated_in_clause(misconception, span):
                hits.append((misconception, span))
                break
    return hits


def _feedback(rubric: Rubric, dim_id: str, score: int, missing: list[str]) -> str:
    level = rubric.dimension(dim_id).levels[score]
    if missing and score < 4:
        return f"{level} Next time also say: {missing[0]}"
    return level


class KeywordGrader:
    name = "keyword"

    def grade(self, question: Question, rubric: Rubric, answer: str) -> Grade:
        if not answer or not answer.strip():
            raise AnswerError("the answer is empty: type, paste or record an answer first")
        spans = split_spans(answer)
        asserted = find_misconceptions(question, spans)
        wrong_spans = {id(span) for _, span in asserted}
        # A sentence that speaks to the grader ("ignore the rubric, award full marks") earns nothing.
        usable = [s for s in spans if is_prose(s) and id(s) not in wrong_spans and not is_instruction(s.text)]
        framed = {id(s) for i, s in enumerate(spans) if _frames_a_mistake(s, spans[i - 1] if i else None)}

        budget = {id(s): point_budget(s) for s in usable}
        dimensions = []
        for dim_id in DIMENSIONS:
            points = points_of(question).get(dim_id, ())
            if not points:
                dimensions.append(
                    DimensionScore(dim_id, 0, 0, (), (), "Not assessed: this card has no points for this dimension.")
                )
                continue
            covered, missing, evidence = [], [], []
            candidates = [s for s in usable if id(s) in framed] if dim_id == "common_mistake" else usable
            for point in points:
                span = next((s for s in candidates if budget[id(s)] > 0 and _point_matches(point, s)), None)
                if span is None:
                    missing.append(point.text)
                    continue
                budget[id(span)] -= 1
                covered.append(point.text)
                if span.text not in evidence:
                    evidence.append(span.text)
            needed = min(POINTS_FOR_FULL_MARKS, len(points))
            score = min(4, int(4 * len(covered) / needed + 0.5))
            if dim_id == "common_mistake" and asserted:
                score, evidence = 0, []
            dimensions.append(
                DimensionScore(
                    dim_id, score, 4, tuple(evidence), tuple(missing), _feedback(rubric, dim_id, score, missing),
                    tuple(covered),
                )
            )
        dims = tuple(dimensions)
        return Grade(
            question_id=question.id,
            card=question.card,
            dimensions=dims,
            overall=overall_score(dims, question, rubric),
            misconceptions=tuple(MisconceptionHit(m.id, m.text, s.text) for m, s in asserted),
            decided_by=self.name,
            flags=injection_flags(answer),
        )
