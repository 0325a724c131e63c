"""Expected points for a question that has only a reference answer (a user's own pack, or `eval`).

Each sentence of the reference becomes one point, filed under the dimension its wording suggests. Its
phrases are pairs of the sentence's most informative words that must co-occur in one answer sentence,
so a paraphrase that keeps two key terms together earns it and a single shared word does not.
"""

from __future__ import annotations

import itertools
import re

from ..content import Point
from .text import FUNCTION_WORDS, split_spans

_CUES = {
    "common_mistake": ("mistake", "avoid", "pitfall", "don't", "do not", "never", "wrong", "misconception"),
    "tradeoffs": ("but", "however", "tradeoff", "trade-off", "cost", "versus", "while", "although", "depends"),
    "why_it_matters": ("because", "so that", "matters", "important", "prevents", "lets", "allows", "helps",
                       "reduces", "without", "otherwise", "risk"),
    "related_lab": ("lab", "exercise", "practice", "handbook", "docs", "documentation", "tutorial"),
}
KEY_WORDS_PER_POINT = 4


def _dimension_for(sentence: str) -> str:
    lowered = f" {sentence.lower()} "
    for dim, cues in _CUES.items():
        if any(re.search(rf"\b{re.escape(cue)}\b", lowered) for cue in cues):
            return dim
    return "mechanism"


def derive_points(reference: str) -> dict[str, tuple[Point, ...]]:
    points: dict[str, list[Point]] = {}
    for n, span in enumerate(split_spans(reference), start=1):
        words = []
        for tok in span.tokens:
            if tok.raw not in FUNCTION_WORDS and len(tok.raw) > 2 and tok.raw not in words:
                words.append(tok.raw)
        if not words:
            continue
        # Longer words carry more meaning on average; keep the sentence order among the chosen ones.
        key = sorted(sorted(words, key=len, reverse=True)[:KEY_WORDS_PER_POINT], key=words.index)
        phrases = [" & ".join(pair) for pair in itertools.combinations(key, 2)] or key
        dim = _dimension_for(span.text)
        points.setdefault(dim, []).append(Point(id=f"ref-{n}", text=span.text, phrases=tuple(phrases)))
    return {dim: tuple(pts) for dim, pts in points.items()}
