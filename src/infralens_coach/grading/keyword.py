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
  and the common-mistake dimension scores 0;
- a sentence addressed to the grader ("ignore the rubric") earns nothing and is flagged.
A dimension scores 4 when its points' credits add up to min(3, its number of points); fewer scale down
linearly. The overall is the weighted mean of the dimension scores (for points derived from a reference
answer, of the coverage before rounding to levels).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from ..content import DIMENSIONS, Misconception, Point, Question, Rubric
from ..errors import AnswerError
from . import coverage
from .base import DimensionScore, Grade, MisconceptionHit, overall_score
from .coverage import NO_MATCH, PointMatch
from .derive import points_of
from .embed import SWITCH, Embedder, Unavailable, default_embedder
from .injection import flags as injection_flags
from .injection import is_instruction
from .text import FUNCTION_WORDS, Span, compile_phrase, split_spans, stem, tokenize

MIN_PROSE_TOKENS = 4
MIN_FUNCTION_WORDS = 2
MIN_FUNCTION_SHARE = 0.15
SHORT_ANSWER_TOKENS = 12  # a whole answer this short may earn points without reading as prose
TOKENS_PER_POINT = 5  # a sentence of n words can earn at most max(2, n // 5) points
POINTS_FOR_FULL_MARKS = 3
MISCONCEPTION_MATCH = 0.50  # cosine at which a sentence may assert a misconception by meaning...
MISCONCEPTION_MARGIN = 0.05  # ...if it is this much closer to the misconception than to any expected point
# (the common-mistake points excepted: they say the same thing as the misconception, as a warning, and whether a
# sentence warns is decided by its words). Chosen on eval/adversarial-tune.csv and the other tune rows.
NEAREST_SLACK = 0.05  # a meaning match must be within this of the sentence's closest expected point
PARTIAL_SLACK = 0.10  # partial credit, within this
SAME_ARGUMENT = 0.45  # once asserted, sentences this close to the misconception carry the same argument
CLAIM_MATCH = 0.65  # a sentence this close to one of the ways a candidate claims the misconception asserts it...
CLAIM_MARGIN = 0.15  # ...if it is this much closer to that claim than to any expected point (Misconception.claims)
SHORT_KEY_POINTS = 3  # a reference-only question with up to this many points (sentences) is a short answer key
# A short answer key's overall: this share of it is how much closer the answer's sentences, together, are to
# the reference than to the question, from -WHOLE_SLACK (none) to WHOLE_RAMP - WHOLE_SLACK (full). Human graders
# judge the whole answer; a sentence-by-sentence best match rewards length (eval/README.md: the cs-long sets).
WHOLE_WEIGHT = 0.35
WHOLE_SLACK = 0.1
WHOLE_RAMP = 0.3

