"""Cosines between an answer's sentences and a card's points, misconceptions, question and reference: the
sentence-embedding side of grading, computed once per grade (or not at all, with no model)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from . import coverage
from .embed import Embedder
from .text import Span

NEAREST_SLACK = 0.05  # a meaning match must be within this of the sentence's closest expected point
PARTIAL_SLACK = 0.10  # partial credit, within this


class Similarity:
    """Cosines between the answer's sentences and the card's points and misconceptions (or none at all)."""

    def __init__(
        self,
        model: Embedder | None,
        spans: Sequence[Span],
        points: Sequence[str],
        others: Sequence[str],
        pieces: Sequence[str] = (),
    ):
        """`pieces`: parts of sentences (clauses) that of_text will be asked about, encoded in the same model run."""
        self._row = {id(s): i for i, s in enumerate(spans)}
        self._col = {t: j for j, t in enumerate(dict.fromkeys([*points, *others]))}
        self.matrix: np.ndarray | None = None
        self.nearest: dict[int, float] = {}  # per sentence: its cosine with the closest expected point
        self._model = model
        self._targets: np.ndarray | None = None
        self._vectors: np.ndarray | None = None
        self._pieces: dict[str, np.ndarray] = {}  # parts of sentences (clauses) encoded so far
        if model is not None and spans and self._col:
            # Without the full stop: "push and pop" and "push and pop." must sit at the same place.
            pieces = list(dict.fromkeys(pieces))
            vectors = model.encode(
                [s.text.rstrip(".!?;: ") for s in spans] + list(self._col) + [p.rstrip(".!?;: ") for p in pieces]
            )
            targets = len(spans) + len(self._col)
            self._pieces = {text: vectors[targets + i] for i, text in enumerate(pieces)}
            vectors = vectors[:targets]
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

    def block(self, spans: Sequence[Span], texts: Sequence[str]) -> np.ndarray:
        """The cosines of these (encoded) sentences with these targets, a row per sentence."""
        assert self.matrix is not None
        rows = [self._row[id(s)] for s in spans]
        block: np.ndarray = self.matrix[np.ix_(rows, [self._col[t] for t in texts])]
        return block

    def answer_vector(self, spans: Sequence[Span]) -> np.ndarray | None:
        """These sentences taken together: the unit-length mean of their vectors (None with no model or sentence)."""
        rows = [self._row[id(s)] for s in spans if id(s) in self._row]
        if self._vectors is None or not rows:
            return None
        whole: np.ndarray = self._vectors[rows].mean(axis=0)
        return whole / (float(np.linalg.norm(whole)) or 1.0)

    def of_vector(self, vector: np.ndarray, targets: Sequence[str]) -> list[float]:
        """Cosines of a vector from answer_vector with some of the points and misconceptions."""
        assert self._targets is not None
        return [float(self._targets[self._col[t]] @ vector) for t in targets]

    def of_text(self, text: str, targets: Sequence[str]) -> list[float] | None:
        """Cosines of a piece of a sentence (one clause) with some of the points and misconceptions."""
        if self._model is None or self._targets is None:
            return None
        if text not in self._pieces:  # not announced to the constructor: a model run of its own
            self._pieces[text] = self._model.encode([text.rstrip(".!?;: ")])[0]
        return [float(self._targets[self._col[t]] @ self._pieces[text]) for t in targets]

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
