"""Which grader `eval` runs: the keyword grader, or the LLM grader through the chain (grading/chain.py).

The chain is looked up at run time, so the keyword path never imports it (nor litellm), and an install
without it says so clearly instead of failing on import.
"""

from __future__ import annotations

import importlib

from ..config import Settings
from ..errors import GraderUnavailable
from ..grading.base import Grader

CHOICES = ("keyword", "llm", "auto")


def get_grader(choice: str, settings: Settings | None = None, *, model: str | None = None, samples: int = 1
               ) -> Grader:
    """The grader to evaluate. `samples` > 1 asks the LLM grader for K fresh gradings per answer."""
    if choice not in CHOICES:
        raise GraderUnavailable(f"unknown grader {choice!r}: use one of {', '.join(CHOICES)}")
    if choice == "keyword":
        from ..grading.keyword import KeywordGrader

        return KeywordGrader()
    try:
        chain = importlib.import_module("infralens_coach.grading.chain")
    except ModuleNotFoundError as exc:
        if exc.name != "infralens_coach.grading.chain":
            raise
        chain = None
    build = getattr(chain, "build_grader", None)
    if build is None:
        raise GraderUnavailable(f"the {choice!r} grader is not available in this version: use --grader keyword")
    settings = settings or Settings.from_env()
    # Samples measure drift, so they must be fresh; a single grade may come from the grade cache.
    grader = build(settings, choice, model=model, samples=samples, use_cache=samples == 1)
    if choice == "llm" and getattr(grader, "llm", True) is None:
        raise GraderUnavailable(getattr(chain, "NO_MODEL", "no LLM is configured") + ": "
                                + getattr(chain, "HOW_TO_CONFIGURE", "set INFRALENS_LLM_MODEL or pass --model"))
    return grader