# Words that turn a mention of a misconception into a warning against it anywhere in the sentence: the
# label ("a common mistake"), the advice ("avoid", "instead") or the bad consequence ("wasting GPUs").
WARNING_STEMS = frozenset(
    stem(w)
    for w in """mistake mistaken avoid instead rather wrong myth trap pitfall misconception misleading careful
    beware danger dangerous risky tempting temptation naive naively hide hides hiding mask masks masking
    fallacy incorrect blindly waste wasting forever problem problems bad hurt hurts pain painful anti instinct
    reflex urge slip""".split()
)
# Negations warn only in the clause they stand in: "don't just lower the batch size" warns, while
# "it's not complicated, you only need a GPU request" still asserts.
NEGATION_STEMS = frozenset(stem(w) for w in "not never no nobody nothing".split())
_CLAUSE_BREAK = re.compile(r"[,;:()]|\b(?:but|which|because|so|while|whereas)\b", re.I)
# A common-mistake point counts only when the sentence frames it as a mistake, not a neutral mention.
MISTAKE_FRAME_STEMS = (
    WARNING_STEMS
    | NEGATION_STEMS
    | frozenset(stem(w) for w in "common often people teams usual usually typical classic only just".split())
)
# Words that make a sentence report a belief rather than hold it ("people often say..."): a meaning match
# there is not an assertion.
REPORTING_STEMS = (
    WARNING_STEMS
    | NEGATION_STEMS
    | frozenset(
        stem(w) for w in "common commonly often people sometimes usual usually typical typically classic myth".split()
    )
)
# Someone else's belief or habit, told rather than held ("a lot of folks assume a bigger GPU fixes it",
# "many teams reach for a bigger GPU, but..."): naming the mistake this way is not asserting it.
REPORTED_BELIEF = re.compile(
    r"\b(?:people|folks|teams|engineers|newcomers|beginners|juniors|many|someone|somebody|everyone|everybody|"
    r"a lot of \w+|lots of \w+|most \w+)\b[^,;:.]{0,40}?\b(?:think|thinks|thought|assume[sd]?|believe[sd]?|"
    r"say|says|said|claim(?:s|ed)?|describe[sd]?|treat(?:s|ed)?|expect(?:s|ed)?|reach(?:es|ed)?|jump(?:s|ed)?|"
    r"tend(?:s|ed)?|default(?:s|ed)?|imagine[sd]?|figure[sd]?|feel(?:s)?|call(?:s|ed)?|go(?:es)? for|"
    r"want(?:s|ed)? to)\b",
    re.I,
)
# Labels that tell of a belief; with REPORTED_BELIEF they rule out a match by wording too. "usually" and "not" do
# not: "switch to H100s, that's usually the quickest win" and "you only need a GPU request, it's not hard" assert.
TELLING_STEMS = frozenset(stem(w) for w in "common commonly classic myth".split())
# Brushing a practice aside ("canaries just slow the team down, so I'd skip them"): in an answer that asserts
# a misconception, such a sentence carries the wrong argument on, whatever practice it names.
DISMISSAL = re.compile(
    r"\b(?:slows?(?:ing)? (?:the team|us|you|things|everyone|everybody|everything|releases?) down|skip (?:it|them|that|"
    r"this|those|these)|overkill|unnecessary|pointless|not worth|no need|(?:don't|do not|doesn't|does not) (?:really )?"
    r"need|don't bother|not needed|red tape|bureaucra\w*|nobody needs|waste of time|more theory than)\b",
    re.I,
)
# Calling something a burden ("X is overhead / paperwork / overkill", "nobody reads it"): said of what the card
# recommends, it argues the mistake, whatever practice it names; said of the mistake, it is a warning.
DISMISSIVE = re.compile(
    r"\b(?:overkill|over-?engineer\w*|overthink\w*|paperwork|ceremony|red tape|bureaucra\w*|rabbit hole|"
    r"waste of (?:time|effort|money)|premature|pointless|unnecessary|not worth \w+|nice to have|nobody (?:needs|reads|"
    r"uses|looks at|cares about)|distract\w*|clutter|(?:just|mostly|pure|all|only) overhead|"
    r"(?:slows?|slowing) (?:the team|us|you|everyone|everybody|things|releases|the release|delivery|development) down|"
    r"extra (?:work|effort|steps?|concepts?|complexity))\b",
    re.I,
)
# A dismissal that is hedged or weighed ("for a low-risk change it can be overkill", "safer but slows releases
# down") states a tradeoff, not the mistake.
HEDGE = re.compile(
    r"\b(?:but|though|although|whereas|while|if|when|unless|depends?|depending|sometimes|can|could|may|might|"
    r"trade-?offs?|risk\w*|small|low|minor|simple)\b",
    re.I,
)
# A label that makes the next sentence a warning too: "A common mistake is X. Another one is Y."
LABEL_STEMS = frozenset(
    stem(w) for w in "mistake mistakes pitfall pitfalls trap traps misconception antipattern".split()
)


_LIST_SEPARATOR = re.compile(r"[,;:/]|\b(?:and|or|plus)\b", re.I)
LIST_ITEMS = 6  # a sentence with this many one- or two-word items is an enumeration...
TERM_ITEMS = 4  # ...and so is one with a run of this many bare terms of up to TERM_WORDS words...
TERM_WORDS = 4
TERM_SHARE = 0.5  # ...that make up this share of its words: the rest is a shell ("... are what matter here")
ENUMERATION_POINTS = 0.5  # ...and earns at most this much of one point: naming a point in a list is not making it
# The only function words a bare term may hold ("the KV cache", "time to first token", "tokens per second"); a
# verb or a conjunction ("images are huge", "so pull time") makes it a clause.
TERM_GLUE = frozenset("a an the to of in on for per by its their our your my".split())


