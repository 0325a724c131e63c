"""`eval` speed: seconds per 1,000 answers with the keyword grader (reference-only and full cards, with probes).

The shipped labelled set is cycled to N rows. Run: python bench/eval_speed.py [N]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from infralens_coach.content import QuestionBank, load_rubric
from infralens_coach.evaluation.dataset import RowQuestions, load_rows
from infralens_coach.evaluation.runner import evaluate
from infralens_coach.grading import KeywordGrader

LABELLED = Path(__file__).resolve().parents[1] / "eval" / "labelled.csv"


def main(n: int = 1000) -> None:
    base = load_rows(LABELLED)
    rows = [base[i % len(base)] for i in range(n)]
    bank = QuestionBank.load()
    for label, questions, options in (
        ("reference-only", lambda: RowQuestions(), {}),
        ("full cards (--cards)", lambda: RowQuestions(bank), {}),
        ("reference-only --calibrate 5", lambda: RowQuestions(), {"calibrate_k": 5}),
        ("reference-only --probes", lambda: RowQuestions(), {"probes": True}),
    ):
        start = time.perf_counter()
        evaluate(rows, KeywordGrader(), load_rubric(), questions(), **options)
        seconds = time.perf_counter() - start
        print(f"{label:<30} {n} answers: {seconds:6.2f} s  ->  {1000 * seconds / n:5.2f} s per 1,000 answers")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
