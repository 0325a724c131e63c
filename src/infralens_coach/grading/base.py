"""What every grader returns, and the one method a grader implements."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

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
class SampleStats:
    """One dimension over K gradings of the same answer: how much the grader drifts."""

    dimension: str
    scores: tuple[int, ...]
    mean: float
    spread: int  # max - min


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
    # Added by the LLM grader and the chain (all optional, so older grades still load):
    review: tuple[str, ...] = ()  # dimensions where LLM and keyword grader disagree by >= 2 levels
    dropped_quotes: int = 0  # evidence quotes the LLM gave that do not occur in the answer (removed)
    prompt_tokens: int | None = None  # size of the LLM prompt, when an LLM was asked
    samples: tuple[SampleStats, ...] = ()  # per dimension, when graded several times (--samples K)
    cached: bool = False  # served from the grade cache, not a new LLM call
    structured_output: str | None = None  # how the LLM was held to the schema (grading/forms.py), e.g. json_schema

    def dimension(self, dim_id: str) -> DimensionScore:
        for dim in self.dimensions:
            if dim.dimension == dim_id:
                return dim
        raise KeyError(dim_id)

    def to_json(self) -> dict[str, Any]:
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
            "review": list(self.review),
            "dropped_quotes": self.dropped_quotes,
            "prompt_tokens": self.prompt_tokens,
            "samples": [asdict(s) | {"scores": list(s.scores)} for s in self.samples],
            "cached": self.cached,
            "structured_output": self.structured_output,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Grade:
        """Inverse of to_json() (the grade cache and the history read grades back with it)."""
        return cls(
            question_id=data["question_id"],
            card=data["card"],
            dimensions=tuple(
                DimensionScore(
                    d["id"],
                    d["score"],
                    d["max_score"],
                    tuple(d["evidence"]),
                    tuple(d["missing"]),
                    d["feedback"],
                    tuple(d.get("covered", ())),
                )
                for d in data["dimensions"]
            ),
            overall=data["overall"],
            misconceptions=tuple(MisconceptionHit(**m) for m in data["misconceptions"]),
            decided_by=data["decided_by"],
            fallback_reason=data.get("fallback_reason"),
            follow_up=data.get("follow_up"),
            summary=data.get("summary"),
            flags=tuple(data.get("flags", ())),
            review=tuple(data.get("review", ())),
            dropped_quotes=data.get("dropped_quotes", 0),
            prompt_tokens=data.get("prompt_tokens"),
            samples=tuple(
                SampleStats(s["dimension"], tuple(s["scores"]), s["mean"], s["spread"]) for s in data.get("samples", ())
            ),
            cached=data.get("cached", False),
            structured_output=data.get("structured_output"),
        )


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