def _is_term(words: list[str]) -> bool:
    if not 1 <= len(words) <= TERM_WORDS:
        return False
    raws = [t.raw for t in tokenize(" ".join(words))]
    glue = [w for w in raws if w in FUNCTION_WORDS]
    return len(glue) <= 1 and len(glue) < len(raws) and all(w in TERM_GLUE for w in glue)


def _longest_term_run(items: list[list[str]]) -> list[list[str]]:
    best: list[list[str]] = []
    run: list[list[str]] = []
    for words in items:
        run = [*run, words] if _is_term(words) else []
        best = run if len(run) > len(best) else best
    return best


def is_enumeration(span: Span) -> bool:
    """ "X, Y, Z, ... and W": legitimate in speech, but a prose shell around a term list looks the same, whether
    the terms are glued with commas or with "and", and however many words each term has."""
    items = [piece.split() for piece in _LIST_SEPARATOR.split(span.text) if piece.strip()]
    if sum(1 for words in items if 1 <= len(words) <= 2) >= LIST_ITEMS:
        return True
    run = _longest_term_run(items)
    total = sum(len(words) for words in items)
    # A shell is what makes it a stuffed sentence: a bare list ("push, pop, peek and size") is the short-answer case.
    shell = len(run) < len(items)
    return shell and len(run) >= TERM_ITEMS and sum(len(words) for words in run) >= TERM_SHARE * total


