"""A learned second opinion on the misconception rules: does this answer hold the card's mistake?

The rules in grading/misconceptions.py read a sentence's words. A sentence they match by meaning alone (close to
the mistake, with no wording, dismissal or "that's enough" of it) is the weakest kind of evidence: embeddings place
"X is enough" and "X alone is not enough" side by side, and full answers that warn against a mistake describe it.
The judge looks at the whole answer as well: how close it is to the mistake against the card's reference, how much
of the card it covers, and each sentence's stance words. It is a logistic model over those features, scored per
sentence (the answer's score is its best sentence's), trained by evaluation/train_judge.py on the tune splits of
eval/ with whole cards held out, and shipped as data/judge.json (a few dozen numbers).

Its two thresholds, both chosen on cross-validated tune scores: a meaning-only match stands when the judge agrees
(`confirm`), and an answer the judge scores far above that holds the mistake though no rule found it (`report`),
its best sentence quoted as the evidence. Without the model there are no features and the rules decide alone.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np

from ..content import Question
from .mistake_texts import expected_texts, wordings
from .similarity import Similarity
from .stance import (
    ADVERSATIVE,
    CONTRAST,
    DISMISSAL,
    DISMISSIVE,
    HEDGE,
    NEGATION_STEMS,
    REPORTED_BELIEF,
    SUFFICIENCY,
    WARNING_STEMS,
    sentence_stems,
)
from .text import Span

FORMAT = "infralens-judge/1"
_REDUCTION = re.compile(r"\b(?:just|only|basically|simply)\b", re.I)

# One row per sentence; the last five are the answer's and repeat on every row.
FEATURES = (
    "sentence: nearest misconception wording",
    "sentence: nearest expected point",
    "sentence: misconception minus expected",
    "sentence: mean of its 3 nearest misconception wordings",
    "sentence: negation",
    "sentence: warning word",
    "sentence: reported belief",
    "sentence: dismissal",
    "sentence: calls something enough",
    "sentence: contrast",
    "sentence: question",
    "sentence: hedge",
    "sentence: reduction word",
    "answer: nearest misconception wording",
    "answer: reference",
    "answer: misconception minus reference",
    "answer: nearest expected point",
    "answer: coverage",
)


def targets(question: Question) -> list[str]:
    """The texts the judge's features are cosines with, for Similarity to encode with the rest."""
    return [question.reference_text] if question.reference_text else []


@dataclass(frozen=True)
class Reading:
    """The judge's features for an answer: a row of FEATURES per sentence in `spans` (those the model encoded)."""

    table: np.ndarray
    spans: list[Span]


def features(question: Question, spans: list[Span], sim: Similarity, coverage: float) -> Reading | None:
    """The answer's features; None with no model or nothing to compare."""
    wrong = [w for m in question.misconceptions for w in wordings(question, m)]
    expected = expected_texts(question)
    rows = [s for s in spans if sim(s, wrong[0]) is not None] if wrong and expected else []
    answer = sim.answer_vector(rows)
    if not rows or answer is None or not question.reference_text:
        return None
    to_wrong, to_expected = sim.block(rows, wrong), sim.block(rows, expected)
    whole_wrong = max(sim.of_vector(answer, wrong))
    whole_reference = sim.of_vector(answer, [question.reference_text])[0]
    whole_expected = max(sim.of_vector(answer, expected))
    whole = [whole_wrong, whole_reference, whole_wrong - whole_reference, whole_expected, coverage]
    table = []
    for i, span in enumerate(rows):
        near_wrong, near_expected = to_wrong[i].max(), to_expected[i].max()
        top = np.sort(to_wrong[i])[-3:].mean()
        table.append([near_wrong, near_expected, near_wrong - near_expected, top, *_stance(span), *whole])
    return Reading(np.array(table, dtype=np.float64), rows)


def _stance(span: Span) -> list[float]:
    stems = sentence_stems(span.tokens)
    text = span.text
    flags = (
        stems & NEGATION_STEMS,
        stems & WARNING_STEMS,
        REPORTED_BELIEF.search(text),
        DISMISSAL.search(text) or DISMISSIVE.search(text),
        SUFFICIENCY.search(text),
        CONTRAST.search(text),
        text.rstrip().endswith("?"),
        HEDGE.search(text) or ADVERSATIVE.search(text),
        _REDUCTION.search(text),
    )
    return [float(bool(flag)) for flag in flags]


@dataclass(frozen=True)
class Judge:
    weights: np.ndarray
    bias: float
    mean: np.ndarray
    scale: np.ndarray
    confirm: float  # a meaning-only match stands when the answer scores above this
    report: float  # above this the answer holds the mistake though no rule found it

    def scores(self, table: np.ndarray) -> np.ndarray:
        """Per sentence, the log-odds that the answer holds the mistake with this sentence as the evidence."""
        scores: np.ndarray = ((table - self.mean) / self.scale) @ self.weights + self.bias
        return scores

    def confirms(self, reading: Reading | None) -> bool:
        return reading is None or float(self.scores(reading.table).max()) > self.confirm

    def evidence(self, reading: Reading | None) -> Span | None:
        """The sentence that holds the mistake when the answer scores above `report`, else None."""
        if reading is None:
            return None
        scores = self.scores(reading.table)
        best = int(np.argmax(scores))
        return reading.spans[best] if scores[best] > self.report else None

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "features": list(FEATURES),
            "weights": self.weights.tolist(),
            "bias": self.bias,
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "confirm": self.confirm,
            "report": self.report,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Judge:
        if data.get("format") != FORMAT or data.get("features") != list(FEATURES):
            raise ValueError(f"not a {FORMAT} file for these features")
        return cls(
            np.array(data["weights"], dtype=np.float64),
            float(data["bias"]),
            np.array(data["mean"], dtype=np.float64),
            np.array(data["scale"], dtype=np.float64),
            float(data["confirm"]),
            float(data["report"]),
        )


@functools.cache
def shipped() -> Judge:
    """The judge trained on eval/'s tune splits (data/judge.json)."""
    text = resources.files("infralens_coach").joinpath("data/judge.json").read_text(encoding="utf-8")
    return Judge.from_json(json.loads(text))
