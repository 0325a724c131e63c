"""Misconceptions an answer asserts: by wording (the misconception's phrases) or by meaning (close to its text,
the card's naming of the mistake, or one of the ways candidates claim it), unless the sentence warns against it,
negates it, tells of it as someone else's belief, or asks; and dismissals ("canaries are paperwork") aimed at what
the card recommends, and the mistake called enough ("that covers it"). Also what makes a sentence a warning, which
a common-mistake point needs. The words these decisions read are in grading/stance.py, the parts of a sentence they
weigh in grading/clauses.py, where a dismissal aims in grading/dismissals.py, the texts a sentence is weighed
against in grading/mistake_texts.py; grading/judge.py reviews the matches by meaning alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from ..content import Misconception, Point, Question
from .clauses import (
    HYPOTHESIS,
    before_negation,
    called_text,
    called_with_antecedent,
    clause_up_to,
    held_part,
)
from .derive import points_of
from .dismissals import brushes_practice_aside, dismissal_target, dismissed_by
from .mistake_texts import expected_texts, reference_sentences, wordings
from .sentences import is_enumeration
from .similarity import Similarity
from .stance import (
    CLAUSE_BREAK,
    CONTRAST,
    DISMISSAL,
    DISMISSIVE,
    FAILED_ATTEMPT,
    LABEL_STEMS,
    MISTAKE_FRAME_STEMS,
    NEGATION_STEMS,
    REDUCTION_WORDS,
    REPORTED_BELIEF,
    SUBJECT_PRONOUN,
    SUFFICIENCY,
    TELLING_STEMS,
    WARNING_STEMS,
    hedged,
    reporting_stems,
    sentence_stems,
)
from .text import Phrase, Span, compile_phrase, split_spans, tokenize

MISCONCEPTION_MATCH = 0.50  # cosine at which a sentence may assert a misconception by meaning...
MISCONCEPTION_MARGIN = 0.05  # ...if it is this much closer to the misconception than to any expected point
# (the common-mistake points excepted: they say the same thing as the misconception, as a warning, and whether a
# sentence warns is decided by its words). Chosen on eval/adversarial-tune.csv and the other tune rows.
# A sentence that brushes the card's practice aside asserts the misconception when it is this close to the
# misconception or to an expected point, and at least DISMISSAL_NEAR close to the misconception.
DISMISSAL_MATCH = 0.40
DISMISSAL_NEAR = 0.25
RESTATES = 0.80  # a sentence this close to one of the card's own sentences (and closer than to the mistake) says it
SAME_ARGUMENT = 0.45  # once asserted, sentences this close to the misconception carry the same argument
ENOUGH_MATCH = 0.45  # a sentence calling something enough asserts the misconception it is this close to, if nearer...
# ...to it than to any expected point (_calls_the_mistake_enough)
CLAIM_MATCH = 0.65  # a sentence this close to one of the ways a candidate claims the misconception asserts it...
CLAIM_MARGIN = 0.15  # ...if it is this much closer to that claim than to any expected point (Misconception.claims)


def _outside_dismissals(span: Span) -> set[str]:
    """The sentence's stems outside a dismissal: the "waste" of "profiling is a waste of time" brushes the
    practice aside (dismissed_by decides whether that argues the mistake); it does not warn."""
    text = DISMISSIVE.sub(" ", DISMISSAL.sub(" ", span.text))
    return sentence_stems(span.tokens if text == span.text else tokenize(text))


def _warns(span: Span, previous: Span | None, *, dismissals_warn: bool = True) -> bool:
    stems = sentence_stems(span.tokens) if dismissals_warn else _outside_dismissals(span)
    if stems & WARNING_STEMS or FAILED_ATTEMPT.search(span.text):
        return True
    return previous is not None and any(t.stem in LABEL_STEMS for t in previous.tokens)


def frames_a_mistake(span: Span, previous: Span | None) -> bool:
    return (
        bool(sentence_stems(span.tokens) & MISTAKE_FRAME_STEMS)
        or bool(REPORTED_BELIEF.search(span.text))
        or _warns(span, previous)
    )


def _tells_of_belief(span: Span) -> bool:
    """The sentence tells of a belief or habit ("people sometimes describe the field as picking PyTorch")."""
    return bool(REPORTED_BELIEF.search(span.text)) or any(t.stem in TELLING_STEMS for t in span.tokens)


def point_matches(point: Point, span: Span) -> bool:
    return any(compile_phrase(p).matches(span) for p in point.phrases)


def _wordings_said(question: Question, misconception: Misconception, span: Span) -> list[Phrase]:
    """The misconception's wordings the sentence matches. In a reduction ("it's basically a table"), "it" or
    "they" near the sentence's start stands for the words of the question it leaves out."""
    asked = split_spans(question.question) if SUBJECT_PRONOUN.match(span.text) else []
    said = []
    for phrase in map(compile_phrase, misconception.phrases):
        missing = [part for part in phrase.parts if not span.contains(part)]
        if not missing or (
            len(missing) < len(phrase.parts)
            and any(part.raw_squashed in REDUCTION_WORDS for part in phrase.parts)
            and all(any(q.contains(p) for q in asked) for p in missing)
        ):
            said.append(phrase)
    return said


