"""What every grader returns, and the one method a grader implements."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Protocol

from ..content import Question, Rubric


@dataclass(frozen=True)
class DimensionScore:
    dimension: str
    score: int  # 0..max_score
    max_score: int  # 4, or 0 when the card has nothing to assess on this dimension
    evidence: tuple[str, ...]  # sentences of the answer that earned the score, verbatim
    missing: tuple[str, ...]  # expected points the answer did not make
    feedback: str
    covered: tuple[str, ...] = ()  # expected points the answer made


@dataclass(frozen=True)
class MisconceptionHit:
    id: str
    text: str
    evidence: str  # the sentence that asserted it


@dataclass(frozen=True)
class Grade:
    question_id: str
    card: int
    dimensions: tuple[DimensionScore, ...]
    overall: int  # 0..100, weighted mean of the dimension scores
    misconceptions: tuple[MisconceptionHit, ...]
    decided_by: str  # "keyword", "llm:openai/gpt-4o-mini", ...
    fallback_reason: str | None = None  # why an earlier grader in the chain did not decide
    follow_up: str | None = None
    summary: str | None = None
    flags: tuple[str, ...] = field(default_factory=tuple)

    def dimension(self, dim_id: str) -> DimensionScore:
        for dim in self.dimensions:
            if dim.dimension == dim_id:
                return dim
        raise KeyError(dim_id)

    def to_json(self) -> dict:
        """The CLI's and the history's JSON shape (stable: later features rely on it)."""
        return {
            "question_id": self.question_id,
            "card": self.card,
            "decided_by": self.decided_by,
            "fallback_reason": self.fallback_reason,
            "overall": self.overall,
            "dimensions": [
                {
                    "id": d.dimension,
                    "score": d.score,
                    "max_score": d.max_score,
                    "evidence": list(d.evidence),
                    "missing": list(d.missing),
                    "covered": list(d.covered),
                    "feedback": d.feedback,
                }
                for d in self.dimensions
            ],
            "misconceptions": [asdict(m) for m in self.misconceptions],
            "follow_up": self.follow_up,
            "summary": self.summary,
            "flags": list(self.flags),
        }


def overall_score(dimensions: tuple[DimensionScore, ...], question: Question, rubric: Rubric) -> int:
    """Weighted mean of the assessable dimensions, 0..100."""
    total = weight_sum = 0.0
    for dim in dimensions:
        if dim.max_score == 0:
            continue
        weight = question.dimension_weight(rubric, dim.dimension)
        total += weight * dim.score / dim.max_score
        weight_sum += weight
    return round(100 * total / weight_sum) if weight_sum else 0


class Grader(Protocol):
    name: str

    def grade(self, question: Question, rubric: Rubric, answer: str) -> Grade: ...
