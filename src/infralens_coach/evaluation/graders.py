"""Which grader `eval` runs: the keyword grader, or the LLM grader through the chain (grading/chain.py).

The LLM grader loads litellm only when it first grades, so `eval --grader keyword` never imports it.
"""

from __future__ import annotations

from ..config import Settings
from ..errors import GraderUnavailable
from ..grading.base import Grader

CHOICES = ("keyword", "llm", "auto")


def get_grader(choice: str, settings: Settings, *, model: str | None = None, samples: int = 1) -> Grader:
    """The grader to evaluate. `samples` > 1 asks the LLM grader for K fresh gradings per answer."""
    if choice not in CHOICES:
        raise GraderUnavailable(f"unknown grader {choice!r}: use one of {', '.join(CHOICES)}")
    if choice == "keyword":
        from ..grading.keyword import KeywordGrader

        return KeywordGrader(meaning=settings.grader_meaning)
    from ..grading.chain import HOW_TO_CONFIGURE, NO_MODEL, build_grader

    # Samples measure drift, so they must be fresh; a single grade may come from the grade cache.
    grader = build_grader(settings, choice, model=model, samples=samples, use_cache=samples == 1)
    if choice == "llm" and grader.llm is None:
        raise GraderUnavailable(f"{NO_MODEL}: {HOW_TO_CONFIGURE}")
    return grader