def _negated_in_clause(said: list[Phrase], span: Span) -> bool:
    """Every wording said has a part in a clause with a negation or a contrast: "I'd put everything on spot, the
    savings are huge and interruptions don't happen" says "everything & on spot" with no negation, though "save"
    sits in a negated clause."""
    negated = [
        piece
        for clause in CLAUSE_BREAK.split(span.text)
        for piece in split_spans(clause or "")
        if any(t.stem in NEGATION_STEMS for t in piece.tokens) or CONTRAST.search(piece.text)
    ]
    return all(any(piece.contains(part) for part in phrase.parts for piece in negated) for phrase in said)


def _supposed(said: list[Phrase], span: Span) -> bool:
    """Every wording said sits in a hypothesis about someone's choice, and the sentence goes on to what follows from
    it: "If you just swap in a larger GPU, you'll pay more and the GPU stays starved" warns."""
    hypothesis = HYPOTHESIS.match(span.text)
    if hypothesis is None or len(span.text[hypothesis.end() :].split()) < 3:
        return False
    supposed = split_spans(span.text[: hypothesis.end()])
    return all(any(piece.contains(part) for piece in supposed) for phrase in said for part in phrase.parts)


def first_of_each(found: list[tuple[Misconception, Span]]) -> list[tuple[Misconception, Span]]:
    hits: dict[str, tuple[Misconception, Span]] = {}
    for misconception, span in found:
        hits.setdefault(misconception.id, (misconception, span))
    return list(hits.values())


# How a sentence asserts: by the misconception's wording, by brushing the card's practice aside, by calling the
# mistake enough, or by meaning alone (near the misconception with none of those words: the weakest evidence).
How = Literal["wording", "dismissal", "enough", "meaning"]


def assertions(
    question: Question, spans: list[Span], sim: Similarity | None = None
) -> list[tuple[Misconception, Span, How]]:
    """Every sentence that asserts a misconception, and how: matched, by wording or meaning, in a sentence that
    does not warn; or one that brushes aside a practice the card expects ("canaries are paperwork")."""
    found: list[tuple[Misconception, Span, How]] = []
    # The question itself competes too: a sentence that restates it ("beyond accuracy, infrastructure is...")
    # sits near a misconception built from the same words.
    expected = expected_texts(question)
    rivals = [*expected, question.question]
    restated = reference_sentences(question)
    for i, span in enumerate(spans):
        previous = spans[i - 1] if i else None
        # "a waste of time" aimed at what the card recommends argues the mistake: its "waste" does not warn
        aims_at_practice = bool(
            sim and question.misconceptions and dismissal_target(question, span, expected, sim) == "practice"
        )
        if _warns(span, previous, dismissals_warn=not aims_at_practice):
            continue
        dismissed = dismissed_by(question, span, expected, sim) if sim and question.misconceptions else None
        if dismissed == "mistake":  # "alerting on every metric is overkill": a warning
            continue
        before = len(found)
        for misconception in question.misconceptions:
            if said := _wordings_said(question, misconception, span):
                if not _negated_in_clause(said, span) and not _tells_of_belief(span) and not _supposed(said, span):
                    found.append((misconception, span, "wording"))
            elif sim and (
                how := _asserts_by_meaning(question, misconception, span, rivals, sim, aims_at_practice, restated)
            ):
                found.append((misconception, span, how))
        if dismissed == "practice" and sim and len(found) == before:
            found.append((max(question.misconceptions, key=lambda m: sim(span, m.text) or 0.0), span, "dismissal"))
        elif sim and len(found) == before and (enough := _calls_the_mistake_enough(question, spans, i, expected, sim)):
            found.append((enough, span, "enough"))
    return found


