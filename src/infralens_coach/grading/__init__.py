"""Graders: the keyword grader (always available), the LLM grader (grading/llm.py, loads litellm on use)
and the chain that picks between them and records which one decided."""

from .base import DimensionScore, Grade, Grader, MisconceptionHit, SampleStats
from .chain import GraderChain, build_grader
from .keyword import KeywordGrader

__all__ = [
    "DimensionScore",
    "Grade",
    "Grader",
    "GraderChain",
    "KeywordGrader",
    "MisconceptionHit",
    "SampleStats",
    "build_grader",
]
