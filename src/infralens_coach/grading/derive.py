"""Expected points for a question that has only a reference answer (a user's own pack, or `eval`).

Each sentence of the reference becomes one point, filed under the dimension its wording suggests. The
keyword grader gives a derived point graded credit (grading/coverage.py: the share of its key words an answer
sentence uses, and how close that sentence is in meaning), so a point can be partly made. Its phrases, pairs of
the sentence's most informative words, are kept for readers and other graders; the keyword grader does not
count them as making the point.

"Most informative" is the longest words, after dropping words that say nothing about the subject
(GENERIC: "strong answer", "interviews", "commonly", "requires", ...): a reference often talks about the
answer itself, and those words would otherwise be picked because they are long.

A sentence that corrects a belief ("X is a control plane, not a magic performance layer", "it is not just a
folder of checkpoints", "... is not enough by itself") is filed under common_mistake: in a reference answer
that is where the common mistake usually hides.
"""

from __future__ import annotations

import itertools
import re
from functools import lru_cache

from ..content import Point, Question
from .text import FUNCTION_WORDS, split_spans

# Checked in this order; the first dimension with a cue wins.
_CUES = {
    "common_mistake": (
        "mistake",
        "avoid",
        "pitfall",
        "don't",
        "do not",
        "never",
        "wrong",
        "misconception",
        "not only",
        "not just",
        "not enough",
        "not a",
        "not an",
        "not the",
        "not every",
        "not final",
        "not magic",
        "isn't",
        "aren't",
        "rather than",
    ),
    "tradeoffs": ("but", "however", "tradeoff", "trade-off", "cost", "versus", "while", "although", "depends"),
    "why_it_matters": (
        "because",
        "so that",
        "matters",
        "important",
        "prevents",
        "lets",
        "allows",
        "helps",
        "reduces",
        "without",
        "otherwise",
        "risk",
    ),
    "related_lab": ("lab", "exercise", "practice", "handbook", "docs", "documentation", "tutorial"),
}
# Long words that carry no subject matter: words about answering, hedges, vague verbs and adverbs.
GENERIC = frozenset(
    """answer answers strong good great interview interviews interviewer emphasize emphasise mention mentions
    frame framing explain describe discuss candidate commonly common often usually typically generally
    practical practice useful important importance matter matters requires require required involve involves
    involved include includes including something anything everything specific particular particularly
    various several become becomes first-class really actually simply also especially ordinary different
    difference whether therefore however although while because otherwise without within between
    """.split()
)
KEY_WORDS_PER_POINT = 6  # 15 pairs per point; chosen on the tune split of eval/labelled.csv


def _dimension_for(sentence: str) -> str:
    lowered = f" {sentence.lower()} "
    for dim, cues in _CUES.items():
        if any(re.search(rf"(?<![\w'-]){re.escape(cue)}(?![\w'-])", lowered) for cue in cues):
            return dim
    return "mechanism"


def key_words(words: list[str], limit: int | None = None) -> list[str]:
    """The `limit` most informative words, in their sentence order (subject words before generic ones)."""
    ranked = sorted(words, key=lambda w: (w in GENERIC, -len(w)))
    chosen = set(ranked[: limit or KEY_WORDS_PER_POINT])
    return [w for w in words if w in chosen]


def fallback_words(words: list[str]) -> list[str]:
    """The words of a key that has none of three letters or more outside the function words ("O(1)": o, 1;
    "HAVING": having): its short content words, else all of them."""
    return list(dict.fromkeys(w for w in words if w not in FUNCTION_WORDS)) or list(dict.fromkeys(words))


def derive_points(reference: str) -> dict[str, tuple[Point, ...]]:
    points: dict[str, list[Point]] = {}
    for n, span in enumerate(split_spans(reference), start=1):
        words = list(dict.fromkeys(t.raw for t in span.tokens if t.raw not in FUNCTION_WORDS and len(t.raw) > 2))
        # A key with no long content word is still the answer: "O(1)", "HAVING", "by value" (fallback_words).
        words = words or fallback_words([t.raw for t in span.tokens])
        if not words:
            continue
        key = key_words(words)
        phrases = [" & ".join(pair) for pair in itertools.combinations(key, 2)] or key
        dim = _dimension_for(span.text)
        points.setdefault(dim, []).append(Point(id=f"ref-{n}", text=span.text, phrases=tuple(phrases)))
    return {dim: tuple(pts) for dim, pts in points.items()}


_derived = lru_cache(maxsize=256)(derive_points)  # the same card is graded many times (eval, regrade)


def points_of(question: Question) -> dict[str, tuple[Point, ...]]:
    """The card's own points; for a card with only a reference answer, the points derived from it."""
    return question.points or _derived(question.reference_text)
