"""The grading cascade: the LLM when one is configured, the keyword grader always behind it.

`auto` asks the LLM and falls back to the keyword grade on any failure (unreachable, timeout, 429, 5xx,
malformed or invalid reply), recording `decided_by` and `fallback_reason`: a failure is never a zero.
`llm` insists on the LLM and raises its error; `keyword` never loads litellm.

The keyword grade is computed every time (it is cheap and offline): it is the fallback, and where the LLM
and it disagree by two levels or more on a dimension, that dimension is flagged for review.
"""

from __future__ import annotations

import statistics
from dataclasses import replace
from typing import TYPE_CHECKING, Protocol

from ..config import Settings
from ..content import Question, Rubric
from ..errors import GraderError, GraderUnavailable
from .base import Grade, Grader, SampleStats
from .cache import FILENAME as CACHE_FILE
from .cache import GradeCache, cache_key
from .keyword import KeywordGrader

if TYPE_CHECKING:
    from .llm import LLMGrader

MODES = ("auto", "llm", "keyword")
MAX_SAMPLES = 10
DISAGREEMENT_LEVELS = 2
NO_MODEL = "no LLM is configured"
HOW_TO_CONFIGURE = (
    "set INFRALENS_LLM_MODEL (e.g. openai/gpt-4o-mini with OPENAI_API_KEY, or ollama/llama3.1) or pass --model; "
    "see the README, 'Grading with an LLM'"
)


class ModelGrader(Grader, Protocol):
    """A grader backed by a model (the LLM grader): the grade cache keys on which model, where."""

    model: str
    api_base: str | None


class GraderChain:
    """A Grader (same protocol) that decides with the LLM or the keyword grader and says which and why."""

    def __init__(
        self,
        llm: ModelGrader | None = None,
        *,
        mode: str = "auto",
        samples: int = 1,
        cache: GradeCache | None = None,
        keyword: KeywordGrader | None = None,
    ) -> None:
        if mode not in MODES:
            raise GraderError(f"unknown grader {mode!r}: expected one of {', '.join(MODES)}")
        if not 1 <= samples <= MAX_SAMPLES:
            raise GraderError(f"--samples must be between 1 and {MAX_SAMPLES}, not {samples}")
        self.llm = llm if mode != "keyword" else None
        self.mode = mode
        self.samples = samples
        self.cache = cache
        self.keyword = keyword or KeywordGrader()
        self.name = self.llm.name if self.llm else self.keyword.name

    @property
    def notice(self) -> str | None:
        """What to tell the user once when the keyword grader decides only because no LLM is set up."""
        if self.mode == "auto" and self.llm is None:
            return f"graded by the offline keyword grader: {NO_MODEL}. For LLM grading, {HOW_TO_CONFIGURE}."
        return None

    def grade(self, question: Question, rubric: Rubric, answer: str) -> Grade:
        keyword = self.keyword.grade(question, rubric, answer)  # also rejects an empty answer
        if self.mode == "keyword":
            return keyword
        if self.llm is None:
            if self.mode == "llm":
                raise GraderUnavailable(f"{NO_MODEL}: {HOW_TO_CONFIGURE}")
            return replace(keyword, fallback_reason=f"{NO_MODEL} (set INFRALENS_LLM_MODEL)")
        try:
            graded = self._ask_llm(self.llm, question, rubric, answer)
        except GraderError as exc:
            if self.mode == "llm":
                raise
            return replace(keyword, fallback_reason=str(exc))
        return compare(graded, keyword)

    def _ask_llm(self, llm: ModelGrader, question: Question, rubric: Rubric, answer: str) -> Grade:
        key = cache_key(question, rubric, answer, llm.model, llm.api_base)
        cache = self.cache if self.samples == 1 else None  # samples measure drift: always fresh
        if cache is not None:
            hit = cache.get(key)
            if hit is not None:
                return hit
        grades: list[Grade] = []
        failures: list[GraderError] = []
        for _ in range(self.samples):
            try:
                grades.append(llm.grade(question, rubric, answer))
            except GraderUnavailable as exc:
                failures.append(exc)
                break  # unreachable or rate-limited after its retry: asking again will not help now
            except GraderError as exc:
                failures.append(exc)
        if not grades:
            raise failures[0]
        grade = grades[0] if self.samples == 1 else summarise(grades)
        if failures:
            grade = replace(grade, flags=grade.flags + (f"samples-failed:{len(failures)}",))
        if cache is not None:
            cache.put(key, grade, question, rubric, llm.model)
        return grade


def summarise(grades: list[Grade]) -> Grade:
    """K grades of one answer -> the most typical one, with every dimension's scores, mean and spread."""
    dims = [d.dimension for d in grades[0].dimensions if d.max_score > 0]
    scores = {dim: tuple(g.dimension(dim).score for g in grades) for dim in dims}
    medians = {dim: statistics.median(values) for dim, values in scores.items()}
    typical = min(grades, key=lambda g: sum(abs(g.dimension(d).score - medians[d]) for d in dims))
    stats = tuple(
        SampleStats(dim, values, round(statistics.fmean(values), 2), max(values) - min(values))
        for dim, values in scores.items()
    )
    return replace(typical, samples=stats, dropped_quotes=sum(g.dropped_quotes for g in grades))


def compare(llm_grade: Grade, keyword: Grade) -> Grade:
    """The LLM grade with the keyword grader's injection flags and a review flag where they disagree."""
    review = list(llm_grade.review)
    flags = list(llm_grade.flags)
    for dim in llm_grade.dimensions:
        other = keyword.dimension(dim.dimension)
        if dim.max_score and other.max_score and abs(dim.score - other.score) >= DISAGREEMENT_LEVELS:
            flags.append(f"disagree:{dim.dimension}")
            if dim.dimension not in review:
                review.append(dim.dimension)
    flags += [f for f in keyword.flags if f not in flags]
    return replace(llm_grade, review=tuple(review), flags=tuple(flags), fallback_reason=None)


def build_grader(
    settings: Settings, mode: str = "auto", *, model: str | None = None, samples: int = 1, use_cache: bool = True
) -> GraderChain:
    """The grader the CLI and the app use: settings from INFRALENS_LLM_*, overridden by --model; the grade cache
    in the settings' data directory."""
    model = model or settings.llm_model
    llm: ModelGrader | None = None
    if model and mode != "keyword":
        llm = build_llm(settings, model)
    cache = GradeCache(settings.data_dir / CACHE_FILE) if use_cache and llm else None
    return GraderChain(
        llm, mode=mode, samples=samples, cache=cache, keyword=KeywordGrader(meaning=settings.grader_meaning)
    )


def build_llm(settings: Settings, model: str) -> LLMGrader:
    """The LLM grader for `model` as the settings configure it: a generous read timeout for a local server (a CPU
    model can take minutes), a short connect timeout, the server's context, and the grade cache remembering
    which structured-output form the server accepts."""
    from .forms import is_local
    from .llm import LLMGrader  # litellm itself loads only when the first grade is asked for

    api_base = settings.llm_api_base
    local = is_local(model, api_base)
    return LLMGrader(
        model,
        api_base=api_base,
        timeout_s=settings.llm_local_timeout_s if local else settings.llm_timeout_s,
        connect_timeout_s=settings.llm_connect_timeout_s,
        context_tokens=settings.llm_context_tokens,
        num_ctx=settings.llm_num_ctx or None,
        form_store=GradeCache(settings.data_dir / CACHE_FILE),
    )