def plainly_held(question: Question, spans: list[Span], i: int, sim: Similarity) -> bool:
    """A sentence the rules do not clear (a warning, someone else's belief, a contrast, a question, a dismissal
    that is weighed or aimed at the mistake, the card's own practice called enough) and no list of terms: one the
    judge may quote as holding the mistake. A negation does not clear it: "you don't need a fallback pool" is how a
    practice is brushed aside."""
    span = spans[i]
    expected = expected_texts(question)
    dismissal = DISMISSAL.search(span.text)
    dismissive = DISMISSIVE.search(span.text)
    # the rest of its sentence after a semicolon counts too: "Paging on every CPU spike adds little; page on SLO burn
    # rate instead."
    rest = spans[i + 1] if i + 1 < len(spans) and span.text.endswith(";") else None
    return not (
        _warns(span, spans[i - 1] if i else None)
        or (rest is not None and _warns(rest, None))
        or REPORTED_BELIEF.search(span.text)
        or CONTRAST.search(span.text)
        or span.text.rstrip().endswith("?")
        or is_enumeration(span)
        or (dismissal and not brushes_practice_aside(question, span, expected, sim))
        or (
            dismissive
            and (hedged(span.text, dismissive) or dismissal_target(question, span, expected, sim) != "practice")
        )
        or (SUFFICIENCY.search(span.text) and _makes_several_points(question, called_with_antecedent(spans, i)))
    )


def _makes_several_points(question: Question, spans: list[Span]) -> bool:
    """Whether these sentences make two or more of the card's points in their words."""
    made = {p.text for pts in points_of(question).values() for p in pts for s in spans if point_matches(p, s)}
    return len(made) >= 2


def nearest_misconception(question: Question, span: Span, sim: Similarity) -> Misconception:
    """The card's misconception whose wordings this sentence is closest to."""
    return max(question.misconceptions, key=lambda m: _closest(sim, span, wordings(question, m)) or 0.0)


def _calls_the_mistake_enough(
    question: Question, spans: list[Span], i: int, expected: list[str], sim: Similarity
) -> Misconception | None:
    """The misconception a sentence asserts by calling the mistake's practice enough ("Latency, errors and GPU usage
    are probably enough", "...; that's all it takes", "it boils down to a shared table"): the sentence, with the one
    before when it opens on it, is nearer one of the misconception's wordings than any expected point."""
    span = spans[i]
    match = SUFFICIENCY.search(span.text)
    if match is None or REPORTED_BELIEF.search(span.text) or CONTRAST.search(span.text) or span.text.endswith("?"):
        return None
    if any(t.stem in NEGATION_STEMS for t in tokenize(clause_up_to(span.text, match))):  # "alone is not enough"
        return None
    called = called_with_antecedent(spans, i)
    # what is called enough makes several of the card's points in their words ("pin the code, the data snapshot and
    # the environment; that's all it takes"): the right view. One is not ("beats the current one on a held-out test
    # set, that's sufficient evidence to promote it" names the card's first step and stops there).
    if _makes_several_points(question, called):
        return None
    text = called_text(called)
    said = [(m, wording) for m in question.misconceptions for wording in wordings(question, m)]
    cosines = sim.of_text(text, [*expected, *(t for _, t in said)])
    if not cosines or not expected or not said:
        return None
    nearest_expected = max(cosines[: len(expected)])
    cosine, k = max((c, k) for k, c in enumerate(cosines[len(expected) :]))
    return said[k][0] if cosine >= ENOUGH_MATCH and cosine > nearest_expected else None


