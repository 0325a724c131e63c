"""Graders: the keyword grader (always available) and, later, others behind the same protocol."""

from .base import DimensionScore, Grade, Grader, MisconceptionHit
from .keyword import KeywordGrader

__all__ = ["DimensionScore", "Grade", "Grader", "KeywordGrader", "MisconceptionHit"]
