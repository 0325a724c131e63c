"""The offline grader: coverage of the expected points by wording and by meaning. Deterministic, no network,
and the fallback behind every other grader. (`keyword` stays its name: it is what `--grader` accepts.)

For each rubric dimension it finds which expected points the answer makes, quotes the sentences that made
them, and lists the rest as missing. A point is made by one of its phrases (docs/content-format.md) or by a
sentence whose meaning is close enough to the point (sentence embeddings, grading/embed.py), and it can be
partly made (grading/coverage.py). The feedback says which points were made by meaning rather than wording.
These rules keep it honest:
- only sentences that read as explanations earn points (a bare term list has almost no function words); a
  short answer (a few words, the whole answer) may earn points without reading as prose, unless it is a list;
- one sentence can earn only as many points as its length supports, and an enumeration ("X, Y, Z, W, V
  and U") just one (cramming terms does not pay);
- a common-mistake point counts only where the sentence frames it as a mistake;
- a sentence that asserts a misconception (by wording or by meaning, or by calling what the card recommends a
  burden: "canaries are paperwork") earns nothing, nor do the sentences that carry the same wrong argument on,
  and the common-mistake dimension scores 0; a learned judge that reads the whole answer (grading/judge.py)
  must agree with a match by meaning alone, and may report a mistake the rules miss;
- a sentence addressed to the grader ("ignore the rubric") earns nothing and is flagged.
Where the rules live: grading/sentences.py (what a sentence may earn), grading/misconceptions.py (asserting,
warning, dismissing), grading/similarity.py (the cosines), grading/coverage.py (graded credit).
A dimension scores 4 when its points' credits add up to min(3, its number of points); fewer scale down
linearly. The overall is the weighted mean of the dimension scores (for points derived from a reference
answer, of the coverage before rounding to levels).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..content import DIMENSIONS, Misconception, Point, Question, Rubric
from ..errors import AnswerError
from . import coverage, spelling
from . import judge as judging
from .base import DimensionScore, Grade, MisconceptionHit, overall_score
from .clauses import pieces
from .coverage import NO_MATCH, PointMatch
from .derive import points_of
from .embed import SWITCH, Embedder, Unavailable, default_embedder
from .injection import flags as injection_flags
from .injection import is_instruction
from .key_words import KEY_WORDS_WEIGHT, WordEmbedder, key_word_share
from .misconceptions import (
    How,
    assertions,
    first_of_each,
    frames_a_mistake,
    nearest_misconception,
    plainly_held,
    point_matches,
    same_argument,
)
from .mistake_texts import reference_sentences, wordings
from .sentences import SHORT_ANSWER_TOKENS, is_empty_claim, is_enumeration, is_prose, point_budget
from .similarity import Similarity
from .text import Span, split_spans

LEAD_TOKENS = 4  # so may an answer's first sentence this short, before its explanation ("Linear. If every node...")
POINTS_FOR_FULL_MARKS = 3
SHORT_KEY_POINTS = 3  # a reference-only question with up to this many points (sentences) is a short answer key
# A short answer key's overall: this share of it is how much closer the answer's sentences, together, are to
# the reference than to the question, from -WHOLE_SLACK (none) to WHOLE_RAMP - WHOLE_SLACK (full). Human graders
# judge the whole answer; a sentence-by-sentence best match rewards length (eval/README.md: the cs-long sets).
WHOLE_WEIGHT = 0.35
WHOLE_SLACK = 0.1
WHOLE_RAMP = 0.3


def _earns(span: Span, short_answer: bool) -> bool:
    """Prose earns; so does the fragment that is the whole of a short answer ("push and pop"), but not a list."""
    if is_instruction(span.text):
        return False
    return is_prose(span) or (short_answer and not is_enumeration(span))


def _lead(question: Question, spans: Sequence[Span]) -> Span | None:
    """The answer a student gives first and then explains ("Linear. If all nodes only have right children you walk
    through every node."): to an answer key (a reference-only question), it earns as a short answer would. A card's
    points are explanations, and a list of terms up front is not one."""
    if not question.derived or len(spans) < 2:
        return None
    first = spans[0]
    if not 1 <= len(first.tokens) <= LEAD_TOKENS or is_enumeration(first) or is_instruction(first.text):
        return None
    return first


def _feedback(
    rubric: Rubric, dim_id: str, score: int, missing: list[str], by_meaning: list[str], partly: list[str]
) -> str:
    text = rubric.dimension(dim_id).levels[score]
    if by_meaning:
        text += " Made by meaning rather than wording: " + "; ".join(by_meaning) + "."
    if partly and score < 4:
        text += " Partly made: " + "; ".join(partly) + "."
    if missing and score < 4:
        text += f" Next time also say: {missing[0]}"
    return text


@dataclass(frozen=True)
class _Scored:
    dimensions: tuple[DimensionScore, ...]
    values: dict[str, float]  # per assessable dimension, its coverage 0..1 before rounding to a level
    asserted: list[tuple[Misconception, Span]]
    usable: list[Span]  # the sentences that may earn

    @property
    def coverage(self) -> float:
        return sum(self.values.values()) / len(self.values) if self.values else 0.0


class KeywordGrader:
    """The offline grader. `embedder`: a sentence-embedding model (default: the bundled one, loaded once per
    process on first use); `meaning=False` matches on wording alone."""

    name = "keyword"

    def __init__(
        self,
        embedder: Embedder | Unavailable | None = None,
        *,
        meaning: bool = True,
        judge: judging.Judge | None = None,
        typos: bool = True,
    ) -> None:
        """`judge`: the second opinion on matches by meaning alone (default: the shipped one, data/judge.json).
        `typos`: read a typo as the question's word it misses (grading/spelling.py; off only to measure it)."""
        self._embedder = embedder
        self._meaning = meaning
        self._judge = judge
        self._typos = typos

    def model(self) -> Embedder | Unavailable:
        if not self._meaning:
            return Unavailable(f"matching by meaning is turned off ({SWITCH}=0)")
        return self._embedder if self._embedder is not None else default_embedder()

    def grade(self, question: Question, rubric: Rubric, answer: str) -> Grade:
        reader = self._reader(question)
        spans, sim, model = self._read(question, answer, reader)
        found = assertions(question, spans, sim)
        first = self._score(question, rubric, spans, sim, found)
        if question.misconceptions and not isinstance(model, Unavailable):
            revised = self._judged(question, spans, sim, found, first.coverage)
            if revised is not found:
                first = self._score(question, rubric, spans, sim, revised)
        summary = None
        short_key = is_short_key(question)
        fragment = short_key and coverage.is_fragment(question.reference_text)
        words_model = model if isinstance(model, WordEmbedder) else None
        # A fragment of a key ("by reference.") has a vector that says little: a sentence is on its subject when it
        # is near the question or says the key (as in coverage.fragment_credit); the whole answer is not held to it.
        near_the_key = _near_a_fragment_key(sim, question, first.usable) if fragment else sim.nearest or None
        key_words = key_word_share(question, first.usable, words_model, near_the_key) if question.derived else None
        whole = beyond_the_question(sim, question, first.usable) if short_key and not fragment else None
        if isinstance(model, Unavailable):
            summary = f"Matched on wording only: {model.reason}."
        elif fragment:
            summary = (
                "Graded against a key of a few words: by the key's words, and by each sentence's meaning when it is "
                "on the question's subject."
            )
        elif whole is not None:
            summary = (
                f"Graded against a short answer key: {WHOLE_WEIGHT:.0%} of the overall is how close the whole answer "
                f"is to the key beyond restating the question ({whole:.0%})."
            )
        if key_words is not None:
            summary = (summary + " " if summary else "") + key_words.describe()
        if reader.describe():
            summary = (summary + " " if summary else "") + reader.describe()
        return Grade(
            question_id=question.id,
            card=question.card,
            dimensions=first.dimensions,
            overall=_overall(first.values, question, rubric, whole, None if key_words is None else key_words.share)
            if question.derived
            else overall_score(first.dimensions, question, rubric),
            misconceptions=tuple(MisconceptionHit(m.id, m.text, s.quote) for m, s in first.asserted),
            decided_by=self.name,
            summary=summary,
            flags=injection_flags(answer),
        )

    def judge_features(self, question: Question, rubric: Rubric, answer: str) -> tuple[np.ndarray | None, set[How]]:
        """The judge's features for this answer as grade computes them, and how the rules find a misconception in
        it (evaluation/train_judge.py trains on them)."""
        spans, sim, _ = self._read(question, answer)
        found = assertions(question, spans, sim)
        first = self._score(question, rubric, spans, sim, found)
        reading = judging.features(question, spans, sim, first.coverage)
        return (None if reading is None else reading.table), {how for _, _, how in found}

    def _judged(
        self,
        question: Question,
        spans: list[Span],
        sim: Similarity,
        found: list[tuple[Misconception, Span, How]],
        covered: float,
    ) -> list[tuple[Misconception, Span, How]]:
        """The rules' assertions as the judge revises them, reading the whole answer (grading/judge.py): a match
        by meaning alone stands only when it agrees; an answer of several sentences it is sure of holds the mistake
        though no rule found it, quoting a sentence that holds it plainly (the rules' stance words still clear
        one). `found` itself when nothing changes."""
        reading = judging.features(question, spans, sim, covered)
        judge = self._judge if self._judge is not None else judging.shipped()
        if any(how == "meaning" for _, _, how in found) and not judge.confirms(reading):
            return [f for f in found if f[2] != "meaning"]
        evidence = judge.evidence(reading) if not found and reading and len(reading.spans) > 1 else None
        if evidence is not None and plainly_held(question, spans, _index(spans, evidence), sim):
            return [(nearest_misconception(question, evidence, sim), evidence, "meaning")]
        return found

    def _reader(self, question: Question) -> spelling.Reader:
        return spelling.Reader(_words_of(question) if self._typos else frozenset())

    def _read(
        self, question: Question, answer: str, reader: spelling.Reader | None = None
    ) -> tuple[list[Span], Similarity, Embedder | Unavailable]:
        """The answer's sentences, typos read as the question's words, and their cosines with everything the card
        compares them to."""
        if not answer or not answer.strip():
            raise AnswerError("the answer is empty: type, paste or record an answer first")
        spans = split_spans(answer, reader or self._reader(question))
        model = self.model()
        sim = Similarity(
            None if isinstance(model, Unavailable) else model,
            [s for s in spans if not is_instruction(s.text)],
            [p.text for pts in points_of(question).values() for p in pts],
            [w for m in question.misconceptions for w in wordings(question, m)]
            + [question.question]
            + ([question.reference_text] if is_short_key(question) else [])
            + (judging.targets(question) + reference_sentences(question) if question.misconceptions else []),
            pieces(question, spans),
        )
        return spans, sim, model

    def _score(
        self,
        question: Question,
        rubric: Rubric,
        spans: list[Span],
        sim: Similarity,
        found: list[tuple[Misconception, Span, How]],
    ) -> _Scored:
        """The dimensions, given the sentences that assert a misconception (they and their argument earn nothing)."""
        short_answer = sum(len(s.tokens) for s in spans) <= SHORT_ANSWER_TOKENS
        lead = _lead(question, spans)
        earning = [s for s in spans if s is lead or _earns(s, short_answer)]
        asserted = first_of_each([(m, s) for m, s, _ in found])
        wrong = {id(span) for _, span, _ in found} | (same_argument(asserted, spans, sim) if asserted else set())
        usable = [s for s in earning if id(s) not in wrong]
        framed = {id(s) for i, s in enumerate(spans) if frames_a_mistake(s, spans[i - 1] if i else None)}
        exclude = coverage.question_stems(question.question)
        short_key = is_short_key(question)

        # On a card, a sentence that only says terms matter ("Placement and topology are key") earns nothing. To an
        # answer key it may be the answer: "Abstraction and reusability are key" (what does OOP give you?).
        budget = {id(s): 0.0 if not question.derived and is_empty_claim(s) else point_budget(s) for s in usable}
        dimensions, values = [], {}
        for dim_id in DIMENSIONS:
            points = points_of(question).get(dim_id, ())
            if not points:
                dimensions.append(
                    DimensionScore(dim_id, 0, 0, (), (), "Not assessed: this card has no points for this dimension.")
                )
                continue
            # A card's common-mistake point is a warning and needs one; so does a long reference's correcting
            # sentence. In a short answer key it is the answer ("it belongs to the class rather than to any
            # object"), made by saying what it says.
            warning_needed = dim_id == "common_mistake" and not short_key
            candidates = [s for s in usable if id(s) in framed] if warning_needed else usable
            matches = [self._match(point, candidates, budget, sim, exclude, question) for point in points]
            needed = min(POINTS_FOR_FULL_MARKS, len(points))
            value = min(1.0, sum(m.credit for m in matches) / needed)
            if dim_id == "common_mistake" and asserted:
                value, matches = 0.0, [NO_MATCH] * len(points)
            values[dim_id] = value
            dimensions.append(self._dimension(rubric, dim_id, points, matches, value))
        return _Scored(tuple(dimensions), values, asserted, usable)

    @staticmethod
    def _match(
        point: Point,
        candidates: list[Span],
        budget: dict[int, float],
        sim: Similarity,
        exclude: frozenset[str],
        question: Question,
    ) -> PointMatch:
        """The best way this point is covered, taking the credit from the budget of the sentence that earned it."""
        derived = question.derived
        open_spans = [s for s in candidates if budget[id(s)] > 0]
        found = NO_MATCH
        # Derived points' phrases are pairs of the reference's words: evidence of wording, not of the point.
        if not derived:
            span = next((s for s in open_spans if point_matches(point, s)), None)
            if span is not None:
                found = PointMatch(1.0, span, "wording")
        if not found.made:
            keys = coverage.key_stems(point.text, exclude)
            options = []
            for span in open_spans:
                cosine = sim(span, point.text)
                share = coverage.word_share(keys, span, synonyms=derived)
                if derived:
                    asked = sim(span, question.question)
                    if coverage.is_fragment(point.text):
                        credit = coverage.fragment_credit(share, cosine, asked)
                    else:
                        credit = coverage.graded_credit(share, cosine, asked)
                    if credit > 0:
                        options.append(PointMatch(credit, span, coverage.derived_how(credit, share, cosine)))
                elif (made := sim.makes(span, point.text)) is not None:
                    options.append(PointMatch(1.0 + made, span, "meaning"))  # the closest sentence is the quote
                elif sim.near(span, point.text):
                    credit = coverage.partial_credit(share, cosine)
                    if credit > 0:
                        options.append(PointMatch(credit, span, "partly"))
            found = coverage.best(options)
            if found.credit > 1.0:
                found = PointMatch(1.0, found.span, found.how)
        if found.span is not None:
            left = budget[id(found.span)]
            if left < 1 and found.credit > left:  # an enumeration's share of a point: partly made
                found = PointMatch(left, found.span, "partly")
            budget[id(found.span)] -= found.credit
        return found

    @staticmethod
    def _dimension(
        rubric: Rubric, dim_id: str, points: Sequence[Point], matches: Sequence[PointMatch], value: float
    ) -> DimensionScore:
        score = min(4, int(4 * value + 0.5))
        evidence: list[str] = []
        for match in matches:
            if match.span is not None and match.span.quote not in evidence:
                evidence.append(match.span.quote)
        covered = [p.text for p, m in zip(points, matches, strict=True) if m.made]
        missing = [p.text for p, m in zip(points, matches, strict=True) if not m.made]
        by_meaning = [p.text for p, m in zip(points, matches, strict=True) if m.how == "meaning"]
        partly = [p.text for p, m in zip(points, matches, strict=True) if m.how == "partly"]
        return DimensionScore(
            dim_id,
            score,
            4,
            tuple(evidence),
            tuple(missing),
            _feedback(rubric, dim_id, score, missing, by_meaning, partly),
            tuple(covered),
        )


def _index(spans: list[Span], span: Span) -> int:
    return next(i for i, s in enumerate(spans) if s is span)


def _words_of(question: Question) -> frozenset[str]:
    """The words a typo in an answer may be read as (grading/spelling.py)."""
    points = (p.text for pts in points_of(question).values() for p in pts)
    return spelling.lexicon(question.question, question.reference_text, *points)


def is_short_key(question: Question) -> bool:
    """A question with only a short reference answer (up to SHORT_KEY_POINTS sentences): an answer key, graded
    as a whole as well as point by point."""
    return question.derived and sum(len(p) for p in points_of(question).values()) <= SHORT_KEY_POINTS


def beyond_the_question(sim: Similarity, question: Question, spans: Sequence[Span]) -> float | None:
    """0..1: how much closer the answer's sentences that may earn are to the reference than to the question it
    answers (None with no model). An answer that restates the question in the reference's words sits nearer the
    question; one that says what the reference says, however briefly, sits nearer the reference."""
    gap = sim.of_answer(spans, question.reference_text, question.question)
    if gap is None:
        return None
    return min(1.0, max(0.0, (gap + WHOLE_SLACK) / WHOLE_RAMP))


def _near_a_fragment_key(sim: Similarity, question: Question, spans: Sequence[Span]) -> dict[int, float] | None:
    """For a fragment key: per sentence, 1 when it says every key word, else its cosine with the question. A
    fragment's own vector is near everything a little (filler sits at 0.2-0.3 from "HAVING")."""
    if not sim.nearest:
        return None
    keys = coverage.key_stems(question.reference_text, coverage.question_stems(question.question))
    return {
        id(s): 1.0 if coverage.word_share(keys, s, synonyms=True) >= 1.0 else sim(s, question.question) or 0.0
        for s in spans
    }


def _overall(
    values: dict[str, float],
    question: Question,
    rubric: Rubric,
    whole: float | None = None,
    key_words: float | None = None,
) -> int:
    """Weighted mean of the assessable dimensions' unrounded coverage, 0..100: for derived points, where a
    one-sentence reference (one point) would otherwise allow only five overall scores. With a model, WHOLE_WEIGHT
    of it is the whole answer's closeness to the reference beyond the question (beyond_the_question); then
    KEY_WORDS_WEIGHT of that is the share of the key's words the answer uses (key_word_share)."""
    total = weight_sum = 0.0
    for dim_id, value in values.items():
        weight = question.dimension_weight(rubric, dim_id)
        total += weight * value
        weight_sum += weight
    if not weight_sum:
        return 0
    score = total / weight_sum
    if whole is not None:
        score = (1 - WHOLE_WEIGHT) * score + WHOLE_WEIGHT * whole
    if key_words is not None:
        score = (1 - KEY_WORDS_WEIGHT) * score + KEY_WORDS_WEIGHT * key_words
    return round(100 * score)