def point_budget(span: Span) -> float:
    """How many expected points one sentence may earn: cramming terms into a sentence does not pay, and naming
    a point in a list is not making it (half a point at most: the point counts as partly made)."""
    if is_enumeration(span):
        return ENUMERATION_POINTS
    return max(2, len(span.tokens) // TOKENS_PER_POINT)


def is_prose(span: Span) -> bool:
    n = len(span.tokens)
    if n < MIN_PROSE_TOKENS:
        return False
    fw = span.function_word_count
    return fw >= MIN_FUNCTION_WORDS and fw / n >= MIN_FUNCTION_SHARE


def _earns(span: Span, short_answer: bool) -> bool:
    """Prose earns; so does the fragment that is the whole of a short answer ("push and pop"), but not a list."""
    if is_instruction(span.text):
        return False
    return is_prose(span) or (short_answer and not is_enumeration(span))


def _outside_dismissals(span: Span) -> set[str]:
    """The sentence's stems outside a dismissal: the "waste" of "profiling is a waste of time" brushes the
    practice aside (_dismissed decides whether that argues the mistake); it does not warn."""
    text = DISMISSIVE.sub(" ", DISMISSAL.sub(" ", span.text))
    return {t.stem for t in (span.tokens if text == span.text else tokenize(text))}


def _warns(span: Span, previous: Span | None, *, dismissals_warn: bool = True) -> bool:
    stems = {t.stem for t in span.tokens} if dismissals_warn else _outside_dismissals(span)
    if stems & WARNING_STEMS:
        return True
    return previous is not None and any(t.stem in LABEL_STEMS for t in previous.tokens)


def _frames_a_mistake(span: Span, previous: Span | None) -> bool:
    return (
        any(t.stem in MISTAKE_FRAME_STEMS for t in span.tokens)
        or bool(REPORTED_BELIEF.search(span.text))
        or _warns(span, previous)
    )


def _tells_of_belief(span: Span) -> bool:
    """The sentence tells of a belief or habit ("people sometimes describe the field as picking PyTorch")."""
    return bool(REPORTED_BELIEF.search(span.text)) or any(t.stem in TELLING_STEMS for t in span.tokens)


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


class Similarity:
    """Cosines between the answer's sentences and the card's points and misconceptions (or none at all)."""

    def __init__(self, model: Embedder | None, spans: Sequence[Span], points: Sequence[str], others: Sequence[str]):
        self._row = {id(s): i for i, s in enumerate(spans)}
        self._col = {t: j for j, t in enumerate(dict.fromkeys([*points, *others]))}
        self.matrix: np.ndarray | None = None
        self.nearest: dict[int, float] = {}  # per sentence: its cosine with the closest expected point
        self._model = model
        self._targets: np.ndarray | None = None
        self._vectors: np.ndarray | None = None
        if model is not None and spans and self._col:
            # Without the full stop: "push and pop" and "push and pop." must sit at the same place.
            vectors = model.encode([s.text.rstrip(".!?;: ") for s in spans] + list(self._col))
            self.matrix = vectors[: len(spans)] @ vectors[len(spans) :].T
            self._targets = vectors[len(spans) :]
            self._vectors = vectors[: len(spans)]
            point_cols = [self._col[t] for t in dict.fromkeys(points)]
            if point_cols:
                best = self.matrix[:, point_cols].max(axis=1)
                self.nearest = {id(s): float(best[i]) for i, s in enumerate(spans)}

    def __call__(self, span: Span, text: str) -> float | None:
        if self.matrix is None or id(span) not in self._row:
            return None
        return float(self.matrix[self._row[id(span)], self._col[text]])

    def of_answer(self, spans: Sequence[Span], text: str, other: str) -> float | None:
        """How much closer these sentences, taken together, are to one target than to another: the mean of those on
        the subject of either, so filler moves nothing. None with no model, -1 with no sentence on the subject."""
        if self._vectors is None or self._targets is None:
            return None
        rows = [self._row[id(s)] for s in spans if id(s) in self._row]
        one, two = self._targets[self._col[text]], self._targets[self._col[other]]
        vectors = self._vectors[rows]
        vectors = vectors[np.maximum(vectors @ one, vectors @ two) >= coverage.MIN_COSINE]
        if not len(vectors):
            return -1.0
        whole = vectors.mean(axis=0)
        return float(whole @ (one - two)) / (float(np.linalg.norm(whole)) or 1.0)

    def of_text(self, text: str, targets: Sequence[str]) -> list[float] | None:
        """Cosines of a piece of a sentence (one clause) with some of the points and misconceptions."""
        if self._model is None or self._targets is None:
            return None
        vector = self._model.encode([text.rstrip(".!?;: ")])[0]
        return [float(self._targets[self._col[t]] @ vector) for t in targets]

    def near(self, span: Span, point: str) -> bool:
        """Whether this point is among the sentence's closest, so it may earn partial credit (always, with no model)."""
        cosine = self(span, point)
        return cosine is None or cosine >= self.nearest.get(id(span), cosine) - PARTIAL_SLACK

    def makes(self, span: Span, point: str) -> float | None:
        """The cosine if this sentence makes the point by meaning: close enough, and nearly its closest point
        (a sentence on the mechanism is also near the card's tradeoffs; it makes the point it is nearest)."""
        cosine = self(span, point)
        if cosine is None or cosine < coverage.MEANING_MATCH:
            return None
        return cosine if cosine >= self.nearest.get(id(span), cosine) - NEAREST_SLACK else None


def find_misconceptions(
    question: Question, spans: list[Span], sim: Similarity | None = None
) -> list[tuple[Misconception, Span]]:
    """Misconceptions the answer asserts, each with the first sentence that asserts it."""
    return _first_of_each(asserting(question, spans, sim))


def _first_of_each(found: list[tuple[Misconception, Span]]) -> list[tuple[Misconception, Span]]:
    hits: dict[str, tuple[Misconception, Span]] = {}
    for misconception, span in found:
        hits.setdefault(misconception.id, (misconception, span))
    return list(hits.values())


def asserting(question: Question, spans: list[Span], sim: Similarity | None = None) -> list[tuple[Misconception, Span]]:
    """Every sentence that asserts a misconception: matched, by wording or meaning, in a sentence that does not
    warn; or one that brushes aside a practice the card expects ("canaries are paperwork")."""
    found: list[tuple[Misconception, Span]] = []
    # The question itself competes too: a sentence that restates it ("beyond accuracy, infrastructure is...")
    # sits near a misconception built from the same words.
    expected = [p.text for dim, pts in points_of(question).items() if dim != "common_mistake" for p in pts]
    rivals = [*expected, question.question]
    for i, span in enumerate(spans):
        previous = spans[i - 1] if i else None
        # "a waste of time" aimed at what the card recommends argues the mistake: its "waste" does not warn
        aims_at_practice = bool(
            sim and question.misconceptions and _dismissal_target(question, span, expected, sim) == "practice"
        )
        if _warns(span, previous, dismissals_warn=not aims_at_practice):
            continue
        dismissed = _dismissed(question, span, expected, sim) if sim and question.misconceptions else None
        if dismissed == "mistake":  # "alerting on every metric is overkill": a warning
            continue
        before = len(found)
        for misconception in question.misconceptions:
            if _point_matches(misconception, span):
                if not _negated_in_clause(misconception, span) and not _tells_of_belief(span):
                    found.append((misconception, span))
            elif sim and _asserts_by_meaning(question, misconception, span, rivals, sim, aims_at_practice):
                found.append((misconception, span))
        if dismissed == "practice" and sim and len(found) == before:
            found.append((max(question.misconceptions, key=lambda m: sim(span, m.text) or 0.0), span))
    return found


def _asserts_by_meaning(
    question: Question,
    misconception: Misconception,
    span: Span,
    rivals: list[str],
    sim: Similarity,
    aims_at_practice: bool = False,
) -> bool:
    """Close to the wrong claim, closer to it than to anything the card expects, and not reported or negated.

    Embeddings place "people often think X", "never X" and "X" side by side, so those words rule a meaning
    match out; the margin keeps a correct sentence on the same subject from reading as the wrong claim."""
    own = _closest(sim, span, wordings(question, misconception, claims=False))
    claimed = _closest(sim, span, misconception.claims)
    stems = _outside_dismissals(span) if aims_at_practice else {t.stem for t in span.tokens}
    if own is None or stems & WARNING_STEMS or is_enumeration(span):
        return False
    if own >= SAME_ARGUMENT and DISMISSAL.search(span.text):  # brushes the card's practice aside
        return True
    if stems & REPORTING_STEMS or REPORTED_BELIEF.search(span.text) or span.text.rstrip().endswith("?"):
        return False
    nearest_rival = max((c for c in (sim(span, r) for r in rivals) if c is not None), default=0.0)
    if own >= MISCONCEPTION_MATCH and own - nearest_rival >= MISCONCEPTION_MARGIN:
        return True
    # The claims are said the way candidates say things, so a correct sentence on the same subject sits nearer
    # them than the card's one-line text: they need a closer match and a wider margin.
    return claimed is not None and claimed >= CLAIM_MATCH and claimed - nearest_rival >= CLAIM_MARGIN


def _closest(sim: Similarity, span: Span, texts: Sequence[str]) -> float | None:
    return max((c for c in (sim(span, t) for t in texts) if c is not None), default=None)


def mistake_wording(question: Question) -> str | None:
    """The card's own naming of the mistake: the first sentence of its common-mistake text ("Only monitoring GPU
    utilization and HTTP status."), which the next sentences explain."""
    if not question.common_mistake:
        return None
    return re.split(r"(?<=[.!?])\s+", question.common_mistake.strip())[0]


def wordings(question: Question, misconception: Misconception, *, claims: bool = True) -> list[str]:
    """The texts a sentence asserting this misconception sits near: its own, the other ways the card says it
    is claimed, and the card's naming of the mistake when this is the card's first misconception (the one the
    common-mistake text is about)."""
    mistake = mistake_wording(question)
    said = [misconception.text, *(misconception.claims if claims else ())]
    if mistake is None or misconception is not question.misconceptions[0]:
        return said
    return [*said, mistake]


def _dismissed(question: Question, span: Span, expected: list[str], sim: Similarity) -> str | None:
    """What an unhedged "X is a burden" sentence brushes aside: "practice" when the clause that does it is closer
    to one of the card's expected points than to the mistake (it argues the mistake), "mistake" when it is closer
    to the mistake (a warning); None when nothing is dismissed, or with no model."""
    return None if HEDGE.search(span.text) else _dismissal_target(question, span, expected, sim)


def _dismissal_target(question: Question, span: Span, expected: list[str], sim: Similarity) -> str | None:
    """_dismissed, hedged or not."""
    match = DISMISSIVE.search(span.text)
    if match is None or is_enumeration(span):
        return None
    clause = next(c for c in _CLAUSE_BREAK.split(span.text[: match.end()])[::-1] if c and c.strip())
    # the card's own wordings: a claim may itself brush the practice aside, which would make every dismissal a warning
    wrong = [text for m in question.misconceptions for text in wordings(question, m, claims=False)]
    cosines = sim.of_text(clause, [*expected, *wrong])
    if not cosines or not expected:
        return None
    return "practice" if max(cosines[: len(expected)]) > max(cosines[len(expected) :]) else "mistake"


def _same_argument(asserted: list[tuple[Misconception, Span]], spans: list[Span], sim: Similarity) -> set[int]:
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


class KeywordGrader:
    """The offline grader. `embedder`: a sentence-embedding model (default: the bundled one, loaded once per
    process on first use); `meaning=False` matches on wording alone."""

    name = "keyword"

    def __init__(self, embedder: Embedder | Unavailable | None = None, *, meaning: bool = True) -> None:
        self._embedder = embedder
        self._meaning = meaning

    def model(self) -> Embedder | Unavailable:
        if not self._meaning:
            return Unavailable(f"matching by meaning is turned off ({SWITCH}=0)")
        return self._embedder if self._embedder is not None else default_embedder()

    def grade(self, question: Question, rubric: Rubric, answer: str) -> Grade:
        if not answer or not answer.strip():
            raise AnswerError("the answer is empty: type, paste or record an answer first")
        spans = split_spans(answer)
        short_answer = sum(len(s.tokens) for s in spans) <= SHORT_ANSWER_TOKENS
        earning = [s for s in spans if _earns(s, short_answer)]
        model = self.model()
        sim = Similarity(
            None if isinstance(model, Unavailable) else model,
            [s for s in spans if not is_instruction(s.text)],
            [p.text for pts in points_of(question).values() for p in pts],
            [w for m in question.misconceptions for w in wordings(question, m)]
            + [question.question]
            + ([question.reference_text] if is_short_key(question) else []),
        )
        asserting_spans = asserting(question, spans, sim)
        asserted = _first_of_each(asserting_spans)
        wrong = {id(span) for _, span in asserting_spans} | (
            _same_argument(asserted, spans, sim) if asserted else set()
        )
        usable = [s for s in earning if id(s) not in wrong]
        framed = {id(s) for i, s in enumerate(spans) if _frames_a_mistake(s, spans[i - 1] if i else None)}
        exclude = coverage.question_stems(question.question)

        short_key = is_short_key(question)
        budget = {id(s): point_budget(s) for s in usable}
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
        dims = tuple(dimensions)
        summary = None
        whole = beyond_the_question(sim, question, usable) if short_key else None
        if isinstance(model, Unavailable):
            summary = f"Matched on wording only: {model.reason}."
        elif whole is not None:
            summary = (
                f"Graded against a short answer key: {WHOLE_WEIGHT:.0%} of the overall is how close the whole answer "
                f"is to the key beyond restating the question ({whole:.0%})."
            )
        return Grade(
            question_id=question.id,
            card=question.card,
            dimensions=dims,
            overall=_overall(values, question, rubric, whole)
            if question.derived
            else overall_score(dims, question, rubric),
            misconceptions=tuple(MisconceptionHit(m.id, m.text, s.text) for m, s in asserted),
            decided_by=self.name,
            summary=summary,
            flags=injection_flags(answer),
        )

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
            span = next((s for s in open_spans if _point_matches(point, s)), None)
            if span is not None:
                found = PointMatch(1.0, span, "wording")
        if not found.made:
            keys = coverage.key_stems(point.text, exclude)
            options = []
            for span in open_spans:
                cosine = sim(span, point.text)
                share = coverage.word_share(keys, span)
                if derived:
                    credit = coverage.graded_credit(share, cosine, sim(span, question.question))
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
            if match.span is not None and match.span.text not in evidence:
                evidence.append(match.span.text)
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


def _overall(values: dict[str, float], question: Question, rubric: Rubric, whole: float | None = None) -> int:
    """Weighted mean of the assessable dimensions' unrounded coverage, 0..100: for derived points, where a
    one-sentence reference (one point) would otherwise allow only five overall scores. With a model, WHOLE_WEIGHT
    of it is the whole answer's closeness to the reference beyond the question (beyond_the_question)."""
    total = weight_sum = 0.0
    for dim_id, value in values.items():
        weight = question.dimension_weight(rubric, dim_id)
        total += weight * value
        weight_sum += weight
    coverage_share = total / weight_sum if weight_sum else 0.0
    if whole is None or not weight_sum:
        return round(100 * coverage_share)
    return round(100 * ((1 - WHOLE_WEIGHT) * coverage_share + WHOLE_WEIGHT * whole))