def _asserts_by_meaning(
    question: Question,
    misconception: Misconception,
    span: Span,
    rivals: list[str],
    sim: Similarity,
    aims_at_practice: bool = False,
    restated: Sequence[str] = (),
) -> How | None:
    """How the sentence asserts the misconception by meaning, if it does: it brushes the card's practice aside
    ("dismissal"), or it is close to the wrong claim, closer to it than to anything the card expects (the `rivals`:
    its expected points and the question), not a restatement of one of the card's own sentences (`restated`), and
    not reported or negated ("meaning").

    Embeddings place "people often think X", "never X" and "X" side by side, so those words rule a meaning
    match out; the margin keeps a correct sentence on the same subject from reading as the wrong claim."""
    own = _closest(sim, span, wordings(question, misconception, claims=False))
    claimed = _closest(sim, span, misconception.claims)
    stems = _outside_dismissals(span) if aims_at_practice else sentence_stems(span.tokens)
    if own is None or stems & WARNING_STEMS or is_enumeration(span):
        return None
    expected = rivals[:-1]  # the question itself is the last rival
    nearest_rival = max((c for c in (sim(span, r) for r in rivals) if c is not None), default=0.0)
    # a dismissal is on the card's subject when it is near the mistake or near what the card expects: "orchestration
    # and monitoring don't change much" names the practice, not the mistake
    nearest_wrong = max(own, claimed or 0.0)
    on_subject = nearest_wrong >= DISMISSAL_NEAR and max(nearest_wrong, nearest_rival) >= DISMISSAL_MATCH
    if on_subject and brushes_practice_aside(question, span, expected, sim):
        return "dismissal"
    if REPORTED_BELIEF.search(span.text) or CONTRAST.search(span.text) or span.text.rstrip().endswith("?"):
        return None
    if (_closest(sim, span, restated) or 0.0) >= max(RESTATES, own):
        return None
    if reporting_stems(span, stems):
        asserts = _asserts_before_negation(question, misconception, span, stems, rivals, sim)
    elif (held := held_part(span)) is not None:
        asserts = _clears(*_cosines_of(held, question, misconception, rivals, sim))
    else:
        asserts = _clears(own, claimed, nearest_rival)
    return "meaning" if asserts else None


def _cosines_of(
    text: str, question: Question, misconception: Misconception, rivals: list[str], sim: Similarity
) -> tuple[float, float | None, float]:
    """For a part of a sentence: its cosine to the misconception's own wordings, to its claims, and to the nearest
    rival (what _clears weighs)."""
    own_texts = wordings(question, misconception, claims=False)
    cosines = sim.of_text(text, [*own_texts, *misconception.claims, *rivals]) or [0.0] * (
        len(own_texts) + len(misconception.claims) + len(rivals)
    )
    n, k = len(own_texts), len(misconception.claims)
    return max(cosines[:n]), (max(cosines[n : n + k]) if k else None), max(cosines[n + k :], default=0.0)


def _clears(own: float, claimed: float | None, nearest_rival: float) -> bool:
    if own >= MISCONCEPTION_MATCH and own - nearest_rival >= MISCONCEPTION_MARGIN:
        return True
    # The claims are said the way candidates say things, so a correct sentence on the same subject sits nearer
    # them than the card's one-line text: they need a closer match and a wider margin.
    return claimed is not None and claimed >= CLAIM_MATCH and claimed - nearest_rival >= CLAIM_MARGIN


def _asserts_before_negation(
    question: Question, misconception: Misconception, span: Span, stems: set[str], rivals: list[str], sim: Similarity
) -> bool:
    """A negation rules a meaning match out from its own clause on: "it just works anywhere, you never have to
    think about the node again" asserts in its first clause, so the clauses before the first negated one are
    matched on their own. A negation in the first clause ("I wouldn't just list PyTorch, since the framework is
    one layer") governs the whole sentence, and other reporting words ("often", "usually") rule it out."""
    before = before_negation(span, stems)
    if before is None:
        return False
    own_texts = wordings(question, misconception, claims=False)
    cosines = sim.of_text(before, [*own_texts, *misconception.claims, *rivals])
    if not cosines:
        return False
    n, k = len(own_texts), len(misconception.claims)
    claimed = max(cosines[n : n + k]) if k else None
    return _clears(max(cosines[:n]), claimed, max(cosines[n + k :], default=0.0))


def _closest(sim: Similarity, span: Span, texts: Sequence[str]) -> float | None:
    return max((c for c in (sim(span, t) for t in texts) if c is not None), default=None)


def same_argument(asserted: list[tuple[Misconception, Span]], spans: list[Span], sim: Similarity) -> set[int]:
    """Sentences that carry an asserted misconception on ("canaries just slow the team down"): no credit."""
    carried = set()
    for i, span in enumerate(spans):
        if DISMISSAL.search(span.text) or DISMISSIVE.search(span.text):
            carried.add(id(span))
            continue
        if _warns(span, spans[i - 1] if i else None):
            continue
        for misconception, _ in asserted:
            cosine = sim(span, misconception.text)
            if cosine is not None and cosine >= SAME_ARGUMENT:
                carried.add(id(span))
    return carried
