"""The evaluation CSV: one human-graded answer per row, and the question each row is graded against.

Required columns: question, reference_answer, answer, score (a human grade on any numeric scale).
Optional: question_id, max_score, and per-dimension human labels named after the rubric dimensions
(mechanism, why_it_matters, tradeoffs, common_mistake, related_lab; 0-4). Other columns are kept and ignored.

By default each row is graded as a reference-only question (points derived from the reference answer, as
for a user's own pack). With a question bank, rows whose question_id names a card are graded against that
full card instead.
"""

from __future__ import annotations

import csv
import hashlib
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..content import DIMENSIONS, Question, QuestionBank
from ..errors import ContentError

REQUIRED = ("question", "reference_answer", "answer", "score")
MIN_ROWS = 2  # a correlation needs two answers at least


@dataclass(frozen=True)
class Row:
    line: int  # line number in the file (header is line 1)
    question: str
    reference_answer: str
    answer: str
    score: float
    question_id: str = ""
    max_score: float | None = None
    labels: dict[str, float] = field(default_factory=dict)  # per-dimension human labels, 0-4

    @property
    def group(self) -> str:
        """What 'the same question' means for folds and per-question figures."""
        return self.question_id or self.question.strip().lower()


def _number(value: str, path: Path, line: int, column: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ContentError(f"{path}: line {line}: {column}: {value!r} is not a number") from None
    if not math.isfinite(number):  # "inf", "nan", "1e999": no correlation or scale can use them
        raise ContentError(f"{path}: line {line}: {column}: {value!r} is not a finite number")
    return number


def load_rows(path: Path) -> list[Row]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ContentError(f"{path}: cannot read CSV ({exc})") from exc
    reader = csv.DictReader(text.splitlines(keepends=True))
    columns = [c.strip() for c in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise ContentError(f"{path}: missing column(s): {', '.join(missing)} (need {', '.join(REQUIRED)})")
    rows, problems = [], []
    for record in reader:
        line = reader.line_num
        rec = {(k or "").strip(): (v or "").strip() for k, v in record.items() if k is not None}
        empty = [c for c in ("question", "answer", "score") if not rec.get(c)]
        if empty:
            problems.append(f"{path}: line {line}: empty {', '.join(empty)}")
            continue
        if not rec.get("reference_answer"):
            problems.append(f"{path}: line {line}: empty reference_answer")
            continue
        try:
            labels = {d: _number(rec[d], path, line, d) for d in DIMENSIONS if rec.get(d, "") != ""}
            rows.append(
                Row(
                    line,
                    rec["question"],
                    rec["reference_answer"],
                    rec["answer"],
                    _number(rec["score"], path, line, "score"),
                    rec.get("question_id", ""),
                    _number(rec["max_score"], path, line, "max_score") if rec.get("max_score") else None,
                    labels,
                )
            )
        except ContentError as exc:
            problems.append(str(exc))
    if problems:
        raise ContentError(
            "\n".join(problems[:20]) + (f"\n... and {len(problems) - 20} more" if len(problems) > 20 else "")
        )
    if len(rows) < MIN_ROWS:
        raise ContentError(
            f"{path}: {len(rows)} row{'s' if len(rows) != 1 else ''} to evaluate: at least {MIN_ROWS} "
            "rows are needed (agreement with human grades is measured across answers)"
        )
    return rows


def human_scale(rows: list[Row]) -> tuple[list[float], float, float]:
    """Human scores on one scale [lo, hi]: [0, max_score] when given, else the observed range.

    Rows with different max_score values are rescaled to the largest one.
    """
    maxima = [r.max_score for r in rows if r.max_score]
    if maxima:
        top = max(maxima)
        return [r.score * top / r.max_score if r.max_score else r.score for r in rows], 0.0, float(top)
    scores = [r.score for r in rows]
    return scores, float(min(scores)), float(max(scores))


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "q"


class RowQuestions:
    """Builds (and caches) the Question each row is graded against."""

    def __init__(self, bank: QuestionBank | None = None):
        self.bank = bank
        self._cache: dict[tuple[str, str], Question] = {}
        self.from_bank = 0

    def __call__(self, row: Row) -> Question:
        if self.bank is not None and row.question_id:
            card = next((q for q in self.bank.questions if q.id == row.question_id), None)
            if card is not None:
                self.from_bank += 1
                return card
        key = (row.question.strip(), row.reference_answer.strip())
        if key not in self._cache:
            digest = hashlib.sha1("\0".join(key).encode()).hexdigest()[:8]
            qid = _slug(row.question_id) if row.question_id else f"q-{digest}"
            reference = key[1]
            try:
                question = Question(card=len(self._cache) + 1, id=qid, question=key[0], reference_answer=reference)
            except ValueError as exc:
                raise ContentError(f"line {row.line}: cannot use this row's question: {exc}") from exc
            self._cache[key] = question  # its points are derived when it is graded (grading.derive.points_of)
        return self._cache[key]
